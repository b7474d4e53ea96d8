// Descriptor sets for tests, compiled from Protos/ with Debian's protoc (which finds
// google/protobuf/*.proto in /usr/include).
import Foundation

public enum ProtoCompiler {
    /// The work tree's root.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// `proto` (a path under Protos/) compiled with its imports into a FileDescriptorSet.
    public static func descriptorSet(for proto: String) throws -> [UInt8] {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("descriptors-\(UUID()).pb")
        defer { try? FileManager.default.removeItem(at: output) }
        let protoc = Process()
        protoc.executableURL = URL(fileURLWithPath: "/usr/bin/protoc")
        protoc.arguments = [
            "-I", root.appendingPathComponent("Protos").path, "--include_imports",
            "--descriptor_set_out=\(output.path)", proto,
        ]
        try protoc.run()
        protoc.waitUntilExit()
        guard protoc.terminationStatus == 0 else {
            throw Failure(description: "protoc failed on \(proto) (scripts/install-deps installs protobuf-compiler)")
        }
        return Array(try Data(contentsOf: output))
    }
}
