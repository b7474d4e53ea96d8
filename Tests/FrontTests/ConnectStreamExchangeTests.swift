@testable import Front
import Connect
import FerryCore
import GRPCWeb
import Upstream
import XCTest

final class ConnectStreamExchangeTests: XCTestCase {
    private let stream = FakeDownstreamStream()

    private func exchange(_ codec: ConnectCodec, streamingRequest: Bool = false) -> (ConnectStreamExchange, UpstreamCall) {
        let messages = ConnectMessageCodec(
            codec: codec, transcoder: ConnectUnaryExchangeTests.rest.transcoder, inputType: "node.v1.Metric",
            outputType: "node.v1.NodeEvent", maxMessageBytes: 1024)
        let exchange = ConnectStreamExchange(
            stream: stream, messages: messages, errors: ConnectErrorJSON(transcoder: nil), responseCompression: .identity,
            extraHeaders: HeaderFields(), reader: streamingRequest ? ConnectEnvelopeReader(messages: messages, compression: .identity) : nil
        )
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: "/node.v1.NodeService/WatchNodes", metadata: HeaderFields(), contentType: "application/grpc", timeout: nil, body: [],
                streamsBody: streamingRequest),
            delegate: exchange)
        exchange.call = call
        return (exchange, call)
    }

    private func envelope(_ flags: UInt8, _ text: String) -> FakeDownstreamStream.Event {
        .data(ConnectEnvelopeReader.envelope(flags: flags, Array(text.utf8)))
    }

    func testRepliesAreEnvelopesAndTheEndCarriesTheTrailers() {
        let (exchange, call) = exchange(.json)
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc", "x-lead": "l"])))
        let frame = GRPCFrame.header(flags: 0, length: 2) + [0x08, 0x01]  // NodeEvent { sequence: 1 }
        frame.withUnsafeBytes { exchange.upstreamCall(call, received: .data($0)) }
        exchange.upstreamCall(call, received: .trailers(HeaderFields(["grpc-status": "0", "x-count": "1", "x-count": "2"])))
        XCTAssertEqual(
            stream.events,
            [
                .head(status: 200, headers: ["content-type": "application/connect+json", "x-lead": "l"], contentLength: nil),
                envelope(0, #"{"sequence":"1"}"#),
                envelope(2, #"{"metadata":{"x-count":["1","2"]}}"#),
                .end(trailers: [:]),
            ])
        XCTAssertEqual(exchange.grpcStatusCode, 0)
    }

    func testAnErrorBeforeAnyReplyIsStill200WithTheErrorAtTheEnd() {
        let (exchange, call) = exchange(.proto)
        exchange.upstreamCall(call, received: .failed(GRPCStatus(.unavailable, "no healthy endpoint")))
        XCTAssertEqual(
            stream.events,
            [
                .head(status: 200, headers: ["content-type": "application/connect+proto"], contentLength: nil),
                envelope(2, #"{"error":{"code":"unavailable","message":"no healthy endpoint"}}"#),
                .end(trailers: [:]),
            ])
        XCTAssertEqual(exchange.grpcStatusCode, 14)
    }

    func testStreamedRequestEnvelopesGoUpAsFramesAndReleaseTheClientsBytesOnceSent() {
        let (exchange, call) = exchange(.json, streamingRequest: true)
        let first = ConnectEnvelopeReader.envelope(flags: 0, Array(#"{"value":2.5}"#.utf8))
        // Half an envelope: held (and released at once, being bounded by the message limit).
        first.prefix(7).withUnsafeBytes { exchange.requestBody($0) }
        XCTAssertEqual(stream.forwardedRequestBytes, 7)
        first.dropFirst(7).withUnsafeBytes { exchange.requestBody($0) }
        // Metric { value: 2.5 } is 9 bytes framed as 14: released when those 14 have left.
        exchange.upstreamCall(call, sentRequestBytes: 13)
        XCTAssertEqual(stream.forwardedRequestBytes, 7)
        exchange.upstreamCall(call, sentRequestBytes: 1)
        XCTAssertEqual(stream.forwardedRequestBytes, first.count)
    }

    func testABadRequestEnvelopeEndsTheStream() {
        let (exchange, _) = exchange(.proto, streamingRequest: true)
        ConnectEnvelopeReader.envelope(flags: 0x02, []).withUnsafeBytes { exchange.requestBody($0) }
        XCTAssertEqual(
            stream.events.dropFirst().first,
            envelope(
                2,
                #"{"error":{"code":"invalid_argument","message":"request envelope 1 has the end-stream flag (0x02), which only responses use"}}"#
            ))
        XCTAssertEqual(exchange.grpcStatusCode, 3)
    }
}
