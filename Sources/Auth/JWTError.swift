// Why a bearer token is refused. Each case says what is wrong without echoing the token, for
// the `UNAUTHENTICATED` message and the RFC 6750 `error_description`; `reason` is the metric
// label.

public enum JWTError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing
    case tooLarge(limit: Int)
    case malformed(String)
    case unsupportedAlgorithm(String)
    case unknownKey(String)
    case badSignature
    case expired
    case notYetValid
    case wrongIssuer
    case wrongAudience
    /// The key and the token disagree: an RSA key for `ES256`, `alg` not the key's own.
    case keyMismatch(String)

    public var description: String {
        switch self {
        case .missing: "no bearer token (Authorization: Bearer …)"
        case .tooLarge(let limit): "the token is larger than \(limit) bytes"
        case .malformed(let reason): "malformed token: \(reason)"
        case .unsupportedAlgorithm(let name): "token algorithm '\(name)' is not accepted"
        case .unknownKey(let kid):
            kid.isEmpty ? "no key of the issuer verifies the token" : "the token's key '\(kid)' is not one of the issuer's"
        case .badSignature: "the token's signature does not verify"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .wrongIssuer: "the token's issuer is not the one expected"
        case .wrongAudience: "the token is not meant for this audience"
        case .keyMismatch(let reason): "the token does not fit its key: \(reason)"
        }
    }

    /// A short name for the metrics (`ferry_route_refusals_total{reason=…}`).
    public var reason: String {
        switch self {
        case .missing: "missing"
        case .tooLarge: "too_large"
        case .malformed: "malformed"
        case .unsupportedAlgorithm: "algorithm"
        case .unknownKey: "unknown_key"
        case .badSignature: "signature"
        case .expired: "expired"
        case .notYetValid: "not_yet_valid"
        case .wrongIssuer: "issuer"
        case .wrongAudience: "audience"
        case .keyMismatch: "key_mismatch"
        }
    }
}
