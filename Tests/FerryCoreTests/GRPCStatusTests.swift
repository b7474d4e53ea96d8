import FerryCore
import XCTest

final class GRPCStatusTests: XCTestCase {
    func testHTTPStatusMapping() {
        // grpc/doc/http-grpc-status-mapping.md
        XCTAssertEqual(GRPCStatusCode(httpStatus: 400), .internal)
        XCTAssertEqual(GRPCStatusCode(httpStatus: 401), .unauthenticated)
        XCTAssertEqual(GRPCStatusCode(httpStatus: 403), .permissionDenied)
        XCTAssertEqual(GRPCStatusCode(httpStatus: 404), .unimplemented)
        for status in [429, 502, 503, 504] { XCTAssertEqual(GRPCStatusCode(httpStatus: status), .unavailable) }
        XCTAssertEqual(GRPCStatusCode(httpStatus: 500), .unknown)
    }

    func testPercentEncodingRoundTrip() {
        let message = "ünïcödé 100% \r\n done"
        let encoded = GRPCMessageEncoding.percentEncode(message)
        XCTAssertFalse(encoded.utf8.contains { $0 < 0x20 || $0 > 0x7E })
        XCTAssertEqual(GRPCMessageEncoding.percentDecode(encoded), message)
        XCTAssertEqual(GRPCMessageEncoding.percentEncode("plain"), "plain")
    }
}
