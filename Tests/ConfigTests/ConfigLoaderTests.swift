import Config
import Foundation
import Routing
import Resilience
import XCTest

final class ConfigLoaderTests: XCTestCase {
    let minimal = """
        listeners:
          - address: 127.0.0.1:8080
            cors: { allow_origins: ["*"] }
        routes:
          - match: { service: node.v1.NodeService }
            cluster: nodes
        clusters:
          - name: nodes
            endpoints: [127.0.0.1:50051]
        """

    /// The first error of `yaml`.
    private func loadError(_ yaml: String) -> ConfigError? {
        loadErrors(yaml).first
    }

    private func loadErrors(_ yaml: String, environment: [String: String] = [:]) -> [ConfigError] {
        do {
            _ = try ConfigLoader.load(yaml: yaml, defaultWorkers: 2, environment: environment)
            return []
        } catch {
            return error.errors
        }
    }

    func testEveryErrorIsReportedWithItsKeyPath() {
        let yaml = """
            workers: 0
            colour: blue
            listeners:
              - address: 127.0.0.1:99999
              - address: 127.0.0.1:8081
                limits: { max_header_bytes: 10 }
            routes:
              - match: { service: node.v1.NodeService }
                cluster: nodes
              - match: { service: other.v1.Other }
                cluster: missing
            clusters:
              - name: nodes
                endpoints: [127.0.0.1:50051]
                max_connections: -1
            """
        XCTAssertEqual(
            loadErrors(yaml).map(\.path),
            [
                "colour", "clusters[0].max_connections", "routes[1].cluster", "listeners[0].address",
                "listeners[1].limits.max_header_bytes", "workers",
            ])
        // The route naming the cluster that has an error is not reported again.
        XCTAssertFalse(loadErrors(yaml).contains { $0.path == "routes[0].cluster" })
        do {
            _ = try ConfigLoader.load(yaml: yaml, defaultWorkers: 1)
            XCTFail("the config has errors")
        } catch {
            XCTAssertTrue(error.description.hasPrefix("6 errors:\n  colour: unknown key"), error.description)
        }
    }

    func testEnvironmentVariablesInValues() throws {
        let yaml = """
            workers: ${WORKERS}
            listeners:
              - address: ${POD_IP:-127.0.0.1}:${PORT}
            routes:
              - match: { prefix: "/$${literal}" }
                cluster: nodes
            clusters:
              - name: nodes
                endpoints: ["${BACKEND:-localhost:50051}"]
                authority: ${AUTHORITY:-}
            """
        let config = try ConfigLoader.load(
            yaml: yaml, defaultWorkers: 1, environment: ["WORKERS": "3", "PORT": "8443", "BACKEND": ""])
        XCTAssertEqual(config.workers, 3)
        XCTAssertEqual(config.listeners[0].address, "127.0.0.1:8443")
        XCTAssertEqual(config.routes[0].match, .pathPrefix("/${literal}"))
        XCTAssertEqual(config.clusters[0].endpoints, ["localhost:50051"], "`:-` covers an empty variable too")
        XCTAssertEqual(config.clusters[0].authority, "")

        XCTAssertEqual(
            loadErrors(yaml, environment: ["WORKERS": "3"]),
            [
                ConfigError(
                    path: "listeners[0].address", reason: "environment variable PORT is not set (set it, or give a default: ${PORT:-value})"
                )
            ])
        XCTAssertEqual(
            loadErrors(minimal.replacingOccurrences(of: "127.0.0.1:8080", with: "${PORT")).map(\.reason),
            ["'${' without its closing '}' (write '$$' for a literal '$')"])
        XCTAssertEqual(
            loadErrors(minimal.replacingOccurrences(of: "127.0.0.1:8080", with: "${9LIVES}")).map(\.reason),
            ["'${9LIVES}' does not name an environment variable (letters, digits, '_'; not first a digit)"])
        XCTAssertEqual(
            loadError("listeners: [{ address: 127.0.0.1:${PORT} }]")?.reason,
            "invalid YAML: did not find expected ',' or '}' at line 1, column 35 (inside { } or [ ], quote a value that holds ${…})")
        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "127.0.0.1:8080", with: "${A:-${B}}"))?.reason,
            "'${A:-${B}}': a default cannot hold another ${…}")
        // Keys are not substituted, and a lone `$` stays.
        XCTAssertEqual(loadErrors(minimal + "\n${X}: 1").map(\.path), ["${X}"])
        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "cluster: nodes", with: "cluster: a$b"))?.reason,
            "no cluster named 'a$b' (clusters: nodes)")
    }

    func testMinimalConfigGetsDefaults() throws {
        let config = try ConfigLoader.load(yaml: minimal, defaultWorkers: 3)
        XCTAssertEqual(config.workers, 3)
        XCTAssertEqual(config.drainTimeoutNanoseconds, 10_000_000_000)
        XCTAssertEqual(config.listeners[0].limits, FrontLimits())
        XCTAssertEqual(config.listeners[0].cors?.allowOrigins, .any)
        XCTAssertEqual(config.listeners[0].cors?.addsRESTMethods, true)
        XCTAssertEqual(config.routes, [Route(match: .service("node.v1.NodeService"), cluster: "nodes")])
        XCTAssertEqual(config.clusters[0].breaker, CircuitBreakerThresholds())
        XCTAssertEqual(config.clusters[0].outlierDetection, OutlierDetectionSettings())
        XCTAssertNil(config.clusters[0].retryThrottling)
        XCTAssertEqual(config.routes[0].policy, RoutePolicy())
        XCTAssertEqual(config.clusters[0].keepaliveIntervalNanoseconds, 10_000_000_000)
        XCTAssertEqual(config.clusters[0].keepaliveTimeoutNanoseconds, 5_000_000_000)
    }

    func testEveryKey() throws {
        let config = try ConfigLoader.load(
            yaml: """
                workers: 2
                drain_timeout: 500ms
                listeners:
                  - address: "[::1]:9000"
                    cors:
                      allow_origins: [https://a.example]
                      allow_methods: [post]
                      allow_headers: [X-A]
                      expose_headers: [X-B]
                      max_age: 1m
                      allow_credentials: true
                    limits:
                      max_header_bytes: 2048
                      max_header_fields: 10
                      max_message_bytes: 1000
                      header_read_timeout: 1s
                      idle_timeout: 2m
                routes:
                  - match: { prefix: /x. }
                    cluster: c
                    timeout: 3s
                    per_try_timeout: 1s
                    idempotent: true
                    retry_policy:
                      max_attempts: 7
                      initial_backoff: 10ms
                      max_backoff: 1s
                      backoff_multiplier: 1.5
                      retryable_status_codes: [UNAVAILABLE, resource_exhausted]
                      max_buffered_request_bytes: 1024
                clusters:
                  - name: c
                    endpoints: [localhost:1, 10.0.0.1:2]
                    authority: backend.internal
                    max_connections: 2
                    max_pending_requests: 5
                    max_requests: 6
                    max_retries: 1
                    connect_timeout: 100ms
                    keepalive_interval: off
                    keepalive_timeout: 2s
                    outlier_detection: { consecutive_failures: 2, base_ejection_time: 5s, max_ejection_percent: 50 }
                    retry_throttling: { max_tokens: 10, token_ratio: 0.1 }
                    health_check: { interval: 2s, timeout: 300ms, healthy_threshold: 2, unhealthy_threshold: 3, service: node.v1.NodeService }
                    dns_refresh: 10s
                    dns_resolver: 127.0.0.1:5353
                """, defaultWorkers: 1)
        XCTAssertEqual(config.workers, 2)
        XCTAssertEqual(config.drainTimeoutNanoseconds, 500_000_000)
        let cors = try XCTUnwrap(config.listeners[0].cors)
        XCTAssertEqual(cors.allowOrigins, .list(["https://a.example"]))
        XCTAssertEqual(cors.allowMethods, ["POST"])
        XCTAssertFalse(cors.addsRESTMethods, "methods listed by hand are used as they are")
        XCTAssertEqual(cors.allowHeaders, ["x-a"])
        XCTAssertEqual(cors.maxAgeSeconds, 60)
        XCTAssertTrue(cors.allowCredentials)
        XCTAssertEqual(config.listeners[0].limits.maxMessageBytes, 1000)
        XCTAssertEqual(config.listeners[0].limits.idleTimeoutNanoseconds, 120_000_000_000)
        XCTAssertEqual(config.routes[0].match, .pathPrefix("/x."))
        XCTAssertNil(config.clusters[0].keepaliveIntervalNanoseconds)
        XCTAssertEqual(config.clusters[0].keepaliveTimeoutNanoseconds, 2_000_000_000)
        XCTAssertEqual(config.clusters[0].authority, "backend.internal")
        XCTAssertEqual(
            config.clusters[0].breaker, CircuitBreakerThresholds(maxConnections: 2, maxPendingRequests: 5, maxRequests: 6, maxRetries: 1))
        XCTAssertEqual(
            config.clusters[0].outlierDetection,
            OutlierDetectionSettings(consecutiveFailures: 2, baseEjectionNanoseconds: 5_000_000_000, maxEjectionPercent: 50))
        XCTAssertEqual(config.clusters[0].retryThrottling, RetryThrottleSettings(maxTokens: 10, tokenRatio: 0.1))
        XCTAssertEqual(
            config.clusters[0].healthCheck,
            HealthCheckSettings(
                intervalNanoseconds: 2_000_000_000, timeoutNanoseconds: 300_000_000, healthyThreshold: 2, unhealthyThreshold: 3,
                service: "node.v1.NodeService"))
        XCTAssertEqual(config.clusters[0].dnsRefreshNanoseconds, 10_000_000_000)
        XCTAssertEqual(config.clusters[0].dnsResolver, "127.0.0.1:5353")
        XCTAssertEqual(
            config.routes[0].policy,
            RoutePolicy(
                timeoutNanoseconds: 3_000_000_000, perTryTimeoutNanoseconds: 1_000_000_000,
                retryPolicy: RetryPolicy(
                    maxAttempts: 5, initialBackoffNanoseconds: 10_000_000, maxBackoffNanoseconds: 1_000_000_000,
                    backoffMultiplier: 1.5, retryableStatusCodes: [.unavailable, .resourceExhausted],
                    maxBufferedRequestBytes: 1024),
                idempotent: true), "max_attempts above 5 is taken as 5 (gRFC A6)")
    }

    func testRateLimits() throws {
        func routes(_ limit: String) throws -> [Route] {
            try ConfigLoader.load(
                yaml: minimal.replacingOccurrences(of: "cluster: nodes", with: "cluster: nodes\n    rate_limit: " + limit),
                defaultWorkers: 1
            )
            .routes
        }
        let plain = try routes("{ requests_per_second: 100, burst: 200 }")[0]
        XCTAssertEqual(plain.policy.rateLimit, RateLimitPolicy(requestsPerSecond: 100, burst: 200, key: .route))
        XCTAssertNotNil(plain.rateLimiter)
        XCTAssertEqual(try routes("{ requests_per_second: 2.5 }")[0].policy.rateLimit?.burst, 3, "burst: one second's worth")
        XCTAssertEqual(try routes("{ requests_per_second: 5, key: client_ip }")[0].policy.rateLimit?.key, .clientIP)
        XCTAssertEqual(try routes("{ requests_per_second: 5, key: 'header:X-User' }")[0].policy.rateLimit?.key, .header("x-user"))
        XCTAssertNil(try ConfigLoader.load(yaml: minimal, defaultWorkers: 1).routes[0].rateLimiter)
        func limitError(_ limit: String) -> ConfigError? {
            loadError(minimal.replacingOccurrences(of: "cluster: nodes", with: "cluster: nodes\n    rate_limit: " + limit))
        }
        XCTAssertEqual(limitError("{ burst: 5 }"), ConfigError(path: "routes[0].rate_limit.requests_per_second", reason: "required"))
        XCTAssertEqual(limitError("{ requests_per_second: 0 }")?.path, "routes[0].rate_limit.requests_per_second")
        XCTAssertEqual(limitError("{ requests_per_second: fast }")?.path, "routes[0].rate_limit.requests_per_second")
        XCTAssertEqual(limitError("{ requests_per_second: 5, burst: 0 }")?.path, "routes[0].rate_limit.burst")
        XCTAssertEqual(limitError("{ requests_per_second: 5, key: cookie }")?.path, "routes[0].rate_limit.key")
        XCTAssertEqual(limitError("{ requests_per_second: 5, key: 'claim:sub' }")?.path, "routes[0].rate_limit.key")
        XCTAssertEqual(limitError("{ requests_per_second: 5, per: minute }")?.path, "routes[0].rate_limit.per")
    }

    func testJWTProvidersAndRouteAuth() throws {
        let auth = """

            auth:
              jwt:
                - name: corp
                  issuer: https://idp.example
                  audiences: [ferry]
                  jwks_file: /etc/ferry/jwks.json
                  forward_claims: { sub: X-User-Id, email: x-email }
                  forward_token: false
                  clock_skew: 30s
                - name: shared
                  secret_file: /etc/ferry/secret
            """
        let guarded = minimal.replacingOccurrences(
            of: "cluster: nodes", with: "cluster: nodes\n    auth: { jwt: corp, claims: { role: [admin, reader] } }")
        let config = try ConfigLoader.load(yaml: guarded + auth, defaultWorkers: 1)
        XCTAssertEqual(config.jwtProviders.map(\.name), ["corp", "shared"])
        let corp = config.jwtProviders[0]
        XCTAssertEqual(corp.issuer, "https://idp.example")
        XCTAssertEqual(corp.audiences, ["ferry"])
        XCTAssertEqual(corp.jwksFile, "/etc/ferry/jwks.json")
        XCTAssertEqual(corp.forwardClaims.map(\.header), ["x-user-id", "x-email"])
        XCTAssertFalse(corp.forwardToken)
        XCTAssertEqual(corp.clockSkewNanoseconds, 30_000_000_000)
        XCTAssertEqual(config.jwtProviders[1].clockSkewNanoseconds, 60_000_000_000)
        XCTAssertTrue(config.jwtProviders[1].forwardToken)
        XCTAssertEqual(
            config.routes[0].policy.auth,
            RouteAuth(jwt: "corp", claims: [RouteAuth.ClaimRule(claim: "role", allowed: ["admin", "reader"])]))

        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "cluster: nodes", with: "cluster: nodes\n    auth: { jwt: nobody }") + auth)?.path,
            "routes[0].auth.jwt")
        XCTAssertEqual(loadError(minimal + "\nauth: { jwt: [ { name: a } ] }")?.path, "auth.jwt[0]")
        XCTAssertEqual(
            loadError(minimal + "\nauth: { jwt: [ { name: a, jwks_file: x, secret_file: y } ] }")?.path, "auth.jwt[0]")
        XCTAssertEqual(
            loadError(minimal + "\nauth: { jwt: [ { name: a, jwks_uri: 'https://idp/keys' } ] }")?.reason,
            "jwks_uri needs jwks_cluster: the cluster whose endpoints (and TLS settings) serve it")
        XCTAssertEqual(
            loadError(minimal + "\nauth: { jwt: [ { name: a, jwks_file: x }, { name: a, jwks_file: y } ] }")?.path,
            "auth.jwt[1].name")
        XCTAssertEqual(
            loadError(minimal + "\nauth: { jwt: [ { name: a, jwks_file: x, forward_claims: { sub: 'bad header' } } ] }")?.path,
            "auth.jwt[0].forward_claims.sub")
    }

    func testJWKSURIIsFetchedThroughACluster() throws {
        func remote(_ entry: String) throws -> RemoteKeySetConfig? {
            try ConfigLoader.load(yaml: minimal + "\nauth: { jwt: [ { name: a, \(entry) } ] }", defaultWorkers: 1)
                .jwtProviders[0].remoteKeySet
        }
        let keys = try XCTUnwrap(remote("jwks_uri: 'https://idp.example/.well-known/jwks.json', jwks_cluster: nodes"))
        XCTAssertEqual(keys.host, "idp.example")
        XCTAssertEqual(keys.port, 443)
        XCTAssertEqual(keys.path, "/.well-known/jwks.json")
        XCTAssertEqual(keys.authority, "idp.example")
        XCTAssertTrue(keys.usesTLS)
        XCTAssertEqual(keys.refreshNanoseconds, 600_000_000_000)
        let other = try XCTUnwrap(remote("jwks_uri: 'http://[::1]:8080?v=1', jwks_cluster: nodes, jwks_refresh: 30s"))
        XCTAssertEqual(other.host, "::1")
        XCTAssertEqual(other.port, 8080)
        XCTAssertEqual(other.path, "/?v=1")
        XCTAssertEqual(other.authority, "[::1]:8080")
        XCTAssertFalse(other.usesTLS)
        XCTAssertEqual(other.refreshNanoseconds, 30_000_000_000)

        func error(_ entry: String) -> ConfigError? { loadError(minimal + "\nauth: { jwt: [ { name: a, \(entry) } ] }") }
        XCTAssertEqual(error("jwks_uri: 'ftp://idp/keys', jwks_cluster: nodes")?.path, "auth.jwt[0].jwks_uri")
        XCTAssertEqual(error("jwks_uri: 'https://idp:99999/keys', jwks_cluster: nodes")?.path, "auth.jwt[0].jwks_uri")
        XCTAssertEqual(error("jwks_uri: 'https://user@idp/keys', jwks_cluster: nodes")?.path, "auth.jwt[0].jwks_uri")
        XCTAssertEqual(error("jwks_uri: 'https://idp/keys', jwks_cluster: nowhere")?.path, "auth.jwt[0].jwks_cluster")
        XCTAssertEqual(error("jwks_uri: 'https://idp/keys', jwks_cluster: nodes, jwks_refresh: 10ms")?.path, "auth.jwt[0].jwks_refresh")
        XCTAssertEqual(error("jwks_file: k.json, jwks_cluster: nodes")?.path, "auth.jwt[0].jwks_cluster")
        XCTAssertEqual(error("jwks_file: k.json, jwks_uri: 'https://idp/keys', jwks_cluster: nodes")?.path, "auth.jwt[0]")
    }

    func testRouteAuthByClientCertificateAndClaimKeys() throws {
        let mutual = minimal.replacingOccurrences(
            of: "cors: { allow_origins: [\"*\"] }", with: "tls: { cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem }")
        func withAuth(_ yaml: String, _ auth: String) -> String {
            yaml.replacingOccurrences(of: "cluster: nodes", with: "cluster: nodes\n    auth: " + auth)
        }
        let config = try ConfigLoader.load(
            yaml: withAuth(mutual, "{ client_subjects: ['CN=a,O=b'], client_sans: ['spiffe://td/ns/*'] }"), defaultWorkers: 1)
        XCTAssertEqual(
            config.routes[0].policy.auth,
            RouteAuth(jwt: nil, clientIdentities: ClientIdentityRule(subjects: ["CN=a,O=b"], sans: ["spiffe://td/ns/*"])))
        XCTAssertEqual(loadError(withAuth(minimal, "{ client_sans: ['spiffe://td/*'] }"))?.path, "routes[0].auth")
        XCTAssertEqual(loadError(withAuth(mutual, "{ client_sans: [''] }"))?.path, "routes[0].auth.client_sans[0]")
        XCTAssertEqual(loadError(withAuth(mutual, "{ }"))?.path, "routes[0].auth")
        XCTAssertEqual(loadError(withAuth(mutual, "{ claims: { role: [a] }, client_sans: [x] }"))?.path, "routes[0].auth.claims")

        let provider = "\nauth: { jwt: [ { name: corp, secret_file: s } ] }"
        let keyed = try ConfigLoader.load(
            yaml: withAuth(minimal, "{ jwt: corp }").replacingOccurrences(
                of: "cluster: nodes", with: "cluster: nodes\n    rate_limit: { requests_per_second: 1, key: 'claim:sub' }") + provider,
            defaultWorkers: 1)
        XCTAssertEqual(keyed.routes[0].policy.rateLimit?.key, .claim("sub"))
    }

    func testRetryPolicyErrorsNameTheKey() {
        func policyError(_ policy: String) -> ConfigError? {
            loadError(minimal.replacingOccurrences(of: "cluster: nodes", with: "cluster: nodes\n    retry_policy: " + policy))
        }
        XCTAssertEqual(
            policyError("{ max_attempts: 3, initial_backoff: 1s, max_backoff: 2s, backoff_multiplier: 2 }"),
            ConfigError(path: "routes[0].retry_policy.retryable_status_codes", reason: "required"))
        XCTAssertEqual(
            policyError("{ max_attempts: 3, initial_backoff: 1s, max_backoff: 2s, backoff_multiplier: 2, retryable_status_codes: [NOPE] }"),
            ConfigError(
                path: "routes[0].retry_policy.retryable_status_codes",
                reason: "'NOPE' is not a gRPC status code name (like UNAVAILABLE)"))
        XCTAssertEqual(
            policyError(
                "{ max_attempts: 1, initial_backoff: 1s, max_backoff: 2s, backoff_multiplier: 2, retryable_status_codes: [UNAVAILABLE] }")?
                .path,
            "routes[0].retry_policy.max_attempts")
        XCTAssertEqual(
            policyError(
                "{ max_attempts: 2, initial_backoff: 3s, max_backoff: 2s, backoff_multiplier: 2, retryable_status_codes: [UNAVAILABLE] }"),
            ConfigError(path: "routes[0].retry_policy.max_backoff", reason: "must be at least initial_backoff"))
        XCTAssertEqual(
            policyError(
                "{ max_attempts: 2, initial_backoff: 1s, max_backoff: 2s, backoff_multiplier: -1, retryable_status_codes: [UNAVAILABLE] }"),
            ConfigError(path: "routes[0].retry_policy.backoff_multiplier", reason: "expected a number greater than zero, got '-1'"))
        XCTAssertEqual(
            loadError(minimal + "\n    retry_throttling: { max_tokens: 0, token_ratio: 1 }")?.path,
            "clusters[0].retry_throttling.max_tokens")
    }

    func testAccessLogAndTracing() throws {
        let config = try ConfigLoader.load(
            yaml: minimal + "\naccess_log: { path: /var/log/ferry.log }\ntracing: { create_traceparent: true }",
            defaultWorkers: 1)
        XCTAssertEqual(config.accessLogPath, "/var/log/ferry.log")
        XCTAssertTrue(config.createTraceparent)
        let plain = try ConfigLoader.load(yaml: minimal, defaultWorkers: 1)
        XCTAssertNil(plain.accessLogPath)
        XCTAssertFalse(plain.createTraceparent)
        XCTAssertEqual(loadError(minimal + "\naccess_log: { file: x }")?.path, "access_log.file")
    }

    func testAdminDrainGraceAndLimits() throws {
        let plain = try ConfigLoader.load(yaml: minimal, defaultWorkers: 1)
        XCTAssertEqual(plain.admin?.address, "127.0.0.1:9901")
        XCTAssertEqual(plain.drainGraceNanoseconds, 5_000_000_000)
        XCTAssertEqual(plain.listeners[0].limits.maxConnections, 10_000)
        XCTAssertEqual(plain.listeners[0].limits.bufferLimitBytes, 64 * 1024)
        XCTAssertEqual(plain.clusters[0].maxConcurrentStreams, 1024)
        XCTAssertNil(try ConfigLoader.load(yaml: minimal + "\nadmin: off", defaultWorkers: 1).admin)
        let custom = try ConfigLoader.load(yaml: minimal + "\nadmin: { address: 0.0.0.0:19901 }\ndrain_grace: 250ms", defaultWorkers: 1)
        XCTAssertEqual(custom.admin?.address, "0.0.0.0:19901")
        XCTAssertNil(custom.admin?.tokenFile)
        let guarded = try ConfigLoader.load(yaml: minimal + "\nadmin: { token_file: /run/secrets/admin }", defaultWorkers: 1)
        XCTAssertEqual(guarded.admin?.tokenFile, "/run/secrets/admin")
        XCTAssertEqual(custom.drainGraceNanoseconds, 250_000_000)
        XCTAssertEqual(loadError(minimal + "\nadmin: { address: nowhere }")?.path, "admin.address")
        XCTAssertEqual(loadError(minimal + "\nadmin: maybe")?.path, "admin")
        let limited = minimal.replacingOccurrences(
            of: #"cors: { allow_origins: ["*"] }"#,
            with: "limits: { max_connections: 5, buffer_limit_bytes: 32768 }")
        XCTAssertEqual(try ConfigLoader.load(yaml: limited, defaultWorkers: 1).listeners[0].limits.maxConnections, 5)
        XCTAssertEqual(
            loadError(limited.replacingOccurrences(of: "32768", with: "10"))?.path,
            "listeners[0].limits.buffer_limit_bytes")
    }

    func testHardeningLimits() throws {
        let defaults = FrontLimits()
        XCTAssertEqual(defaults.requestBodyTimeoutNanoseconds, 10_000_000_000)
        XCTAssertEqual(defaults.headersWithUnderscores, .drop)
        XCTAssertEqual(defaults.grpcEncodings, ["identity", "gzip", "deflate"])
        func limits(_ text: String) -> String {
            minimal.replacingOccurrences(of: #"cors: { allow_origins: ["*"] }"#, with: "limits: { \(text) }")
        }
        let custom = try ConfigLoader.load(
            yaml: limits("request_body_timeout: 3s, headers_with_underscores: reject, grpc_encodings: [gzip]"),
            defaultWorkers: 1
        ).listeners[0].limits
        XCTAssertEqual(custom.requestBodyTimeoutNanoseconds, 3_000_000_000)
        XCTAssertEqual(custom.headersWithUnderscores, .reject)
        XCTAssertEqual(custom.grpcEncodings, ["identity", "gzip"], "identity is always accepted")
        XCTAssertEqual(
            loadError(limits("headers_with_underscores: maybe")),
            ConfigError(path: "listeners[0].limits.headers_with_underscores", reason: "expected allow, drop or reject, got 'maybe'"))
        XCTAssertEqual(loadError(limits("grpc_encodings: [GZIP]"))?.path, "listeners[0].limits.grpc_encodings")
        XCTAssertEqual(loadError(limits("request_body_timeout: 0s"))?.path, "listeners[0].limits.request_body_timeout")
        XCTAssertEqual(
            loadError(limits("idle_timeout: 0ms")),
            ConfigError(path: "listeners[0].limits.idle_timeout", reason: "must be greater than zero"))
        XCTAssertEqual(loadError(minimal + "\n    keepalive_timeout: 0s")?.path, "clusters[0].keepalive_timeout")
    }

    func testHTTP2Section() throws {
        func http2(_ text: String) -> String {
            minimal.replacingOccurrences(of: #"cors: { allow_origins: ["*"] }"#, with: "http2: \(text)")
        }
        XCTAssertEqual(try ConfigLoader.load(yaml: minimal, defaultWorkers: 1).listeners[0].http2, HTTP2FrontSettings(), "on by default")
        XCTAssertNil(try ConfigLoader.load(yaml: http2("off"), defaultWorkers: 1).listeners[0].http2)
        XCTAssertEqual(try ConfigLoader.load(yaml: http2("on"), defaultWorkers: 1).listeners[0].http2, HTTP2FrontSettings())
        let custom = try XCTUnwrap(
            try ConfigLoader.load(
                yaml: http2(
                    "{ max_concurrent_streams: 10, stream_window_bytes: 1048576, connection_window_bytes: 4194304, min_ping_interval: 10s }"
                ),
                defaultWorkers: 1
            ).listeners[0].http2)
        XCTAssertEqual(custom.maxConcurrentStreams, 10)
        XCTAssertEqual(custom.streamWindowBytes, 1 << 20)
        XCTAssertEqual(custom.connectionWindowBytes, 4 << 20)
        XCTAssertEqual(custom.minPingIntervalNanoseconds, 10_000_000_000)
        XCTAssertEqual(
            loadError(http2("sometimes")),
            ConfigError(path: "listeners[0].http2", reason: "expected a mapping, 'on' or 'off'"))
        XCTAssertEqual(loadError(http2("{ stream_window_bytes: 100 }"))?.path, "listeners[0].http2.stream_window_bytes")
        XCTAssertEqual(loadError(http2("{ max_streams: 1 }"))?.path, "listeners[0].http2.max_streams")
    }

    func testTLSSections() throws {
        let listener = minimal.replacingOccurrences(
            of: #"cors: { allow_origins: ["*"] }"#,
            with: "tls: { cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem }")
        let tls = try XCTUnwrap(try ConfigLoader.load(yaml: listener, defaultWorkers: 1).listeners[0].tls)
        XCTAssertEqual([tls.certificateFile, tls.privateKeyFile, tls.clientCAFile], ["c.pem", "k.pem", "ca.pem"])
        XCTAssertTrue(tls.requireClientCertificate)
        XCTAssertEqual(
            loadError(listener.replacingOccurrences(of: "cert_file: c.pem, ", with: ""))?.path,
            "listeners[0].tls.cert_file")
        XCTAssertEqual(
            loadError(listener.replacingOccurrences(of: ", client_ca_file: ca.pem", with: ", require_client_certificate: true"))?.path,
            "listeners[0].tls.require_client_certificate")
        let upstream =
            minimal + "\n    tls: { ca_file: ca.pem, server_name: nodes.internal, verify_hostname: false }\n    max_concurrent_streams: 8"
        let cluster = try ConfigLoader.load(yaml: upstream, defaultWorkers: 1).clusters[0]
        XCTAssertEqual(cluster.tls?.serverName, "nodes.internal")
        XCTAssertEqual(cluster.tls?.verifyHostname, false)
        XCTAssertEqual(cluster.maxConcurrentStreams, 8)
        XCTAssertEqual(loadError(minimal + "\n    tls: { cert_file: c.pem }")?.path, "clusters[0].tls")
    }

    func testCorsOff() throws {
        let config = try ConfigLoader.load(
            yaml: minimal.replacingOccurrences(of: #"{ allow_origins: ["*"] }"#, with: "off"),
            defaultWorkers: 1)
        XCTAssertNil(config.listeners[0].cors)
    }

    func testRESTSection() throws {
        XCTAssertNil(try ConfigLoader.load(yaml: minimal, defaultWorkers: 1).rest)
        let config = try ConfigLoader.load(
            yaml: minimal + """

                rest:
                  descriptor_set: /etc/ferry/node.pb
                  services: [node.v1.NodeService]
                  use_proto_names: true
                  ignore_unknown_fields: yes
                  request_headers: [Authorization, x-user]
                  default_timeout: 2500ms
                """, defaultWorkers: 1)
        var expected = RESTConfig(descriptors: .file("/etc/ferry/node.pb"), services: ["node.v1.NodeService"])
        expected.useProtoNames = true
        expected.ignoreUnknownFields = true
        expected.requestHeaders = ["authorization", "x-user"]
        expected.defaultTimeoutNanoseconds = 2_500_000_000
        XCTAssertEqual(config.rest, expected)
        XCTAssertEqual(
            loadError(minimal + "\nrest: { descriptor_set: x.pb, services: [a.B], request_headers: [\"x user\"] }"),
            ConfigError(path: "rest.request_headers", reason: "'x user' is not a header name"))
        XCTAssertEqual(
            loadError(minimal + "\nrest: { descriptor_set: x.pb, services: [a.B], default_timeout: soon }")?.path,
            "rest.default_timeout")
        XCTAssertEqual(
            loadError(minimal + "\nrest: { services: [a.B] }"),
            ConfigError(
                path: "rest",
                reason: "the descriptors are needed: descriptor_set (a file) or reflection (from a backend's server reflection)"))
        XCTAssertEqual(
            loadError(minimal + "\nrest: { descriptor_set: x.pb, services: [] }"),
            ConfigError(path: "rest.services", reason: "at least one service is required"))
        XCTAssertEqual(loadError(minimal + "\nrest: { descriptor_set: x.pb, services: [a.B], pretty: true }")?.path, "rest.pretty")
    }

    func testRESTDescriptorsFromReflection() throws {
        let pin = "sha256:" + String(repeating: "0f", count: 32)
        let config = try ConfigLoader.load(
            yaml: minimal + "\nrest: { reflection: { cluster: nodes, refresh: 5m, pin: \"\(pin)\" }, services: [a.B] }", defaultWorkers: 1)
        var source = ReflectionSourceConfig(cluster: "nodes")
        source.refreshNanoseconds = 300_000_000_000
        source.pin = pin
        XCTAssertEqual(config.rest?.descriptors, .reflection(source))
        XCTAssertEqual(
            try ConfigLoader.load(yaml: minimal + "\nrest: { reflection: { cluster: nodes }, services: [a.B] }", defaultWorkers: 1).rest?
                .descriptors,
            .reflection(ReflectionSourceConfig(cluster: "nodes")), "no refresh, no pin")
        XCTAssertEqual(
            loadError(minimal + "\nrest: { reflection: { cluster: other }, services: [a.B] }"),
            ConfigError(path: "rest.reflection.cluster", reason: "no cluster named 'other' (clusters: nodes)"))
        XCTAssertEqual(
            loadError(minimal + "\nrest: { reflection: { cluster: nodes, pin: \"sha256:ABC\" }, services: [a.B] }")?.path,
            "rest.reflection.pin")
        XCTAssertEqual(
            loadError(minimal + "\nrest: { reflection: { cluster: nodes, refresh: 10ms }, services: [a.B] }")?.path,
            "rest.reflection.refresh")
        XCTAssertEqual(
            loadError(minimal + "\nrest: { reflection: { cluster: nodes }, descriptor_set: x.pb, services: [a.B] }"),
            ConfigError(path: "rest", reason: "descriptor_set and reflection are two sources of the descriptors: give one"))
        XCTAssertEqual(
            loadError(minimal + "\nrest: { reflection: { cluster: nodes, host: h }, services: [a.B] }")?.path, "rest.reflection.host")
    }

    func testErrorsNameTheKeyPath() {
        XCTAssertEqual(loadError(minimal + "\nextra: 1")?.path, "extra")
        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "cluster: nodes", with: "cluster: nope"))?.path,
            "routes[0].cluster")
        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:99999"))?.path,
            "listeners[0].address")
        // DNS names are endpoints (resolved by the cluster); a malformed one is not.
        XCTAssertNil(loadError(minimal.replacingOccurrences(of: "127.0.0.1:50051", with: "node-service.internal:50051")))
        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "127.0.0.1:50051", with: "node_service..internal:50051"))?.path,
            "clusters[0].endpoints[0]")
        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "127.0.0.1:50051", with: "1.2.3.4.5:50051"))?.path,
            "clusters[0].endpoints[0]")
        XCTAssertEqual(
            loadError(minimal + "\n    dns_resolver: dns.internal:53")?.path, "clusters[0].dns_resolver",
            "the DNS server itself is given by address")
        XCTAssertEqual(
            loadError(minimal.replacingOccurrences(of: "allow_origins", with: "allow_origin"))?.path,
            "listeners[0].cors.allow_origin")
        XCTAssertEqual(loadError(minimal + "\nworkers: 0")?.path, "workers")
        XCTAssertEqual(loadError(minimal + "\ndrain_timeout: soon")?.path, "drain_timeout")
        XCTAssertEqual(loadError("listeners: [")?.path, "")
        XCTAssertEqual(loadError("")?.reason, "the configuration is empty")
    }

    func testDuplicateClusterNames() {
        let yaml = minimal + "\n  - name: nodes\n    endpoints: [127.0.0.1:1]"
        XCTAssertEqual(loadError(yaml), ConfigError(path: "clusters[1].name", reason: "duplicate cluster name 'nodes'"))
    }

    func testDemoConfigFileMatchesTheEmbeddedOne() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/demo.yaml")
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), DemoConfig.yaml + "\n")
        XCTAssertNoThrow(try ConfigLoader.load(yaml: DemoConfig.yaml, defaultWorkers: 1))
    }
}
