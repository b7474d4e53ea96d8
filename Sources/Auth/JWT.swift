// A JSON Web Token in the JWS compact serialization (RFC 7519 §3, RFC 7515 §7.1): three
// base64url parts, header.payload.signature, whose first two are JSON objects. Parsing checks
// the shape only; the signature and the claims are the validator's.
import FerryCore
import Transcode

public struct JWT: Sendable {
    public let header: JSONValue
    public let claims: JSONValue
    /// `header.payload` as sent: what the signature covers (RFC 7515 §5.2).
    public let signingInput: [UInt8]
    public let signature: [UInt8]

    /// Tokens longer than this are refused before any decoding (a bound on work and memory).
    public static let maxBytes = 16 * 1024

    public init(parsing token: Substring) throws(JWTError) {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maxBytes else { throw .tooLarge(limit: Self.maxBytes) }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw .malformed("expected three base64url parts separated by '.', got \(parts.count)")
        }
        header = try Self.object(parts[0], part: "header")
        claims = try Self.object(parts[1], part: "payload")
        guard let signature = Self.base64URL(parts[2]) else { throw .malformed("the signature is not base64url") }
        self.signature = signature
        signingInput = Array(bytes[..<(parts[0].count + 1 + parts[1].count)])
    }

    /// The header's `alg`, `kid` and `typ`.
    public var algorithm: String? { header["alg"]?.stringValue }
    public var keyID: String? { header["kid"]?.stringValue }

    private static func object(_ part: ArraySlice<UInt8>, part name: String) throws(JWTError) -> JSONValue {
        guard let json = base64URL(part) else { throw .malformed("the \(name) is not base64url") }
        let value: JSONValue
        do { value = try JSONValue(parsing: json) } catch { throw .malformed("the \(name) is not JSON: \(error)") }
        guard case .object = value else { throw .malformed("the \(name) is not a JSON object") }
        return value
    }

    /// base64url without padding (RFC 7515 §2): the standard alphabet's '+', '/' and '=' are
    /// not part of it.
    static func base64URL(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard !text.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "=") }) else {
            return nil
        }
        var out: [UInt8] = []
        let valid = withTypedUnsafeBytes(text) { Base64.decodeLenient($0, appendingTo: &out) }
        return valid ? out : nil
    }
}
