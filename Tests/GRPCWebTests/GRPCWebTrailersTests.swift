import FerryCore
import GRPCWeb
import XCTest

final class GRPCWebTrailersTests: XCTestCase {
    func testTrailerFrameBytes() {
        let frame = GRPCWebTrailers.withFrame(["grpc-status": "0", "x-custom": "v"]) { Array($0) }
        let block = Array("grpc-status:0\r\nx-custom:v\r\n".utf8)
        XCTAssertEqual(frame, [0x80, 0, 0, 0, UInt8(block.count)] + block)
    }

    func testFieldsOfTheHopAreNotInTheFrame() {
        let frame = GRPCWebTrailers.withFrame(["grpc-status": "0", "content-length": "9", "te": "trailers", "x-custom": "v"]) { Array($0) }
        let block = Array("grpc-status:0\r\nx-custom:v\r\n".utf8)
        XCTAssertEqual(frame, [0x80, 0, 0, 0, UInt8(block.count)] + block)
    }

    func testParseRoundTrip() {
        let trailers: HeaderFields = ["grpc-status": "5", "grpc-message": "not%20found"]
        let frame = GRPCWebTrailers.withFrame(trailers) { Array($0) }
        XCTAssertEqual(GRPCWebTrailers.parse(Array(frame.dropFirst(5))), trailers)
    }

    func testALargeTrailerBlockIsWholeInItsFrame() {
        let message = String(repeating: "m", count: 5_000)
        let frame = GRPCWebTrailers.withFrame(["grpc-status": "13", "grpc-message": message]) { Array($0) }
        let block = Array("grpc-status:13\r\ngrpc-message:\(message)\r\n".utf8)
        XCTAssertEqual(frame, GRPCFrame.header(flags: GRPCFrame.trailerFlag, length: block.count) + block)
    }

    func testStatusTrailerPercentEncodesMessage() {
        let fields = GRPCStatus(.notFound, "nö 100%").trailerFields
        XCTAssertEqual(fields["grpc-status"], "5")
        XCTAssertEqual(fields["grpc-message"], "n%C3%B6 100%25")
    }
}
