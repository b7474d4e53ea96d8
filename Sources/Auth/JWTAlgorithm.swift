// The JWS algorithms Ferry verifies (RFC 7518 §3, RFC 8037 §3.1 for EdDSA) and the key type each
// needs. `none` is not among them: an unsigned token is never valid. HMAC (`HS256`) takes a
// shared secret, which only a secret file provides, never a public key set.

public enum JWTAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256"
    case rs384 = "RS384"
    case rs512 = "RS512"
    case ps256 = "PS256"
    case es256 = "ES256"
    case es384 = "ES384"
    case edDSA = "EdDSA"
    case hs256 = "HS256"

    /// The JWK `kty` a key must have to verify this algorithm.
    var keyType: String {
        switch self {
        case .rs256, .rs384, .rs512, .ps256: "RSA"
        case .es256, .es384: "EC"
        case .edDSA: "OKP"
        case .hs256: "oct"
        }
    }

    /// The curve an EC or OKP key must be on.
    var curve: String? {
        switch self {
        case .es256: "P-256"
        case .es384: "P-384"
        case .edDSA: "Ed25519"
        default: nil
        }
    }
}
