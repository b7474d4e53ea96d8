@testable import Front
import Connect
import FerryCore
import GRPCWeb
import Gzip
import NodeService
import Transcode
import Upstream
import XCTest

final class ConnectUnaryExchangeTests: XCTestCase {
    private let stream = FakeDownstreamStream()
    static let rest = try! RESTTranscoding(
        descriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64)!, services: ["node.v1.NodeService"],
        printOptions: JSONPrintOptions(), parseOptions: JSONParseOptions())

    private func exchange(
        _ codec: ConnectCodec, compression: ConnectCompression = .identity
    ) -> (ConnectUnaryExchange, UpstreamCall) {
        let exchange = ConnectUnaryExchange(
            stream: stream,
            messages: ConnectMessageCodec(
                codec: codec, transcoder: Self.rest.transcoder, inputType: "node.v1.GetNodeRequest", outputType: "node.v1.Node",
                maxMessageBytes: 4 << 20),
            errors: ConnectErrorJSON(transcoder: Self.rest.transcoder), responseCompression: compression,
            extraHeaders: HeaderFields(["access-control-allow-origin": "https://app.example"]))
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: "/node.v1.NodeService/GetNode", metadata: HeaderFields(), contentType: "application/grpc", timeout: nil, body: []),
            delegate: exchange)
        return (exchange, call)
    }

    private func reply(_ exchange: ConnectUnaryExchange, _ call: UpstreamCall, message: [UInt8], trailers: HeaderFields) {
        exchange.upstreamCall(
            call,
            received: .head(
                HeaderFields([":status": "200", "content-type": "application/grpc", "x-lead": "l", "grpc-encoding": "identity"])))
        let frame = GRPCFrame.header(flags: 0, length: message.count) + message
        frame.withUnsafeBytes { exchange.upstreamCall(call, received: .data($0)) }
        exchange.upstreamCall(call, received: .trailers(trailers))
    }

    func testAProtoReplyGoesAsItIsWithTrailersPrefixed() {
        let (exchange, call) = exchange(.proto)
        reply(exchange, call, message: [0x0A, 0x02, 0x6E, 0x31], trailers: HeaderFields(["grpc-status": "0", "x-cost": "7"]))
        XCTAssertEqual(
            stream.events,
            [
                .head(
                    status: 200,
                    headers: [
                        "content-type": "application/proto", "x-lead": "l", "trailer-x-cost": "7",
                        "access-control-allow-origin": "https://app.example",
                    ], contentLength: 4),
                .data([0x0A, 0x02, 0x6E, 0x31]), .end(trailers: [:]),
            ])
        XCTAssertEqual(exchange.grpcStatusCode, 0)
    }

    func testAJSONReplyIsTranscoded() {
        let (exchange, call) = exchange(.json)
        reply(exchange, call, message: [0x0A, 0x02, 0x6E, 0x31], trailers: HeaderFields(["grpc-status": "0"]))
        XCTAssertEqual(stream.events[1], .data(Array(#"{"id":"n1"}"#.utf8)))
        guard case .head(_, let headers, _) = stream.events[0] else { return XCTFail() }
        XCTAssertEqual(headers["content-type"], "application/json")
    }

    func testALargeReplyIsGzippedWhenTheClientAcceptsIt() throws {
        let (exchange, call) = exchange(.proto, compression: .gzip)
        let message: [UInt8] = [0x3A, 0x80, 0x10] + [UInt8](repeating: 0x61, count: 2048)  // payload: 2 KiB of "a"
        reply(exchange, call, message: message, trailers: HeaderFields(["grpc-status": "0"]))
        guard case .head(200, let headers, let length) = stream.events[0], case .data(let body) = stream.events[1] else {
            return XCTFail("\(stream.events)")
        }
        XCTAssertEqual(headers["content-encoding"], "gzip")
        XCTAssertEqual(length, body.count)
        XCTAssertEqual(try Gzip.inflate(body, limit: 4096), message)
    }

    func testAnErrorIsTheErrorJSONUnderItsHTTPStatus() {
        let (exchange, call) = exchange(.proto)
        exchange.upstreamCall(
            call,
            received: .trailers(
                HeaderFields([
                    ":status": "200", "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "gone%21", "x-why": "w",
                ])))
        XCTAssertEqual(
            stream.events,
            [
                .head(
                    status: 404,
                    headers: [
                        "content-type": "application/json", "trailer-x-why": "w", "access-control-allow-origin": "https://app.example",
                    ],
                    contentLength: 38),
                .data(Array(#"{"code":"not_found","message":"gone!"}"#.utf8)), .end(trailers: [:]),
            ])
        XCTAssertEqual(exchange.grpcStatusCode, 5)
    }

    func testTwoRepliesToAUnaryCallAreInternal() {
        let (exchange, call) = exchange(.proto)
        let frames = GRPCFrame.header(flags: 0, length: 0) + GRPCFrame.header(flags: 0, length: 0)
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        frames.withUnsafeBytes { exchange.upstreamCall(call, received: .data($0)) }
        exchange.upstreamCall(call, received: .trailers(HeaderFields(["grpc-status": "0"])))
        guard case .head(500, _, _) = stream.events[0], case .data(let body) = stream.events[1] else { return XCTFail() }
        XCTAssertEqual(String(decoding: body, as: UTF8.self), #"{"code":"internal","message":"upstream sent 2 messages for a unary call"}"#)
    }

    func testARejectionNeverCallsUpstream() {
        let (exchange, _) = exchange(.json)
        exchange.reject(GRPCStatus(.unimplemented, "no route"), httpStatus: 404)
        guard case .head(404, _, _) = stream.events[0] else { return XCTFail() }
        XCTAssertEqual(exchange.grpcStatusCode, 12)
    }
}
