// `auth` and `routes[].auth`: the token issuers a gateway knows, and which routes require whose
// tokens and claims (issue 17; the names follow Envoy's jwt_authn).
import Routing

extension ConfigLoader {
    /// `auth: { jwt: [ { name, issuer, audiences, jwks_file | jwks_uri (+ jwks_cluster,
    /// jwks_refresh) | secret_file, forward_claims, forward_token, clock_skew } ] }`.
    /// The `auth.jwt` providers that are valid, and the names of all (so that a route naming
    /// a provider with an error is not reported again).
    static func jwtProviders(
        _ node: ConfigNode, clusters: Set<String>, errors: inout ConfigErrorList
    ) -> (valid: [JWTProviderConfig], names: Set<String>) {
        guard node.isPresent else { return ([], []) }
        errors.collect { () throws(ConfigError) in try node.requireMapping(keys: ["jwt"]) }
        let entries = errors.collect { () throws(ConfigError) in try node.child("jwt").elements() } ?? []
        var names = Set<String>()
        var providers: [JWTProviderConfig] = []
        for entry in entries {
            let provider = errors.collect { () throws(ConfigError) in
                let provider = try jwtProvider(entry, clusters: clusters)
                guard names.insert(provider.name).inserted else {
                    throw entry.child("name").error("duplicate provider name '\(provider.name)'")
                }
                return provider
            }
            if let provider { providers.append(provider) } else if let name = try? entry.child("name").string() { names.insert(name) }
        }
        return (providers, names)
    }

    private static func jwtProvider(_ entry: ConfigNode, clusters: Set<String>) throws(ConfigError) -> JWTProviderConfig {
        try entry.requireMapping(keys: [
            "name", "issuer", "audiences", "jwks_file", "jwks_uri", "jwks_cluster", "jwks_refresh", "secret_file",
            "forward_claims", "forward_token", "clock_skew",
        ])
        var provider = JWTProviderConfig(name: try entry.child("name").requiredString())
        provider.issuer = try entry.child("issuer").string()
        provider.audiences = try entry.child("audiences").stringList() ?? []
        provider.jwksFile = try entry.child("jwks_file").string()
        provider.remoteKeySet = try remoteKeySet(entry, clusters: clusters)
        provider.secretFile = try entry.child("secret_file").string()
        guard [provider.jwksFile != nil, provider.remoteKeySet != nil, provider.secretFile != nil].filter({ $0 }).count == 1 else {
            throw entry.error("exactly one of jwks_file, jwks_uri or secret_file is required")
        }
        for (claim, header) in try entry.child("forward_claims").entries() {
            let name = try header.requiredString().lowercased()
            guard HeaderFieldName.isValid(name) else { throw header.error("'\(name)' is not a header name") }
            provider.forwardClaims.append((claim, name))
        }
        provider.forwardToken = try entry.child("forward_token").bool() ?? true
        if let skew = try entry.child("clock_skew").duration() { provider.clockSkewNanoseconds = skew }
        return provider
    }

    /// `jwks_uri: http[s]://host[:port]/path`, fetched from the endpoints of `jwks_cluster` every
    /// `jwks_refresh` (default 10 minutes, at least 1 s).
    private static func remoteKeySet(_ entry: ConfigNode, clusters: Set<String>) throws(ConfigError) -> RemoteKeySetConfig? {
        let uriNode = entry.child("jwks_uri")
        let clusterNode = entry.child("jwks_cluster")
        guard let uri = try uriNode.string() else {
            for key in ["jwks_cluster", "jwks_refresh"] where entry.child(key).isPresent {
                throw entry.child(key).error("goes with jwks_uri")
            }
            return nil
        }
        let usesTLS: Bool
        let rest: Substring
        if uri.hasPrefix("https://") {
            (usesTLS, rest) = (true, uri.dropFirst(8))
        } else if uri.hasPrefix("http://") {
            (usesTLS, rest) = (false, uri.dropFirst(7))
        } else {
            throw uriNode.error("expected an http:// or https:// URL, got '\(uri)'")
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        var path = String(rest.dropFirst(authority.count).prefix { $0 != "#" })
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        var host = authority
        var port = usesTLS ? 443 : 80
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = authority[authority.index(after: authority.startIndex)..<close]
            let tail = authority[authority.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":"), let number = Int(tail.dropFirst()), (1...65535).contains(number) else {
                    throw uriNode.error("'\(uri)' has an invalid port")
                }
                port = number
            }
        } else if let colon = authority.lastIndex(of: ":") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw uriNode.error("'\(uri)' has an invalid port")
            }
            host = authority[..<colon]
            port = number
        }
        guard !host.isEmpty, !host.contains("@"), path.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw uriNode.error("'\(uri)' is not a URL Ferry can fetch (a host, no user info, no spaces)")
        }
        guard let cluster = try clusterNode.string() else {
            throw entry.error("jwks_uri needs jwks_cluster: the cluster whose endpoints (and TLS settings) serve it")
        }
        guard clusters.contains(cluster) else {
            throw clusterNode.error("no cluster named '\(cluster)' (clusters: \(clusters.sorted().joined(separator: ", ")))")
        }
        var remote = RemoteKeySetConfig(uri: uri, usesTLS: usesTLS, host: String(host), port: port, path: path, cluster: cluster)
        if let refresh = try entry.child("jwks_refresh").duration() {
            guard refresh >= 1_000_000_000 else { throw entry.child("jwks_refresh").error("at least 1s") }
            remote.refreshNanoseconds = refresh
        }
        return remote
    }

    /// `routes[].auth: { jwt: NAME, claims: { role: [admin, reader] }, client_subjects: [...],
    /// client_sans: [...] }`: a token, a client certificate, or both.
    static func routeAuth(_ node: ConfigNode, providers: Set<String>) throws(ConfigError) -> RouteAuth? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: ["jwt", "claims", "client_subjects", "client_sans"])
        let jwtNode = node.child("jwt")
        let name = try jwtNode.string()
        if let name, !providers.contains(name) {
            let known = providers.sorted().joined(separator: ", ")
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
