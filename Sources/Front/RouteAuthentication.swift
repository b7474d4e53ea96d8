// What a route's authentication makes of a call (issue 17): the client certificate's identity
// against its rules, then the bearer token (RFC 6750 §2.1) verified by the route's issuer and its
// claims rules; a refusal says why without echoing the token, and a pass says what goes to the
// backend instead of what the client sent.
import Auth
import FerryCore
import HTTP1
import Loop
import Routing
import Transcode

/// A call that passed: the headers its claims become, replacing any of the same names the
/// client sent, and whether the token itself stays out of the backend's metadata.
struct AuthGrant {
    var forwarded = HeaderFields()
    var replacedNames: Set<String> = []
    var dropsAuthorization = false
    /// The verified token's claims (`null` without a token), for `claim:NAME` rate-limit keys.
    var claims = JSONValue.null

    /// Whether the backend's metadata differs from the client's headers.
    var changesMetadata: Bool { !replacedNames.isEmpty || dropsAuthorization }

    /// A claim as text (as a forwarded header carries it), nil when absent or not a scalar.
    func claimText(_ name: String) -> String? { RouteAuthentication.text(claims[name]) }
}

/// A call refused: UNAUTHENTICATED (401) or PERMISSION_DENIED (403), with the RFC 6750 §3
/// challenge for REST and Connect.
struct AuthRefusal: Error {
    let status: GRPCStatus
    /// Empty for certificate refusals, whose answers carry no Bearer challenge.
    let challenge: String
    /// The `reason` label of `ferry_route_refusals_total`.
    let reason: String

    /// `WWW-Authenticate` with the challenge.
    var challengeHeader: HeaderFields {
        var headers = HeaderFields()
        if !challenge.isEmpty { headers.append(name: "www-authenticate", value: challenge) }
        return headers
    }
}

enum RouteAuthentication {
    /// The verdict on `head`, from a client with `identity`, for a route that requires `auth`,
    /// at the wall-clock time `now` (seconds since 1970).
    static func verdict(
        _ auth: RouteAuth, identity: CertificateIdentity?, providers: [String: AuthProvider], head: HTTP1RequestHead, now: Double,
        cache: VerifiedTokenCache
    ) -> Result<AuthGrant, AuthRefusal> {
        if let rule = auth.clientIdentities {
            // Envoy's RBAC answers both with 403: there is no HTTP challenge for certificates.
            guard let identity else {
                return .failure(
                    AuthRefusal(
                        status: GRPCStatus(.permissionDenied, "this route needs a client certificate (mutual TLS)"), challenge: "",
                        reason: "no_client_certificate"))
            }
            guard rule.allows(subject: identity.subject, sans: identity.alternativeNames) else {
                return .failure(
                    AuthRefusal(
                        status: GRPCStatus(.permissionDenied, "the client certificate '\(identity.subject)' is not allowed on this route"),
                        challenge: "", reason: "client_identity"))
            }
        }
        guard let issuer = auth.jwt else { return .success(AuthGrant()) }
        // Found by comparing names, not by hashing this one: a listener has a few issuers, and
        // a small name compares in a few instructions where hashing it took about 300 a call.
        guard let provider = providers.first(where: { $0.key == issuer })?.value else {
            return .failure(refusal(.unauthenticated, "no issuer '\(issuer)' is loaded", error: nil, reason: "no_issuer"))
        }
        guard let token = BearerCredentials.token(inAuthorization: head.headers.firstValueBytes("authorization")) else {
            return .failure(refusal(.unauthenticated, JWTError.missing.description, error: nil, reason: JWTError.missing.reason))
        }
        guard let verifier = provider.verifier else {
            return .failure(
                AuthRefusal(
                    status: GRPCStatus(.unavailable, "the keys of issuer '\(issuer)' (jwks_uri) have not been fetched yet"),
                    challenge: "", reason: "keys_unavailable"))
        }
        let verified: VerifiedToken
        do {
            verified = try cache.verify(token, with: verifier, now: now)
        } catch {
            if case .unknownKey = error { provider.keyMissing() }
            return .failure(refusal(.unauthenticated, error.description, error: "invalid_token", reason: error.reason))
        }
        for rule in auth.claims where !holds(rule, verified.claims) {
            return .failure(
                AuthRefusal(
                    status: GRPCStatus(.permissionDenied, "the token's claim '\(rule.claim)' does not allow this route"),
                    challenge: #"Bearer realm="ferry", error="insufficient_scope""#, reason: "claims"))
        }
        var grant = AuthGrant(dropsAuthorization: !provider.forwardToken, claims: verified.claims)
        for (claim, header) in provider.forwardClaims {
            grant.replacedNames.insert(header)
            if let value = text(verified.claims[claim]) { grant.forwarded.append(name: header, value: value) }
        }
        return .success(grant)
    }

    private static func refusal(_ code: GRPCStatusCode, _ message: String, error: String?, reason: String) -> AuthRefusal {
        var challenge = #"Bearer realm="ferry""#
        if let error {
            // A quoted-string (RFC 9110 §5.6.4): no '"' or '\' inside.
            let description = String(message.map { $0 == "\"" || $0 == "\\" ? "'" : $0 })
            challenge += #", error="\#(error)", error_description="\#(description)""#
        }
        return AuthRefusal(status: GRPCStatus(code, message), challenge: challenge, reason: reason)
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
    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: text
        case .bool(let flag)?: flag ? "true" : "false"
        case .number(let number)?: number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .array(let values)?: values.compactMap(text).joined(separator: ",")
        default: nil
        }
    }
}
