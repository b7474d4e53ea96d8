import Connect
import FerryCore
import XCTest

final class ConnectCompressionTests: XCTestCase {
    private func bytes(_ text: String) -> ArraySlice<UInt8> { Array(text.utf8)[...] }

    func testRequestEncodings() throws {
        XCTAssertEqual(try ConnectCompression(requestHeader: nil, headerName: "content-encoding"), .identity)
        XCTAssertEqual(try ConnectCompression(requestHeader: bytes("identity"), headerName: "content-encoding"), .identity)
        XCTAssertEqual(try ConnectCompression(requestHeader: bytes("GZIP"), headerName: "content-encoding"), .gzip)
    }

    func testAnUnknownRequestEncodingIsUnimplementedNamingTheSupportedOnes() {
        XCTAssertThrowsError(try ConnectCompression(requestHeader: bytes("br"), headerName: "connect-content-encoding")) { error in
            XCTAssertEqual(
                error as? GRPCStatus,
                GRPCStatus(.unimplemented, "unknown connect-content-encoding 'br': supported encodings are gzip, identity"))
        }
    }

    func testTheResponseTakesTheFirstAcceptedEncodingFerryWrites() {
        XCTAssertEqual(ConnectCompression(accepting: bytes("br, gzip;q=0.5"), requestEncoding: .identity), .gzip)
        XCTAssertEqual(ConnectCompression(accepting: bytes("zstd,br"), requestEncoding: .gzip), .identity)
        XCTAssertEqual(ConnectCompression(accepting: bytes("identity"), requestEncoding: .gzip), .identity)
    }

    func testWithoutAcceptTheResponseUsesTheRequestsEncoding() {
        XCTAssertEqual(ConnectCompression(accepting: nil, requestEncoding: .gzip), .gzip)
        XCTAssertEqual(ConnectCompression(accepting: nil, requestEncoding: .identity), .identity)
    }
}
