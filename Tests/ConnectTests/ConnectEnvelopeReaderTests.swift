import Connect
import FerryCore
import GRPCWeb
import Gzip
import NodeService
import Transcode
import XCTest

final class ConnectEnvelopeReaderTests: XCTestCase {
    private static let rest = try! RESTTranscoding(
        descriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64)!, services: ["node.v1.NodeService"],
        printOptions: JSONPrintOptions(), parseOptions: JSONParseOptions())

    private func reader(_ codec: ConnectCodec, compression: ConnectCompression = .identity, limit: Int = 1024) -> ConnectEnvelopeReader {
        ConnectEnvelopeReader(
            messages: ConnectMessageCodec(
                codec: codec, transcoder: Self.rest.transcoder, inputType: "node.v1.GetNodeRequest", outputType: "node.v1.Node",
                maxMessageBytes: limit),
            compression: compression)
    }

    private func append(_ reader: inout ConnectEnvelopeReader, _ bytes: [UInt8]) throws -> [UInt8] {
        try bytes.withUnsafeBytes { buffer in try reader.append(buffer) }
    }

    private func expectStatus(_ code: GRPCStatusCode, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? GRPCStatus)?.code, code, "\(error)", file: file, line: line)
        }
    }

    func testProtoEnvelopesBecomeFramesSplitAnywhere() throws {
        var reader = reader(.proto)
        let body = ConnectEnvelopeReader.envelope(flags: 0, [0x0A, 0x01, 0x61]) + ConnectEnvelopeReader.envelope(flags: 0, [])
        var frames: [UInt8] = []
        for byte in body { frames += try append(&reader, [byte]) }
        try reader.finish()
        XCTAssertEqual(frames, body)
    }

    func testJSONEnvelopesAreTranscoded() throws {
        var reader = reader(.json)
        let frames = try append(&reader, ConnectEnvelopeReader.envelope(flags: 0, Array(#"{"nodeId":"a"}"#.utf8)))
        XCTAssertEqual(frames, GRPCFrame.header(flags: 0, length: 3) + [0x0A, 0x01, 0x61])
    }

    func testCompressedEnvelopesAreInflated() throws {
        var reader = reader(.proto, compression: .gzip)
        let frames = try append(&reader, ConnectEnvelopeReader.envelope(flags: 1, Gzip.deflate([0x0A, 0x01, 0x61])))
        XCTAssertEqual(frames, GRPCFrame.header(flags: 0, length: 3) + [0x0A, 0x01, 0x61])
    }

    func testRefusals() {
        var endStream = reader(.proto)
        expectStatus(.invalidArgument) { _ = try append(&endStream, ConnectEnvelopeReader.envelope(flags: 2, [])) }
        var reserved = reader(.proto)
        expectStatus(.invalidArgument) { _ = try append(&reserved, ConnectEnvelopeReader.envelope(flags: 0x40, [])) }
        var uncompressed = reader(.proto)
        expectStatus(.invalidArgument) { _ = try append(&uncompressed, ConnectEnvelopeReader.envelope(flags: 1, [])) }
        var tooLarge = reader(.proto, limit: 10)
        expectStatus(.resourceExhausted) { _ = try append(&tooLarge, GRPCFrame.header(flags: 0, length: 11)) }
        var bomb = reader(.proto, compression: .gzip, limit: 100)
        expectStatus(.resourceExhausted) {
            _ = try append(&bomb, ConnectEnvelopeReader.envelope(flags: 1, Gzip.deflate([UInt8](repeating: 0, count: 10_000))))
        }
        var badJSON = reader(.json)
        expectStatus(.invalidArgument) { _ = try append(&badJSON, ConnectEnvelopeReader.envelope(flags: 0, Array("{".utf8))) }
        var truncated = reader(.proto)
        expectStatus(.invalidArgument) {
            _ = try append(&truncated, [0, 0, 0, 0, 5, 1])
            try truncated.finish()
        }
    }
}
