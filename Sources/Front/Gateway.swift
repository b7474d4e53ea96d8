// Starts the workers, waits for SIGINT/SIGTERM, drains, and returns.
import Config
import Glibc
import Logging
import Loop
import Observability
import Resilience
import Synchronization
import Transcode

public final class Gateway: @unchecked Sendable {
    private let config: FerryConfig
    private let rest: RESTTranscoding?
    private let logger: Logger

    public init(config: FerryConfig, rest: RESTTranscoding?, logger: Logger) {
        self.config = config
        self.rest = rest
        self.logger = logger
    }

    /// Blocks SIGINT and SIGTERM in every thread so that only `waitForShutdownSignal` sees them.
    /// Call before starting any thread.
    public static func blockShutdownSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Waits for SIGINT or SIGTERM and returns its name.
    public static func waitForShutdownSignal() -> String {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        var received: Int32 = 0
        sigwait(&signals, &received)
        return received == SIGINT ? "SIGINT" : "SIGTERM"
    }

    /// Binds every listener on every worker and starts the worker threads. Throws the first
    /// error (for example an address in use) before any worker runs.
    public func start() throws -> RunningGateway {
        let started = ThreadSignal()
        let state = StartState()
        // One breaker and one retry throttle per cluster, shared by its pools on every worker.
        var shared: [String: ClusterLimits] = [:]
        for cluster in config.clusters {
            shared[cluster.name] = ClusterLimits(breaker: CircuitBreaker(thresholds: cluster.breaker),
                                                 throttle: cluster.retryThrottling.map(RetryThrottle.init))
        }
        let limits = shared
        let accessLog = try config.accessLogPath.map { path throws in try AccessLog(path: path) }
        for index in 0..<config.workers {
            let finished = ThreadSignal()
            let config = config
            let rest = rest
            var logger = logger
            logger[metadataKey: "worker"] = "\(index)"
            let workerLogger = logger
            LoopThread.start {
                let worker: Worker
                do {
                    worker = try Worker(config: config, rest: rest, limits: limits, accessLog: accessLog, logger: workerLogger)
                } catch {
                    state.fail(error)
                    started.signal()
                    finished.signal()
                    return
                }
                state.add(waker: worker.drainWaker)
                started.signal()
                worker.run()
                finished.signal()
            }
            state.addFinished(finished)
        }
        for _ in 0..<config.workers { started.wait() }
        let running = RunningGateway(state: state, drainTimeoutNanoseconds: config.drainTimeoutNanoseconds)
        if let error = state.error {
            running.drain()
            throw error
        }
        return running
    }
}

/// Workers reporting in from their threads.
final class StartState: Sendable {
    private struct Reports {
        var wakers: [LoopWaker] = []
        var finished: [ThreadSignal] = []
        var error: Error?
    }

    private let reports = Mutex(Reports())

    var error: Error? { reports.withLock { $0.error } }

    func fail(_ error: Error) {
        reports.withLock { if $0.error == nil { $0.error = error } }
    }

    func add(waker: LoopWaker) {
        reports.withLock { $0.wakers.append(waker) }
    }

    func addFinished(_ signal: ThreadSignal) {
        reports.withLock { $0.finished.append(signal) }
    }

    var snapshot: ([LoopWaker], [ThreadSignal]) {
        reports.withLock { ($0.wakers, $0.finished) }
    }
}

public final class RunningGateway: Sendable {
    private let state: StartState
    private let drainTimeoutNanoseconds: UInt64

    init(state: StartState, drainTimeoutNanoseconds: UInt64) {
        self.state = state
        self.drainTimeoutNanoseconds = drainTimeoutNanoseconds
    }

    /// Stops accepting, lets in-flight calls finish up to the drain timeout. Returns true when
    /// every worker finished in time.
    @discardableResult
    public func drain() -> Bool {
        let (wakers, finished) = state.snapshot
        for waker in wakers { waker.wake() }
        let deadline = ThreadSignal.realtimeNow + drainTimeoutNanoseconds
        return finished.allSatisfy { $0.wait(untilRealtimeNanoseconds: deadline) }
    }
}
