// Ferry's configuration, validated: every value here has passed its checks and has its default.
import Resilience
import Routing

public struct FerryConfig: Sendable {
    /// Worker threads, each with its own event loop, listeners and upstream pools.
    public var workers: Int
    /// On SIGTERM/SIGINT, how long in-flight calls may take before Ferry exits anyway.
    public var drainTimeoutNanoseconds: UInt64
    /// On SIGTERM, how long `/ready` answers 503 while the listeners still accept, so that load
    /// balancers stop sending before connections are refused.
    public var drainGraceNanoseconds: UInt64 = 5_000_000_000
    public var listeners: [ListenerConfig]
    public var routes: [Route]
    public var clusters: [ClusterConfig]
    /// REST/JSON transcoding; nil when the config has no `rest` section.
    public var rest: RESTConfig?
    /// `access_log.path`: `-` for stdout, or a file; nil: no access log.
    public var accessLogPath: String?
    /// `tracing.create_traceparent`: a request without a `traceparent` gets a new trace.
    public var createTraceparent = false
    /// The admin listener (/metrics, /ready, /healthz, /config, /clusters, /reload); nil: none,
    /// and no metrics are counted.
    public var admin: AdminConfig? = AdminConfig()
    /// Bytes of streamed request bodies each worker keeps for retries, over all its calls
    /// (gRPC's `retryBufferSize`); each call also within its policy's
    /// `max_buffered_request_bytes`.
    public var retryBufferBytes = 16 << 20
    /// `auth.jwt`: the token issuers routes may require.
    public var jwtProviders: [JWTProviderConfig] = []
}

/// `auth.jwt[]`: an issuer whose tokens routes may require (RFC 7519).
public struct JWTProviderConfig: Sendable, Equatable {
    public var name: String
    public var issuer: String?
    public var audiences: [String] = []
    /// A JWK Set file (RFC 7517), or
    public var jwksFile: String?
    /// a JWK Set fetched by URL, or
    public var remoteKeySet: RemoteKeySetConfig?
    /// a file holding an HMAC secret (HS256 only).
    public var secretFile: String?
    /// Claim → request header for the backend; the header replaces any the client sent.
    public var forwardClaims: [(claim: String, header: String)] = []
    /// The Authorization header goes on to the backend.
    public var forwardToken = true
    public var clockSkewNanoseconds: UInt64 = 60_000_000_000

    public init(name: String) {
        self.name = name
    }

    public static func == (lhs: JWTProviderConfig, rhs: JWTProviderConfig) -> Bool {
        lhs.name == rhs.name && lhs.issuer == rhs.issuer && lhs.audiences == rhs.audiences && lhs.jwksFile == rhs.jwksFile
            && lhs.remoteKeySet == rhs.remoteKeySet && lhs.secretFile == rhs.secretFile
            && lhs.forwardClaims.elementsEqual(rhs.forwardClaims, by: { $0 == $1 })
            && lhs.forwardToken == rhs.forwardToken && lhs.clockSkewNanoseconds == rhs.clockSkewNanoseconds
    }
}

/// `jwks_uri`, `jwks_cluster`, `jwks_refresh`: an issuer's JWK set fetched with HTTP/1.1 GET (TLS
/// for `https`) from the endpoints of a cluster, with its TLS settings.
public struct RemoteKeySetConfig: Sendable, Equatable {
    public var uri: String
    public var usesTLS: Bool
    /// The URI's host (the `Host` header, and the TLS name unless the cluster sets one).
    public var host: String
    public var port: Int
    /// Path and query.
    public var path: String
    public var cluster: String
    public var refreshNanoseconds: UInt64 = 600_000_000_000

    public init(uri: String, usesTLS: Bool, host: String, port: Int, path: String, cluster: String) {
        self.uri = uri
        self.usesTLS = usesTLS
        self.host = host
        self.port = port
        self.path = path
        self.cluster = cluster
    }

    /// `Host`: the host, with the port unless it is the scheme's default.
    public var authority: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return port == (usesTLS ? 443 : 80) ? host : "\(host):\(port)"
    }
}

public struct AdminConfig: Sendable, Equatable {
    public var address = "127.0.0.1:9901"
    /// A file holding the bearer token that `POST /reload` and `GET /config` require; nil: none.
    public var tokenFile: String?

    public init() {}
}

/// TLS on a listener (OpenSSL): the certificate chain and key in PEM files, and for mutual TLS
/// the CAs client certificates must chain to.
public struct ListenerTLSConfig: Sendable, Equatable {
    public var certificateFile: String
    public var privateKeyFile: String
    /// nil: client certificates are not asked for.
    public var clientCAFile: String?
    /// With `clientCAFile`: a client without a valid certificate is refused (otherwise one is
    /// asked for and checked, but not required).
    public var requireClientCertificate = true
}

/// TLS to a cluster's endpoints: what verifies them and what Ferry presents.
public struct UpstreamTLSConfig: Sendable, Equatable {
    /// PEM bundle of trusted CAs; nil: the system's default store.
    public var caFile: String?
    public var certificateFile: String?
    public var privateKeyFile: String?
    /// Server name sent (SNI) and verified; nil: the endpoint's host name, or its address.
    public var serverName: String?
    public var verifyHostname = true
}

/// Where the `rest` section's descriptors come from.
public enum DescriptorSource: Sendable, Equatable {
    /// `descriptor_set`: a FileDescriptorSet file (`protoc --include_imports --descriptor_set_out`).
    case file(String)
    /// `reflection`: asked from a backend's gRPC server reflection at run time.
    case reflection(ReflectionSourceConfig)
}

/// `rest.reflection`: the services' descriptor files asked from a cluster's server reflection
/// (grpc.reflection.v1, or v1alpha) at start, on reload and every `refresh`.
public struct ReflectionSourceConfig: Sendable, Equatable {
    public var cluster: String
    /// nil: fetched at start and on reload only.
    public var refreshNanoseconds: UInt64?
    /// `sha256:` and the hex digest the fetched set must have; nil: any set.
    public var pin: String?

    public init(cluster: String) {
        self.cluster = cluster
    }
}

/// The `rest` section: where the descriptors come from, which services, and the JSON options.
public struct RESTConfig: Sendable, Equatable {
    public var descriptors: DescriptorSource
    public var services: [String]
    public var emitUnpopulated = false
    public var useProtoNames = false
    public var enumsAsIntegers = false
    public var ignoreUnknownFields = false
    /// Request headers forwarded as gRPC metadata (lowercase); nil: all but hop-by-hop fields.
    public var requestHeaders: [String]?
    /// The deadline of a call that does not send `grpc-timeout`, in nanoseconds.
    public var defaultTimeoutNanoseconds: UInt64?

    public init(descriptors: DescriptorSource, services: [String]) {
        self.descriptors = descriptors
        self.services = services
    }
}

public struct ListenerConfig: Sendable {
    public var address: String
    /// nil: no CORS headers and no preflight handling.
    public var cors: CORSPolicy?
    public var limits: FrontLimits
    public var tls: ListenerTLSConfig?
    /// HTTP/2 beside HTTP/1.1 on the same port (h2c with prior knowledge, ALPN `h2` with TLS);
    /// nil: `http2: off`, HTTP/1.1 only.
    public var http2: HTTP2FrontSettings? = HTTP2FrontSettings()
}

/// The HTTP/2 front's settings (`listeners[].http2`), with the defaults of gRPC servers and Envoy.
public struct HTTP2FrontSettings: Sendable, Equatable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: a client's streams beyond it are refused (REFUSED_STREAM).
    public var maxConcurrentStreams = 100
    /// SETTINGS_INITIAL_WINDOW_SIZE: what a client may send on one stream before Ferry has
    /// passed it on (flow control end to end, RFC 9113 §6.9).
    public var streamWindowBytes = 64 * 1024
    /// The connection's receive window, over all its streams.
    public var connectionWindowBytes = 1 << 20
    /// PINGs from a client closer together than this, with no response sent in between, are
    /// strikes; the third ends the connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"),
    /// as gRPC servers enforce keepalive (5 minutes, their default).
    public var minPingIntervalNanoseconds: UInt64 = 300_000_000_000

    public init() {}
}

/// Limits of the HTTP/1.1 front, with safe defaults.
public struct FrontLimits: Sendable, Equatable {
    public var maxHeaderBytes = 60 * 1024
    public var maxHeaderFields = 100
    /// Largest gRPC message accepted from a browser (→ RESOURCE_EXHAUSTED).
    public var maxMessageBytes = 4 * 1024 * 1024
    /// Time allowed to receive a request's head, from its first byte (slowloris).
    public var headerReadTimeoutNanoseconds: UInt64 = 10_000_000_000
    /// Time allowed to receive a buffered request body, from the end of its head (slowloris).
    public var requestBodyTimeoutNanoseconds: UInt64 = 10_000_000_000
    /// Request header names with `_`: forwarded, dropped, or refused with 400.
    public var headersWithUnderscores = UnderscoreHeaderAction.drop
    /// `grpc-encoding` values whose compressed messages are forwarded; a compressed message in
    /// another is UNIMPLEMENTED.
    public var grpcEncodings = ["identity", "gzip", "deflate"]
    /// An idle keep-alive connection closes after this.
    public var idleTimeoutNanoseconds: UInt64 = 60_000_000_000
    /// Open connections on this listener, over all workers; past it, new ones are closed at once.
    public var maxConnections = 10_000
    /// Bytes a connection may hold in its buffers (response output towards a slow client,
    /// pipelined input) before reading from the other side pauses.
    public var bufferLimitBytes = 64 * 1024

    public init() {}
}

/// What a listener does with request header names that contain `_` (Envoy's
/// `headers_with_underscores_action`).
public enum UnderscoreHeaderAction: String, Sendable, Equatable, CaseIterable {
    case allow
    /// Not forwarded, counted.
    case drop
    /// The request is answered 400.
    case reject
}

public struct ClusterConfig: Sendable, Equatable {
    public var name: String
    /// `host:port`: an IP literal, `localhost`, or a DNS name (resolved, each address an endpoint).
    public var endpoints: [String]
    public var authority: String?
    /// max_connections, max_pending_requests, max_requests, max_retries: for the cluster, over
    /// all workers (one breaker with atomic counters, as in Envoy).
    public var breaker: CircuitBreakerThresholds
    public var connectTimeoutNanoseconds: UInt64
    /// HTTP/2 PING interval while streams are open and the backend is silent; nil: off.
    public var keepaliveIntervalNanoseconds: UInt64?
    /// A PING not acknowledged within this closes the connection.
    public var keepaliveTimeoutNanoseconds: UInt64 = 5_000_000_000
    /// How often names among the endpoints are resolved again, and by which DNS server (nil:
    /// /etc/resolv.conf's).
    public var dnsRefreshNanoseconds: UInt64
    public var dnsResolver: String?
    public var outlierDetection: OutlierDetectionSettings
    public var healthCheck: HealthCheckSettings?
    public var retryThrottling: RetryThrottleSettings?
    /// Streams Ferry opens on one upstream connection at most (the backend's
    /// SETTINGS_MAX_CONCURRENT_STREAMS may lower it further).
    public var maxConcurrentStreams = 1024
    public var tls: UpstreamTLSConfig?
}
