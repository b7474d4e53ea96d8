// What the admin listener answers: Prometheus metrics merged from every worker, readiness and
// liveness for probes, the effective config, the clusters' state, and reload.
import Admin
import FerryCore
import Observability
import OpenAPI
import Transcode
import Upstream

struct AdminEndpoints: AdminHandler {
    let gateway: RunningGateway
    /// `admin.token_file`'s token, which the endpoints that change or reveal the config require.
    let token: AdminToken?
    static let guardedPaths: Set<String> = ["/config", "/reload"]

    func respond(method: String, path: Substring, headers: HeaderFields) -> AdminResponse {
        let endpoints: [String: (method: String, answer: () -> AdminResponse)] = [
            "/metrics": ("GET", metrics),
            "/ready": ("GET", ready),
            "/healthz": ("GET", { AdminResponse(status: 200, body: "ok\n") }),
            "/config": ("GET", config),
            "/clusters": ("GET", clusters),
            "/openapi.json": ("GET", openAPI),
            "/console": ("GET", console),
            "/reload": ("POST", reload),
        ]
        guard let endpoint = endpoints[String(path)] else {
            return AdminResponse(
                status: 404, body: "no admin endpoint \(path) (there are: \(endpoints.keys.sorted().joined(separator: ", ")))\n")
        }
        guard method == endpoint.method || (method == "HEAD" && endpoint.method == "GET") else {
            return AdminResponse(status: 405, body: "\(path) takes \(endpoint.method), not \(method)\n")
        }
        if let token, Self.guardedPaths.contains(String(path)) {
            switch token.check(authorization: headers["authorization"]) {
            case .allowed: break
            case .missing: return Self.unauthorized(path, challenge: #"Bearer realm="ferry-admin""#, reason: "needs")
            case .invalid:
                return Self.unauthorized(
                    path, challenge: #"Bearer realm="ferry-admin", error="invalid_token""#, reason: "needs the right")
            }
        }
        return endpoint.answer()
    }

    /// The config in effect; with descriptors from reflection, the set in effect and the fetches.
    private func config() -> AdminResponse {
        let reflection = gateway.reflectionStatus.map { [("rest_reflection_status", $0 as Any)] } ?? []
        return AdminResponse(status: 200, contentType: "application/json", body: AdminJSON.encode(gateway.config, adding: reflection))
    }

    /// OpenAPI 3.1 of the REST rules in effect (the last reload's descriptors).
    private func openAPI() -> AdminResponse {
        if let reason = gateway.restUnavailable { return AdminResponse(status: 503, body: "no REST API yet: \(reason)\n") }
        guard let rest = gateway.rest else {
            return AdminResponse(status: 404, body: "no REST API: the config has no rest section\n")
        }
        return AdminResponse(status: 200, contentType: "application/json", body: rest.openAPIDocument)
    }

    /// The console page, calling through the first listener.
    private func console() -> AdminResponse {
        if let reason = gateway.restUnavailable { return AdminResponse(status: 503, body: "no console yet: \(reason)\n") }
        guard let rest = gateway.rest else {
            return AdminResponse(status: 404, body: "no console: the config has no rest section, so no methods are exposed\n")
        }
        let listener = gateway.config.listeners[0]
        let colon = listener.address.lastIndex(of: ":") ?? listener.address.endIndex
        var host = String(listener.address[..<colon])
        if host == "0.0.0.0" || host == "[::]" { host = "" }
        let port = Int(listener.address[listener.address.index(after: colon)...]) ?? 0
        var headers = HeaderFields()
        // Everything is in the page; it may only call out (to the gateway).
        headers.append(
            name: "content-security-policy",
            value: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src *")
        return AdminResponse(
            status: 200, contentType: "text/html; charset=utf-8",
            body: ConsolePage.html(
                catalog: rest.catalog, gateway: ConsolePage.Gateway(scheme: listener.tls == nil ? "http" : "https", host: host, port: port)),
            headers: headers)
    }

    /// 401 with a Bearer challenge (RFC 6750 §3); the token given is never echoed.
    private static func unauthorized(_ path: Substring, challenge: String, reason: String) -> AdminResponse {
        var headers = HeaderFields()
        headers.append(name: "www-authenticate", value: challenge)
        return AdminResponse(
            status: 401, body: "\(path) \(reason) bearer token of admin.token_file (Authorization: Bearer …)\n", headers: headers)
    }

    /// 503 while draining, while the REST descriptors are still to come from reflection, or while
    /// a cluster has no endpoint to send calls to (a DNS name not resolved yet); else 200.
    private func ready() -> AdminResponse {
        if gateway.isDraining { return AdminResponse(status: 503, body: "draining\n") }
        if let reason = gateway.restUnavailable { return AdminResponse(status: 503, body: "\(reason)\n") }
        let empty = mergedClusters(gateway.snapshots()).filter { $0.endpoints.isEmpty }.map(\.name)
        if !empty.isEmpty { return AdminResponse(status: 503, body: "no endpoint yet in cluster(s): \(empty.joined(separator: ", "))\n") }
        return AdminResponse(status: 200, body: "ready\n")
    }

    private func clusters() -> AdminResponse {
        AdminResponse(status: 200, contentType: "application/json", body: AdminJSON.encode(mergedClusters(gateway.snapshots())))
    }

    private func reload() -> AdminResponse {
        switch gateway.reload() {
        case .applied: AdminResponse(status: 200, body: "reloaded\n")
        case .rejected(let reason): AdminResponse(status: 400, body: "reload rejected, the running config stays: \(reason)\n")
        case .partlyApplied(let failures): AdminResponse(status: 500, body: "reloaded, but: \(failures.joined(separator: "; "))\n")
        }
    }

    private func mergedClusters(_ snapshots: [WorkerSnapshot]) -> [ClusterSnapshot] {
        var merged: [String: ClusterSnapshot] = [:]
        for cluster in snapshots.flatMap(\.clusters) {
            if merged[cluster.name] == nil { merged[cluster.name] = cluster } else { merged[cluster.name]!.add(cluster) }
        }
        return merged.values.sorted { $0.name < $1.name }
    }

    private func metrics() -> AdminResponse {
        let snapshots = gateway.snapshots()
        var downstream = DownstreamMetricsSnapshot()
        for snapshot in snapshots { if let counts = snapshot.downstream { downstream.add(counts) } }
        var out = PrometheusExposition()
        MetricsExposition.write(downstream: downstream, clusters: mergedClusters(snapshots), draining: gateway.isDraining, to: &out)
        return AdminResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: out.text)
    }
}

/// Ferry's metric families. Names follow Prometheus conventions (`_total` counters, base units,
/// `ferry_` prefix) and gRPC's labels (`grpc_service`, `grpc_method`, `grpc_code` as the
/// status name, as go-grpc-prometheus and grpc-java's exporters use).
enum MetricsExposition {
    static func write(
        downstream: DownstreamMetricsSnapshot, clusters: [ClusterSnapshot], draining: Bool,
        to out: inout PrometheusExposition
    ) {
        out.family("ferry_downstream_connections_active", .gauge, help: "Open downstream connections.")
        out.sample("ferry_downstream_connections_active", [:], downstream.connectionsActive)
        out.family("ferry_downstream_connections_total", .counter, help: "Downstream connections accepted.")
        out.sample("ferry_downstream_connections_total", [:], downstream.connectionsTotal)
        out.family("ferry_downstream_requests_active", .gauge, help: "Requests being answered (streams in progress).")
        out.sample("ferry_downstream_requests_active", [:], downstream.requestsActive)

        out.family(
            "ferry_requests_total", .counter, help: "Requests answered, by route, gRPC method, protocol, HTTP version and gRPC status.")
        out.family("ferry_request_duration_seconds", .histogram, help: "Time from the request's head to the response's end.")
        out.family("ferry_request_bytes_total", .counter, help: "Request bytes received from clients, body and head.")
        out.family("ferry_response_bytes_total", .counter, help: "Response bytes sent to clients, head included.")
        for (key, series) in downstream.series.sorted(by: { $0.key < $1.key }) {
            let (service, method) = splitMethod(key.method)
            for (code, count) in series.codes.enumerated() where count > 0 {
                let name = code < 17 ? GRPCStatusCode(rawValue: code)?.name ?? "UNKNOWN" : "none"
                out.sample(
                    "ferry_requests_total",
                    [
                        "route": key.route, "grpc_service": service, "grpc_method": method,
                        "protocol": key.protocolName, "http_version": key.httpVersion, "grpc_code": name,
                    ], count)
            }
            let labels = [
                ("route", key.route), ("grpc_service", service), ("grpc_method", method), ("protocol", key.protocolName),
                ("http_version", key.httpVersion),
            ]
            out.histogram(
                "ferry_request_duration_seconds", labels, bounds: CallSeries.bucketBounds, buckets: series.buckets,
                sum: Double(series.durationNanoseconds) / 1e9)
            out.sample(
                "ferry_request_bytes_total",
                [
                    "route": key.route, "grpc_service": service, "grpc_method": method,
                    "protocol": key.protocolName, "http_version": key.httpVersion,
                ], series.bytesIn)
            out.sample(
                "ferry_response_bytes_total",
                [
                    "route": key.route, "grpc_service": service, "grpc_method": method,
                    "protocol": key.protocolName, "http_version": key.httpVersion,
                ], series.bytesOut)
        }

        out.family("ferry_limit_hits_total", .counter, help: "Times a configured limit stopped something, by the limit's config key.")
        for (limit, count) in downstream.limitHits.sorted(by: { $0.key < $1.key }) {
            out.sample("ferry_limit_hits_total", ["limit": limit], count)
        }
        out.family(
            "ferry_route_refusals_total", .counter,
            help: "Calls a route refused before they went upstream, by reason (why authentication failed, or rate_limit).")
        for (key, count) in downstream.refusals.sorted(by: { $0.key < $1.key }) {
            out.sample("ferry_route_refusals_total", ["route": key.route, "reason": key.reason], count)
        }
        out.family("ferry_draining", .gauge, help: "1 while draining (SIGTERM received).")
        out.sample("ferry_draining", [:], draining ? 1 : 0)

        out.family("ferry_upstream_connections_active", .gauge, help: "Open HTTP/2 connections to an endpoint.")
        out.family("ferry_upstream_streams_active", .gauge, help: "Calls in progress on an endpoint's connections.")
        out.family("ferry_upstream_connect_failures_total", .counter, help: "Connections to an endpoint that failed to open.")
        out.family("ferry_upstream_endpoint_ejected", .gauge, help: "1 while outlier detection keeps the endpoint out.")
        out.family(
            "ferry_upstream_endpoint_healthy", .gauge, help: "1 when the endpoint passes its health checks (clusters with health_check).")
        for cluster in clusters {
            for endpoint in cluster.endpoints {
                let labels: KeyValuePairs = ["cluster": cluster.name, "endpoint": endpoint.address]
                out.sample("ferry_upstream_connections_active", labels, endpoint.connections)
                out.sample("ferry_upstream_streams_active", labels, endpoint.streams)
                out.sample("ferry_upstream_connect_failures_total", labels, endpoint.connectFailures)
                out.sample("ferry_upstream_endpoint_ejected", labels, endpoint.ejected ? 1 : 0)
                if let healthy = endpoint.healthy { out.sample("ferry_upstream_endpoint_healthy", labels, healthy ? 1 : 0) }
            }
        }
        out.family("ferry_upstream_retries_total", .counter, help: "Attempts retried under a route's retry policy (gRFC A6).")
        out.family("ferry_upstream_retries_throttled_total", .counter, help: "Retries the cluster's retry throttle refused.")
        out.family("ferry_upstream_ejections_total", .counter, help: "Endpoints ejected by outlier detection.")
        out.family("ferry_upstream_breaker_trips_total", .counter, help: "Calls or connections refused by a circuit-breaker limit.")
        out.family("ferry_upstream_dns_updates_total", .counter, help: "Changes of a DNS cluster's endpoint set.")
        out.family("ferry_upstream_dns_failures_total", .counter, help: "Failed DNS resolutions (the last endpoints stay).")
        for cluster in clusters {
            let labels: KeyValuePairs = ["cluster": cluster.name]
            out.sample("ferry_upstream_retries_total", labels, cluster.retries)
            out.sample("ferry_upstream_retries_throttled_total", labels, cluster.throttledRetries)
            out.sample("ferry_upstream_ejections_total", labels, cluster.ejections)
            for (limit, trips) in cluster.breakerTrips.sorted(by: { $0.key < $1.key }) {
                out.sample("ferry_upstream_breaker_trips_total", ["cluster": cluster.name, "limit": limit], trips)
            }
            out.sample("ferry_upstream_dns_updates_total", labels, cluster.dnsUpdates)
            out.sample("ferry_upstream_dns_failures_total", labels, cluster.dnsFailures)
        }
    }

    /// `/pkg.Service/Method` → (`pkg.Service`, `Method`); anything else → empty labels.
    private static func splitMethod(_ path: String) -> (String, String) {
        guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return ("", "") }
        return (String(path[path.index(after: path.startIndex)..<slash]), String(path[path.index(after: slash)...]))
    }
}
