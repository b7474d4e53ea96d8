// Starts the workers and the admin listener; reloads the config (SIGHUP, POST /reload) and
// drains (SIGTERM, SIGINT) while they run.
import Admin
import Config
import Glibc
import Logging
import Loop
import Reflection
import Synchronization
import Transcode
import Upstream

/// Reads the config and descriptor files again, for a reload; throws the reason it cannot.
public typealias ConfigSource = @Sendable () throws -> (FerryConfig, RESTTranscoding?)

public enum Gateway {
    /// The signals the main thread waits for; blocked in every thread before any starts, so
    /// that only `waitForSignal` sees them.
    public enum ControlSignal: Sendable {
        case interrupt, terminate, hangUp

        public var name: String {
            switch self {
            case .interrupt: "SIGINT"
            case .terminate: "SIGTERM"
            case .hangUp: "SIGHUP"
            }
        }
    }

    private static var controlSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGHUP)
        return signals
    }

    /// Call before starting any thread.
    public static func blockControlSignals() {
        var signals = controlSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    public static func waitForSignal() -> ControlSignal {
        var signals = controlSignals
        var received: Int32 = 0
        sigwait(&signals, &received)
        switch received {
        case SIGINT: return .interrupt
        case SIGHUP: return .hangUp
        default: return .terminate
        }
    }

    /// Loads every file the config names that starting reads (certificates, keys, CAs, the
    /// admin token, JWK sets and secrets), as starting would: the reason (with its config key path) when one does
    /// not load (`ferry check`).
    public static func checkFiles(_ config: FerryConfig) throws {
        _ = try GatewayResources.tlsContexts(config)
        if let tokenFile = config.admin?.tokenFile { _ = try AdminToken(contentsOfFile: tokenFile) }
        for (index, provider) in config.jwtProviders.enumerated() {
            _ = try AuthProvider(provider, index: index, clusters: config.clusters, previous: nil)
        }
    }

    /// Binds every listener on every worker, then the admin listener, and starts serving.
    /// Throws the first error (an address in use, a certificate that does not load) before
    /// any worker serves.
    public static func start(
        config: FerryConfig, rest: RESTTranscoding?, logger: Logger,
        reloadSource: ConfigSource?
    ) throws -> RunningGateway {
        let plan = WorkerPlan(config: config, rest: rest, resources: try GatewayResources(config: config, previous: nil))
        let started = Replies<Result<LoopMailbox<WorkerMessage>, GatewayStartError>>()
        var finished: [ThreadSignal] = []
        for index in 0..<config.workers {
            let done = ThreadSignal()
            finished.append(done)
            var logger = logger
            logger[metadataKey: "worker"] = "\(index)"
            let workerLogger = logger
            LoopThread.start {
                let worker: Worker
                do {
                    worker = try Worker(plan: plan, logger: workerLogger)
                } catch {
                    started.reply(.failure(GatewayStartError(description: "\(error)")))
                    done.signal()
                    return
                }
                started.reply(.success(worker.mailbox))
                worker.run()
                done.signal()
            }
        }
        var mailboxes: [LoopMailbox<WorkerMessage>] = []
        var failure: GatewayStartError?
        for result in started.wait(count: config.workers, timeoutNanoseconds: 60_000_000_000) {
            switch result {
            case .success(let mailbox): mailboxes.append(mailbox)
            case .failure(let error): failure = failure ?? error
            }
        }
        let running = RunningGateway(
            plan: plan, mailboxes: mailboxes, finished: finished, logger: logger,
            reloadSource: reloadSource)
        if let failure {
            running.drain(graceNanoseconds: 0)
            throw failure
        }
        do {
            try running.fetchKeySets(plan)
            try running.fetchDescriptors(plan, generation: 0, installed: nil)
        } catch {
            running.drain(graceNanoseconds: 0)
            throw GatewayStartError(description: "\(error)")
        }
        if let admin = config.admin {
            do {
                try running.startAdmin(admin)
            } catch {
                running.drain(graceNanoseconds: 0)
                throw GatewayStartError(description: "admin listener: \(error)")
            }
        }
        return running
    }
}

public struct GatewayStartError: Error, CustomStringConvertible {
    public var description: String
}

/// What a reload did.
public enum ReloadOutcome: Sendable {
    case applied
    /// Nothing changed: the reason, with the config key path when the config was at fault.
    case rejected(String)
    /// The config was applied, but these parts failed (a new listener address in use).
    case partlyApplied([String])
}

public final class RunningGateway: Sendable {
    private struct State {
        var plan: WorkerPlan
        /// Counts the plans a reload made, so that descriptors fetched for an older one are dropped.
        var generation = 0
        var admin: AdminServer?
        /// Started by the first plan with a `jwks_uri` issuer.
        var keyRefresher: KeySetRefresher?
        /// Started by the first plan whose `rest` descriptors come from server reflection.
        var descriptorRefresher: DescriptorRefresher?
        /// The last set fetched by reflection: a reload serves it while it fetches again.
        var reflectedSet: ResolvedDescriptorSet?
        /// What /config shows of the reflection fetches.
        var reflection: ReflectionStatus?
    }

    private let mailboxes: [LoopMailbox<WorkerMessage>]
    private let finished: [ThreadSignal]
    private let state: Mutex<State>
    /// Held for a whole reload, so that two at once (SIGHUP and POST /reload) run in turn.
    private let reloading = Mutex<Void>(())
    private let draining = Atomic<Bool>(false)
    private let reloadSource: ConfigSource?
    private let logger: Logger

    fileprivate init(
        plan: WorkerPlan, mailboxes: [LoopMailbox<WorkerMessage>], finished: [ThreadSignal], logger: Logger,
        reloadSource: ConfigSource?
    ) {
        state = Mutex(State(plan: plan))
        self.mailboxes = mailboxes
        self.finished = finished
        self.logger = logger
        self.reloadSource = reloadSource
    }

    fileprivate func startAdmin(_ config: AdminConfig) throws {
        let token = try config.tokenFile.map { path throws(AdminToken.LoadError) in try AdminToken(contentsOfFile: path) }
        let admin = try AdminServer.start(
            address: try SocketAddress(parsing: config.address), handler: AdminEndpoints(gateway: self, token: token))
        state.withLock { $0.admin = admin }
    }

    /// Hands the plan's issuers to the key refresher, which fetches the `jwks_uri` sets.
    fileprivate func fetchKeySets(_ plan: WorkerPlan) throws(GatewayResourceError) {
        let providers = Array(plan.resources.authProviders.values)
        let refresher = try state.withLock { state throws(GatewayResourceError) -> KeySetRefresher? in
            if state.keyRefresher == nil && providers.contains(where: { $0.remote != nil }) {
                state.keyRefresher = try KeySetRefresher(logger: logger)
            }
            return state.keyRefresher
        }
        refresher?.track(providers)
    }

    /// Hands the plan's `rest.reflection` (or that there is none) to the descriptor refresher.
    /// `installed`: the digest of the set the plan's REST transcoding was built from.
    fileprivate func fetchDescriptors(_ plan: WorkerPlan, generation: Int, installed: DescriptorDigest?) throws(GatewayResourceError) {
        var target: ReflectionTarget?
        if let rest = plan.config.rest, case .reflection(let source) = rest.descriptors,
            let cluster = plan.config.clusters.first(where: { $0.name == source.cluster })
        {
            target = ReflectionTarget(
                generation: generation, rest: rest, source: source,
                cluster: UpstreamClusterSettings(cluster, tlsContext: plan.resources.clusterTLS[cluster.name]), installed: installed)
        }
        let refresher = try state.withLock { state throws(GatewayResourceError) -> DescriptorRefresher? in
            state.reflection = target.map { ReflectionStatus($0, previous: state.reflection) }
            if state.descriptorRefresher == nil && target != nil {
                state.descriptorRefresher = try DescriptorRefresher(logger: logger) { [weak self] generation, outcome in
                    self?.descriptorsFetched(outcome, generation: generation)
                }
            }
            return state.descriptorRefresher
        }
        refresher?.track(target)
    }

    /// A fetch for `generation` ended: a new set goes to the workers (as a reload with the same
    /// config would), unless a reload has made a newer plan meanwhile.
    private func descriptorsFetched(_ outcome: DescriptorFetchOutcome, generation: Int) {
        reloading.withLock { _ in
            guard !isDraining else { return }
            let plan = state.withLock { state -> WorkerPlan? in
                guard state.generation == generation else { return nil }
                state.reflection?.record(outcome)
                guard case .fetched(let transcoding, let set) = outcome else { return nil }
                state.reflectedSet = set
                state.plan = WorkerPlan(config: state.plan.config, rest: transcoding, resources: state.plan.resources)
                return state.plan
            }
            guard let plan, case .fetched(_, let set) = outcome else { return }
            // Not waited for: a worker that drains meanwhile would not answer.
            let replies = Replies<[String]>()
            for mailbox in mailboxes { mailbox.post(.reload(plan, replies)) }
            logger.info(
                "descriptors from server reflection in effect",
                metadata: [
                    "digest": "\(set.digest)", "files": "\(set.fileCount)",
                    "rules": "\(plan.rest?.catalog.routes.rules.count ?? 0)",
                ])
        }
    }

    /// The config in effect (the last one reloaded).
    public var config: FerryConfig { state.withLock { $0.plan.config } }
    /// The REST transcoding in effect, when the config has a `rest` section.
    var rest: RESTTranscoding? { state.withLock { $0.plan.rest } }
    /// Why REST is not served yet (its descriptors are still to come from reflection), or nil.
    var restUnavailable: String? { state.withLock { $0.plan.restUnavailable } }
    /// The reflection fetches' state, when the `rest` descriptors come from reflection.
    var reflectionStatus: ReflectionStatus? { state.withLock { $0.reflection } }
    var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Every worker's counts and pools, or what arrived within a second.
    func snapshots() -> [WorkerSnapshot] {
        let replies = Replies<WorkerSnapshot>()
        for mailbox in mailboxes { mailbox.post(.snapshot(replies)) }
        return replies.wait(count: mailboxes.count, timeoutNanoseconds: 1_000_000_000)
    }

    /// Reads the config and descriptors again and hands them to the workers. An invalid
    /// config changes nothing; calls in flight and open connections continue either way.
    public func reload() -> ReloadOutcome {
        reloading.withLock { _ in
            guard let reloadSource else { return .rejected("this gateway has no config file to reload") }
            guard !isDraining else { return .rejected("draining") }
            let plan: WorkerPlan
            var installed: DescriptorDigest?
            do {
                var (config, rest) = try reloadSource()
                let current = self.config
                if config.workers != current.workers || config.admin != current.admin {
                    throw GatewayResourceError(description: "workers and admin take effect only on restart (they changed)")
                }
                // Descriptors from reflection: the last set serves while the new one is fetched
                // (unless the new section needs more of it, such as another service).
                if rest == nil, let restConfig = config.rest, case .reflection = restConfig.descriptors,
                    let set = state.withLock({ $0.reflectedSet }),
                    let kept = try? RESTTranscoding(restConfig, descriptorSet: set.serialized)
                {
                    rest = kept
                    installed = set.digest
                }
                plan = WorkerPlan(
                    config: config, rest: rest,
                    resources: try GatewayResources(config: config, previous: state.withLock { $0.plan.resources }))
            } catch {
                logger.error("reload rejected; the running config stays", metadata: ["reason": "\(error)"])
                return .rejected("\(error)")
            }
            let replies = Replies<[String]>()
            for mailbox in mailboxes { mailbox.post(.reload(plan, replies)) }
            var failures = Set(replies.wait(count: mailboxes.count, timeoutNanoseconds: 10_000_000_000).joined()).sorted()
            let generation = state.withLock { state in
                state.plan = plan
                state.generation += 1
                return state.generation
            }
            do {
                try fetchKeySets(plan)
                try fetchDescriptors(plan, generation: generation, installed: installed)
            } catch {
                failures.append("\(error)")
            }
            if failures.isEmpty {
                logger.info(
                    "config reloaded",
                    metadata: [
                        "listeners": "\(plan.config.listeners.count)",
                        "clusters": "\(plan.config.clusters.count)",
                    ])
                return .applied
            }
            logger.error("config reloaded with failures", metadata: ["failures": "\(failures.joined(separator: "; "))"])
            return .partlyApplied(failures)
        }
    }

    /// Drain: `/ready` answers 503 at once and responses close their connections (as Envoy's
    /// drain does), while the listeners still accept; after `graceNanoseconds` they stop
    /// accepting and idle connections close; in-flight calls finish up to the drain timeout.
    /// Returns true when every worker finished in time.
    @discardableResult
    public func drain(graceNanoseconds: UInt64) -> Bool {
        draining.store(true, ordering: .relaxed)
        if graceNanoseconds > 0 {
            for mailbox in mailboxes { mailbox.post(.drainGrace) }
            var time = timespec(tv_sec: Int(graceNanoseconds / 1_000_000_000), tv_nsec: Int(graceNanoseconds % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&time, &remaining) != 0 && errno == EINTR { time = remaining }
        }
        for mailbox in mailboxes { mailbox.post(.drain) }
        let deadline = ThreadSignal.realtimeNow + config.drainTimeoutNanoseconds
        let done = finished.allSatisfy { $0.wait(untilRealtimeNanoseconds: deadline) }
        // Outside the lock: a refresher's thread may be waiting for it to report a fetch.
        let (admin, keyRefresher, descriptorRefresher) = state.withLock { ($0.admin, $0.keyRefresher, $0.descriptorRefresher) }
        admin?.stop()
        keyRefresher?.stop()
        descriptorRefresher?.stop()
        return done
    }
}
