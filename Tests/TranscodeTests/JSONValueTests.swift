import Transcode
import XCTest

final class JSONValueTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: Array(text.utf8))
    }

    func testEveryKindOfValue() throws {
        let value = try parse(#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d\u00e9\n"}} "#)
        XCTAssertEqual(value["a"], .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]))
        XCTAssertEqual(value["b"]?["c"]?.stringValue, "dé\n")
        XCTAssertNil(value["missing"])
        XCTAssertNil(JSONValue.number(1)["a"])
    }

    func testAMemberNamedTwiceIsRefused() {
        XCTAssertThrowsError(try parse(#"{"alg":"RS256","alg":"none"}"#)) { error in
            XCTAssertEqual((error as? JSONParseError)?.reason, "member 'alg' appears twice")
        }
    }

    func testStrictness() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "01", "1e999", "nul", "{} x", String(repeating: "[", count: 200)] {
            XCTAssertThrowsError(try parse(text), text)
        }
    }
}
