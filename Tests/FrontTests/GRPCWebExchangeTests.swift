@testable import Front
import FerryCore
import GRPCWeb
import Upstream
import XCTest

final class GRPCWebExchangeTests: XCTestCase {
    private let stream = FakeDownstreamStream()

    private func exchange(text: Bool) -> (GRPCWebExchange, UpstreamCall) {
        let contentType = GRPCWebContentType(isText: text, format: nil)
        let exchange = GRPCWebExchange(stream: stream, contentType: contentType, textResponse: text, extraHeaders: HeaderFields())
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: "/p.S/M", metadata: HeaderFields(), contentType: "application/grpc",
                timeout: nil, body: []), delegate: exchange)
        return (exchange, call)
    }

    func testTrailersGoInTheBodyAsTheLastFrame() {
        let (exchange, call) = exchange(text: false)
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        ([0, 0, 0, 0, 1, 7] as [UInt8]).withUnsafeBytes { exchange.upstreamCall(call, received: .data($0)) }
        exchange.upstreamCall(call, received: .trailers(HeaderFields(["grpc-status": "0"])))
        let trailerBlock = Array("grpc-status:0\r\n".utf8)
        XCTAssertEqual(
            stream.events,
            [
                .head(status: 200, headers: ["content-type": "application/grpc-web+proto"], contentLength: nil),
                .data([0, 0, 0, 0, 1, 7]),
                .data([0x80, 0, 0, 0, UInt8(trailerBlock.count)] + trailerBlock),
                .end(trailers: [:]),
            ])
    }

    func testTextResponsesAreBase64() {
        let (exchange, call) = exchange(text: true)
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        ([0, 0, 0, 0, 1, 7] as [UInt8]).withUnsafeBytes { exchange.upstreamCall(call, received: .data($0)) }
        XCTAssertEqual(stream.events.last, .data(Array("AAAAAAEH".utf8)))
    }

    func testErrorBeforeAnyMessageIsTrailersOnlyInTheHead() {
        let (exchange, call) = exchange(text: false)
        exchange.upstreamCall(call, received: .failed(GRPCStatus(.unavailable, "down")))
        XCTAssertEqual(
            stream.events,
            [
                .head(
                    status: 200, headers: ["content-type": "application/grpc-web+proto", "grpc-status": "14", "grpc-message": "down"],
                    contentLength: 0),
                .end(trailers: [:]),
            ])
    }
}
