// The bearer token that guards the admin endpoints that change or reveal the gateway
// (`admin.token_file`): `Authorization: Bearer <token>` (RFC 6750 §2.1), compared in constant
// time so that a caller cannot find it byte by byte from response times.
import FerryCore
import Loop

public struct AdminToken: Sendable {
    private let token: [UInt8]

    /// What a request's `Authorization` field earns it.
    public enum Verdict: Equatable, Sendable {
        case allowed
        /// No bearer credentials: 401 with a challenge (RFC 6750 §3).
        case missing
        /// Credentials that are not the token: 401 with `error="invalid_token"`.
        case invalid
    }

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The token in `path`: its content without surrounding whitespace (a trailing newline
    /// is usual in a Secret's file); an empty or unreadable file is an error.
    public init(contentsOfFile path: String) throws(LoadError) {
        guard let bytes = FileReader.contents(of: path) else {
            throw LoadError(description: "admin.token_file: cannot read '\(path)': \(FileReader.lastError)")
        }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let trimmed = bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        guard !trimmed.isEmpty, trimmed.count <= 4096 else {
            throw LoadError(description: "admin.token_file: '\(path)' must hold a token of 1 to 4096 bytes")
        }
        token = Array(trimmed)
    }

    init(token: String) {
        self.token = Array(token.utf8)
    }

    /// The verdict on a request with this `Authorization` value (nil: none).
    public func check(authorization: String?) -> Verdict {
        guard let given = BearerCredentials.token(inAuthorization: authorization.map { Array($0.utf8)[...] }) else { return .missing }
        // Every byte is compared whatever the others are; the length alone is not secret.
        var difference = UInt8(given.count == token.count ? 0 : 1)
        for index in 0..<token.count {
            difference |= token[index] ^ (index < given.count ? given[given.startIndex + index] : 0)
        }
        return difference == 0 ? .allowed : .invalid
    }
}
