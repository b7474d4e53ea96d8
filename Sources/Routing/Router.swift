// Picks the cluster for a gRPC call from its path (`/package.Service/Method`, PROTOCOL-HTTP2.md).
import Glibc
import Resilience

/// How a route recognises its calls.
public enum RouteMatch: Sendable, Equatable {
    /// The fully-qualified service name, e.g. `node.v1.NodeService`.
    case service(String)
    /// A path prefix, e.g. `/node.v1.`.
    case pathPrefix(String)

    /// The service name or the prefix (which starts with `/`): the route's name in metrics.
    public var label: String {
        switch self {
        case .service(let name): name
        case .pathPrefix(let prefix): prefix
        }
    }
}

/// A class: a lookup on every request hands out one reference instead of copying (and
/// retaining) every field of the route and its policy.
public final class Route: Sendable, Equatable {
    public let match: RouteMatch
    public let cluster: String
    public let policy: RoutePolicy
    /// The buckets of `policy.rateLimit`, which every worker shares (the route is built once
    /// per config, so a reload starts them full).
    public let rateLimiter: RateLimiter?

    public init(match: RouteMatch, cluster: String, policy: RoutePolicy = RoutePolicy()) {
        self.match = match
        self.cluster = cluster
        self.policy = policy
        rateLimiter = policy.rateLimit.map { RateLimiter(policy: $0) }
    }

    public static func == (lhs: Route, rhs: Route) -> Bool {
        lhs.match == rhs.match && lhs.cluster == rhs.cluster && lhs.policy == rhs.policy
    }
}

/// What a route adds to its calls: a default deadline, retries and a rate limit.
public struct RoutePolicy: Sendable, Equatable {
    /// The deadline of a call that sends no `grpc-timeout`.
    public var timeoutNanoseconds: UInt64?
    /// Time an attempt may wait for its response headers before it is cancelled (and retried
    /// when the policy allows).
    public var perTryTimeoutNanoseconds: UInt64?
    public var retryPolicy: RetryPolicy?
    /// The route's methods are unary and idempotent: a failure status that comes in trailers
    /// after response headers may be retried too (the response is held until the trailers).
    public var idempotent: Bool
    /// Calls beyond it are refused (RESOURCE_EXHAUSTED, HTTP 429) without reaching a backend.
    public var rateLimit: RateLimitPolicy?
    /// The caller must present a valid token (and claims); nil: anyone.
    public var auth: RouteAuth?

    public init(
        timeoutNanoseconds: UInt64? = nil, perTryTimeoutNanoseconds: UInt64? = nil, retryPolicy: RetryPolicy? = nil,
        idempotent: Bool = false, rateLimit: RateLimitPolicy? = nil, auth: RouteAuth? = nil
    ) {
        self.timeoutNanoseconds = timeoutNanoseconds
        self.perTryTimeoutNanoseconds = perTryTimeoutNanoseconds
        self.retryPolicy = retryPolicy
        self.idempotent = idempotent
        self.rateLimit = rateLimit
        self.auth = auth
    }
}

/// A route's authentication: which JWT provider's tokens it takes and the claims a caller must
/// have (each listed claim must hold one of its values; for a list claim, one of its elements),
/// and which client certificates it takes on mutual-TLS listeners. Each kind given must pass.
public struct RouteAuth: Sendable, Equatable {
    /// An `auth.jwt[].name`; nil: no token needed.
    public var jwt: String?
    public var claims: [ClaimRule]
    /// Who may call by certificate: a subject listed here, or a subject alternative name
    /// matching one in `clientSANs`. Both empty: no certificate needed.
    public var clientIdentities: ClientIdentityRule?

    public struct ClaimRule: Sendable, Equatable {
        public var claim: String
        public var allowed: [String]

        public init(claim: String, allowed: [String]) {
            self.claim = claim
            self.allowed = allowed
        }
    }

    public init(jwt: String?, claims: [ClaimRule] = [], clientIdentities: ClientIdentityRule? = nil) {
        self.jwt = jwt
        self.claims = claims
        self.clientIdentities = clientIdentities
    }
}

/// `client_subjects` and `client_sans` (issue 17): the verified client certificate's subject in
/// RFC 2253 form, exactly, or one of its URI, DNS or email subject alternative names (SPIFFE IDs
/// are URI SANs), exactly or, for a pattern ending in `*`, by prefix.
public struct ClientIdentityRule: Sendable, Equatable {
    public var subjects: [String]
    public var sans: [String]

    public init(subjects: [String], sans: [String]) {
        self.subjects = subjects
        self.sans = sans
    }

    public func allows(subject: String, sans names: [String]) -> Bool {
        if subjects.contains(subject) { return true }
        return names.contains { name in
            sans.contains { pattern in
                pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
            }
        }
    }
}

/// The parts of a gRPC request path.
public struct GRPCMethodPath: Sendable, Equatable {
    public var service: Substring
    public var method: Substring

    /// Parses `/service/method`; nil for any other shape.
    public init?(_ path: Substring) {
        var path = path
        guard let service = path.withUTF8(Self.serviceRange(in:)) else { return nil }
        let utf8 = path.utf8
        let serviceEnd = utf8.index(utf8.startIndex, offsetBy: service.upperBound)
        self.service = path[utf8.index(utf8.startIndex, offsetBy: service.lowerBound)..<serviceEnd]
        method = path[utf8.index(after: serviceEnd)...]
    }

    /// Where the service is in the bytes of a `/service/method` path (both parts non-empty, no
    /// further `/`); nil for any other shape. The router reads it from the path's bytes.
    static func serviceRange(in bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let slash = UInt8(ascii: "/")
        guard bytes.count > 3, bytes[0] == slash else { return nil }
        guard let separator = bytes[1...].firstIndex(of: slash), separator > 1, separator + 1 < bytes.count,
            !bytes[(separator + 1)...].contains(slash)
        else { return nil }
        return 1..<separator
    }
}

/// Routes in config order; the first match wins. Looked up on the path's bytes: a length check
/// and a memcmp per route, which for the dozen routes of a config is cheaper than hashing a
/// Substring (Unicode-aware) for a table.
public struct Router: Sendable {
    public let routes: [Route]
    /// Each route's service name or path prefix, as bytes.
    private let matchBytes: [[UInt8]]

    public init(routes: [Route]) {
        self.routes = routes
        matchBytes = routes.map { route in
            switch route.match {
            case .service(let name): Array(name.utf8)
            case .pathPrefix(let prefix): Array(prefix.utf8)
            }
        }
    }

    /// The route for a request path, or nil when no route knows the call.
    public func route(path: Substring) -> Route? {
        var path = path
        let found = path.withUTF8 { bytes -> Int? in
            let service = GRPCMethodPath.serviceRange(in: bytes)
            for (index, route) in routes.enumerated() {
                let match = matchBytes[index]
                switch route.match {
                case .service:
                    guard let service, service.count == match.count else { continue }
                    if match.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress! + service.lowerBound, match.count) }) == 0 {
                        return index
                    }
                case .pathPrefix:
                    guard bytes.count >= match.count else { continue }
                    if match.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, match.count) }) == 0 { return index }
                }
            }
            return nil
        }
        return found.map { routes[$0] }
    }
}
