// What a route's authentication makes of a call (issue 17): the bearer token (RFC 6750 §2.1)
// verified by the route's issuer, then its claims rules; a refusal says why without echoing the
// token, and a pass says what goes to the backend instead of what the client sent.
import Auth
import FerryCore
import HTTP1
import Routing
import Transcode

/// A call that passed: the headers its claims become, replacing any of the same names the
/// client sent, and whether the token itself stays out of the backend's metadata.
struct AuthGrant {
    var forwarded = HeaderFields()
    var replacedNames: Set<String> = []
    var dropsAuthorization = false
}

/// A call refused: UNAUTHENTICATED (401) or PERMISSION_DENIED (403), with the RFC 6750 §3
/// challenge for REST and Connect.
struct AuthRefusal: Error {
    let status: GRPCStatus
    let challenge: String

    /// `WWW-Authenticate` with the challenge.
    var challengeHeader: HeaderFields {
        var headers = HeaderFields()
        headers.append(name: "www-authenticate", value: challenge)
        return headers
    }
}

enum RouteAuthentication {
    /// The verdict on `head` for a route that requires `auth`, at the wall-clock time `now`
    /// (seconds since 1970).
    static func verdict(
        _ auth: RouteAuth, provider: AuthProvider?, head: HTTP1RequestHead, now: Double, cache: VerifiedTokenCache
    ) -> Result<AuthGrant, AuthRefusal> {
        guard let provider else {
            return .failure(refusal(.unauthenticated, "no issuer '\(auth.jwt)' is loaded", error: nil))
        }
        guard let token = BearerCredentials.token(inAuthorization: head.headers["authorization"]) else {
            return .failure(refusal(.unauthenticated, JWTError.missing.description, error: nil))
        }
        let verified: VerifiedToken
        do {
            verified = try cache.verify(token, with: provider.verifier, now: now)
        } catch {
            return .failure(refusal(.unauthenticated, error.description, error: "invalid_token"))
        }
        for rule in auth.claims where !holds(rule, verified.claims) {
            return .failure(
                AuthRefusal(
                    status: GRPCStatus(.permissionDenied, "the token's claim '\(rule.claim)' does not allow this route"),
                    challenge: #"Bearer realm="ferry", error="insufficient_scope""#))
        }
        var grant = AuthGrant(dropsAuthorization: !provider.forwardToken)
        for (claim, header) in provider.forwardClaims {
            grant.replacedNames.insert(header)
            if let value = text(verified.claims[claim]) { grant.forwarded.append(name: header, value: value) }
        }
        return .success(grant)
    }

    private static func refusal(_ code: GRPCStatusCode, _ reason: String, error: String?) -> AuthRefusal {
        var challenge = #"Bearer realm="ferry""#
        if let error {
            // A quoted-string (RFC 9110 §5.6.4): no '"' or '\' inside.
            let description = String(reason.map { $0 == "\"" || $0 == "\\" ? "'" : $0 })
            challenge += #", error="\#(error)", error_description="\#(description)""#
        }
        return AuthRefusal(status: GRPCStatus(code, reason), challenge: challenge)
    }

    /// A claim holds a rule when it is one of the allowed values, or a list with one of them.
    private static func holds(_ rule: RouteAuth.ClaimRule, _ claims: JSONValue) -> Bool {
        switch claims[rule.claim] {
        case .array(let values)?: values.contains { text($0).map(rule.allowed.contains) ?? false }
        case let value?: text(value).map(rule.allowed.contains) ?? false
        case nil: false
        }
    }

    /// A claim as header text: strings as they are, numbers and booleans as JSON writes them,
    /// a list of those joined with commas; nil for objects and null.
    private static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: text
        case .bool(let flag)?: flag ? "true" : "false"
        case .number(let number)?: number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .array(let values)?: values.compactMap(text).joined(separator: ",")
        default: nil
        }
    }
}
