// Which descriptor files a reflection stream still has to ask for, and the set they make. The
// listed services' files come first (`file_containing_symbol`), then every import not yet had
// (`file_by_filename`), until each file's imports are in: servers differ in what they send along
// (grpc-go adds a file's imports, grpcio sends the one file), so the client asks for what is
// missing. Answers come in request order on the stream (grpc/doc/server-reflection.md), so each
// answer is matched with the oldest request not yet answered.
//
// The set is written in dependency order (imports first, then by name), so that the same files
// make the same bytes, and the same digest, whatever order the server answered in.
// Pure: the I/O layer sends the requests and feeds the answers' messages.
import FerryCore
import SwiftProtobuf
import Transcode

/// The files of the listed services and their imports, as one FileDescriptorSet.
public struct ResolvedDescriptorSet: Equatable, Sendable {
    /// A serialized `google.protobuf.FileDescriptorSet`.
    public let serialized: [UInt8]
    public let fileCount: Int
    public let digest: DescriptorDigest
}

public struct DescriptorSetResolution: Sendable {
    public enum Action: Equatable, Sendable {
        /// Send these requests on the stream.
        case send([ReflectionRequest])
        /// Answers are still due: wait for them.
        case wait
        /// Every file is in: end the stream.
        case finished(ResolvedDescriptorSet)
    }

    private enum State: Equatable, Sendable {
        case notStarted
        /// Requests sent and not answered yet, oldest first.
        case asking(unanswered: [ReflectionRequest])
        case finished
    }

    /// The largest set taken (the files' bytes): googleapis' whole tree is about 10 MiB.
    public static let maxSetBytes = 32 << 20

    private let services: [String]
    private var state = State.notStarted
    /// Each file's bytes and imports, by name.
    private var files: [String: (bytes: [UInt8], imports: [String])] = [:]
    /// Files asked for by name, and the file whose import asked (for messages).
    private var importedBy: [String: String] = [:]
    private var setBytes = 0

    public init(services: [String]) {
        self.services = services
    }

    /// The first requests: the file of each service.
    public mutating func start() -> Action {
        guard state == .notStarted else { return .wait }
        let requests = services.map(ReflectionRequest.fileContainingSymbol)
        state = .asking(unanswered: requests)
        return .send(requests)
    }

    /// One ServerReflectionResponse message from the stream.
    public mutating func received(_ message: [UInt8]) throws(ReflectionError) -> Action {
        guard case .asking(var unanswered) = state, !unanswered.isEmpty else {
            throw ReflectionError("the server sent an answer that no request asked for")
        }
        let request = unanswered.removeFirst()
        let response: ReflectionResponse
        do {
            response = try ReflectionResponse(serialized: message)
        } catch {
            throw ReflectionError("the answer for \(describe(request)) is not a ServerReflectionResponse: \(error)")
        }
        var arrived: [String] = []
        switch response {
        case .error(let code, let text):
            let name = GRPCStatusCode(rawValue: Int(code))?.name ?? "code \(code)"
            throw ReflectionError("the server has no \(describe(request)): \(name) \(text)")
        case .other, .files([]):
            throw ReflectionError("the server answered the request for \(describe(request)) with no file")
        case .files(let answered):
            for (index, bytes) in answered.enumerated() {
                let file: Google_Protobuf_FileDescriptorProto
                do {
                    file = try Google_Protobuf_FileDescriptorProto(serializedBytes: bytes)
                } catch {
                    throw ReflectionError(
                        "file \(index + 1) of the answer for \(describe(request)) is not a FileDescriptorProto: \(error)")
                }
                guard !file.name.isEmpty else {
                    throw ReflectionError("file \(index + 1) of the answer for \(describe(request)) has no name")
                }
                guard files[file.name] == nil else { continue }
                setBytes += bytes.count
                guard setBytes <= Self.maxSetBytes else {
                    throw ReflectionError("the descriptor files are larger than \(Self.maxSetBytes >> 20) MiB")
                }
                files[file.name] = (bytes, file.dependency)
                arrived.append(file.name)
            }
        }
        // After the whole answer: the imports it brought along are not asked for.
        var newRequests: [ReflectionRequest] = []
        for name in arrived {
            for imported in files[name]!.imports where files[imported] == nil && importedBy[imported] == nil {
                importedBy[imported] = name
                newRequests.append(.fileByFilename(imported))
            }
        }
        unanswered += newRequests
        if !newRequests.isEmpty {
            state = .asking(unanswered: unanswered)
            return .send(newRequests)
        }
        guard unanswered.isEmpty else {
            state = .asking(unanswered: unanswered)
            return .wait
        }
        state = .finished
        return .finished(try assemble())
    }

    private func describe(_ request: ReflectionRequest) -> String {
        switch request {
        case .fileContainingSymbol(let symbol): "service '\(symbol)'"
        case .fileByFilename(let name): "file '\(name)' (imported by '\(importedBy[name] ?? "?")')"
        }
    }

    /// The FileDescriptorSet (field 1: repeated FileDescriptorProto), imports before importers.
    private func assemble() throws(ReflectionError) -> ResolvedDescriptorSet {
        var written: Set<String> = []
        var writer = WireWriter()
        func write(_ name: String, importer: String?) throws(ReflectionError) {
            guard !written.contains(name) else { return }
            guard let file = files[name] else {
                throw ReflectionError("the server sent no file '\(name)' (imported by '\(importer ?? "?")') when asked for it")
            }
            written.insert(name)  // before the imports: a cycle ends here rather than looping
            for imported in file.imports { try write(imported, importer: name) }
            writer.writeLengthDelimited(1, file.bytes)
        }
        for name in files.keys.sorted() { try write(name, importer: nil) }
        return ResolvedDescriptorSet(serialized: writer.bytes, fileCount: files.count, digest: DescriptorDigest(of: writer.bytes))
    }
}
