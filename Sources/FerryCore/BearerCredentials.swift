// The credentials of `Authorization: Bearer <token>` (RFC 6750 §2.1), read the same way for the
// admin token and for the JWTs routes require.

public enum BearerCredentials {
    /// The token of an `Authorization` value; nil for none or another scheme (the scheme name
    /// is case-insensitive, RFC 9110 §11.1).
    public static func token(inAuthorization authorization: String?) -> Substring? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1]
    }
}
