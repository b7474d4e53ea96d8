import Connect
import FerryCore
import XCTest

final class ConnectTimeoutTests: XCTestCase {
    private func timeout(_ value: String) throws -> GRPCTimeout {
        try GRPCTimeout(connectTimeoutMilliseconds: Array(value.utf8)[...])
    }

    func testMillisecondsBecomeADeadline() throws {
        XCTAssertEqual(try timeout("1").nanoseconds, 1_000_000)
        XCTAssertEqual(try timeout("5000").nanoseconds, 5_000_000_000)
        // Ten digits: more than 100 days.
        XCTAssertEqual(try timeout("9999999999").nanoseconds, 9_999_999_999_000_000)
    }

    func testMalformedValuesAreRefused() {
        for value in ["", "0", "00", "-5", "1.5", "12345678901", "10s", " 5"] {
            XCTAssertThrowsError(try timeout(value), value) { error in
                XCTAssertEqual((error as? ConnectTimeoutError)?.value, value)
            }
        }
    }
}
