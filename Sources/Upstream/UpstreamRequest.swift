// The request an upstream call sends: path, metadata, body, and the route's policies for it.
import FerryCore
import Resilience

/// The request sent upstream: path, metadata and the native gRPC body (whole, or its start
/// when more follows through `UpstreamCall.sendBody`), with the route's policies for it.
/// Noncopyable: it moves from the exchange that builds it into its call, where a copyable one
/// was copied on the way and the original destroyed (about 400 instructions a call, issue 19).
public struct UpstreamRequest: ~Copyable {
    public var path: String
    public var metadata: HeaderFields
    public var contentType: String
    /// The call's deadline from now; each attempt sends what is left of it as `grpc-timeout`.
    public var timeout: GRPCTimeout?
    public var body: [UInt8]
    /// More of the body follows with `UpstreamCall.sendBody`, then `endBody` (a native gRPC
    /// call's messages, forwarded as they arrive).
    public var streamsBody: Bool
    /// gRFC A6 retries; nil: one attempt (transparent retries still happen).
    public var retryPolicy: RetryPolicy?
    /// A unary method the route marks idempotent: its response is held until the trailers,
    /// so that a failure status in them can still be retried (nothing has gone downstream).
    public var retriesFailuresInTrailers: Bool
    /// Time an attempt may wait for response headers; then it is cancelled and fails as
    /// UNAVAILABLE (retryable by policy).
    public var perTryTimeoutNanoseconds: UInt64?

    public init(
        path: String, metadata: HeaderFields, contentType: String, timeout: GRPCTimeout?, body: [UInt8],
        streamsBody: Bool = false, retryPolicy: RetryPolicy? = nil, retriesFailuresInTrailers: Bool = false,
        perTryTimeoutNanoseconds: UInt64? = nil
    ) {
        self.path = path
        self.metadata = metadata
        self.contentType = contentType
        self.timeout = timeout
        self.body = body
        self.streamsBody = streamsBody
        self.retryPolicy = retryPolicy
        self.retriesFailuresInTrailers = retriesFailuresInTrailers
        self.perTryTimeoutNanoseconds = perTryTimeoutNanoseconds
    }
}
