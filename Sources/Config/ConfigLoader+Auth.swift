// `auth` and `routes[].auth`: the token issuers a gateway knows, and which routes require whose
// tokens and claims (issue 17; the names follow Envoy's jwt_authn).
import Routing

extension ConfigLoader {
    /// `auth: { jwt: [ { name, issuer, audiences, jwks_file | secret_file, forward_claims,
    /// forward_token, clock_skew } ] }`.
    static func jwtProviders(_ node: ConfigNode) throws(ConfigError) -> [JWTProviderConfig] {
        guard node.isPresent else { return [] }
        try node.requireMapping(keys: ["jwt"])
        var providers: [JWTProviderConfig] = []
        for entry in try node.child("jwt").elements() {
            try entry.requireMapping(keys: [
                "name", "issuer", "audiences", "jwks_file", "jwks_uri", "secret_file", "forward_claims", "forward_token", "clock_skew",
            ])
            var provider = JWTProviderConfig(name: try entry.child("name").requiredString())
            guard !providers.contains(where: { $0.name == provider.name }) else {
                throw entry.child("name").error("duplicate provider name '\(provider.name)'")
            }
            provider.issuer = try entry.child("issuer").string()
            provider.audiences = try entry.child("audiences").stringList() ?? []
            if entry.child("jwks_uri").isPresent {
                throw entry.child("jwks_uri").error("fetching keys by URI is not supported yet: give the set as jwks_file")
            }
            provider.jwksFile = try entry.child("jwks_file").string()
            provider.secretFile = try entry.child("secret_file").string()
            guard (provider.jwksFile == nil) != (provider.secretFile == nil) else {
                throw entry.error("exactly one of jwks_file or secret_file is required")
            }
            for (claim, header) in try entry.child("forward_claims").entries() {
                let name = try header.requiredString().lowercased()
                guard HeaderFieldName.isValid(name) else { throw header.error("'\(name)' is not a header name") }
                provider.forwardClaims.append((claim, name))
            }
            provider.forwardToken = try entry.child("forward_token").bool() ?? true
            if let skew = try entry.child("clock_skew").duration() { provider.clockSkewNanoseconds = skew }
            providers.append(provider)
        }
        return providers
    }

    /// `routes[].auth: { jwt: NAME, claims: { role: [admin, reader] }, client_subjects: [...],
    /// client_sans: [...] }`: a token, a client certificate, or both.
    static func routeAuth(_ node: ConfigNode, providers: [JWTProviderConfig]) throws(ConfigError) -> RouteAuth? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: ["jwt", "claims", "client_subjects", "client_sans"])
        let jwtNode = node.child("jwt")
        let name = try jwtNode.string()
        if let name, !providers.contains(where: { $0.name == name }) {
            let known = providers.map(\.name).joined(separator: ", ")
            throw jwtNode.error("no auth.jwt provider named '\(name)' (providers: \(known.isEmpty ? "none" : known))")
        }
        var rules: [RouteAuth.ClaimRule] = []
        for (claim, values) in try node.child("claims").entries() {
            let allowed = try values.stringList() ?? []
            guard !allowed.isEmpty else { throw values.error("list the values that pass") }
            rules.append(RouteAuth.ClaimRule(claim: claim, allowed: allowed))
        }
        if !rules.isEmpty && name == nil { throw node.child("claims").error("claims rules need a token: name the issuer in 'jwt'") }
        let subjects = try node.child("client_subjects").stringList() ?? []
        let sans = try node.child("client_sans").stringList() ?? []
        let identities = subjects.isEmpty && sans.isEmpty ? nil : ClientIdentityRule(subjects: subjects, sans: sans)
        guard name != nil || identities != nil else {
            throw node.error("name what a caller must present: 'jwt', or 'client_subjects' / 'client_sans'")
        }
        return RouteAuth(jwt: name, claims: rules, clientIdentities: identities)
    }
}

/// RFC 9110 §5.1 field names: tokens, here lowercase.
enum HeaderFieldName {
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }
}
