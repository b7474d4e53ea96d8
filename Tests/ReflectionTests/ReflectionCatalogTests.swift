import FerryCore
import NodeService
import Reflection
import SwiftProtobuf
import Transcode
import XCTest

final class ReflectionCatalogTests: XCTestCase {
    let setBytes = Base64.decodeLenient(NodeDescriptorSet.base64) ?? []
    lazy var catalog = try! ReflectionCatalog(descriptorSet: setBytes)

    /// The answer to one request, as Ferry's reflection client reads it.
    func ask(_ request: ReflectionRequest) throws -> ReflectionResponse {
        try ReflectionResponse(serialized: catalog.answer(request.serialized))
    }

    func names(_ response: ReflectionResponse) throws -> [String] {
        guard case .files(let files) = response else { throw ReflectionError("not files: \(response)") }
        return try files.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0).name }
    }

    func testASymbolGivesItsFileThenEveryImport() throws {
        XCTAssertEqual(catalog.services, ["node.v1.NodeService"])
        let all = ["node/v1/node.proto", "google/api/annotations.proto", "google/api/http.proto", "google/protobuf/descriptor.proto"]
        for symbol in ["node.v1.NodeService", "node.v1.NodeService.GetNode", "node.v1.Node", "node.v1.NodeState"] {
            XCTAssertEqual(Set(try names(try ask(.fileContainingSymbol(symbol)))), Set(all + ["google/protobuf/timestamp.proto"]), symbol)
            XCTAssertEqual(try names(try ask(.fileContainingSymbol(symbol))).first, "node/v1/node.proto")
        }
        XCTAssertEqual(try names(try ask(.fileByFilename("google/api/http.proto"))), ["google/api/http.proto"])
        XCTAssertEqual(try names(try ask(.fileContainingSymbol("google.api.HttpRule"))).first, "google/api/http.proto")
    }

    func testUnknownNamesAreNotFound() throws {
        XCTAssertEqual(try ask(.fileContainingSymbol("no.Such")), .error(code: 5, message: "no symbol named no.Such"))
        XCTAssertEqual(try ask(.fileByFilename("none.proto")), .error(code: 5, message: "no file named none.proto"))
    }

    func testListServicesExtensionsAndTheOriginalRequest() throws {
        var request = WireWriter()
        request.writeLengthDelimited(1, "localhost".utf8)
        request.writeLengthDelimited(7, "*".utf8)
        let answer = catalog.answer(request.bytes)
        var services = WireWriter()
        var entry = WireWriter()
        entry.writeLengthDelimited(1, "node.v1.NodeService".utf8)
        services.writeLengthDelimited(1, entry.bytes)
        var expected = WireWriter()
        expected.writeLengthDelimited(6, services.bytes)
        expected.writeLengthDelimited(1, "localhost".utf8)
        expected.writeLengthDelimited(2, request.bytes)
        XCTAssertEqual(answer, expected.bytes)

        // google.api.http extends MethodOptions with field 72295728 (annotations.proto).
        var numbers = WireWriter()
        numbers.writeLengthDelimited(6, "google.protobuf.MethodOptions".utf8)
        var expectedNumbers = WireWriter()
        expectedNumbers.writeLengthDelimited(1, "google.protobuf.MethodOptions".utf8)
        expectedNumbers.writeTag(2, .varint)
        expectedNumbers.writeVarint(72_295_728)
        XCTAssertTrue(catalog.answer(numbers.bytes).starts(with: [0x2A, UInt8(expectedNumbers.bytes.count)] + expectedNumbers.bytes))
        var extensionRequest = WireWriter()
        extensionRequest.writeLengthDelimited(1, "google.protobuf.MethodOptions".utf8)
        extensionRequest.writeTag(2, .varint)
        extensionRequest.writeVarint(72_295_728)
        var byExtension = WireWriter()
        byExtension.writeLengthDelimited(5, extensionRequest.bytes)
        XCTAssertEqual(
            try names(try ReflectionResponse(serialized: catalog.answer(byExtension.bytes))).first, "google/api/annotations.proto")
    }

    func testMalformedRequestsAreInvalidArgument() throws {
        XCTAssertEqual(
            try ReflectionResponse(serialized: catalog.answer([0x22, 0x09, 0x61])),
            .error(code: 3, message: "invalid protobuf at byte 1: length 9 runs past the message"))
    }

    func testASetThatDoesNotDecodeIsRefusedWithWhy() {
        // A file entry (field 1) whose length runs past the set.
        XCTAssertThrowsError(try ReflectionCatalog(descriptorSet: [0x0A, 0x05, 0x0A])) { error in
            XCTAssertTrue("\(error)".hasPrefix("the descriptor set does not decode"), "\(error)")
        }
    }

    /// Ferry's own client against this server: the same set, imports first, and its digest.
    func testFerrysResolutionReadsTheWholeSetFromIt() throws {
        var resolution = DescriptorSetResolution(services: ["node.v1.NodeService"])
        var queue: [ReflectionRequest] = []
        var action = resolution.start()
        while true {
            switch action {
            case .send(let more): queue += more
            case .wait: break
            case .finished(let set):
                XCTAssertEqual(set.fileCount, 5)
                XCTAssertNoThrow(try DescriptorPool(serializedDescriptorSet: set.serialized))
                return
            }
            action = try resolution.received(catalog.answer(queue.removeFirst().serialized))
        }
    }
}
