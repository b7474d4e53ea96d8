import FerryCore
import NodeService
import Reflection
import SwiftProtobuf
import Transcode
import XCTest

final class DescriptorSetResolutionTests: XCTestCase {
    /// node.proto and its imports (google/api/annotations.proto, http.proto, descriptor.proto).
    let files: [Google_Protobuf_FileDescriptorProto] = try! Google_Protobuf_FileDescriptorSet(
        serializedBytes: Base64.decodeLenient(NodeDescriptorSet.base64) ?? []
    ).file

    func file(_ name: String) -> Google_Protobuf_FileDescriptorProto { files.first { $0.name == name }! }

    /// A FileDescriptorResponse with these files.
    func answer(_ names: [String]) -> [UInt8] {
        var inner = WireWriter()
        for name in names { inner.writeLengthDelimited(1, try! file(name).serializedBytes() as [UInt8]) }
        var outer = WireWriter()
        outer.writeLengthDelimited(4, inner.bytes)
        return outer.bytes
    }

    /// What a server answers: grpcio sends the one file, grpc-go the file and the imports it has
    /// not sent yet on the stream.
    func serve(_ request: ReflectionRequest, withImports: Bool, sent: inout Set<String>) -> [UInt8] {
        let name: String
        switch request {
        case .fileContainingSymbol(let symbol):
            name = files.first { file in file.service.contains { "\(file.package).\($0.name)" == symbol } }!.name
        case .fileByFilename(let filename): name = filename
        }
        var names = [name]
        if withImports {
            var queue = file(name).dependency
            while let next = queue.popLast() {
                guard !names.contains(next), !sent.contains(next) else { continue }
                names.append(next)
                queue += file(next).dependency
            }
        }
        sent.formUnion(names)
        return answer(names)
    }

    func resolve(withImports: Bool) throws -> (ResolvedDescriptorSet, requests: Int) {
        var resolution = DescriptorSetResolution(services: ["node.v1.NodeService"])
        var queue: [ReflectionRequest] = []
        var sent: Set<String> = []
        var requests = 0
        var action = resolution.start()
        while true {
            switch action {
            case .send(let more):
                queue += more
                requests += more.count
            case .wait: break
            case .finished(let set): return (set, requests)
            }
            guard !queue.isEmpty else { throw ReflectionError("waiting with nothing asked") }
            action = try resolution.received(serve(queue.removeFirst(), withImports: withImports, sent: &sent))
        }
    }

    func testOneFilePerAnswerAsksForEachImportAndMakesTheSetImportsFirst() throws {
        let (set, requests) = try resolve(withImports: false)
        XCTAssertEqual(requests, files.count, "one request per file")
        XCTAssertEqual(set.fileCount, files.count)
        let written = try Google_Protobuf_FileDescriptorSet(serializedBytes: set.serialized).file
        XCTAssertEqual(written.last?.name, "node/v1/node.proto")
        for (index, file) in written.enumerated() {
            for imported in file.dependency {
                XCTAssertLessThan(written.firstIndex { $0.name == imported }!, index, "\(imported) before \(file.name)")
            }
        }
        XCTAssertNoThrow(try DescriptorPool(serializedDescriptorSet: set.serialized))
    }

    func testAServerThatSendsImportsAlongGivesTheSameSetAndDigest() throws {
        let (alone, _) = try resolve(withImports: false)
        let (along, requests) = try resolve(withImports: true)
        XCTAssertEqual(requests, 1, "every import came with the service's file")
        XCTAssertEqual(along, alone)
        XCTAssertEqual(along.digest, DescriptorDigest(of: along.serialized))
    }

    func testRequestsAreTheReflectionMessagesFields() {
        XCTAssertEqual(ReflectionRequest.fileContainingSymbol("a.B").serialized, [0x22, 3] + Array("a.B".utf8))
        XCTAssertEqual(ReflectionRequest.fileByFilename("x.proto").serialized, [0x1A, 7] + Array("x.proto".utf8))
    }

    func testAnErrorAnswerNamesTheServiceAndTheStatus() {
        var resolution = DescriptorSetResolution(services: ["no.Such"])
        _ = resolution.start()
        var error = WireWriter()
        error.writeTag(1, .varint)
        error.writeVarint(5)
        error.writeLengthDelimited(2, "Symbol not found: no.Such".utf8)
        var response = WireWriter()
        response.writeLengthDelimited(7, error.bytes)
        XCTAssertThrowsError(try resolution.received(response.bytes)) {
            XCTAssertEqual("\($0)", "the server has no service 'no.Such': NOT_FOUND Symbol not found: no.Such")
        }
    }

    func testAMissingImportIsNamedWithItsImporter() throws {
        var resolution = DescriptorSetResolution(services: ["node.v1.NodeService"])
        _ = resolution.start()
        guard case .send(let imports) = try resolution.received(answer(["node/v1/node.proto"])) else { return XCTFail("no imports asked") }
        XCTAssertEqual(imports, [.fileByFilename("google/api/annotations.proto"), .fileByFilename("google/protobuf/timestamp.proto")])
        // The server answers with another file than the one asked for.
        XCTAssertEqual(try resolution.received(answer(["google/api/http.proto"])), .wait)
        XCTAssertThrowsError(try resolution.received(answer(["google/protobuf/timestamp.proto"]))) {
            XCTAssertEqual(
                "\($0)", "the server sent no file 'google/api/annotations.proto' (imported by 'node/v1/node.proto') when asked for it")
        }
    }

    func testMalformedAndUnaskedAnswersAreErrors() {
        var resolution = DescriptorSetResolution(services: ["node.v1.NodeService"])
        XCTAssertThrowsError(try resolution.received(answer(["node/v1/node.proto"]))) {
            XCTAssertEqual("\($0)", "the server sent an answer that no request asked for")
        }
        _ = resolution.start()
        XCTAssertThrowsError(try resolution.received([0x22, 0x05, 0x0A])) {
            XCTAssertEqual(
                "\($0)",
                "the answer for service 'node.v1.NodeService' is not a ServerReflectionResponse: invalid protobuf at byte 1: length 5 runs past the message"
            )
        }
    }

    func testAListOfServicesIsNoFile() {
        var resolution = DescriptorSetResolution(services: ["node.v1.NodeService"])
        _ = resolution.start()
        XCTAssertThrowsError(try resolution.received([0x32, 0x00])) {
            XCTAssertEqual("\($0)", "the server answered the request for service 'node.v1.NodeService' with no file")
        }
    }

    func testTheDigestIsSHA256InHex() {
        XCTAssertEqual(
            DescriptorDigest(of: Array("abc".utf8)).description,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
