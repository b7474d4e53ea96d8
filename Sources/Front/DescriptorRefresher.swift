// Fetches the `rest.reflection` descriptors on a thread of its own, over a pool of its own to the
// cluster, so that a backend that is slow or down never holds up a worker. Fetches follow
// RefreshSchedule: at start (retried with backoff until one succeeds), on each reload (a new
// target) and every `refresh`. A set that differs from the one in effect is handed to the
// gateway, which gives it to the workers; a pinned digest refuses any other set.
import Config
import Logging
import Loop
import Reflection
import Transcode
import Upstream

/// What the gateway asks the refresher to keep fetching: one config generation's `rest` section.
struct ReflectionTarget: Sendable {
    let generation: Int
    let rest: RESTConfig
    let source: ReflectionSourceConfig
    let cluster: UpstreamClusterSettings
    /// The set the generation's REST transcoding was built from, if any (carried over a reload).
    let installed: DescriptorDigest?
}

/// What one fetch brought, for the generation that asked.
enum DescriptorFetchOutcome: Sendable {
    /// A new set, made ready for the workers.
    case fetched(RESTTranscoding, ResolvedDescriptorSet)
    /// The same set as the one in effect.
    case unchanged(ResolvedDescriptorSet)
    case failed(String)
}

/// What /config shows of `rest.reflection`: the set in effect and how the fetches went.
struct ReflectionStatus: Sendable {
    let cluster: String
    let services: [String]
    /// The digest of the set in effect; nil until one is.
    private(set) var digest: String?
    private(set) var files: Int?
    private(set) var fetches = 0
    private(set) var failures = 0
    /// Why the last fetch failed; nil after a success.
    private(set) var lastError: String?

    /// A new target's status: the set it starts with is the previous one's, if it kept it.
    init(_ target: ReflectionTarget, previous: ReflectionStatus?) {
        cluster = target.source.cluster
        services = target.rest.services
        if target.installed != nil {
            digest = previous?.digest
            files = previous?.files
        }
    }

    mutating func record(_ outcome: DescriptorFetchOutcome) {
        fetches += 1
        switch outcome {
        case .fetched(_, let set), .unchanged(let set):
            digest = set.digest.description
            files = set.fileCount
            lastError = nil
        case .failed(let reason):
            failures += 1
            lastError = reason
        }
    }
}

final class DescriptorRefresher: Sendable {
    private let thread: FetchThread<ReflectionTarget?>

    /// `report` is called on the refresher's thread after each fetch.
    init(logger: Logger, report: @escaping @Sendable (Int, DescriptorFetchOutcome) -> Void) throws(GatewayResourceError) {
        thread = try FetchThread(purpose: "fetches rest.reflection descriptors") { loop in
            var fetcher: DescriptorFetcher?
            /// Pools of past targets, kept until their connections have closed.
            var retired: [UpstreamPool] = []
            func stopFetching() {
                retired.removeAll { $0.isIdle }
                guard let old = fetcher else { return }
                old.stop()
                retired.append(old.pool)
                fetcher = nil
            }
            return .init(
                receive: { target in
                    stopFetching()
                    fetcher = target.map { DescriptorFetcher(target: $0, loop: loop, logger: logger, report: report) }
                    fetcher?.start()
                }, stop: stopFetching)
        }
    }

    /// The target of the config in effect; nil: the config fetches nothing.
    func track(_ target: ReflectionTarget?) {
        thread.post(target)
    }

    func stop() {
        thread.stop()
    }
}

/// One target's fetches with ReflectionStreams, when its RefreshTimer says.
private final class DescriptorFetcher {
    let target: ReflectionTarget
    let pool: UpstreamPool
    private let loop: EventLoop
    private let logger: Logger
    private let report: @Sendable (Int, DescriptorFetchOutcome) -> Void
    private var refresh: RefreshTimer!
    private var stream: ReflectionStream?
    /// The version that answered last; the other is tried when it is UNIMPLEMENTED.
    private var version = ReflectionStream.Version.v1
    private var installed: DescriptorDigest?

    init(target: ReflectionTarget, loop: EventLoop, logger: Logger, report: @escaping @Sendable (Int, DescriptorFetchOutcome) -> Void) {
        self.target = target
        self.loop = loop
        self.logger = logger
        self.report = report
        installed = target.installed
        var cluster = target.cluster
        cluster.healthCheck = nil  // the workers' pools check the endpoints
        pool = UpstreamPool(settings: cluster, loop: loop, logger: logger)
        refresh = RefreshTimer(refreshNanoseconds: target.source.refreshNanoseconds, loop: loop) { [unowned self] in
            fetch(version, triedOther: false)
        }
    }

    func start() {
        refresh.start()
    }

    func stop() {
        refresh.stop()
        stream?.cancel()
        stream = nil
        pool.shutdown()
    }

    private func fetch(_ version: ReflectionStream.Version, triedOther: Bool) {
        stream = ReflectionStream(services: target.rest.services, version: version, pool: pool, loop: loop) { [unowned self] outcome in
            stream = nil
            switch outcome {
            case .unimplemented where !triedOther:
                fetch(version.other, triedOther: true)
            case .unimplemented:
                failed("the backend serves neither grpc.reflection.v1 nor grpc.reflection.v1alpha (UNIMPLEMENTED)")
            case .failed(let reason):
                failed(reason)
            case .resolved(let set):
                self.version = version
                received(set)
            }
        }
        stream?.start()
    }

    private func received(_ set: ResolvedDescriptorSet) {
        if let pin = target.source.pin, set.digest.description != pin {
            return failed("the descriptor set's digest is \(set.digest), not the pinned \(pin) (rest.reflection.pin)")
        }
        if set.digest == installed {
            report(target.generation, .unchanged(set))
        } else {
            let transcoding: RESTTranscoding
            do {
                transcoding = try RESTTranscoding(target.rest, descriptorSet: set.serialized)
            } catch {
                return failed("the descriptors do not serve the rest section: \(error)")
            }
            installed = set.digest
            report(target.generation, .fetched(transcoding, set))
        }
        refresh.fetchSucceeded()
    }

    /// What is in effect stays; the next fetch waits out a backoff.
    private func failed(_ reason: String) {
        logger.warning(
            "cannot fetch descriptors by server reflection; the REST API stays as it is",
            metadata: ["cluster": "\(target.source.cluster)", "reason": "\(reason)"])
        report(target.generation, .failed(reason))
        refresh.fetchFailed()
    }
}
