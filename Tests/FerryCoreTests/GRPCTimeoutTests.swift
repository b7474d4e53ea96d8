import FerryCore
import XCTest

final class GRPCTimeoutTests: XCTestCase {
    func testParsesEveryUnit() throws {
        XCTAssertEqual(try GRPCTimeout(parsing: "2H").nanoseconds, 7_200_000_000_000)
        XCTAssertEqual(try GRPCTimeout(parsing: "3M").nanoseconds, 180_000_000_000)
        XCTAssertEqual(try GRPCTimeout(parsing: "1S").nanoseconds, 1_000_000_000)
        XCTAssertEqual(try GRPCTimeout(parsing: "250m").nanoseconds, 250_000_000)
        XCTAssertEqual(try GRPCTimeout(parsing: "7u").nanoseconds, 7_000)
        XCTAssertEqual(try GRPCTimeout(parsing: "99999999n").nanoseconds, 99_999_999)
    }

    func testRejectsMalformedValues() {
        for value in ["", "S", "1", "1s", "123456789S", "-1S", "1.5S", " 1S", "1 S"] {
            XCTAssertThrowsError(try GRPCTimeout(parsing: value), value)
        }
    }

    func testHeaderValueIsMostPreciseAndNeverShorter() {
        XCTAssertEqual(GRPCTimeout(nanoseconds: 1_000_000_000).headerValue, "1000000u")
        XCTAssertEqual(GRPCTimeout(nanoseconds: 99_999_999).headerValue, "99999999n")
        XCTAssertEqual(GRPCTimeout(nanoseconds: 100_000_001).headerValue, "100001u")
        XCTAssertEqual(GRPCTimeout(nanoseconds: 3_600_000_000_000_000).headerValue, "3600000S")
    }
}
