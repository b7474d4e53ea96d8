// The credentials of `Authorization: Bearer <token>` (RFC 6750 §2.1), read the same way for the
// admin token and for the JWTs routes require. On the value's bytes: a route reads it on every
// call, and making a String of a token only to look it up costs more than the lookup.

public enum BearerCredentials {
    private static let scheme = Array("bearer".utf8)

    /// The token of an `Authorization` value; nil for none, another scheme (the scheme name is
    /// case-insensitive, RFC 9110 §11.1) or no token.
    public static func token(inAuthorization authorization: ArraySlice<UInt8>?) -> ArraySlice<UInt8>? {
        guard var rest = authorization?.drop(while: { $0 == 0x20 }),
            rest.count > scheme.count + 1, rest[rest.startIndex + scheme.count] == 0x20
        else { return nil }
        for (offset, letter) in scheme.enumerated() where rest[rest.startIndex + offset] | 0x20 != letter { return nil }
        rest = rest.dropFirst(scheme.count).drop(while: { $0 == 0x20 })
        while let last = rest.last, last == 0x20 { rest = rest.dropLast() }
        return rest.isEmpty ? nil : rest
    }
}
