@testable import Front
import FerryCore
import Gzip
import NodeService
import Transcode
import Upstream
import XCTest

final class RESTExchangeTests: XCTestCase {
    private let stream = FakeDownstreamStream()
    private static let rest = try! RESTTranscoding(
        descriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64)!, services: ["node.v1.NodeService"],
        printOptions: JSONPrintOptions(), parseOptions: JSONParseOptions())

    private func exchange(
        _ verb: String, _ path: String, format: RESTStreamFormat = .jsonArray, acceptsGzip: Bool = false
    ) throws -> (RESTExchange, UpstreamCall) {
        guard case .matched(let binding, _) = Self.rest.catalog.routes.lookup(verb: verb, path: try RequestPath(parsing: path[...])) else {
            throw XCTSkip("no binding for \(verb) \(path)")
        }
        let exchange = RESTExchange(
            stream: stream, binding: binding, rest: Self.rest, extraHeaders: HeaderFields(), format: format, acceptsGzip: acceptsGzip)
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: binding.method.grpcPath, metadata: HeaderFields(), contentType: "application/grpc",
                timeout: nil, body: []), delegate: exchange)
        return (exchange, call)
    }

    /// A gRPC frame of node.v1.Node or NodeEvent bytes.
    private func frame(_ message: [UInt8]) -> [UInt8] {
        [0, 0, 0, 0, UInt8(message.count)] + message
    }

    private func receive(_ exchange: RESTExchange, _ call: UpstreamCall, data: [UInt8]) {
        data.withUnsafeBytes { exchange.upstreamCall(call, received: .data($0)) }
    }

    func testAUnaryReplyIsOneJSONBodyOfKnownLength() throws {
        let (exchange, call) = try exchange("GET", "/v1/nodes/n1")
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc", "x-m": "1"])))
        receive(exchange, call, data: frame([0x0A, 0x02, 0x6E, 0x31]))  // Node { id: "n1" }
        exchange.upstreamCall(call, received: .trailers(HeaderFields(["grpc-status": "0"])))
        let json = Array(#"{"id":"n1"}"#.utf8)
        XCTAssertEqual(
            stream.events,
            [
                .head(
                    status: 200, headers: ["content-type": "application/json", "vary": "accept-encoding", "x-grpc-metadata-x-m": "1"],
                    contentLength: json.count),
                .data(json),
                .end(trailers: [:]),
            ])
        XCTAssertEqual(exchange.grpcStatusCode, 0)
    }

    func testAnErrorBeforeAnyMessageGetsItsHTTPStatus() throws {
        let (exchange, call) = try exchange("GET", "/v1/nodes/n1")
        exchange.upstreamCall(
            call,
            received: .trailers(
                HeaderFields([
                    ":status": "200", "content-type": "application/grpc",
                    "grpc-status": "5", "grpc-message": "gone",
                ])))
        guard case .head(404, let headers, _)? = stream.events.first, case .data(let body)? = stream.events.dropFirst().first else {
            return XCTFail("\(stream.events)")
        }
        XCTAssertEqual(headers["content-type"], "application/json")
        XCTAssertEqual(String(decoding: body, as: UTF8.self), #"{"code":5,"message":"gone","details":[]}"#)
    }

    func testAServerStreamGoesOutAsNDJSONMessageByMessage() throws {
        let (exchange, call) = try exchange("GET", "/v1/nodes:watch", format: .ndjson)
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        receive(exchange, call, data: frame([0x08, 0x01]))  // NodeEvent { sequence: 1 }
        receive(exchange, call, data: frame([0x08, 0x02]))
        exchange.upstreamCall(call, received: .trailers(HeaderFields(["grpc-status": "0"])))
        XCTAssertEqual(
            stream.events,
            [
                .head(status: 200, headers: ["content-type": "application/x-ndjson", "vary": "accept-encoding"], contentLength: nil),
                .data(Array("{\"sequence\":\"1\"}\n".utf8)),
                .data(Array("{\"sequence\":\"2\"}\n".utf8)),
                .end(trailers: [:]),
            ])
    }

    func testAGzippedStreamInflatesMessageByMessage() throws {
        let (exchange, call) = try exchange("GET", "/v1/nodes:watch", format: .ndjson, acceptsGzip: true)
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        receive(exchange, call, data: frame([0x08, 0x01]))
        guard case .head(200, let headers, nil)? = stream.events.first, case .data(let first)? = stream.events.last else {
            return XCTFail("\(stream.events)")
        }
        XCTAssertEqual(headers["content-encoding"], "gzip")
        XCTAssertEqual(headers["vary"], "accept-encoding")
        // Flushed: the first message inflates before the stream ends (zlib's sync flush).
        XCTAssertEqual(first.suffix(4), [0x00, 0x00, 0xFF, 0xFF])
        receive(exchange, call, data: frame([0x08, 0x02]))
        exchange.upstreamCall(call, received: .trailers(HeaderFields(["grpc-status": "0"])))
        let body = stream.events.reduce(into: [UInt8]()) { body, event in if case .data(let bytes) = event { body += bytes } }
        XCTAssertEqual(String(decoding: try Gzip.inflate(body, limit: 1024), as: UTF8.self), "{\"sequence\":\"1\"}\n{\"sequence\":\"2\"}\n")
    }

    func testAnErrorInAStreamIsItsLastElement() throws {
        let (exchange, call) = try exchange("GET", "/v1/nodes:watch")
        exchange.upstreamCall(call, received: .head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        receive(exchange, call, data: frame([0x08, 0x01]))
        exchange.upstreamCall(call, received: .failed(GRPCStatus(.unavailable, "upstream reset")))
        XCTAssertEqual(
            stream.events.suffix(2),
            [
                .data(Array(#",{"error":{"code":14,"message":"upstream reset","details":[]}}]"#.utf8)),
                .end(trailers: [:]),
            ])
    }
}
