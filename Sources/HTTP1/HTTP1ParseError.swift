// Why a request was rejected by the HTTP/1.1 parser, with the status to answer.
import FerryCore

/// A request the parser refuses. Each case names the broken rule of RFC 9112 and maps to
/// the status the front answers before closing the connection.
public enum HTTP1ParseError: Error, Equatable, CustomStringConvertible {
    case malformedRequestLine
    case unsupportedVersion(String)
    case bareLineFeed(offset: Int)
    case invalidHeaderName(offset: Int)
    case whitespaceBeforeColon(offset: Int)
    case obsoleteLineFolding(offset: Int)
    case invalidHeaderValue(name: String)
    case headerSectionTooLarge(limit: Int)
    case tooManyHeaderFields(limit: Int)
    case missingHost
    case duplicateHost
    case invalidContentLength(String)
    case duplicateContentLength
    case contentLengthWithTransferEncoding
    case unsupportedTransferEncoding(String)
    case invalidChunk(offset: Int)

    /// The HTTP status that answers this error.
    public var status: Int {
        switch self {
        case .headerSectionTooLarge, .tooManyHeaderFields: 431
        case .unsupportedVersion: 505
        case .unsupportedTransferEncoding: 501
        default: 400
        }
    }

    /// The gRPC code of the `google.rpc.Status` that explains the answer.
    public var grpcCode: GRPCStatusCode {
        switch self {
        case .headerSectionTooLarge, .tooManyHeaderFields: .resourceExhausted
        case .unsupportedVersion, .unsupportedTransferEncoding: .unimplemented
        default: .invalidArgument
        }
    }

    public var description: String {
        switch self {
        case .malformedRequestLine: "malformed request line"
        case .unsupportedVersion(let version): "unsupported HTTP version '\(version)'"
        case .bareLineFeed(let offset): "line ending without CR at byte \(offset)"
        case .invalidHeaderName(let offset): "invalid header field name at byte \(offset)"
        case .whitespaceBeforeColon(let offset): "whitespace between header name and colon at byte \(offset)"
        case .obsoleteLineFolding(let offset): "obsolete line folding at byte \(offset)"
        case .invalidHeaderValue(let name): "invalid character in the value of header '\(name)'"
        case .headerSectionTooLarge(let limit): "request header section larger than \(limit) bytes"
        case .tooManyHeaderFields(let limit): "more than \(limit) request header fields"
        case .missingHost: "HTTP/1.1 request without Host header"
        case .duplicateHost: "more than one Host header"
        case .invalidContentLength(let value): "invalid Content-Length '\(value)'"
        case .duplicateContentLength: "more than one Content-Length header"
        case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding"
        case .unsupportedTransferEncoding(let value): "unsupported Transfer-Encoding '\(value)'"
        case .invalidChunk(let offset): "malformed chunked body at byte \(offset)"
        }
    }
}
