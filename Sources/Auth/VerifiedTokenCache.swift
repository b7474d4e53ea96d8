// Tokens already verified, kept by one worker (no lock: one thread uses it) until they expire,
// so that a caller repeating its token costs a table lookup instead of a signature check. A token
// is kept under its issuer's name too: the same text verified for one issuer is not taken as
// verified for another. Bounded: when full, the expired entries go, and if none has, the whole
// table (a cache, not a record).

import Glibc

public final class VerifiedTokenCache {
    /// The issuer's name and the token's bytes: a lookup borrows the request's bytes, an entry
    /// keeps a copy of its own.
    private struct Key: Hashable {
        let issuer: String
        let token: ArraySlice<UInt8>

        /// The length and the last 8 bytes: the end of a JWS is its signature, as good as random
        /// (48 bits of it in 8 base64url characters), and only verified tokens are ever stored,
        /// so hashing more of it, or the issuer's name, would add cost, not spread (about 500
        /// instructions a call for the name and 32 bytes). Equality still compares the issuer
        /// and every byte.
        func hash(into hasher: inout Hasher) {
            hasher.combine(token.count)
            var last: UInt64 = 0
            token.suffix(8).withUnsafeBytes { tail in withUnsafeMutableBytes(of: &last) { word in word.copyMemory(from: tail) } }
            hasher.combine(last)
        }

        static func == (lhs: Key, rhs: Key) -> Bool {
            lhs.issuer == rhs.issuer
                && lhs.token.count == rhs.token.count
                && lhs.token.withUnsafeBytes { left in
                    rhs.token.withUnsafeBytes { right in left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
                }
        }
    }

    private var entries: [Key: VerifiedToken] = [:]
    public let capacity: Int
    /// How long a token without `exp` may be kept (seconds).
    public let maximumAge: Double

    public init(capacity: Int = 10_000, maximumAge: Double = 300) {
        self.capacity = capacity
        self.maximumAge = maximumAge
    }

    public var count: Int { entries.count }

    /// The claims of `token` for `provider` at `now`: from the table while it is valid there,
    /// else verified (and kept when it passes).
    public func verify(_ token: ArraySlice<UInt8>, with provider: JWTProvider, now: Double) throws(JWTError) -> VerifiedToken {
        let key = Key(issuer: provider.name, token: token)
        if let cached = entries[key] {
            if let expiry = cached.expiry, now <= expiry { return cached }
            entries[key] = nil
        }
        let verified = try provider.verify(String(decoding: token, as: UTF8.self)[...], now: now)
        if entries.count >= capacity {
            entries = entries.filter { $0.value.expiry.map { now <= $0 } ?? false }
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        }
        // A token without `exp` is kept for `maximumAge` at most.
        let expiry = min(verified.expiry ?? .infinity, now + maximumAge)
        entries[Key(issuer: provider.name, token: Array(token)[...])] = VerifiedToken(claims: verified.claims, expiry: expiry)
        return VerifiedToken(claims: verified.claims, expiry: verified.expiry)
    }
}
