// A unary Connect call made with GET (connectrpc.com/docs/protocol, "Unary-Get-Request"): the
// message, its codec and compression travel in the query, so that the call can be cached and
// typed into a browser. Only for methods whose descriptor says they have no side effects.
import FerryCore
import Transcode

public struct ConnectGetRequest: Equatable, Sendable {
    public var codec: ConnectCodec
    /// The message as sent: base64 and percent-decoding undone, still compressed.
    public var message: [UInt8]
    public var compression: ConnectCompression

    /// Whether a query asks for a Connect GET: it has `connect=v1`, or both `encoding` and
    /// `message` (clients should send all three; servers accept them in any order).
    public static func isConnectQuery(_ query: Substring) -> Bool {
        var names = Set<Substring>()
        for pair in query.split(separator: "&") { names.insert(pair.prefix { $0 != "=" }) }
        return names.contains("connect") || (names.contains("encoding") && names.contains("message"))
    }

    /// The call the query describes. Unknown parameters are ignored, as the protocol asks. An
    /// unknown codec throws `ConnectContentType.UnsupportedCodec` (415), anything else malformed
    /// a status (INVALID_ARGUMENT; UNIMPLEMENTED for an unknown compression).
    public init(query: Substring) throws(ConnectGetRequestError) {
        var encoding: String?
        var message: [UInt8] = []
        var base64 = false
        var compression = ConnectCompression.identity
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let value = formDecodedBytes(parts.count == 2 ? parts[1] : "") else {
                throw .invalid(GRPCStatus(.invalidArgument, "query parameter '\(parts[0])' has invalid percent-encoding"))
            }
            switch parts[0] {
            case "connect":
                guard value == Array("v1".utf8) else {
                    throw .invalid(
                        GRPCStatus(.invalidArgument, "unsupported connect version '\(String(decoding: value, as: UTF8.self))': expected v1")
                    )
                }
            case "encoding": encoding = String(decoding: value, as: UTF8.self)
            case "message": message = value
            case "base64": base64 = value == [UInt8(ascii: "1")]
            case "compression":
                do throws(GRPCStatus) {
                    compression = try ConnectCompression(requestHeader: value[...], headerName: "compression")
                } catch {
                    throw .invalid(error)
                }
            default: continue
            }
        }
        guard let encoding, let codec = ConnectCodec(rawValue: encoding) else {
            throw .unsupportedCodec(encoding ?? "")
        }
        if base64 {
            guard let decoded = Base64.decodeLenient(String(decoding: message, as: UTF8.self)) else {
                throw .invalid(GRPCStatus(.invalidArgument, "query parameter 'message' is not base64 (base64=1)"))
            }
            message = decoded
        }
        self.codec = codec
        self.message = message
        self.compression = compression
    }
}

public enum ConnectGetRequestError: Error, Equatable, CustomStringConvertible {
    /// `encoding` missing or not a codec Ferry knows: 415.
    case unsupportedCodec(String)
    case invalid(GRPCStatus)

    public var description: String {
        switch self {
        case .unsupportedCodec(let name):
            name.isEmpty
                ? "the query has no 'encoding' parameter (expected encoding=json or encoding=proto)"
                : "unsupported encoding '\(name)': expected json or proto"
        case .invalid(let status): status.message
        }
    }
}
