import Foundation
@testable import Transcode
import XCTest

final class RESTRequestAssemblerTests: XCTestCase {
    static let transcoder = try! JSONFormatDifferentialTests.richTranscoder()
    let assembler = RESTRequestAssembler(transcoder: transcoder)

    private func binding(_ body: RESTBody) -> RESTBinding {
        RESTBinding(
            method: RESTMethod(
                fullName: "ferry.test.v1.Test.Call", grpcPath: "/ferry.test.v1.Test/Call",
                inputType: "ferry.test.v1.Rich", outputType: "ferry.test.v1.Rich",
                clientStreaming: false, serverStreaming: false),
            body: body, responseBody: nil)
    }

    /// The request as JSON (through the printer), for readable expectations.
    private func request(_ body: RESTBody, path: [(String, String)] = [], query: String? = nil, json: String = "") throws -> String {
        let bindings = path.map { PathBinding(fieldPath: $0.0.split(separator: ".").map(String.init), value: $0.1) }
        let message = try Array(json.utf8).withUnsafeBytes {
            try assembler.requestMessage(for: binding(body), pathBindings: bindings, query: query?[...], body: $0)
        }
        return String(
            decoding: try message.withUnsafeBytes {
                try Self.transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich")
            }, as: UTF8.self)
    }

    func testPathVariablesAndQueryParametersOfEveryKind() throws {
        XCTAssertEqual(
            try request(
                .none, path: [("f_string", "a b"), ("f_nested.id", "7")],
                query: "fInt64=-5&f_bool=true&fColor=COLOR_RED&r_int32=1&r_int32=2&fBytes=AAE-_w"
                    + "&m_string_string%5Bk%20x%5D=v&mStringString[y]=w+z&wTimestamp=1970-01-01T00:00:01Z"
                    + "&w_int32=3&fDouble=1.5&rColor=2&w_bool=0"),
            #"{"fDouble":1.5,"fInt64":"-5","fBool":true,"fString":"a b","fBytes":"AAE+/w==","fColor":"COLOR_RED","#
                + #""fNested":{"id":7},"rInt32":[1,2],"rColor":["COLOR_GREEN"],"mStringString":{"k x":"v","y":"w z"},"#
                + #""wTimestamp":"1970-01-01T00:00:01Z","wInt32":3,"wBool":false}"#)
    }

    func testBodiesWholeFieldAndNone() throws {
        XCTAssertEqual(
            try request(.wholeMessage, json: #"{"fInt32": 4, "fNested": {"note": "n"}}"#),
            #"{"fInt32":4,"fNested":{"note":"n"}}"#)
        XCTAssertEqual(
            try request(.field(["f_nested"]), path: [("f_string", "p")], query: "f_int32=9", json: #"{"id": 3}"#),
            #"{"fInt32":9,"fString":"p","fNested":{"id":3}}"#)
        XCTAssertEqual(try request(.field(["r_int32"]), json: "[1, 2, 3]"), #"{"rInt32":[1,2,3]}"#)
        XCTAssertEqual(try request(.wholeMessage, json: "  "), "{}")
        // The path wins over the body for the same field.
        XCTAssertEqual(try request(.wholeMessage, path: [("f_string", "path")], json: #"{"fString": "body"}"#), #"{"fString":"path"}"#)
    }

    func testAPatchFillsTheMaskTheClientLeftUnsetFromTheBodysKeys() throws {
        // w_field_mask (84) stands in for update_mask; the body field is f_nested.
        var patch = binding(.field(["f_nested"]))
        patch.updateMask = UpdateMaskFill(
            fieldNumber: 84, fieldNames: ["w_field_mask", "wFieldMask"], resourceType: "ferry.test.v1.Nested")
        func json(_ body: String, query: String? = nil) throws -> String {
            let message = try assembler.requestMessage(for: patch, pathBindings: [], query: query?[...], body: Array(body.utf8))
            return String(
                decoding: try message.withUnsafeBytes { try Self.transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich") },
                as: UTF8.self)
        }
        XCTAssertEqual(
            try json(#"{"note": "n", "child": {"id": 2, "child": {}}}"#),
            #"{"fNested":{"note":"n","child":{"id":2,"child":{}}},"wFieldMask":"child.child,child.id,note"}"#)
        XCTAssertEqual(try json(#"{"id": 1}"#, query: "wFieldMask=note"), #"{"fNested":{"id":1},"wFieldMask":"note"}"#, "the client's own")
        XCTAssertEqual(try json("{}"), #"{"fNested":{}}"#)
        XCTAssertEqual(try json(""), "{}")
    }

    func testUnknownQueryParametersCanBeIgnored() throws {
        let lenient = RESTRequestAssembler(transcoder: Self.transcoder, options: JSONParseOptions(ignoreUnknownFields: true))
        let message = try lenient.requestMessage(for: binding(.none), pathBindings: [], query: "nope=1&f_int32=2", body: [])
        XCTAssertEqual(message, [0x28, 0x02])
    }

    func testEveryRefusalNamesTheProblem() {
        let cases: [(RESTBody, [(String, String)], String?, String, String)] = [
            (.none, [], "nope=1", "", "unknown query parameter 'nope': 'nope' is not a field of ferry.test.v1.Rich"),
            (.none, [], "f_int32=x", "", "query parameter 'f_int32': 'x' is not a valid int32 value"),
            (.none, [], "f_bool=yes", "", "query parameter 'f_bool': 'yes' is not a valid bool value"),
            (.none, [], "f_color=COLOR_PINK", "", "query parameter 'f_color': 'COLOR_PINK' is not a value of enum ferry.test.v1.Color"),
            (.none, [], "f_nested=1", "", "query parameter 'f_nested': '1' is not a valid ferry.test.v1.Nested value"),
            (.none, [], "m_string_string=1", "", "query parameter 'm_string_string': a map field is set as m_string_string[key]=value"),
            (.none, [], "f_int32=%zz", "", "query parameter 'f_int32=%zz' has invalid percent-encoding"),
            (.none, [("f_string", "a")], "f_string=b", "", "query parameter 'f_string' sets 'f_string', which the path or the body sets"),
            (.wholeMessage, [], "f_int32=1", "{}", "query parameter 'f_int32' is not allowed: the body is the whole request message"),
            (.none, [], nil, "{}", "ferry.test.v1.Test.Call takes no request body"),
            (
                .wholeMessage, [], nil, #"{"fInt32": true}"#,
                "request body: invalid JSON at byte 11, field fInt32: expected a number, found 't'"
            ),
            (
                .field(["f_nested"]), [], nil, #"{"id": "x"}"#,
                "request body: invalid JSON at byte 7, field fNested.id: 'x' is not a valid int32 value"
            ),
            (.none, [("f_int64", "12x")], nil, "", "path variable 'f_int64': '12x' is not a valid int64 value"),
        ]
        for (body, path, query, json, message) in cases {
            XCTAssertThrowsError(try request(body, path: path, query: query, json: json), message) { error in
                XCTAssertEqual((error as? RESTRequestError)?.message, message)
            }
        }
    }
}
