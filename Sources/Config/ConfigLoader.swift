// Reads and validates Ferry's YAML configuration (documented key by key in config/README.md).
import FerryCore
import Resilience
import Routing

public enum ConfigLoader {
    /// Parses `yaml`; `defaultWorkers` is used when `workers` is absent (the core count), and
    /// `${NAME}` in a value is read from `environment`. Throws every error it finds: one per
    /// list element or section at most (the first of it), so that one run of `ferry check`
    /// shows what to fix everywhere.
    public static func load(
        yaml: String, defaultWorkers: Int, environment: [String: String] = [:]
    ) throws(ConfigErrors) -> FerryConfig {
        let root: YAMLNode?
        do {
            root = try YAMLComposer.compose(yaml)
        } catch {
            // `{` and `}` end a plain value inside `{ }` and `[ ]`: libyaml's message does not say so.
            let line = yaml.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(max(error.line - 1, 0)).first
            let hint = line?.contains("${") == true ? " (inside { } or [ ], quote a value that holds ${…})" : ""
            throw ConfigErrors([ConfigError(path: "", reason: "invalid YAML: \(error)\(hint)")])
        }
        guard let root, !root.isNull else { throw ConfigErrors([ConfigError(path: "", reason: "the configuration is empty")]) }
        var errors = ConfigErrorList()
        let document = ConfigNode(
            node: EnvironmentSubstitution.expand(root, path: "", environment: environment, errors: &errors.errors), path: "")
        let config = load(document, defaultWorkers: defaultWorkers, errors: &errors)
        guard let config, errors.errors.isEmpty else { throw ConfigErrors(errors.errors) }
        return config
    }

    private static func load(_ document: ConfigNode, defaultWorkers: Int, errors: inout ConfigErrorList) -> FerryConfig? {
        errors.collect { () throws(ConfigError) in
            try document.requireMapping(keys: [
                "workers", "drain_timeout", "drain_grace", "listeners", "routes", "clusters",
                "rest", "access_log", "tracing", "admin", "retry_buffer_bytes", "auth",
            ])
        }
        // Names are read from every element, valid or not: an error in a cluster is reported
        // once, not again by each route that names it.
        let clustersNode = document.child("clusters")
        let clusterNodes = errors.collect { () throws(ConfigError) in try clustersNode.elements() } ?? []
        let clusterNames = Set(clusterNodes.compactMap { try? $0.child("name").string() })
        let clusters = clusterNodes.compactMap { node in errors.collect { () throws(ConfigError) in try cluster(node) } }
        if clusterNodes.isEmpty { errors.append(clustersNode.error("at least one cluster is required")) }
        var seenClusters = Set<String>()
        for node in clusterNodes {
            guard let name = try? node.child("name").string(), !seenClusters.insert(name).inserted else { continue }
            errors.append(node.child("name").error("duplicate cluster name '\(name)'"))
        }

        let providers = jwtProviders(document.child("auth"), clusters: clusterNames, errors: &errors)
        let routesNode = document.child("routes")
        let routeNodes = errors.collect { () throws(ConfigError) in try routesNode.elements() } ?? []
        let routes = routeNodes.compactMap { node in
            errors.collect { () throws(ConfigError) in try route(node, clusters: clusterNames, providers: providers.names) }
        }
        if routeNodes.isEmpty { errors.append(routesNode.error("at least one route is required")) }

        let listenersNode = document.child("listeners")
        let listenerNodes = errors.collect { () throws(ConfigError) in try listenersNode.elements() } ?? []
        let listeners = listenerNodes.compactMap { node in errors.collect { () throws(ConfigError) in try listener(node) } }
        if listenerNodes.isEmpty { errors.append(listenersNode.error("at least one listener is required")) }
        if !listeners.contains(where: { $0.tls?.clientCAFile != nil }),
            let index = routes.firstIndex(where: { $0.policy.auth?.clientIdentities != nil })
        {
            errors.append(
                ConfigError(
                    path: "routes[\(index)].auth",
                    reason: "client_subjects and client_sans need a mutual-TLS listener (tls.client_ca_file), and no listener has one"))
        }

        let restConfig = errors.collect { () throws(ConfigError) in try Self.rest(document.child("rest"), clusters: clusterNames) }
        let workers = errors.collect { () throws(ConfigError) in try document.child("workers").int(range: 1...256) ?? defaultWorkers }
        let drainTimeout = errors.collect { () throws(ConfigError) in try document.child("drain_timeout").duration() ?? 10_000_000_000 }
        var config = FerryConfig(
            workers: workers ?? defaultWorkers, drainTimeoutNanoseconds: drainTimeout ?? 10_000_000_000,
            listeners: listeners, routes: routes, clusters: clusters, rest: restConfig ?? nil)
        errors.collect { () throws(ConfigError) in
            let accessLog = document.child("access_log")
            if accessLog.isPresent {
                try accessLog.requireMapping(keys: ["path"])
                config.accessLogPath = try accessLog.child("path").requiredString()
            }
        }
        errors.collect { () throws(ConfigError) in
            if let grace = try document.child("drain_grace").duration() { config.drainGraceNanoseconds = grace }
        }
        errors.collect { () throws(ConfigError) in
            if let bytes = try document.child("retry_buffer_bytes").int(range: 0...(1 << 30)) { config.retryBufferBytes = bytes }
        }
        errors.collect { () throws(ConfigError) in config.admin = try admin(document.child("admin")) }
        config.jwtProviders = providers.valid
        errors.collect { () throws(ConfigError) in
            let tracing = document.child("tracing")
            if tracing.isPresent {
                try tracing.requireMapping(keys: ["create_traceparent"])
                config.createTraceparent = try tracing.child("create_traceparent").bool() ?? false
            }
        }
        return errors.errors.isEmpty ? config : nil
    }

    /// `admin: { address: IP:port, token_file: PATH }`, or `admin: off` for no admin listener and
    /// no metrics.
    private static func admin(_ node: ConfigNode) throws(ConfigError) -> AdminConfig? {
        var admin = AdminConfig()
        guard node.isPresent else { return admin }
        if case .scalar? = node.node {
            guard ["off", "false", "disabled"].contains(try node.string()) else { throw node.error("expected a mapping or 'off'") }
            return nil
        }
        try node.requireMapping(keys: ["address", "token_file"])
        if let address = try node.child("address").string() {
            try validateAddress(address, at: node.child("address"))
            admin.address = address
        }
        admin.tokenFile = try node.child("token_file").string()
        return admin
    }

    private static func rest(_ node: ConfigNode, clusters: Set<String>) throws(ConfigError) -> RESTConfig? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: [
            "descriptor_set", "reflection", "services", "emit_unpopulated", "use_proto_names",
            "enums_as_ints", "ignore_unknown_fields", "request_headers", "default_timeout",
        ])
        let servicesNode = node.child("services")
        guard let services = try servicesNode.stringList(), !services.isEmpty else {
            throw servicesNode.error("at least one service is required")
        }
        let descriptors: DescriptorSource
        switch (node.child("descriptor_set").isPresent, node.child("reflection").isPresent) {
        case (true, false): descriptors = .file(try node.child("descriptor_set").requiredString())
        case (false, true): descriptors = .reflection(try reflection(node.child("reflection"), clusters: clusters))
        case (true, true): throw node.error("descriptor_set and reflection are two sources of the descriptors: give one")
        case (false, false):
            throw node.error("the descriptors are needed: descriptor_set (a file) or reflection (from a backend's server reflection)")
        }
        var config = RESTConfig(descriptors: descriptors, services: services)
        config.emitUnpopulated = try node.child("emit_unpopulated").bool() ?? false
        config.useProtoNames = try node.child("use_proto_names").bool() ?? false
        config.enumsAsIntegers = try node.child("enums_as_ints").bool() ?? false
        config.ignoreUnknownFields = try node.child("ignore_unknown_fields").bool() ?? false
        let headersNode = node.child("request_headers")
        config.requestHeaders = try headersNode.stringList()?.map { $0.lowercased() }
        for name in config.requestHeaders ?? [] where name.isEmpty || !name.utf8.allSatisfy(isHTTPTokenByte) {
            throw headersNode.error("'\(name)' is not a header name")
        }
        config.defaultTimeoutNanoseconds = try node.child("default_timeout").duration()
        return config
    }

    /// `reflection: { cluster: NAME, refresh: DURATION, pin: sha256:HEX }`.
    private static func reflection(_ node: ConfigNode, clusters: Set<String>) throws(ConfigError) -> ReflectionSourceConfig {
        try node.requireMapping(keys: ["cluster", "refresh", "pin"])
        let clusterNode = node.child("cluster")
        let cluster = try clusterNode.requiredString()
        guard clusters.contains(cluster) else {
            throw clusterNode.error("no cluster named '\(cluster)' (clusters: \(clusters.sorted().joined(separator: ", ")))")
        }
        var source = ReflectionSourceConfig(cluster: cluster)
        let refreshNode = node.child("refresh")
        source.refreshNanoseconds = try refreshNode.duration()
        if let refresh = source.refreshNanoseconds, refresh < 1_000_000_000 {
            throw refreshNode.error("at least 1s: each refresh asks the backend for every file again")
        }
        let pinNode = node.child("pin")
        if let pin = try pinNode.string() {
            let hex = pin.utf8.dropFirst("sha256:".utf8.count)
            guard pin.hasPrefix("sha256:"), hex.count == 64, hex.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            else {
                throw pinNode.error("expected sha256: and 64 lowercase hex digits (the digest Ferry logs and shows in /config)")
            }
            source.pin = pin
        }
        return source
    }

    private static func listener(_ node: ConfigNode) throws(ConfigError) -> ListenerConfig {
        try node.requireMapping(keys: ["address", "cors", "limits", "tls", "http2"])
        let addressNode = node.child("address")
        let address = try addressNode.requiredString()
        try validateAddress(address, at: addressNode)
        var listener = ListenerConfig(
            address: address, cors: try cors(node.child("cors")), limits: try limits(node.child("limits")),
            tls: try listenerTLS(node.child("tls")))
        listener.http2 = try http2(node.child("http2"))
        return listener
    }

    /// `http2: off`, or a mapping of the HTTP/2 front's settings (all optional).
    private static func http2(_ node: ConfigNode) throws(ConfigError) -> HTTP2FrontSettings? {
        var settings = HTTP2FrontSettings()
        guard node.isPresent else { return settings }
        if case .scalar? = node.node {
            switch try node.string() {
            case "off", "false", "disabled": return nil
            case "on", "true", "enabled": return settings
            default: throw node.error("expected a mapping, 'on' or 'off'")
            }
        }
        try node.requireMapping(keys: ["max_concurrent_streams", "stream_window_bytes", "connection_window_bytes", "min_ping_interval"])
        if let value = try node.child("max_concurrent_streams").int(range: 1...10_000) { settings.maxConcurrentStreams = value }
        // RFC 9113 §6.5.2: windows of at most 2^31-1 bytes; below 16 KiB a frame could not fit.
        if let value = try node.child("stream_window_bytes").int(range: 16 * 1024...Int(Int32.max)) { settings.streamWindowBytes = value }
        if let value = try node.child("connection_window_bytes").int(range: 64 * 1024...Int(Int32.max)) {
            settings.connectionWindowBytes = value
        }
        if let value = try node.child("min_ping_interval").duration() { settings.minPingIntervalNanoseconds = value }
        return settings
    }

    private static func listenerTLS(_ node: ConfigNode) throws(ConfigError) -> ListenerTLSConfig? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: ["cert_file", "key_file", "client_ca_file", "require_client_certificate"])
        var tls = ListenerTLSConfig(
            certificateFile: try node.child("cert_file").requiredString(),
            privateKeyFile: try node.child("key_file").requiredString())
        tls.clientCAFile = try node.child("client_ca_file").string()
        if let require = try node.child("require_client_certificate").bool() {
            guard tls.clientCAFile != nil || !require else {
                throw node.child("require_client_certificate").error("needs client_ca_file to verify client certificates against")
            }
            tls.requireClientCertificate = require
        }
        return tls
    }

    private static func upstreamTLS(_ node: ConfigNode) throws(ConfigError) -> UpstreamTLSConfig? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: ["ca_file", "cert_file", "key_file", "server_name", "verify_hostname"])
        var tls = UpstreamTLSConfig()
        tls.caFile = try node.child("ca_file").string()
        tls.certificateFile = try node.child("cert_file").string()
        tls.privateKeyFile = try node.child("key_file").string()
        guard (tls.certificateFile == nil) == (tls.privateKeyFile == nil) else {
            throw node.error("cert_file and key_file go together (the client certificate and its key)")
        }
        tls.serverName = try node.child("server_name").string()
        tls.verifyHostname = try node.child("verify_hostname").bool() ?? true
        return tls
    }

    private static func cors(_ node: ConfigNode) throws(ConfigError) -> CORSPolicy? {
        var policy = CORSPolicy.grpcWebPreset
        guard node.isPresent else { return policy }
        if case .scalar? = node.node {
            // `cors: off` disables CORS; `cors: grpc-web` names the preset explicitly.
            switch try node.string() {
            case "off", "false", "disabled": return nil
            case "grpc-web": return policy
            default: throw node.error("expected a mapping, 'grpc-web' or 'off'")
            }
        }
        try node.requireMapping(keys: [
            "allow_origins", "allow_methods", "allow_headers", "expose_headers",
            "max_age", "allow_credentials",
        ])
        if let origins = try node.child("allow_origins").stringList() {
            policy.allowOrigins = origins.contains("*") ? .any : .list(origins)
        }
        if let methods = try node.child("allow_methods").stringList() {
            policy.allowMethods = methods.map { $0.uppercased() }
            policy.addsRESTMethods = false
        }
        if let headers = try node.child("allow_headers").stringList() { policy.allowHeaders = headers.map { $0.lowercased() } }
        if let headers = try node.child("expose_headers").stringList() { policy.exposeHeaders = headers.map { $0.lowercased() } }
        if let maxAge = try node.child("max_age").duration() { policy.maxAgeSeconds = Int(maxAge / 1_000_000_000) }
        if let credentials = try node.child("allow_credentials").bool() { policy.allowCredentials = credentials }
        return policy
    }

    private static func limits(_ node: ConfigNode) throws(ConfigError) -> FrontLimits {
        try node.requireMapping(keys: [
            "max_header_bytes", "max_header_fields", "max_message_bytes",
            "header_read_timeout", "idle_timeout", "max_connections", "buffer_limit_bytes",
            "request_body_timeout", "headers_with_underscores", "grpc_encodings",
        ])
        var limits = FrontLimits()
        if let value = try node.child("max_header_bytes").int(range: 1024...(1 << 20)) { limits.maxHeaderBytes = value }
        if let value = try node.child("max_header_fields").int(range: 8...10_000) { limits.maxHeaderFields = value }
        if let value = try node.child("max_message_bytes").int(range: 1...(64 << 20)) { limits.maxMessageBytes = value }
        if let value = try node.child("header_read_timeout").duration() { limits.headerReadTimeoutNanoseconds = value }
        if let value = try node.child("idle_timeout").duration() { limits.idleTimeoutNanoseconds = value }
        if let value = try node.child("max_connections").int(range: 1...10_000_000) { limits.maxConnections = value }
        if let value = try node.child("buffer_limit_bytes").int(range: 16 * 1024...(1 << 30)) { limits.bufferLimitBytes = value }
        if let value = try node.child("request_body_timeout").duration() { limits.requestBodyTimeoutNanoseconds = value }
        for (key, value) in [
            ("header_read_timeout", limits.headerReadTimeoutNanoseconds), ("request_body_timeout", limits.requestBodyTimeoutNanoseconds),
            ("idle_timeout", limits.idleTimeoutNanoseconds),
        ]
        where value == 0 {
            throw node.child(key).error("must be greater than zero")
        }
        let underscores = node.child("headers_with_underscores")
        if let text = try underscores.string() {
            guard let action = UnderscoreHeaderAction(rawValue: text) else {
                throw underscores.error("expected allow, drop or reject, got '\(text)'")
            }
            limits.headersWithUnderscores = action
        }
        let encodingsNode = node.child("grpc_encodings")
        if let encodings = try encodingsNode.stringList() {
            guard !encodings.contains(where: { $0.isEmpty || $0.contains(",") || $0 != $0.lowercased() }) else {
                throw encodingsNode.error("expected lower-case grpc-encoding names such as gzip")
            }
            limits.grpcEncodings = encodings.contains("identity") ? encodings : ["identity"] + encodings
        }
        return limits
    }

    private static func route(_ node: ConfigNode, clusters: Set<String>, providers: Set<String>) throws(ConfigError) -> Route {
        try node.requireMapping(keys: [
            "match", "cluster", "timeout", "per_try_timeout", "retry_policy", "idempotent", "rate_limit", "auth",
        ])
        let matchNode = node.child("match")
        guard matchNode.isPresent else { throw matchNode.error("required") }
        try matchNode.requireMapping(keys: ["service", "prefix"])
        let service = try matchNode.child("service").string()
        let prefix = try matchNode.child("prefix").string()
        let match: RouteMatch
        switch (service, prefix) {
        case (let service?, nil):
            guard !service.isEmpty, !service.contains("/") else {
                throw matchNode.child("service").error("expected a fully-qualified service name like node.v1.NodeService")
            }
            match = .service(service)
        case (nil, let prefix?):
            guard prefix.hasPrefix("/") else { throw matchNode.child("prefix").error("a path prefix must start with '/'") }
            match = .pathPrefix(prefix)
        default:
            throw matchNode.error("exactly one of 'service' or 'prefix' is required")
        }
        let clusterNode = node.child("cluster")
        let cluster = try clusterNode.requiredString()
        guard clusters.contains(cluster) else {
            throw clusterNode.error("no cluster named '\(cluster)' (clusters: \(clusters.sorted().joined(separator: ", ")))")
        }
        let policy = RoutePolicy(
            timeoutNanoseconds: try node.child("timeout").duration(),
            perTryTimeoutNanoseconds: try node.child("per_try_timeout").duration(),
            retryPolicy: try retryPolicy(node.child("retry_policy")),
            idempotent: try node.child("idempotent").bool() ?? false,
            rateLimit: try rateLimit(node.child("rate_limit")),
            auth: try routeAuth(node.child("auth"), providers: providers))
        if case .claim(let claim)? = policy.rateLimit?.key, policy.auth?.jwt == nil {
            throw node.child("rate_limit").child("key").error("'claim:\(claim)' needs the route's JWT authentication (auth.jwt)")
        }
        return Route(match: match, cluster: cluster, policy: policy)
    }

    /// `rate_limit: { requests_per_second: 100, burst: 200, key: client_ip }`: a token bucket
    /// (burst defaults to one second's worth), per route or per key.
    private static func rateLimit(_ node: ConfigNode) throws(ConfigError) -> RateLimitPolicy? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: ["requests_per_second", "burst", "key"])
        let rateNode = node.child("requests_per_second")
        guard let rateText = try rateNode.string() else { throw rateNode.error("required") }
        guard let rate = Double(rateText), rate.isFinite, rate >= 0.001, rate <= 1e9 else {
            throw rateNode.error("expected a number of requests per second from 0.001 to 1e9, got '\(rateText)'")
        }
        let burst = try node.child("burst").int(range: 1...1_000_000_000) ?? max(1, Int(rate.rounded(.up)))
        let keyNode = node.child("key")
        let key: RateLimitKey
        switch try keyNode.string() {
        case nil, "route": key = .route
        case "client_ip": key = .clientIP
        case let text? where text.hasPrefix("header:") && text.count > 7:
            key = .header(String(text.dropFirst(7)).lowercased())
        case let text? where text.hasPrefix("claim:") && text.count > 6:
            key = .claim(String(text.dropFirst(6)))
        case let text?:
            throw keyNode.error("expected route, client_ip, header:NAME or claim:NAME, got '\(text)'")
        }
        return RateLimitPolicy(requestsPerSecond: rate, burst: burst, key: key)
    }

    /// gRFC A6's retryPolicy, with its names in snake case; every key but the buffer limit is
    /// required, as A6 requires them.
    private static func retryPolicy(_ node: ConfigNode) throws(ConfigError) -> RetryPolicy? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: [
            "max_attempts", "initial_backoff", "max_backoff", "backoff_multiplier",
            "retryable_status_codes", "max_buffered_request_bytes",
        ])
        func required<T>(_ key: String, _ read: (ConfigNode) throws(ConfigError) -> T?) throws(ConfigError) -> T {
            let child = node.child(key)
            guard let value = try read(child) else { throw child.error("required") }
            return value
        }
        let initial = try required("initial_backoff") { node throws(ConfigError) in try node.duration() }
        let maximum = try required("max_backoff") { node throws(ConfigError) in try node.duration() }
        guard initial > 0 else { throw node.child("initial_backoff").error("must be greater than zero") }
        guard maximum >= initial else { throw node.child("max_backoff").error("must be at least initial_backoff") }
        let multiplierNode = node.child("backoff_multiplier")
        let multiplierText = try required("backoff_multiplier") { node throws(ConfigError) in try node.string() }
        guard let multiplier = Double(multiplierText), multiplier > 0, multiplier.isFinite else {
            throw multiplierNode.error("expected a number greater than zero, got '\(multiplierText)'")
        }
        let codesNode = node.child("retryable_status_codes")
        let names = try required("retryable_status_codes") { node throws(ConfigError) in try node.stringList() }
        guard !names.isEmpty else { throw codesNode.error("at least one status code is required") }
        var codes = Set<GRPCStatusCode>()
        for name in names {
            guard let code = GRPCStatusCode.allCases.first(where: { $0.name == name.uppercased() }) else {
                throw codesNode.error("'\(name)' is not a gRPC status code name (like UNAVAILABLE)")
            }
            codes.insert(code)
        }
        return RetryPolicy(
            maxAttempts: try required("max_attempts") { node throws(ConfigError) in try node.int(range: 2...1_000) },
            initialBackoffNanoseconds: initial, maxBackoffNanoseconds: maximum, backoffMultiplier: multiplier,
            retryableStatusCodes: codes,
            maxBufferedRequestBytes: try node.child("max_buffered_request_bytes").int(range: 0...(64 << 20)) ?? 256 * 1024)
    }

    private static func cluster(_ node: ConfigNode) throws(ConfigError) -> ClusterConfig {
        try node.requireMapping(keys: [
            "name", "endpoints", "authority", "max_connections", "max_pending_requests",
            "max_requests", "max_retries", "connect_timeout", "keepalive_interval", "keepalive_timeout",
            "outlier_detection", "retry_throttling", "dns_refresh", "dns_resolver",
            "health_check", "max_concurrent_streams", "tls",
        ])
        let endpointsNode = node.child("endpoints")
        let endpoints = try endpointsNode.elements()
        guard !endpoints.isEmpty else { throw endpointsNode.error("at least one endpoint is required") }
        let addresses = try endpoints.map { endpoint throws(ConfigError) in
            let address = try endpoint.requiredString()
            try validateAddress(address, at: endpoint, allowingNames: true)
            return address
        }
        let resolverNode = node.child("dns_resolver")
        let resolver = try resolverNode.string()
        if let resolver { try validateAddress(resolver, at: resolverNode) }
        let keepalive = node.child("keepalive_interval")
        let keepaliveInterval: UInt64?
        if try keepalive.string() == "off" {
            keepaliveInterval = nil
        } else {
            keepaliveInterval = try keepalive.duration() ?? 10_000_000_000
            guard keepaliveInterval! > 0 else { throw keepalive.error("must be greater than zero, or off") }
        }
        var cluster = ClusterConfig(
            name: try node.child("name").requiredString(),
            endpoints: addresses,
            authority: try node.child("authority").string(),
            breaker: CircuitBreakerThresholds(
                maxConnections: try node.child("max_connections").int(range: 1...1_000_000) ?? 1024,
                maxPendingRequests: try node.child("max_pending_requests").int(range: 0...1_000_000) ?? 1024,
                maxRequests: try node.child("max_requests").int(range: 1...1_000_000) ?? 1024,
                maxRetries: try node.child("max_retries").int(range: 0...1_000_000) ?? 3),
            connectTimeoutNanoseconds: try node.child("connect_timeout").duration() ?? 2_000_000_000,
            keepaliveIntervalNanoseconds: keepaliveInterval,
            dnsRefreshNanoseconds: try node.child("dns_refresh").duration() ?? 5_000_000_000,
            dnsResolver: resolver,
            outlierDetection: try outlierDetection(node.child("outlier_detection")),
            healthCheck: try healthCheck(node.child("health_check")),
            retryThrottling: try retryThrottling(node.child("retry_throttling")))
        if let streams = try node.child("max_concurrent_streams").int(range: 1...1_000_000) { cluster.maxConcurrentStreams = streams }
        let keepaliveTimeout = node.child("keepalive_timeout")
        if let timeout = try keepaliveTimeout.duration() {
            guard timeout > 0 else { throw keepaliveTimeout.error("must be greater than zero") }
            cluster.keepaliveTimeoutNanoseconds = timeout
        }
        cluster.tls = try upstreamTLS(node.child("tls"))
        return cluster
    }

    private static func outlierDetection(_ node: ConfigNode) throws(ConfigError) -> OutlierDetectionSettings {
        var settings = OutlierDetectionSettings()
        guard node.isPresent else { return settings }
        try node.requireMapping(keys: ["consecutive_failures", "base_ejection_time", "max_ejection_percent"])
        if let value = try node.child("consecutive_failures").int(range: 1...1_000_000) { settings.consecutiveFailures = value }
        if let value = try node.child("base_ejection_time").duration() { settings.baseEjectionNanoseconds = value }
        if let value = try node.child("max_ejection_percent").int(range: 0...100) { settings.maxEjectionPercent = value }
        return settings
    }

    private static func healthCheck(_ node: ConfigNode) throws(ConfigError) -> HealthCheckSettings? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: ["interval", "timeout", "healthy_threshold", "unhealthy_threshold", "service"])
        var settings = HealthCheckSettings()
        if let value = try node.child("interval").duration() { settings.intervalNanoseconds = value }
        if let value = try node.child("timeout").duration() { settings.timeoutNanoseconds = value }
        if let value = try node.child("healthy_threshold").int(range: 1...1000) { settings.healthyThreshold = value }
        if let value = try node.child("unhealthy_threshold").int(range: 1...1000) { settings.unhealthyThreshold = value }
        if let value = try node.child("service").string() { settings.service = value }
        guard settings.intervalNanoseconds > 0 else { throw node.child("interval").error("must be greater than zero") }
        return settings
    }

    private static func retryThrottling(_ node: ConfigNode) throws(ConfigError) -> RetryThrottleSettings? {
        guard node.isPresent else { return nil }
        try node.requireMapping(keys: ["max_tokens", "token_ratio"])
        let tokensNode = node.child("max_tokens")
        guard let maxTokens = try tokensNode.int(range: 1...1000) else { throw tokensNode.error("required") }
        let ratioNode = node.child("token_ratio")
        guard let text = try ratioNode.string() else { throw ratioNode.error("required") }
        guard let ratio = Double(text), ratio > 0, ratio.isFinite else {
            throw ratioNode.error("expected a number greater than zero, got '\(text)'")
        }
        return RetryThrottleSettings(maxTokens: maxTokens, tokenRatio: ratio)
    }

    /// `IPv4:port`, `[IPv6]:port` or `localhost:port`; with `allowingNames`, also a DNS name
    /// (`node-service.internal:50051`, RFC 1123 labels), which the cluster resolves.
    static func validateAddress(_ address: String, at node: ConfigNode, allowingNames: Bool = false) throws(ConfigError) {
        let host: Substring
        let port: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else {
                throw node.error("invalid address '\(address)': expected [IPv6]:port")
            }
            host = address[address.index(after: address.startIndex)..<close]
            port = address[address.index(close, offsetBy: 2)...]
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw node.error("invalid IPv6 address in '\(address)'")
            }
        } else {
            guard let colon = address.lastIndex(of: ":") else {
                throw node.error("invalid address '\(address)': expected host:port")
            }
            host = address[..<colon]
            port = address[address.index(after: colon)...]
            let octets = host.split(separator: ".", omittingEmptySubsequences: false)
            let isIPv4 = octets.count == 4 && octets.allSatisfy { UInt8($0) != nil }
            let isName = allowingNames && isDNSName(host)
            guard isIPv4 || host == "localhost" || isName else {
                throw node.error(
                    "invalid host '\(host)' in '\(address)': expected an IP address\(allowingNames ? ", a DNS name" : "") or localhost")
            }
        }
        guard let number = Int(port), (1...65535).contains(number) else {
            throw node.error("invalid port '\(port)' in '\(address)': expected 1 to 65535")
        }
    }
}

/// A DNS name of RFC 1123 labels: letters, digits and inner hyphens, 1 to 63 each, dot-separated,
/// not all digits (that would be a malformed IP address).
private func isDNSName(_ host: Substring) -> Bool {
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    guard !host.isEmpty, host.count <= 253, !labels.allSatisfy({ $0.allSatisfy(\.isNumber) }) else { return false }
    return labels.allSatisfy { label in
        (1...63).contains(label.count) && label.first != "-" && label.last != "-"
            && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}
