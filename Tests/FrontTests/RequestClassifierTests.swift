@testable import Config
@testable import Front
import FerryCore
import HTTP1
import Logging
import Routing
import XCTest

final class RequestClassifierTests: XCTestCase {
    private let context = ListenerContext(
        config: ListenerConfig(address: "127.0.0.1:0", cors: CORSPolicy.grpcWebPreset, limits: FrontLimits(), tls: nil),
        router: Router(routes: [Route(match: .service("node.v1.NodeService"), cluster: "nodes")]),
        pools: [:], rest: nil, accessLog: nil, createTraceparent: false, tls: nil, metrics: nil,
        limitReporter: LimitReporter(logger: Logger(label: "test"), metrics: nil))

    private func classify(
        _ method: String, _ target: String, version: HTTPVersion = .http2,
        _ headers: KeyValuePairs<String, String>
    ) -> ClassifiedRequest {
        RequestClassifier(context: context).classify(
            HTTP1RequestHead(
                method: method, target: target, version: version,
                headers: HeaderFields(headers)),
            framing: .chunked)
    }

    func testNativeGRPCContentTypes() {
        for given in [
            "application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc;charset=utf-8",
            "Application/GRPC",
        ] {
            XCTAssertTrue(RequestClassifier.isNativeGRPC(contentType: Array(given.utf8)[...]), given)
        }
        for given in ["application/grpc-web", "application/grpc-web-text+proto", "application/grpcx", "application/json", ""] {
            XCTAssertFalse(RequestClassifier.isNativeGRPC(contentType: Array(given.utf8)[...]), given)
        }
    }

    func testNativeGRPCOnHTTP2IsRoutedAndKeepsItsContentType() {
        guard
            case .grpc(let call) = classify(
                "POST", "/node.v1.NodeService/GetNode",
                ["content-type": "application/grpc+proto", "grpc-timeout": "5S"])
        else {
            return XCTFail("not native gRPC")
        }
        XCTAssertEqual(call.path, "/node.v1.NodeService/GetNode")
        XCTAssertEqual(call.contentType, "application/grpc+proto")
        XCTAssertEqual(call.route?.cluster, "nodes")
        XCTAssertEqual(call.timeout, GRPCTimeout(nanoseconds: 5_000_000_000))
        XCTAssertNil(call.failure)
    }

    func testNativeGRPCWithoutARouteIsUnimplemented() {
        guard case .grpc(let call) = classify("POST", "/other.v1.S/M", ["content-type": "application/grpc"]) else { return XCTFail() }
        XCTAssertEqual(call.failure, GRPCStatus(.unimplemented, "no route for gRPC method /other.v1.S/M"))
    }

    func testMalformedGRPCTimeoutIsInternal() {
        guard
            case .grpc(let call) = classify(
                "POST", "/node.v1.NodeService/GetNode",
                ["content-type": "application/grpc", "grpc-timeout": "soon"])
        else { return XCTFail() }
        XCTAssertEqual(call.failure?.code, .internal)
        XCTAssertTrue(call.failure?.message.hasPrefix("malformed grpc-timeout") == true)
    }

    func testNativeGRPCNeedsPOST() {
        guard case .simple(let response) = classify("GET", "/node.v1.NodeService/GetNode", ["content-type": "application/grpc"]) else {
            return XCTFail()
        }
        XCTAssertEqual(response.head.status, 405)
        XCTAssertEqual(response.head.headers["allow"], "POST")
    }

    func testNativeGRPCOverHTTP1IsNotServed() {
        guard
            case .simple(let response) = classify(
                "POST", "/node.v1.NodeService/GetNode", version: .http1_1,
                ["content-type": "application/grpc"])
        else { return XCTFail() }
        XCTAssertEqual(response.head.status, 415)
    }

    func testGRPCWebIsClassifiedTheSameOnBothVersions() {
        for version in [HTTPVersion.http1_1, .http2] {
            guard
                case .grpcWeb(let call) = classify(
                    "POST", "/node.v1.NodeService/GetNode", version: version,
                    ["content-type": "application/grpc-web-text"])
            else { return XCTFail() }
            XCTAssertTrue(call.contentType.isText)
            XCTAssertEqual(call.route?.cluster, "nodes")
        }
    }

    func testPreflightIsAnsweredFromTheHead() {
        guard
            case .simple(let response) = classify(
                "OPTIONS", "/node.v1.NodeService/GetNode",
                ["origin": "https://a.example", "access-control-request-method": "POST"])
        else {
            return XCTFail()
        }
        XCTAssertEqual(response.head.status, 204)
    }
}
