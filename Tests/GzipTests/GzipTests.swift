import Gzip
import XCTest

final class GzipTests: XCTestCase {
    func testRoundTrip() throws {
        let text = Array(String(repeating: "ferry ", count: 1000).utf8)
        let compressed = Gzip.deflate(text)
        XCTAssertLessThan(compressed.count, 200)
        XCTAssertEqual(Array(compressed.prefix(2)), [0x1F, 0x8B], "a gzip member, not raw deflate")
        XCTAssertEqual(try Gzip.inflate(compressed, limit: text.count), text)
    }

    func testEmptyInputRoundTrips() throws {
        XCTAssertEqual(try Gzip.inflate(Gzip.deflate([]), limit: 0), [])
    }

    func testInflatingPastTheLimitStopsThere() {
        let bomb = Gzip.deflate([UInt8](repeating: 0, count: 10 << 20))
        XCTAssertLessThan(bomb.count, 20_000)
        XCTAssertThrowsError(try Gzip.inflate(bomb, limit: 1 << 20)) { error in
            XCTAssertEqual(error as? GzipError, .tooLarge(limit: 1 << 20))
        }
    }

    func testTruncatedDataIsInvalid() {
        let compressed = Gzip.deflate(Array("hello, hello, hello".utf8))
        XCTAssertThrowsError(try Gzip.inflate(Array(compressed.dropLast(4)), limit: 100)) { error in
            guard case .invalid = error as? GzipError else { return XCTFail("\(error)") }
        }
    }

    func testNotGzipIsInvalid() {
        XCTAssertThrowsError(try Gzip.inflate(Array("plain text".utf8), limit: 100)) { error in
            guard case .invalid = error as? GzipError else { return XCTFail("\(error)") }
        }
    }

    func testBytesAfterTheMemberAreInvalid() {
        XCTAssertThrowsError(try Gzip.inflate(Gzip.deflate([1, 2, 3]) + [0], limit: 100))
    }
}
