@testable import Transcode
import XCTest

/// Hostile nesting in either direction gets an error naming the limit (protobuf's recursion
/// limit of 100), never a stack overflow.
final class NestingDepthTests: XCTestCase {
    private func parse(_ json: String) throws -> [UInt8] {
        let transcoder = try JSONFormatDifferentialTests.richTranscoder()
        return try Array(json.utf8).withUnsafeBytes {
            try transcoder.binary(fromJSON: $0, messageType: "ferry.test.v1.Rich", options: JSONParseOptions(ignoreUnknownFields: true))
        }
    }

    private func print(_ binary: [UInt8]) throws -> String {
        let transcoder = try JSONFormatDifferentialTests.richTranscoder()
        return String(
            decoding: try binary.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: "ferry.test.v1.Rich") },
            as: UTF8.self)
    }

    private func nestedMessages(_ levels: Int) -> String {
        String(repeating: #"{"child":"#, count: levels) + "{}" + String(repeating: "}", count: levels)
    }

    func testDeepJSONIsRefusedWithTheLimitNamed() throws {
        XCTAssertNoThrow(try parse(#"{"fNested":"# + nestedMessages(90) + "}"))
        for json in [
            #"{"fNested":"# + nestedMessages(150) + "}",
            #"{"wValue":"# + String(repeating: "[", count: 150) + String(repeating: "]", count: 150) + "}",
            #"{"wStruct":"# + String(repeating: #"{"a":"#, count: 150) + "1" + String(repeating: "}", count: 151),
            #"{"unknownField":"# + String(repeating: "[", count: 100_000),
        ] {
            XCTAssertThrowsError(try parse(json)) { error in
                XCTAssertTrue("\(error)".contains("nested deeper than 100 levels"), "\(error)")
            }
        }
    }

    private func varint(_ value: Int) -> [UInt8] {
        var value = UInt64(value)
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    /// Length-delimited fields nested `levels` deep, numbered from the outside in by cycling
    /// through `numbers`, written outside in (in linear time: the lengths are known first).
    private func nested(_ numbers: [Int], levels: Int) -> [UInt8] {
        var lengths = [0]
        for level in (0..<levels).reversed() {
            let inner = lengths[lengths.count - 1]
            lengths.append(varint(numbers[level % numbers.count] << 3 | 2).count + varint(inner).count + inner)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(lengths[lengths.count - 1])
        for level in 0..<levels {
            bytes += varint(numbers[level % numbers.count] << 3 | 2) + varint(lengths[levels - 1 - level])
        }
        return bytes
    }

    func testDeepBinaryIsRefusedWithTheLimitNamed() throws {
        // Rich.f_nested = 17 → Nested.child = 3 → …; Rich.w_value = 82 → Value.list_value = 6 →
        // ListValue.values = 1 → Value …: 100,000 levels in a few hundred KB.
        for binary in [
            nested([17] + Array(repeating: 3, count: 99_999), levels: 100_000),
            nested([82] + Array(repeating: [6, 1], count: 50_000).joined(), levels: 100_001),
        ] {
            XCTAssertThrowsError(try print(binary)) { error in
                XCTAssertTrue("\(error)".contains("nested deeper than 100 levels"), "\(error)")
            }
        }
        XCTAssertTrue(try print(nested([17] + Array(repeating: 3, count: 49), levels: 50)).hasPrefix(#"{"fNested":{"child":{"child":"#))
    }
}
