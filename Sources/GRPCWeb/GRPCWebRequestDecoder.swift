// Turns a gRPC-Web request body into the native gRPC request body, checking it on the way:
// nothing malformed may reach a backend.
import FerryCore

/// Why a gRPC-Web request body was refused.
public enum GRPCWebRequestError: Error, Equatable, CustomStringConvertible {
    /// The `-text` body is not base64: answered with HTTP 400.
    case invalidBase64(Base64Error)
    /// The frames break the protocol: answered with this gRPC status.
    case invalidFrames(GRPCStatus)
    /// A compressed frame in a `grpc-encoding` Ferry does not forward: UNIMPLEMENTED, with
    /// `grpc-accept-encoding` naming those it does (PROTOCOL-HTTP2.md, "Compression").
    case unsupportedEncoding(String, accepted: [String])

    public var description: String {
        switch self {
        case .invalidBase64(let error): "invalid grpc-web-text body: \(error)"
        case .invalidFrames(let status): status.description
        case .unsupportedEncoding(let encoding, let accepted):
            "compressed message in grpc-encoding '\(encoding)', which is not accepted (accepted: \(accepted.joined(separator: ", ")))"
        }
    }
}

/// Decodes (base64 for `-text`) and validates the frames of a request body fed in chunks.
/// The frames go upstream unchanged, so the body is copied once and only scanned.
public struct GRPCWebRequestDecoder {
    private let isText: Bool
    /// The request's `grpc-encoding`, unless absent or `identity`.
    private let messageEncoding: String?
    private let acceptedEncodings: [String]
    private var base64 = Base64StreamDecoder()
    private var frames: GRPCFrameScanner
    /// The native request body: the validated frames, unchanged.
    private var body: [UInt8] = []

    /// - Parameters:
    ///   - messageEncoding: the request's `grpc-encoding`; without it a compressed frame is an error.
    ///   - acceptedEncodings: the encodings whose compressed frames are forwarded (the backend
    ///     decompresses them); a compressed frame in another is UNIMPLEMENTED.
    ///   - expectedBodyBytes: the request's Content-Length, when it has one: the buffer starts at
    ///     that size, up to 64 KiB (a declared length is not yet a received one).
    public init(
        contentType: GRPCWebContentType, messageEncoding: String?, maxMessageBytes: Int,
        acceptedEncodings: [String], expectedBodyBytes: Int? = nil
    ) {
        isText = contentType.isText
        self.messageEncoding = messageEncoding == "identity" ? nil : messageEncoding
        self.acceptedEncodings = acceptedEncodings
        frames = GRPCFrameScanner(maxMessageBytes: maxMessageBytes)
        if let expectedBodyBytes {
            let decoded = isText ? expectedBodyBytes / 4 * 3 : expectedBodyBytes
            body.reserveCapacity(min(decoded, 64 * 1024))
        }
    }

    /// Concrete, not generic: the front calls it across modules for every body chunk, where an
    /// unspecialized generic would build type metadata at run time on each call.
    public mutating func append(_ chunk: UnsafeRawBufferPointer) throws(GRPCWebRequestError) {
        if isText {
            let decoded: [UInt8]
            do { decoded = try base64.decode(chunk) } catch { throw .invalidBase64(error) }
            try withTypedUnsafeBytes(decoded) { buffer throws(GRPCWebRequestError) in try appendFrames(buffer) }
        } else {
            try appendFrames(chunk)
        }
    }

    public mutating func append(_ chunk: [UInt8]) throws(GRPCWebRequestError) {
        try withTypedUnsafeBytes(chunk) { buffer throws(GRPCWebRequestError) in try append(buffer) }
    }

    /// The native body, once the whole request body has been appended; taken (asked once).
    public mutating func finish() throws(GRPCWebRequestError) -> [UInt8] {
        if isText {
            do { try base64.finish() } catch { throw .invalidBase64(error) }
        }
        do {
            try frames.finish()
        } catch {
            throw .invalidFrames(GRPCStatus(.internal, "invalid gRPC-Web request: \(error)"))
        }
        // Moved out: the call's request is its one owner from here (a copy cost a retain and
        // a release, and kept the bytes referenced from two places).
        var native: [UInt8] = []
        swap(&native, &body)
        return native
    }

    private mutating func appendFrames(_ bytes: UnsafeRawBufferPointer) throws(GRPCWebRequestError) {
        var index = 0
        while let piece = try nextPiece(in: bytes, from: &index) {
            guard case .prefix(let flags, _) = piece, flags != 0 else { continue }
            try check(flags)
        }
        body.append(contentsOf: bytes)
    }

    /// A request frame's flags: only bit 0 (compressed) may be set (PROTOCOL-HTTP2.md,
    /// "Length-Prefixed-Message"; 0x80 marks trailers in responses only, PROTOCOL-WEB.md), and a
    /// compressed message needs an encoding that is named and accepted.
    private func check(_ flags: UInt8) throws(GRPCWebRequestError) {
        if flags & GRPCFrame.trailerFlag != 0 {
            throw .invalidFrames(GRPCStatus(.internal, "invalid gRPC-Web request: trailer flag 0x80 set in a request frame"))
        }
        if flags & ~GRPCFrame.compressedFlag != 0 {
            let hex = String(flags, radix: 16)
            throw .invalidFrames(
                GRPCStatus(
                    .internal,
                    "invalid gRPC-Web request: reserved flag bits set in a request frame (flags 0x\(hex.count < 2 ? "0" + hex : hex))"))
        }
        guard let messageEncoding else {
            throw .invalidFrames(GRPCStatus(.internal, "invalid gRPC-Web request: compressed flag set but no grpc-encoding header"))
        }
        guard acceptedEncodings.contains(messageEncoding) else {
            throw .unsupportedEncoding(messageEncoding, accepted: acceptedEncodings)
        }
    }

    private mutating func nextPiece(
        in bytes: UnsafeRawBufferPointer, from index: inout Int
    )
        throws(GRPCWebRequestError) -> GRPCFrameScanner.Piece?
    {
        do {
            return try frames.next(in: bytes, from: &index)
        } catch {
            switch error {
            case .messageTooLarge:
                throw .invalidFrames(GRPCStatus(.resourceExhausted, "gRPC-Web request \(error)"))
            case .truncated:
                throw .invalidFrames(GRPCStatus(.internal, "invalid gRPC-Web request: \(error)"))
            }
        }
    }
}
