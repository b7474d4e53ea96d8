@testable import Config
@testable import Front
import Connect
import FerryCore
import HTTP1
import Logging
import Routing
import Transcode
import XCTest

/// Which requests are Connect calls, with and without the descriptors (a `rest` section).
final class RequestClassifierConnectTests: XCTestCase {
    private func context(rest: RESTTranscoding?) -> ListenerContext {
        ListenerContext(
            config: ListenerConfig(address: "127.0.0.1:0", cors: nil, limits: FrontLimits(), tls: nil),
            router: Router(routes: [Route(match: .service("node.v1.NodeService"), cluster: "nodes")]),
            pools: [:], rest: rest, accessLog: nil, createTraceparent: false, tls: nil, metrics: nil,
            limitReporter: LimitReporter(logger: Logger(label: "test"), metrics: nil))
    }

    private func classify(
        _ method: String, _ target: String, descriptors: Bool = true, _ headers: KeyValuePairs<String, String> = [:]
    ) -> ClassifiedRequest {
        RequestClassifier(context: context(rest: descriptors ? ConnectUnaryExchangeTests.rest : nil)).classify(
            HTTP1RequestHead(method: method, target: target, version: .http1_1, headers: HeaderFields(headers)),
            framing: .contentLength(10))
    }

    /// The Connect call, or a failure naming what it was instead.
    private func connectCall(_ request: ClassifiedRequest, file: StaticString = #filePath, line: UInt = #line) -> PendingConnectCall? {
        guard case .connect(let call) = request else {
            XCTFail("not Connect: \(request)", file: file, line: line)
            return nil
        }
        return call
    }

    private func refusal(_ request: ClassifiedRequest) -> (status: Int, code: String?)? {
        guard case .simple(let response) = request else { return nil }
        let code = response.body.split(separator: "\"").dropFirst(3).first.map(String.init)
        return (response.head.status, code)
    }

    func testUnaryByContentTypeOrVersion() {
        let proto = connectCall(classify("POST", "/node.v1.NodeService/GetNode", descriptors: false, ["content-type": "application/proto"]))
        XCTAssertEqual(proto?.contentType, .unary(.proto))
        XCTAssertEqual(proto?.route?.cluster, "nodes")
        let json = connectCall(classify("POST", "/node.v1.NodeService/GetNode", ["content-type": "application/json; charset=utf-8"]))
        XCTAssertEqual(json?.contentType, .unary(.json))
        XCTAssertNil(json?.failure)
    }

    func testStreamsByContentType() {
        let call = connectCall(
            classify(
                "POST", "/node.v1.NodeService/WatchNodes",
                ["content-type": "application/connect+json", "connect-timeout-ms": "250", "connect-accept-encoding": "gzip"]))
        XCTAssertEqual(call?.contentType, .streaming(.json))
        XCTAssertEqual(call?.timeout, GRPCTimeout(nanoseconds: 250_000_000))
        XCTAssertEqual(call?.responseCompression, .gzip)
        XCTAssertEqual(call?.streamsBody(over: .http2), true)
        XCTAssertEqual(call?.streamsBody(over: .http1_1), false)
    }

    func testJSONOffTheMethodPathsStaysREST() {
        guard case .rest = classify("POST", "/v1/nodes:get", ["content-type": "application/json"]) else { return XCTFail() }
        // A streaming method's JSON address keeps REST's JSON arrays without the version header.
        guard case .rest = classify("POST", "/node.v1.NodeService/StreamMetrics", ["content-type": "application/json"]) else {
            return XCTFail()
        }
    }

    func testGetOfAMethodWithoutSideEffects() {
        let call = connectCall(classify("GET", "/node.v1.NodeService/GetNode?connect=v1&encoding=json&message=%7B%7D"))
        XCTAssertEqual(call?.contentType, .unary(.json))
        XCTAssertEqual(call?.queryMessage, Array("{}".utf8))
        XCTAssertEqual(call?.extraHeaders["vary"], "Accept-Encoding")
        // Without a Connect query, GET is not Connect.
        guard case .rest = classify("GET", "/v1/nodes/n1") else { return XCTFail() }
    }

    func testRefusalsFromTheHead() {
        let cases: [(ClassifiedRequest, Int, String)] = [
            (
                classify("POST", "/node.v1.NodeService/GetNode", descriptors: false, ["content-type": "application/json"]), 415,
                "unimplemented"
            ),
            (classify("POST", "/node.v1.NodeService/WatchNodes", ["content-type": "application/connect+xml"]), 415, "unimplemented"),
            (
                classify("POST", "/node.v1.NodeService/GetNode", ["content-type": "text/plain", "connect-protocol-version": "1"]), 415,
                "unimplemented"
            ),
            (
                classify("POST", "/node.v1.NodeService/WatchNodes", ["content-type": "application/json", "connect-protocol-version": "1"]),
                415, "unimplemented"
            ),
            (classify("POST", "/node.v1.NodeService/Nope", ["content-type": "application/proto"]), 404, "unimplemented"),
            (classify("POST", "/other.v1.S/M", ["content-type": "application/proto"]), 404, "unimplemented"),
            (
                classify("POST", "/node.v1.NodeService/GetNode", ["content-type": "application/proto", "connect-timeout-ms": "soon"]), 400,
                "invalid_argument"
            ),
            (
                classify("POST", "/node.v1.NodeService/GetNode", ["content-type": "application/proto", "connect-protocol-version": "2"]),
                400,
                "invalid_argument"
            ),
            (
                classify("POST", "/node.v1.NodeService/GetNode", ["content-type": "application/proto", "content-encoding": "br"]), 501,
                "unimplemented"
            ),
            (classify("GET", "/node.v1.NodeService/StreamMetrics?connect=v1&encoding=json&message=%7B%7D"), 405, "unimplemented"),
            (
                classify("GET", "/node.v1.NodeService/GetNode?connect=v1&encoding=json&message=%7B%7D", descriptors: false), 405,
                "unimplemented"
            ),
            (classify("GET", "/node.v1.NodeService/GetNode?connect=v1&encoding=yaml&message=x"), 415, "unimplemented"),
        ]
        for (index, (request, status, code)) in cases.enumerated() {
            let answer = refusal(request)
            XCTAssertEqual(answer?.status, status, "case \(index)")
            XCTAssertEqual(answer?.code, code, "case \(index)")
        }
    }

    func testAStreamRefusedFromItsHeadIsAnsweredInTheStream() {
        let call = connectCall(classify("POST", "/other.v1.S/M", ["content-type": "application/connect+proto"]))
        XCTAssertEqual(call?.failure, GRPCStatus(.unimplemented, "no route for /other.v1.S/M"))
    }
}
