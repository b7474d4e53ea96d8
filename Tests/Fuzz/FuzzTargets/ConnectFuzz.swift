// The Connect request parsers on arbitrary bytes: a streaming body's envelopes (either codec,
// compressed or not, fed in pieces) and a GET's query. An uncompressed binary body that is
// accepted goes upstream frame for frame, so the output must be the input.
import Connect
import FerryCore

extension FuzzHarness {
    func fuzzConnect(_ data: UnsafeRawBufferPointer) {
        guard data.count >= 2 else { return }
        // First byte: bit 0 JSON or binary, bit 1 gzip, bit 7 a GET query instead; second: the piece size.
        let mode = data[0]
        let body = Array(data.dropFirst(2))
        if mode & 0x80 != 0 {
            let query = Substring(decoding: body, as: UTF8.self)
            do {
                let request = try ConnectGetRequest(query: query)
                agree(request.message.count <= query.utf8.count, "a GET message longer than its query")
            } catch {
                _ = error.description
            }
            return
        }
        let codec: ConnectCodec = mode & 1 != 0 ? .json : .proto
        let compression: ConnectCompression = mode & 2 != 0 ? .gzip : .identity
        var reader = ConnectEnvelopeReader(
            messages: ConnectMessageCodec(
                codec: codec, transcoder: richTranscoder, inputType: Self.richType, outputType: Self.richType, maxMessageBytes: 4096),
            compression: compression)
        let pieceSize = Int(data[1] % 31) + 1
        var frames: [UInt8] = []
        var offset = 0
        do throws(GRPCStatus) {
            while offset < body.count {
                let end = min(body.count, offset + pieceSize)
                frames += try withTypedUnsafeBytes(body[offset..<end]) { piece throws(GRPCStatus) in try reader.append(piece) }
                offset = end
            }
            try reader.finish()
            if codec == .proto && compression == .identity { agree(frames == body, "a binary stream was not forwarded unchanged") }
        } catch {
            _ = error.description
        }
    }
}
