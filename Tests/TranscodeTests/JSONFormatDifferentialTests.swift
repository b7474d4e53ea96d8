import Foundation
import TestSupport
@testable import Transcode
import XCTest

/// The transcoder against Python protobuf's json_format, the reference of the JSON mapping:
/// random `ferry.test.v1.Rich` messages (every scalar, repeated, map, oneof and well-known
/// type) from Tests/integration/json_format_oracle.py, run by the test peers' venv.
final class JSONFormatDifferentialTests: XCTestCase {
    static let root = ProtoCompiler.root

    static func richTranscoder() throws -> ProtoJSONTranscoder {
        try ProtoJSONTranscoder(
            pool: DescriptorPool(serializedDescriptorSet: RESTCatalogTests.descriptorSet(for: "ferry/test/v1/rich.proto")))
    }

    struct Case: Decodable {
        var binary: String
        var json: String
        var options: [Bool]
    }

    private func oracle(seed: Int, count: Int) throws -> [Case] {
        let python = Self.root.appendingPathComponent(".venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw XCTSkip("the Python test peers are not installed: run scripts/install-deps --test (make test does)")
        }
        let process = Process()
        process.executableURL = python
        process.arguments = [Self.root.appendingPathComponent("Tests/integration/json_format_oracle.py").path, "\(seed)", "\(count)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "json_format_oracle.py failed")
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(Case.self, from: Data($0)) }
    }

    func testAgreesWithJSONFormatBothWays() throws {
        let transcoder = try Self.richTranscoder()
        let cases = try oracle(seed: 20261127, count: 3000)
        XCTAssertGreaterThan(cases.count, 3000)
        var failures = 0
        for (index, item) in cases.enumerated() where failures < 5 {
            let options = JSONPrintOptions(
                emitUnpopulated: item.options[0], useProtoNames: item.options[1], enumsAsIntegers: item.options[2])
            let binary = [UInt8](Data(base64Encoded: item.binary)!)
            let expected = try JSONSerialization.jsonObject(with: Data(item.json.utf8), options: [.fragmentsAllowed])
            do {
                // binary → JSON, compared as parsed values.
                let printed = try binary.withUnsafeBytes {
                    try transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich", options: options)
                }
                let actual = try JSONSerialization.jsonObject(with: Data(printed), options: [.fragmentsAllowed])
                if !jsonEqual(actual, expected) {
                    failures += 1
                    XCTFail(
                        "case \(index) binary→JSON differs\n json_format: \(item.json)\n Ferry:       \(String(decoding: printed, as: UTF8.self))"
                    )
                    continue
                }
                // JSON → binary: json_format's text parsed by Ferry prints back the same.
                let parsed = try Array(item.json.utf8).withUnsafeBytes {
                    try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich")
                }
                let reprinted = try parsed.withUnsafeBytes {
                    try transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich", options: options)
                }
                if !jsonEqual(try JSONSerialization.jsonObject(with: Data(reprinted), options: [.fragmentsAllowed]), expected) {
                    failures += 1
                    XCTFail(
                        "case \(index) JSON→binary differs\n json_format: \(item.json)\n Ferry:       \(String(decoding: reprinted, as: UTF8.self))"
                    )
                }
            } catch {
                failures += 1
                XCTFail("case \(index): \(error)\n json_format: \(item.json)")
            }
        }
    }

    /// Empty has no special JSON form, so an Any of it is `{"@type": …}` alone, with no
    /// "value" (json_format and protojson agree); it reads back from that form.
    func testAnyOfEmptyIsInlined() throws {
        let transcoder = try Self.richTranscoder()
        let json = #"{"wAny":{"@type":"type.googleapis.com/google.protobuf.Empty"}}"#
        let binary = try Array(json.utf8).withUnsafeBytes { try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich") }
        let printed = try binary.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich") }
        XCTAssertEqual(String(decoding: printed, as: UTF8.self), json)
        // An empty Any is `{}` both ways (found by fuzzing).
        let empty = try Array(#"{"wAny":{}}"#.utf8).withUnsafeBytes {
            try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich")
        }
        XCTAssertEqual(empty, [0xAA, 0x05, 0x00])
        XCTAssertEqual(try printRich(empty), #"{"wAny":{}}"#)
        let wrapped = #"{"wAny":{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}}"#
        XCTAssertThrowsError(
            try Array(wrapped.utf8).withUnsafeBytes { try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich") })
    }

    /// A field without presence that holds zero is left out, whatever the zero's encoding: a
    /// varint of several bytes, or a 32-bit field whose varint has only high bits set (found by
    /// fuzzing; the output must read back and print the same).
    func testZeroInALongVarintIsStillTheDefault() throws {
        // f_int64 = 3: 0 as 0x80 0x00; f_int32 = 5: 2^32, whose low 32 bits are 0; f_bool = 8: 0 as 0x80 0x80 0x00.
        XCTAssertEqual(try printRich([0x18, 0x80, 0x00, 0x28, 0x80, 0x80, 0x80, 0x80, 0x10, 0x40, 0x80, 0x80, 0x00]), "{}")
        XCTAssertEqual(try printRich([0x18, 0x81, 0x00]), #"{"fInt64":"1"}"#)
        // A singular scalar in packed (length-delimited) form is a wire type error, not a value.
        XCTAssertThrowsError(try printRich([0x7A, 0x01, 0x00]))
        XCTAssertEqual(try printRich([0x92, 0x02, 0x02, 0x01, 0x02]), #"{"rInt32":[1,2]}"#)
    }

    /// Of a oneof's members on the wire, the last wins, as a parser keeps it (found by fuzzing).
    func testTheLastOneofMemberWins() throws {
        let cString: [UInt8] = [0xE2, 0x03, 0x01, 0x61], cInt64: [UInt8] = [0xE8, 0x03, 0x05]
        let nestedID: [UInt8] = [0xF2, 0x03, 0x02, 0x08, 0x01], nestedNote: [UInt8] = [0xF2, 0x03, 0x03, 0x12, 0x01, 0x6E]
        XCTAssertEqual(try printRich(cString + cInt64), #"{"cInt64":"5"}"#)
        XCTAssertEqual(try printRich(cInt64 + cString), #"{"cString":"a"}"#)
        XCTAssertEqual(try printRich(nestedID + cString + nestedNote), #"{"cNested":{"note":"n"}}"#)
        XCTAssertEqual(try printRich(nestedID + nestedNote), #"{"cNested":{"id":1,"note":"n"}}"#, "one member repeated merges")
    }

    /// Empty FieldMask paths survive both ways, as json_format keeps them (found by fuzzing).
    func testFieldMaskKeepsEmptyPaths() throws {
        let transcoder = try Self.richTranscoder()
        for json in [#"{"wFieldMask":"abc,,d"}"#, #"{"wFieldMask":"abc,"}"#, #"{"wFieldMask":""}"#] {
            let binary = try Array(json.utf8).withUnsafeBytes { try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich") }
            XCTAssertEqual(try printRich(binary), json)
        }
    }

    /// FieldMask paths convert as json_format converts them; one that would not read back has
    /// no JSON form (found by fuzzing).
    func testFieldMaskPathsConvertAsJSONFormatDoes() throws {
        func mask(_ path: String) -> [UInt8] {
            let bytes = Array(path.utf8)
            return [0xA2, 0x05, UInt8(bytes.count + 2), 0x0A, UInt8(bytes.count)] + bytes
        }
        XCTAssertEqual(try printRich(mask("._tim")), #"{"wFieldMask":".Tim"}"#)
        XCTAssertEqual(try printRich(mask("a.b_c")), #"{"wFieldMask":"a.bC"}"#)
        for path in ["Foo", "a__b", "a_"] { XCTAssertThrowsError(try printRich(mask(path)), path) }
    }

    private func printRich(_ binary: [UInt8]) throws -> String {
        let transcoder = try Self.richTranscoder()
        return String(
            decoding: try binary.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich") },
            as: UTF8.self)
    }

    /// Float32 denormals: json_format prints 6 significant digits, Ferry the shortest digits
    /// that read back to the same float; each side reads the other's text as the same float.
    func testFloatDenormalsReadBackTheSameEitherWay() throws {
        let transcoder = try Self.richTranscoder()
        let ours = try Array(#"{"fFloat": 1e-45}"#.utf8).withUnsafeBytes {
            try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich")
        }
        let theirs = try Array(#"{"fFloat": 1.4013e-45}"#.utf8).withUnsafeBytes {
            try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich")
        }
        XCTAssertEqual(ours, theirs)
        XCTAssertEqual(ours, [0x15, 0x01, 0x00, 0x00, 0x00])
        let printed = try ours.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich") }
        XCTAssertEqual(String(decoding: printed, as: UTF8.self), #"{"fFloat":1e-45}"#)
    }
}

/// Deep equality of parsed JSON: objects by key, arrays in order, numbers by value.
func jsonEqual(_ lhs: Any, _ rhs: Any) -> Bool {
    switch (lhs, rhs) {
    case (let left as [String: Any], let right as [String: Any]):
        return left.count == right.count && left.allSatisfy { key, value in right[key].map { jsonEqual(value, $0) } ?? false }
    case (let left as [Any], let right as [Any]):
        return left.count == right.count && zip(left, right).allSatisfy(jsonEqual)
    case (let left as String, let right as String):
        return left == right
    case (let left as NSNumber, let right as NSNumber):
        return left.doubleValue == right.doubleValue
    case (is NSNull, is NSNull):
        return true
    default:
        return false
    }
}
