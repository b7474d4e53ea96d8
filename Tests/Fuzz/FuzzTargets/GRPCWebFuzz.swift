// The gRPC-Web request decoder on arbitrary bodies, binary or text, fed in pieces. A binary body
// it accepts goes upstream unchanged, so the output must be the input.
import Config
import GRPCWeb

extension FuzzHarness {
    func fuzzGRPCWeb(_ data: UnsafeRawBufferPointer) {
        guard data.count >= 2 else { return }
        // First byte: bit 0 text or binary, bits 1-2 the grpc-encoding; second: the piece size.
        let mode = data[0]
        let encodings: [String?] = [nil, "identity", "gzip", "br"]
        let contentType = GRPCWebContentType(isText: mode & 1 != 0, format: nil)
        var decoder = GRPCWebRequestDecoder(
            contentType: contentType, messageEncoding: encodings[Int(mode >> 1) & 3],
            maxMessageBytes: 4096, acceptedEncodings: FrontLimits().grpcEncodings)
        let body = Array(data.dropFirst(2))
        let pieceSize = Int(data[1] % 31) + 1
        var offset = 0
        do {
            while offset < body.count {
                let end = min(body.count, offset + pieceSize)
                try decoder.append(Array(body[offset..<end]))
                offset = end
            }
            let decoded = try decoder.finish()
            if !contentType.isText { agree(decoded == body, "a binary body was not forwarded unchanged") }
        } catch {
            _ = error.description
        }
    }
}
