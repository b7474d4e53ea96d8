// One issuer's tokens (RFC 7519 §7.2): the signature by one of its keys, then `iss`, `aud`, `exp`
// and `nbf` against the provider's settings and the clock, which is a parameter. The order is
// fixed so that an unsigned or forged token learns nothing about the claims checks.
import Transcode

public struct JWTProvider: Sendable {
    public let name: String
    /// The required `iss`; nil: any.
    public let issuer: String?
    /// `aud` must name one of these; empty: any.
    public let audiences: [String]
    /// Leeway for `exp` and `nbf` against clocks that differ (seconds).
    public let clockSkewSeconds: Double
    public let keys: [JSONWebKey]

    public init(name: String, issuer: String?, audiences: [String], clockSkewSeconds: Double, keys: [JSONWebKey]) {
        self.name = name
        self.issuer = issuer
        self.audiences = audiences
        self.clockSkewSeconds = clockSkewSeconds
        self.keys = keys
    }

    /// The claims of `token` when it is valid at `now` (seconds since 1970, fractions allowed).
    public func verify(_ token: Substring, now: Double) throws(JWTError) -> VerifiedToken {
        let jwt = try JWT(parsing: token)
        guard let name = jwt.algorithm else { throw .malformed("the header has no 'alg'") }
        guard let algorithm = JWTAlgorithm(rawValue: name) else { throw .unsupportedAlgorithm(name) }
        let kid = jwt.keyID
        let candidates = keys.filter { kid == nil || $0.keyID == kid }
        guard !candidates.isEmpty else { throw .unknownKey(kid ?? "") }
        let fitting = candidates.filter { $0.key.fits(algorithm) && ($0.algorithm == nil || $0.algorithm == algorithm) }
        guard !fitting.isEmpty else {
            throw .keyMismatch("the \(kid.map { "key '\($0)'" } ?? "issuer's keys") cannot verify \(name)")
        }
        guard fitting.contains(where: { $0.key.verify(algorithm, input: jwt.signingInput, signature: jwt.signature) }) else {
            throw .badSignature
        }
        let claims = jwt.claims
        if let issuer, claims["iss"]?.stringValue != issuer { throw .wrongIssuer }
        if !audiences.isEmpty {
            let named: [String]
            switch claims["aud"] {
            case .string(let audience)?: named = [audience]
            case .array(let list)?: named = list.compactMap(\.stringValue)
            default: named = []
            }
            guard named.contains(where: audiences.contains) else { throw .wrongAudience }
        }
        let expiry = try Self.time(claims, "exp")
        if let expiry, now > expiry + clockSkewSeconds { throw .expired }
        if let notBefore = try Self.time(claims, "nbf"), now + clockSkewSeconds < notBefore { throw .notYetValid }
        return VerifiedToken(claims: claims, expiry: expiry.map { $0 + clockSkewSeconds })
    }

    /// A NumericDate claim (RFC 7519 §2): a number of seconds, or absent.
    private static func time(_ claims: JSONValue, _ name: String) throws(JWTError) -> Double? {
        guard let value = claims[name] else { return nil }
        guard let seconds = value.numberValue else { throw .malformed("claim '\(name)' is not a number of seconds") }
        return seconds
    }
}

/// A token that passed: its claims, and when it stops being valid (skew included).
public struct VerifiedToken: Sendable {
    public let claims: JSONValue
    public let expiry: Double?

    public init(claims: JSONValue, expiry: Double?) {
        self.claims = claims
        self.expiry = expiry
    }
}
