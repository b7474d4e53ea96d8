// Picks the cluster for a gRPC call from its path (`/package.Service/Method`, PROTOCOL-HTTP2.md).

/// How a route recognises its calls.
public enum RouteMatch: Sendable, Equatable {
    /// The fully-qualified service name, e.g. `node.v1.NodeService`.
    case service(String)
    /// A path prefix, e.g. `/node.v1.`.
    case pathPrefix(String)
}

public struct Route: Sendable, Equatable {
    public var match: RouteMatch
    public var cluster: String

    public init(match: RouteMatch, cluster: String) {
        self.match = match
        self.cluster = cluster
    }
}

/// The parts of a gRPC request path.
public struct GRPCMethodPath: Sendable, Equatable {
    public var service: Substring
    public var method: Substring

    /// Parses `/service/method`; nil for any other shape.
    public init?(_ path: Substring) {
        guard path.first == "/" else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        service = parts[0]
        method = parts[1]
    }
}

/// Routes in config order; the first match wins. Service matches are looked up in a table,
/// so the common case costs one hash.
public struct Router: Sendable {
    public let routes: [Route]
    private let byService: [Substring: Int]

    public init(routes: [Route]) {
        self.routes = routes
        var byService: [Substring: Int] = [:]
        for (index, route) in routes.enumerated() {
            if case .service(let name) = route.match, byService[Substring(name)] == nil {
                byService[Substring(name)] = index
            }
        }
        self.byService = byService
    }

    /// The route for a request path, or nil when no route knows the call.
    public func route(path: Substring) -> Route? {
        let service = GRPCMethodPath(path)?.service
        var best = service.flatMap { byService[$0] }
        for (index, route) in routes.enumerated() {
            if let found = best, index >= found { break }
            if case .pathPrefix(let prefix) = route.match, path.hasPrefix(prefix) {
                best = index
                break
            }
        }
        return best.map { routes[$0] }
    }
}
