// bench/transcode: Ferry's descriptor-driven JSON transcoder against SwiftProtobuf's generated
// JSON coding for the same messages, in the same run (issue 4, "Speed"). Prints MB/s and ns per
// message for binary → JSON and JSON → binary.
import FoundationEssentials
import Glibc
import NodeProto
import SwiftProtobuf
import Transcode

@main
struct TranscodeBench {
    static func main() throws {
        try run()
    }

    /// Off the main actor: closures made on it are checked for isolation at every call, which
    /// would count a runtime check into every message measured.
    nonisolated static func run() throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 2 || arguments.count == 4 else {
            print(
                """
                usage: transcode-bench DESCRIPTOR_SET [PROFILE COUNT]
                  DESCRIPTOR_SET: protoc --include_imports of Protos/node/v1/node.proto
                  PROFILE: run only Ferry's side of one case COUNT times, for perf or callgrind
                           (instructions per message = total / COUNT): typical-to-json,
                           typical-to-binary, bytes-to-json or bytes-to-binary
                """)
            return
        }
        let transcoder = try ProtoJSONTranscoder(pool: DescriptorPool(serializedDescriptorSet: try readFile(arguments[1])))
        let typical = Node_V1_Node.with {
            $0.id = "node-0042"
            $0.name = "worker node 42 in zone eu-west-3b, rack 17"
            $0.state = .ready
            $0.memoryBytes = 68_719_476_736
            $0.labels = (0..<24).map { "label-\($0)=value-\($0 * 7919)" }
            $0.createdAt = .with {
                $0.seconds = 1_764_000_000; $0.nanos = 123_000_000
            }
            $0.payload = Data(repeating: 0x5A, count: 64)
        }
        let bytesHeavy = Node_V1_Node.with {
            $0.id = "blob"
            $0.payload = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        }
        if arguments.count == 4 {
            let message = arguments[2].hasPrefix("typical") ? typical : bytesHeavy
            let binary: [UInt8] = try message.serializedBytes()
            let json: [UInt8] = try message.jsonUTF8Bytes()
            let toJSON = arguments[2].hasSuffix("to-json")
            for _ in 0..<(Int(arguments[3]) ?? 1000) {
                if toJSON {
                    _ = try binary.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: Node_V1_Node.protoMessageName) }
                } else {
                    _ = try transcoder.binary(fromJSON: json, messageType: Node_V1_Node.protoMessageName)
                }
            }
            return
        }
        print(
            "| message | direction | size in | Ferry MB/s | Ferry ns/msg | SwiftProtobuf MB/s | SwiftProtobuf ns/msg | Ferry/SwiftProtobuf |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for (name, message) in [("typical (~1 KiB JSON)", typical), ("bytes-heavy (64 KiB payload)", bytesHeavy)] {
            let binary: [UInt8] = try message.serializedBytes()
            let json: [UInt8] = try message.jsonUTF8Bytes()
            // Both coders must agree before their speed means anything.
            let ours = try binary.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: Node_V1_Node.protoMessageName) }
            let decodedJSON = try Node_V1_Node(jsonUTF8Bytes: ours)
            precondition(decodedJSON == message, "Ferry's JSON differs")
            let back = try transcoder.binary(fromJSON: json, messageType: Node_V1_Node.protoMessageName)
            let decodedBinary = try Node_V1_Node(serializedBytes: back)
            precondition(decodedBinary == message, "Ferry's binary differs")

            let ferryToJSON = measure {
                _ = try binary.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: Node_V1_Node.protoMessageName) }
            }
            let generatedToJSON = measure {
                let decoded = try Node_V1_Node(serializedBytes: binary)
                let _: [UInt8] = try decoded.jsonUTF8Bytes()
            }
            row(name, "binary → JSON", binary.count, ferryToJSON, generatedToJSON)
            let ferryToBinary = measure {
                _ = try transcoder.binary(fromJSON: json, messageType: Node_V1_Node.protoMessageName)
            }
            let generatedToBinary = measure {
                let decoded = try Node_V1_Node(jsonUTF8Bytes: json)
                let _: [UInt8] = try decoded.serializedBytes()
            }
            row(name, "JSON → binary", json.count, ferryToBinary, generatedToBinary)
        }
    }

    /// Nanoseconds per call: the best of 5 rounds of ~0.2 s each.
    nonisolated static func measure(_ body: () throws -> Void) -> Double {
        let clock = ContinuousClock()
        var iterations = 1
        while clock.measure({ for _ in 0..<iterations { try? body() } }) < .milliseconds(20) { iterations *= 2 }
        iterations *= 10
        var best = Double.infinity
        for _ in 0..<5 {
            let elapsed = clock.measure { for _ in 0..<iterations { try? body() } }
            let (seconds, attoseconds) = elapsed.components
            best = min(best, (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(iterations))
        }
        return best
    }

    static func row(_ name: String, _ direction: String, _ size: Int, _ ferry: Double, _ generated: Double) {
        func rate(_ nanoseconds: Double) -> String { format(Double(size) / nanoseconds * 1_000) }
        print(
            "| \(name) | \(direction) | \(size) B | \(rate(ferry)) | \(format(ferry)) | \(rate(generated)) | \(format(generated)) | \(format(generated / ferry, digits: 2))× |"
        )
    }

    static func format(_ value: Double, digits: Int = 0) -> String {
        let scale = (0..<digits).reduce(1.0) { result, _ in result * 10 }
        let rounded = (value * scale).rounded() / scale
        return digits == 0 ? String(Int(rounded)) : String(rounded)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw BenchError(message: "cannot open \(path)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { return bytes }
            bytes.append(contentsOf: buffer[..<count])
        }
    }
}

struct BenchError: Error {
    var message: String
}
