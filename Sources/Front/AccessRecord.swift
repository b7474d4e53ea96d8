// The request in progress as the access log and the counts will record it.
import FerryCore
import HTTP1
import Loop
import Observability
import Upstream

/// What the access log and the counts need of the request in progress (a class: the
/// connection updates it as bytes go by, and reuses it for its next request).
final class AccessRecord {
    /// Unix time for the log line's timestamp (0 without an access log: not read then).
    var startRealtime: UInt64 = 0
    var startMonotonic: UInt64 = 0
    /// The request line's method and target, for the access log only (empty without one).
    var method = ""
    var path = ""
    /// Route, gRPC method and protocol: the labels the request is counted under.
    var series = CallSeriesKey.none
    var clientSubject: String?
    var bytesIn = 0
    var bytesOut = 0
    var httpStatus = 0
    var traceID: String?

    /// The request's head is in. `now` is the loop iteration's time (`EventLoop.iterationNow`):
    /// a duration is measured between the iterations that read the head and wrote the end.
    func begin(head: HTTP1RequestHead, request: ClassifiedRequest, clientSubject: String?, logged: Bool, now: UInt64) {
        startMonotonic = now
        if logged {
            startRealtime = ThreadSignal.realtimeNow
            method = head.method
            path = head.target
        }
        self.clientSubject = clientSubject
        bytesIn = 0
        bytesOut = 0
        httpStatus = 0
        traceID = nil
        let version = head.version.name
        switch request {
        case .grpc(let call):
            series = CallSeriesKey(
                route: call.route?.match.label ?? "", method: call.route == nil ? "" : call.path, protocolName: "grpc", httpVersion: version
            )
        case .grpcWeb(let call):
            // A path no route knows is not a method name worth a series of its own.
            series = CallSeriesKey(
                route: call.route?.match.label ?? "", method: call.route == nil ? "" : call.path,
                protocolName: call.contentType.isText ? "grpc-web-text" : "grpc-web", httpVersion: version)
        case .rest(let call):
            series = CallSeriesKey(
                route: call.route?.match.label ?? "", method: call.binding.method.grpcPath, protocolName: "rest", httpVersion: version)
        case .connect(let call):
            series = CallSeriesKey(
                route: call.route?.match.label ?? "", method: call.route == nil ? "" : call.path, protocolName: "connect",
                httpVersion: version)
        case .simple:
            series = CallSeriesKey(route: "", method: "", protocolName: "http", httpVersion: version)
        }
    }

    /// The request is over: its access-log line and its counts. The record keeps no string of
    /// the request afterwards (an idle keep-alive connection holds only the empty record).
    func end(in context: ListenerContext, peer: String, grpcStatus: Int?, call: UpstreamCall?, now: UInt64) {
        let duration = now - startMonotonic
        // Moved out rather than copied: the record keeps no string of the request afterwards.
        var series = CallSeriesKey.none
        swap(&series, &self.series)
        context.metrics?.recordCall(series, grpcCode: grpcStatus, durationNanoseconds: duration, bytesIn: bytesIn, bytesOut: bytesOut)
        context.accessLog?.record(
            AccessLogEntry(
                startNanoseconds: startRealtime, peer: peer, method: method, path: path,
                protocolName: series.protocolName, httpVersion: series.httpVersion, grpcStatus: grpcStatus, httpStatus: httpStatus,
                bytesIn: bytesIn, bytesOut: bytesOut, durationNanoseconds: duration,
                upstream: call?.endpoint?.description, attempts: call?.attempts ?? 0, traceID: traceID,
                clientSubject: clientSubject))
        startRealtime = 0
        method = ""
        path = ""
        traceID = nil
    }
}
