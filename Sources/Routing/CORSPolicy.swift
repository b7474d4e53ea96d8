// Cross-origin resource sharing for browser callers (Fetch standard, "CORS protocol"),
// with a default preset that lets grpc-web clients call through.
import FerryCore

/// Which origins may call, and the headers of preflight and actual responses.
public struct CORSPolicy: Sendable, Equatable {
    public enum Origins: Sendable, Equatable {
        case any
        case list([String])
    }

    public var allowOrigins: Origins
    public var allowMethods: [String]
    public var allowHeaders: [String]
    public var exposeHeaders: [String]
    public var maxAgeSeconds: Int
    public var allowCredentials: Bool
    /// The methods of the REST rules join `allowMethods` (`addingRESTMethods`): true for the
    /// preset and for a policy that does not list `allow_methods`, so that a browser app's PUT,
    /// PATCH, DELETE or custom verb passes its preflight without being listed by hand.
    public var addsRESTMethods: Bool

    /// What a grpc-web client needs: POST, the gRPC-Web request headers, and the status
    /// headers exposed so that trailers-only replies are readable from script.
    public static let grpcWebPreset = CORSPolicy(
        allowOrigins: .any,
        allowMethods: ["POST", "GET", "OPTIONS"],
        allowHeaders: [
            "content-type", "x-grpc-web", "x-user-agent", "grpc-timeout", "authorization",
            "x-accept-content-transfer-encoding", "x-accept-response-streaming",
            // Connect's (connectrpc.com/docs/cors), with its compression headers.
            "connect-protocol-version", "connect-timeout-ms", "connect-content-encoding", "connect-accept-encoding",
            "content-encoding",
        ],
        exposeHeaders: ["grpc-status", "grpc-message", "grpc-status-details-bin", "connect-content-encoding"],
        maxAgeSeconds: 86400,
        allowCredentials: false,
        addsRESTMethods: true)

    public init(
        allowOrigins: Origins, allowMethods: [String], allowHeaders: [String],
        exposeHeaders: [String], maxAgeSeconds: Int, allowCredentials: Bool, addsRESTMethods: Bool = false
    ) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAgeSeconds = maxAgeSeconds
        self.allowCredentials = allowCredentials
        self.addsRESTMethods = addsRESTMethods
    }

    /// The policy with `methods` (the verbs of the loaded REST rules) allowed as well, in
    /// their first order after the listed ones, when `addsRESTMethods`.
    public func addingRESTMethods(_ methods: some Sequence<String>) -> CORSPolicy {
        guard addsRESTMethods else { return self }
        var policy = self
        for method in methods where !policy.allowMethods.contains(method) { policy.allowMethods.append(method) }
        return policy
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
    public enum PreflightResult: Equatable {
        /// 204 with these headers.
        case allowed(HeaderFields)
        /// 403 without CORS headers, with the reason.
        case denied(String)
    }

    public static func isPreflight(method: String, headers: HeaderFields) -> Bool {
        method == "OPTIONS" && headers["origin"] != nil && headers["access-control-request-method"] != nil
    }

    public func preflight(headers: HeaderFields) -> PreflightResult {
        guard let origin = headers["origin"], let allowOrigin = allowOriginValue(for: origin) else {
            return .denied("origin '\(headers["origin"] ?? "")' is not allowed")
        }
        let method = headers["access-control-request-method"] ?? ""
        guard allowMethods.contains(method) else {
            return .denied("method '\(method)' is not allowed")
        }
        var fields = originFields(allowOrigin)
        fields.append(name: "access-control-allow-methods", value: allowMethods.joined(separator: ", "))
        fields.append(name: "access-control-allow-headers", value: allowHeaders.joined(separator: ", "))
        fields.append(name: "access-control-max-age", value: String(maxAgeSeconds))
        return .allowed(fields)
    }

    /// Headers added to an actual response for a request carrying `Origin`; empty for a
    /// disallowed origin (the browser then withholds the response from script).
    public func responseHeaders(origin: String?) -> HeaderFields {
        guard let origin else { return HeaderFields() }
        guard let allowOrigin = allowOriginValue(for: origin) else { return refusedOriginFields }
        var fields = originFields(allowOrigin)
        if !exposeHeaders.isEmpty {
            fields.append(name: "access-control-expose-headers", value: exposeHeaders.joined(separator: ", "))
        }
        return fields
    }

    private func allowOriginValue(for origin: String) -> String? {
        switch allowOrigins {
        case .any: allowCredentials ? origin : "*"
        case .list(let origins): origins.contains(origin) ? origin : nil
        }
    }

    /// Without CORS headers, but with `Vary: Origin` when another origin would get them: a
    /// shared cache must not give this answer to that origin (Fetch standard, §3.2.5 CORS
    /// protocol and HTTP caches).
    public var refusedOriginFields: HeaderFields {
        guard case .list = allowOrigins else { return HeaderFields() }
        return ["vary": "Origin"]
    }

    private func originFields(_ allowOrigin: String) -> HeaderFields {
        var fields = HeaderFields()
        fields.append(name: "access-control-allow-origin", value: allowOrigin)
        if allowCredentials { fields.append(name: "access-control-allow-credentials", value: "true") }
        if allowOrigin != "*" { fields.append(name: "vary", value: "Origin") }
        return fields
    }
}
