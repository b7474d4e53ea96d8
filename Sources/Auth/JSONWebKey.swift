// Public keys from a JWK Set (RFC 7517 §5): RSA (n, e), EC on P-256 or P-384 (x, y) and OKP
// Ed25519 (x), each turned into an OpenSSL key once, when the set is read. Keys of other types,
// or marked for encryption (`use: enc`), are skipped, as RFC 7517 §5 lets a reader do.
import Transcode

public struct JSONWebKey: Sendable {
    /// `kid`; empty when the key has none.
    public let keyID: String
    /// `alg`, when the key is pinned to one algorithm.
    public let algorithm: JWTAlgorithm?
    let key: VerificationKey

    /// The keys of a JWK Set document that Ferry verifies with, and why each broken one was
    /// left out (one bad key in an identity provider's set must not take the others down).
    public static func set(parsing json: [UInt8]) throws(JWTError) -> (keys: [JSONWebKey], refused: [String]) {
        let document: JSONValue
        do { document = try JSONValue(parsing: json) } catch { throw .malformed("the JWK set is not JSON: \(error)") }
        guard case .array(let entries)? = document["keys"] else { throw .malformed("the JWK set has no 'keys' array") }
        var keys: [JSONWebKey] = []
        var refused: [String] = []
        for entry in entries {
            do throws(JWTError) {
                if let key = try JSONWebKey(entry) { keys.append(key) }
            } catch {
                refused.append("\(entry["kid"]?.stringValue.map { "key '\($0)'" } ?? "a key without kid"): \(error)")
            }
        }
        return (keys, refused)
    }

    /// nil for a key Ferry does not verify with (its type, curve or use); a throw for a key
    /// of a known type that is broken.
    init?(_ entry: JSONValue) throws(JWTError) {
        guard let type = entry["kty"]?.stringValue, entry["use"]?.stringValue != "enc" else { return nil }
        let pinned = entry["alg"]?.stringValue
        guard pinned == nil || JWTAlgorithm(rawValue: pinned!) != nil else { return nil }
        switch type {
        case "RSA":
            key = try VerificationKey(rsaModulus: Self.bytes(entry, "n"), exponent: Self.bytes(entry, "e"))
        case "EC":
            guard let curve = entry["crv"]?.stringValue, curve == "P-256" || curve == "P-384" else { return nil }
            key = try VerificationKey(ecCurve: curve, x: Self.bytes(entry, "x"), y: Self.bytes(entry, "y"))
        case "OKP":
            guard entry["crv"]?.stringValue == "Ed25519" else { return nil }
            key = try VerificationKey(ed25519: Self.bytes(entry, "x"))
        default:
            return nil
        }
        keyID = entry["kid"]?.stringValue ?? ""
        algorithm = pinned.flatMap(JWTAlgorithm.init(rawValue:))
    }

    /// A key parameter: base64url bytes (RFC 7518 §6).
    private static func bytes(_ entry: JSONValue, _ name: String) throws(JWTError) -> [UInt8] {
        guard let text = entry[name]?.stringValue, let value = JWT.base64URL(Array(text.utf8)[...]), !value.isEmpty else {
            throw .malformed("'\(name)' is missing or not base64url")
        }
        return value
    }

    /// A shared HMAC secret (a secret file's content), for `HS256`.
    public init(secret: [UInt8], keyID: String = "") {
        self.keyID = keyID
        algorithm = .hs256
        key = VerificationKey(secret: secret)
    }
}
