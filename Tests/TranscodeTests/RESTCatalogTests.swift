import Foundation
import GoogleAPI
import SwiftProtobuf
import TestSupport
@testable import Transcode
import XCTest

final class RESTCatalogTests: XCTestCase {
    /// A descriptor set compiled by Debian's protoc from Protos/ (imports included).
    static func descriptorSet(for proto: String) throws -> [UInt8] {
        try ProtoCompiler.descriptorSet(for: proto)
    }

    static func nodeDescriptorSet() throws -> [UInt8] {
        try descriptorSet(for: "node/v1/node.proto")
    }

    private func lookup(_ catalog: RESTCatalog, _ verb: String, _ path: String) throws -> String {
        switch catalog.routes.lookup(verb: verb, path: try RequestPath(parsing: path[...])) {
        case .matched(let binding, let bindings):
            return ([binding.method.fullName, "\(binding.body)"] + bindings.map { "\($0.fieldPath.joined(separator: "."))=\($0.value)" })
                .joined(separator: " ")
        case .methodNotAllowed(let allowed): return "405 " + allowed.joined(separator: ",")
        case .notFound: return "404"
        }
    }

    func testNodeServiceRulesFromItsDescriptorSet() throws {
        let pool = try DescriptorPool(serializedDescriptorSet: try Self.nodeDescriptorSet())
        let catalog = try RESTCatalog(pool: pool, services: ["node.v1.NodeService"])
        XCTAssertEqual(try lookup(catalog, "GET", "/v1/nodes/n1"), "node.v1.NodeService.GetNode none node_id=n1")
        XCTAssertEqual(try lookup(catalog, "POST", "/v1/nodes:get"), "node.v1.NodeService.GetNode wholeMessage")
        XCTAssertEqual(try lookup(catalog, "GET", "/v1/nodes:watch"), "node.v1.NodeService.WatchNodes none")
        XCTAssertEqual(try lookup(catalog, "POST", "/v1/metrics:stream"), "node.v1.NodeService.StreamMetrics wholeMessage")
        XCTAssertEqual(try lookup(catalog, "DELETE", "/v1/nodes/n1"), "405 GET")
        XCTAssertEqual(try lookup(catalog, "GET", "/v1/things"), "404")
        guard case .matched(let binding, _) = catalog.routes.lookup(verb: "GET", path: try RequestPath(parsing: "/v1/nodes:watch")) else {
            return XCTFail("no WatchNodes")
        }
        XCTAssertEqual(
            binding.method,
            RESTMethod(
                fullName: "node.v1.NodeService.WatchNodes", grpcPath: "/node.v1.NodeService/WatchNodes",
                inputType: "node.v1.WatchNodesRequest", outputType: "node.v1.NodeEvent",
                clientStreaming: false, serverStreaming: true))
        XCTAssertNotNil(pool.messages["node.v1.Node"])
        XCTAssertNotNil(pool.enums["node.v1.NodeState"])
        XCTAssertNotNil(pool.messages["google.protobuf.Timestamp"], "imports are included")
    }

    /// A file with one service whose methods carry the given rules.
    private func pool(rules: [(String, Google_Api_HttpRule?)]) -> DescriptorPool {
        let request = Google_Protobuf_DescriptorProto.with {
            $0.name = "Request"
            $0.field = [
                .with {
                    $0.name = "name"; $0.number = 1; $0.type = .string; $0.label = .optional
                },
                .with {
                    $0.name = "shelf"; $0.number = 2; $0.type = .message; $0.typeName = ".lib.Shelf"; $0.label = .optional
                },
                .with {
                    $0.name = "tags"; $0.number = 3; $0.type = .string; $0.label = .repeated
                },
            ]
        }
        let shelf = Google_Protobuf_DescriptorProto.with {
            $0.name = "Shelf"
            $0.field = [
                .with {
                    $0.name = "id"; $0.number = 1; $0.type = .int64; $0.label = .optional
                }
            ]
        }
        let service = Google_Protobuf_ServiceDescriptorProto.with { service in
            service.name = "Library"
            service.method = rules.map { name, rule in
                Google_Protobuf_MethodDescriptorProto.with {
                    $0.name = name
                    $0.inputType = ".lib.Request"
                    $0.outputType = ".lib.Shelf"
                    if let rule { $0.options.Google_Api_http = rule }
                }
            }
        }
        return DescriptorPool(files: [
            .with {
                $0.package = "lib"; $0.messageType = [request, shelf]; $0.service = [service]
            }
        ])
    }

    func testMethodsWithoutRulesArePostToTheirGRPCPath() throws {
        let catalog = try RESTCatalog(pool: pool(rules: [("Plain", nil)]), services: ["lib.Library"])
        XCTAssertEqual(try lookup(catalog, "POST", "/lib.Library/Plain"), "lib.Library.Plain wholeMessage")
    }

    func testBodyFieldsNestedVariablesCustomVerbsAndResponseBody() throws {
        let catalog = try RESTCatalog(
            pool: pool(rules: [
                (
                    "Update",
                    .with {
                        $0.patch = "/v1/{name}"; $0.body = "shelf"; $0.responseBody = "id"
                    }
                ),
                (
                    "Move",
                    .with {
                        $0.custom = .with {
                            $0.kind = "MOVE"; $0.path = "/v1/shelves/{shelf.id}"
                        }
                    }
                ),
            ]), services: ["lib.Library"])
        XCTAssertEqual(try lookup(catalog, "PATCH", "/v1/a"), "lib.Library.Update field([\"shelf\"]) name=a")
        XCTAssertEqual(try lookup(catalog, "MOVE", "/v1/shelves/7"), "lib.Library.Move none shelf.id=7")
        guard case .matched(let binding, _) = catalog.routes.lookup(verb: "PATCH", path: try RequestPath(parsing: "/v1/a")) else {
            return XCTFail("no Update")
        }
        XCTAssertEqual(binding.responseBody, ["id"])
    }

    func testHTTPBodyPlacementsAndTheAddressByName() throws {
        let pool = try DescriptorPool(serializedDescriptorSet: try Self.descriptorSet(for: "ferry/test/v1/rich_service.proto"))
        let catalog = try RESTCatalog(pool: pool, services: ["ferry.test.v1.RichService"])
        func binding(_ verb: String, _ path: String) throws -> RESTBinding? {
            guard case .matched(let binding, _) = catalog.routes.lookup(verb: verb, path: try RequestPath(parsing: path[...])) else {
                return nil
            }
            return binding
        }
        let upload = try XCTUnwrap(try binding("POST", "/v1/blobs/a"))
        XCTAssertEqual(upload.requestHTTPBody, HTTPBodyPlacement(fieldNumbers: [2]))
        XCTAssertNil(upload.responseHTTPBody)
        let echoBody = try XCTUnwrap(try binding("PUT", "/v1/body"))
        XCTAssertEqual(echoBody.requestHTTPBody, HTTPBodyPlacement(fieldNumbers: []))
        XCTAssertEqual(echoBody.responseHTTPBody, HTTPBodyPlacement(fieldNumbers: []))
        let download = try XCTUnwrap(try binding("GET", "/v1/blobs/x/y"))
        XCTAssertEqual(download.responseHTTPBody, HTTPBodyPlacement(fieldNumbers: []))
        XCTAssertNil(download.requestHTTPBody)
        // Annotated methods are reached by their gRPC name too, with the whole message as body.
        XCTAssertEqual(try binding("POST", "/ferry.test.v1.RichService/Echo")?.body, .wholeMessage)
        XCTAssertEqual(try binding("POST", "/ferry.test.v1.RichService/Upload")?.requestHTTPBody, nil)
    }

    func testHTTPBodyEncodesThroughNestedFieldsAndDecodesLastWins() throws {
        let placement = HTTPBodyPlacement(fieldNumbers: [2, 300])
        let data = [UInt8](repeating: 7, count: 200)
        let message = data.withUnsafeBytes { placement.encode(contentType: "image/png", data: $0) }
        // 2:LD(218){ 300:LD(214){ 1:"image/png" 2:data(200) } }: two-byte lengths once past 127.
        XCTAssertEqual(Array(message.prefix(6)), [0x12, 0xDA, 0x01, 0xE2, 0x12, 0xD6])
        let decoded = try message.withUnsafeBytes { try placement.decode($0) }
        XCTAssertEqual(decoded.contentType, "image/png")
        XCTAssertEqual(decoded.data, data)
        let later = [UInt8]("x".utf8).withUnsafeBytes { placement.encode(contentType: "text/plain", data: $0) }
        let merged = try (message + later).withUnsafeBytes { try placement.decode($0) }
        XCTAssertEqual(merged.contentType, "text/plain")
        XCTAssertEqual(merged.data, Array("x".utf8))
        let empty = try [UInt8]().withUnsafeBytes { try placement.decode($0) }
        XCTAssertEqual(empty.contentType, "")
        XCTAssertEqual(empty.data, [])
        XCTAssertThrowsError(try [UInt8]([0x12, 0x05, 0x01]).withUnsafeBytes { try placement.decode($0) })
    }

    func testStartupErrorsNameTheMethodAndTheProblem() {
        let cases: [([(String, Google_Api_HttpRule?)], String)] = [
            (
                [("A", .with { $0.get = "/v1/{nothing}" })],
                "method lib.Library.A: path variable 'nothing': 'nothing' is not a field of lib.Request"
            ),
            (
                [("A", .with { $0.get = "/v1/{tags.x}" })],
                "method lib.Library.A: path variable 'tags.x': 'tags' is not a singular message field"
            ),
            (
                [
                    (
                        "A",
                        .with {
                            $0.post = "/v1/x"; $0.body = "missing"
                        }
                    )
                ],
                "method lib.Library.A: body 'missing': 'missing' is not a field of lib.Request"
            ),
            (
                [
                    (
                        "A",
                        .with {
                            $0.get = "/v1/x"; $0.responseBody = "name"
                        }
                    )
                ],
                "method lib.Library.A: response_body 'name': 'name' is not a field of lib.Shelf"
            ),
            (
                [("A", .with { $0.get = "v1" })],
                "method lib.Library.A: invalid path template 'v1' at offset 0: a template starts with '/'"
            ),
            (
                [("A", .with { $0.get = "/v1/{name}" }), ("B", .with { $0.get = "/v1/{shelf.id}" })],
                "GET /v1/{shelf.id} is bound twice: by lib.Library.A and by lib.Library.B"
            ),
            ([("A", Google_Api_HttpRule())], "method lib.Library.A: a google.api.http rule without a pattern"),
        ]
        for (rules, message) in cases {
            XCTAssertThrowsError(try RESTCatalog(pool: pool(rules: rules), services: ["lib.Library"])) { error in
                XCTAssertEqual((error as? DescriptorError)?.reason, message)
            }
        }
        XCTAssertThrowsError(try RESTCatalog(pool: pool(rules: []), services: ["lib.Nope"])) { error in
            XCTAssertEqual((error as? DescriptorError)?.reason, "service 'lib.Nope' is not in the descriptor set (services: lib.Library)")
        }
        XCTAssertThrowsError(try DescriptorPool(serializedDescriptorSet: [0xFF, 0xFF])) { error in
            XCTAssertTrue((error as? DescriptorError)?.reason.hasPrefix("not a FileDescriptorSet") == true)
        }
    }
}
