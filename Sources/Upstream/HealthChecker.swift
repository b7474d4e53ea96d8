// Active health checks of a pool's endpoints with grpc.health.v1.Health/Check (grpc/doc/
// health-checking.md): every interval, one Check per endpoint on the pool's own connections;
// SERVING within the timeout passes, anything else fails. The verdicts (HealthCheckState)
// decide which endpoints get calls.
import FerryCore
import Loop
import Resilience

final class HealthChecker {
    private unowned(unsafe) let pool: UpstreamPool
    let settings: HealthCheckSettings
    private var timer: LoopTimer?
    private var states: [SocketAddress: HealthCheckState] = [:]
    private var inFlight: [SocketAddress: HealthCheck] = [:]
    /// Checks that ended, kept until the next round: a check ends inside its own callbacks
    /// (the call's delegate method, its timer), which must not free it under their feet.
    private var retired: [HealthCheck] = []
    /// The request, framed once: HealthCheckRequest{service = 1}.
    private let body: [UInt8]

    init(pool: UpstreamPool, loop: EventLoop, settings: HealthCheckSettings) {
        self.pool = pool
        self.settings = settings
        var message: [UInt8] = []
        if !settings.service.isEmpty {
            let service = Array(settings.service.utf8)
            message = [0x0A] + varint(UInt64(service.count)) + service
        }
        body = [0] + withUnsafeBytes(of: UInt32(message.count).bigEndian, Array.init) + message
        timer = LoopTimer(loop: loop, repeating: true) { [unowned self] in checkAll() }
        timer?.schedule(afterNanoseconds: settings.intervalNanoseconds)
    }

    /// No more rounds (the pool is shutting down); checks in flight end on their own.
    func stop() {
        timer?.cancel()
    }

    func isHealthy(_ endpoint: SocketAddress) -> Bool {
        states[endpoint]?.isHealthy ?? true
    }

    /// The endpoints now: verdicts of gone ones are forgotten.
    func setEndpoints(_ endpoints: [SocketAddress]) {
        states = states.filter { endpoints.contains($0.key) }
    }

    private func checkAll() {
        retired.removeAll()
        for endpoint in pool.endpoints where inFlight[endpoint] == nil {
            let check = HealthCheck(checker: self, endpoint: endpoint, loop: pool.loop)
            inFlight[endpoint] = check
            check.call = UpstreamCall(
                request: UpstreamRequest(
                    path: "/grpc.health.v1.Health/Check", metadata: HeaderFields(), contentType: "application/grpc",
                    timeout: GRPCTimeout(nanoseconds: Int64(settings.timeoutNanoseconds)), body: body), delegate: check)
            check.timer.schedule(afterNanoseconds: settings.timeoutNanoseconds)
            pool.startHealthCheck(check.call!, on: endpoint)
        }
    }

    fileprivate func finished(_ check: HealthCheck, passed: Bool, reason: String) {
        guard inFlight[check.endpoint] === check else { return }
        inFlight[check.endpoint] = nil
        retired.append(check)
        var state = states[check.endpoint] ?? HealthCheckState()
        if state.record(passed: passed, settings: settings) {
            pool.healthChanged(check.endpoint, healthy: state.isHealthy, reason: reason)
        }
        states[check.endpoint] = state
    }
}

/// One Check call: SERVING (HealthCheckResponse.status = 1) in an OK reply passes.
private final class HealthCheck: UpstreamCallDelegate {
    unowned(unsafe) let checker: HealthChecker
    let endpoint: SocketAddress
    var call: UpstreamCall?
    let timer: LoopTimer
    private var response: [UInt8] = []

    init(checker: HealthChecker, endpoint: SocketAddress, loop: EventLoop) {
        self.checker = checker
        self.endpoint = endpoint
        var expire: (() -> Void)?
        timer = LoopTimer(loop: loop) { expire?() }
        expire = { [unowned self] in
            call?.cancel()
            checker.finished(self, passed: false, reason: "health check timed out")
        }
    }

    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {
        switch part {
        case .head:
            return
        case .data(let bytes):
            response += bytes
            call.consume(bytes.count)
        case .trailers(let trailers):
            timer.cancel()
            let status = GRPCStatus(trailers: trailers)
            guard status.code == .ok else {
                return checker.finished(self, passed: false, reason: "health check failed: \(status.code.name) \(status.message)")
            }
            let serving = servingStatus()
            checker.finished(self, passed: serving == 1, reason: "health check status \(serving.map(String.init) ?? "missing")")
        case .failed(let status):
            timer.cancel()
            checker.finished(self, passed: false, reason: "health check failed: \(status.message)")
        }
    }

    /// HealthCheckResponse.status (field 1) of the one framed reply; nil when unreadable.
    private func servingStatus() -> UInt64? {
        guard response.count >= 5, response[0] == 0 else { return nil }
        var index = 5
        var status: UInt64 = 0  // absent: UNKNOWN (0)
        while index < response.count {
            let tag = response[index]
            index += 1
            guard tag == 0x08 else { return nil }
            var shift: UInt64 = 0
            status = 0
            while index < response.count {
                let byte = response[index]
                index += 1
                status |= UInt64(byte & 0x7F) << shift
                shift += 7
                if byte < 0x80 { break }
            }
        }
        return status
    }
}

private func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var bytes: [UInt8] = []
    while value >= 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
        value >>= 7
    }
    return bytes + [UInt8(value)]
}
