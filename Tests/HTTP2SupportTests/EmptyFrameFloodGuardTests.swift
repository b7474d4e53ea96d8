import CNghttp2
import HTTP2Support
import XCTest

final class EmptyFrameFloodGuardTests: XCTestCase {
    private let data = UInt8(NGHTTP2_DATA.rawValue)
    private let headers = UInt8(NGHTTP2_HEADERS.rawValue)
    private let continuation = UInt8(NGHTTP2_CONTINUATION.rawValue)
    private let endStream = UInt8(NGHTTP2_FLAG_END_STREAM.rawValue)
    private let endHeaders = UInt8(NGHTTP2_FLAG_END_HEADERS.rawValue)

    func testARunOfEmptyFramesPastTheLimitIsAFlood() {
        var guardian = EmptyFrameFloodGuard(limit: 3)
        XCTAssertEqual((0..<4).map { _ in guardian.frameBegins(type: data, flags: 0, length: 0) }, [false, false, false, true])
    }

    func testAFrameWithPayloadOrAnEndResetsTheRun() {
        var guardian = EmptyFrameFloodGuard(limit: 2)
        for _ in 0..<100 {
            XCTAssertFalse(guardian.frameBegins(type: data, flags: 0, length: 0))
            XCTAssertFalse(guardian.frameBegins(type: data, flags: 0, length: 0))
            XCTAssertFalse(guardian.frameBegins(type: data, flags: 0, length: 5))
        }
        // An empty DATA that ends the stream, or a header block that ends, is a normal frame.
        for _ in 0..<10 {
            XCTAssertFalse(guardian.frameBegins(type: data, flags: endStream, length: 0))
            XCTAssertFalse(guardian.frameBegins(type: continuation, flags: endHeaders, length: 0))
        }
        XCTAssertFalse(guardian.frameBegins(type: headers, flags: 0, length: 0))
        XCTAssertFalse(guardian.frameBegins(type: continuation, flags: 0, length: 0))
        XCTAssertTrue(guardian.frameBegins(type: continuation, flags: 0, length: 0))
    }

    func testOtherFrameTypesAreNotCounted() {
        var guardian = EmptyFrameFloodGuard(limit: 1)
        for type in [NGHTTP2_SETTINGS, NGHTTP2_PING, NGHTTP2_WINDOW_UPDATE, NGHTTP2_RST_STREAM] {
            for _ in 0..<5 { XCTAssertFalse(guardian.frameBegins(type: UInt8(type.rawValue), flags: 0, length: 0)) }
        }
    }
}
