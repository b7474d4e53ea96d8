import FerryCore
import Foundation
import NodeProto
import TestSupport
import SwiftProtobuf
@testable import Transcode
import XCTest

final class ProtoJSONTranscoderTests: XCTestCase {
    static let transcoder: ProtoJSONTranscoder = {
        try! ProtoJSONTranscoder(pool: DescriptorPool(serializedDescriptorSet: RESTCatalogTests.nodeDescriptorSet()))
    }()

    private func json(_ message: some SwiftProtobuf.Message, options: JSONPrintOptions = JSONPrintOptions()) throws -> String {
        let bytes: [UInt8] = try message.serializedBytes()
        return String(
            decoding: try bytes.withUnsafeBytes {
                try Self.transcoder.json(fromBinary: $0, messageType: type(of: message).protoMessageName, options: options)
            }, as: UTF8.self)
    }

    private func binary<M: SwiftProtobuf.Message>(
        _ json: String, as type: M.Type, options: JSONParseOptions = JSONParseOptions()
    ) throws -> M {
        let bytes = try Array(json.utf8).withUnsafeBytes {
            try Self.transcoder.binary(fromJSON: $0, messageType: M.protoMessageName, options: options)
        }
        return try M(serializedBytes: bytes)
    }

    private var node: Node_V1_Node {
        Node_V1_Node.with {
            $0.id = "n1"
            $0.name = "node \"one\"\n"
            $0.state = .draining
            $0.memoryBytes = -9_007_199_254_740_993
            $0.labels = ["zone=local", "é"]
            $0.createdAt = .with {
                $0.seconds = 1_700_000_000; $0.nanos = 120_000_000
            }
            $0.payload = Data([0, 1, 2, 250, 251, 252])
        }
    }

    func testNodeRoundTripsAndAgreesWithSwiftProtobuf() throws {
        let text = try json(node)
        XCTAssertEqual(try Node_V1_Node(jsonString: text), node, text)
        XCTAssertEqual(try binary(text, as: Node_V1_Node.self), node)
        XCTAssertEqual(try binary(try node.jsonString(), as: Node_V1_Node.self), node)
        XCTAssertTrue(text.contains("\"memoryBytes\":\"-9007199254740993\""), text)
        XCTAssertTrue(text.contains("\"createdAt\":\"2023-11-14T22:13:20.120Z\""), text)
        XCTAssertTrue(text.contains("\"state\":\"NODE_STATE_DRAINING\""), text)
    }

    func testPrintOptions() throws {
        let empty = try json(Node_V1_Node(), options: JSONPrintOptions(emitUnpopulated: true))
        XCTAssertEqual(empty, #"{"id":"","name":"","state":"NODE_STATE_UNSPECIFIED","memoryBytes":"0","labels":[],"payload":""}"#)
        let protoNames = try json(node, options: JSONPrintOptions(useProtoNames: true, enumsAsIntegers: true))
        XCTAssertTrue(protoNames.contains("\"memory_bytes\":") && protoNames.contains("\"state\":2"), protoNames)
    }

    func testParserAcceptsTheMappingsAlternatives() throws {
        let parsed = try binary(
            #"""
            {"id": "n1", "memory_bytes": 42, "state": 2, "labels": null, "payload": "AAEC-vv8",
             "createdAt": "2023-11-14T23:13:20.12+01:00"}
            """#, as: Node_V1_Node.self)
        XCTAssertEqual(parsed.memoryBytes, 42)
        XCTAssertEqual(parsed.state, .draining)
        XCTAssertEqual(parsed.payload, Data([0, 1, 2, 250, 251, 252]))
        XCTAssertEqual(
            parsed.createdAt,
            .with {
                $0.seconds = 1_700_000_000; $0.nanos = 120_000_000
            })
        XCTAssertEqual(try binary(#"{"memoryBytes": 1e3}"#, as: Node_V1_Node.self).memoryBytes, 1000)
        XCTAssertEqual(try binary(#"{"memoryBytes": "-7"}"#, as: Node_V1_Node.self).memoryBytes, -7)
    }

    func testErrorsNameTheByteOffsetAndTheField() {
        let cases: [(String, String)] = [
            (#"{"id": "n1",}"#, "invalid JSON at byte 12: expected a string, found '}'"),
            (#"{"nope": 1}"#, "invalid JSON at byte 1: unknown field 'nope' in node.v1.Node"),
            (#"{"id": "a", "id": "b"}"#, "invalid JSON at byte 12: field 'id' is given twice"),
            (
                #"{"state": "NODE_STATE_LOST"}"#,
                "invalid JSON at byte 10, field state: 'NODE_STATE_LOST' is not a value of enum node.v1.NodeState"
            ),
            (#"{"memoryBytes": 1.5}"#, "invalid JSON at byte 16, field memoryBytes: '1.5' is not a valid int64 value"),
            (#"{"payload": "***"}"#, "invalid JSON at byte 12, field payload: not base64"),
            (
                #"{"labels": ["a", null]}"#,
                "invalid JSON at byte 17, field labels[1]: null is not allowed as an element of a repeated field"
            ),
            (
                #"{"createdAt": "yesterday"}"#,
                "invalid JSON at byte 14, field createdAt: 'yesterday' is not an RFC 3339 timestamp between years 1 and 9999"
            ),
            (#"{"id": "n1"} x"#, "invalid JSON at byte 13: expected the end of the body, found 'x'"),
            ("{\"id\": \"\u{1}\"}", "invalid JSON at byte 8, field id: control character 0x1 in a string"),
        ]
        for (json, message) in cases {
            XCTAssertThrowsError(try binary(json, as: Node_V1_Node.self), json) { error in
                XCTAssertEqual((error as? JSONParseError)?.description, message, json)
            }
        }
        XCTAssertNoThrow(
            try binary(
                #"{"nope": {"deep": [1]}, "state": "NODE_STATE_LOST"}"#, as: Node_V1_Node.self,
                options: JSONParseOptions(ignoreUnknownFields: true)))
    }

    func testEightByteScanFindsTheFirstByteThatNeedsALook() {
        var generator = SeededGenerator(state: 9)
        let interesting: [UInt8] = [0x00, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F, 0x80, 0xC3, 0xFF, 0x41, 0x61]
        for _ in 0..<50_000 {
            let bytes = (0..<8).map { _ in interesting.randomElement(using: &generator)! }
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let first = bytes.firstIndex { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= 0x80 }
            let flags = SWAR.attentionFlags(word)
            XCTAssertEqual(flags == 0 ? nil : flags.trailingZeroBitCount / 8, first, "\(bytes)")
        }
    }

    func testKeyTableFindsBothNamesByBytes() throws {
        // The set owns its layouts: it must outlive them.
        let layouts = try MessageLayouts(pool: DescriptorPool(serializedDescriptorSet: RESTCatalogTests.nodeDescriptorSet()))
        let layout = try layouts.layout(for: "node.v1.Node")
        defer { withExtendedLifetime(layouts) {} }
        func index(_ key: String) -> Int? { Array(key.utf8).withUnsafeBytes { layout.index(forKey: $0) } }
        XCTAssertEqual(index("memoryBytes"), index("memory_bytes"))
        XCTAssertEqual(index("memoryBytes").map { layout.fields[$0].number }, 4)
        XCTAssertEqual(index("id").map { layout.fields[$0].number }, 1)
        XCTAssertNil(index("memorybytes"))
        XCTAssertNil(index(""))
        XCTAssertNil(index("memoryBytes\u{0}"))
    }
}

final class RESTResponseTests: XCTestCase {
    private func json(_ message: some SwiftProtobuf.Message, fieldPath: [String]) throws -> String {
        let bytes: [UInt8] = try message.serializedBytes()
        return String(
            decoding: try bytes.withUnsafeBytes {
                try ProtoJSONTranscoderTests.transcoder.json(
                    fromBinary: $0, messageType: type(of: message).protoMessageName,
                    fieldPath: fieldPath)
            }, as: UTF8.self)
    }

    func testResponseBodySelectsOneField() throws {
        let event = Node_V1_NodeEvent.with {
            $0.sequence = 3
            $0.node = .with {
                $0.id = "n1"; $0.labels = ["a", "b"]; $0.createdAt = .with { $0.seconds = 1 }
            }
        }
        XCTAssertEqual(try json(event, fieldPath: ["node"]), #"{"id":"n1","labels":["a","b"],"createdAt":"1970-01-01T00:00:01Z"}"#)
        XCTAssertEqual(try json(event, fieldPath: ["node", "labels"]), #"["a","b"]"#)
        XCTAssertEqual(try json(event, fieldPath: ["node", "created_at"]), #""1970-01-01T00:00:01Z""#)
        XCTAssertEqual(try json(event, fieldPath: ["sequence"]), #""3""#)
        XCTAssertEqual(try json(Node_V1_NodeEvent(), fieldPath: ["node", "name"]), #""""#, "missing: the default")
        XCTAssertThrowsError(try json(event, fieldPath: ["nope"]))
    }

    func testStatusDetailsPrintKnownTypesAndKeepUnknownOnesAsBase64() throws {
        // google.rpc.Status{code 5, message "m", details [Any(Node{id "n1"}), Any(unknown, bytes 0A 01 78)]}.
        let node: [UInt8] = try Node_V1_Node.with { $0.id = "n1" }.serializedBytes()
        func field(_ number: UInt8, _ payload: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(payload.count)] + payload }
        let status =
            [0x08, 5] + field(2, Array("m".utf8))
            + field(3, field(1, Array("type.googleapis.com/node.v1.Node".utf8)) + field(2, node))
            + field(3, field(1, Array("type.googleapis.com/x.Unknown".utf8)) + field(2, [0x0A, 0x01, 0x78]))
        let json = status.withUnsafeBytes { ProtoJSONTranscoderTests.transcoder.statusJSON(code: 5, message: "not found", details: $0) }
        XCTAssertEqual(
            String(decoding: json, as: UTF8.self),
            #"{"code":5,"message":"not found","details":[{"@type":"type.googleapis.com/node.v1.Node","id":"n1"},"#
                + #"{"@type":"type.googleapis.com/x.Unknown","value":"CgF4"}]}"#)
        let garbage = [UInt8]([0x1A, 0x09, 0x0A]).withUnsafeBytes {
            ProtoJSONTranscoderTests.transcoder.statusJSON(code: 2, message: "", details: $0)
        }
        XCTAssertEqual(
            String(decoding: garbage, as: UTF8.self), #"{"code":2,"message":"","details":[]}"#, "unreadable details are left out")
    }

    func testStatusBodyAndHTTPMapping() {
        XCTAssertEqual(
            String(decoding: ProtoJSONTranscoder.statusJSON(code: 5, message: "node \"x\" not found"), as: UTF8.self),
            #"{"code":5,"message":"node \"x\" not found","details":[]}"#)
        let mapping = GRPCStatusCode.allCases.map { "\($0.name)=\($0.httpStatus)" }
        XCTAssertEqual(
            mapping,
            [
                "OK=200", "CANCELLED=499", "UNKNOWN=500", "INVALID_ARGUMENT=400", "DEADLINE_EXCEEDED=504",
                "NOT_FOUND=404", "ALREADY_EXISTS=409", "PERMISSION_DENIED=403", "RESOURCE_EXHAUSTED=429",
                "FAILED_PRECONDITION=400", "ABORTED=409", "OUT_OF_RANGE=400", "UNIMPLEMENTED=501",
                "INTERNAL=500", "UNAVAILABLE=503", "DATA_LOSS=500", "UNAUTHENTICATED=401",
            ])
    }
}
