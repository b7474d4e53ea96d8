// Fetches the JWK sets of `jwks_uri` issuers on a thread of its own (a FetchThread), so that a
// slow or unreachable issuer (a name resolved by libevent, a TLS handshake, a 10-second timeout)
// never holds up a worker. Each issuer's fetches follow RefreshSchedule; a fetched set replaces the
// issuer's keys for every worker at once. Started by the first config with such an issuer.
import Auth
import Logging
import Loop

final class KeySetRefresher: Sendable {
    enum Message: Sendable {
        /// The providers of the config in effect: fetch for the new ones, forget the others.
        case track([AuthProvider])
        case keyMissing(AuthProvider)
    }

    private let thread: FetchThread<Message>

    init(logger: Logger) throws(GatewayResourceError) {
        thread = try FetchThread(purpose: "fetches jwks_uri key sets") { loop in
            let fetchers = KeySetFetchers(loop: loop, logger: logger)
            return .init(receive: fetchers.receive, stop: fetchers.stop)
        }
    }

    func track(_ providers: [AuthProvider]) {
        let remote = providers.filter { $0.remote != nil }
        for provider in remote {
            // Weak: the provider keeps this closure, which must not keep the provider.
            provider.onKeyMissing { [thread, weak provider] in
                if let provider { thread.post(.keyMissing(provider)) }
            }
        }
        thread.post(.track(remote))
    }

    func stop() {
        thread.stop()
    }
}

/// The refresher's loop side: one fetcher per tracked issuer.
private final class KeySetFetchers {
    let loop: EventLoop
    let logger: Logger
    private var fetchers: [ObjectIdentifier: KeySetFetcher] = [:]

    init(loop: EventLoop, logger: Logger) {
        self.loop = loop
        self.logger = logger
    }

    func receive(_ message: KeySetRefresher.Message) {
        switch message {
        case .track(let providers):
            let wanted = Set(providers.map(ObjectIdentifier.init))
            for (id, fetcher) in fetchers where !wanted.contains(id) {
                fetcher.stop()
                fetchers[id] = nil
            }
            for provider in providers where fetchers[ObjectIdentifier(provider)] == nil {
                let fetcher = KeySetFetcher(provider: provider, loop: loop, logger: logger)
                fetchers[ObjectIdentifier(provider)] = fetcher
                fetcher.start()
            }
        case .keyMissing(let provider):
            fetchers[ObjectIdentifier(provider)]?.keyMissing()
        }
    }

    func stop() {
        for fetcher in fetchers.values { fetcher.stop() }
        fetchers = [:]
    }
}

/// One issuer's fetches, when its RefreshTimer says.
private final class KeySetFetcher {
    /// A JWK set is a few KiB; anything near this is not one.
    static let maxBodyBytes = 1 << 20
    static let timeoutSeconds: Int32 = 10

    private let provider: AuthProvider
    private let source: RemoteKeySource
    private let loop: EventLoop
    private let logger: Logger
    private var refresh: RefreshTimer!
    /// Fetches go to the cluster's endpoints in turn.
    private var nextEndpoint = 0

    init(provider: AuthProvider, loop: EventLoop, logger: Logger) {
        self.provider = provider
        source = provider.remote!
        self.loop = loop
        self.logger = logger
        refresh = RefreshTimer(refreshNanoseconds: source.config.refreshNanoseconds, loop: loop) { [unowned self] in fetch() }
    }

    func start() {
        refresh.start()
    }

    func keyMissing() {
        refresh.staleCopyFound()
    }

    func stop() {
        refresh.stop()
    }

    private func fetch() {
        guard !source.endpoints.isEmpty else { return failed("cluster '\(source.config.cluster)' has no endpoint") }
        let endpoint = source.endpoints[nextEndpoint % source.endpoints.count]
        nextEndpoint &+= 1
        let target = HTTPFetch.Target(
            host: endpoint.host, port: endpoint.port, authority: source.config.authority, path: source.config.path, tls: source.tls)
        HTTPFetch.get(target, on: loop, timeoutSeconds: Self.timeoutSeconds, maxBodyBytes: Self.maxBodyBytes) { [self] result in
            guard !refresh.isStopped else { return }
            switch result {
            case .failure(let error): failed("\(endpoint.host):\(endpoint.port): \(error)")
            case .success(let response) where response.status != 200:
                failed("\(endpoint.host):\(endpoint.port) answered HTTP \(response.status)")
            case .success(let response):
                do {
                    let keys = try AuthProvider.keySet(response.body, source: "the set")
                    provider.install(keys)
                    logger.info(
                        "issuer keys fetched",
                        metadata: ["issuer": "\(provider.name)", "uri": "\(source.config.uri)", "keys": "\(keys.count)"])
                    refresh.fetchSucceeded()
                } catch {
                    failed("\(error)")
                }
            }
        }
    }

    /// The keys stay as they were; the next fetch waits out a backoff.
    private func failed(_ reason: String) {
        logger.warning(
            "cannot fetch issuer keys; the keys stay as they were",
            metadata: ["issuer": "\(provider.name)", "uri": "\(source.config.uri)", "reason": "\(reason)"])
        refresh.fetchFailed()
    }
}
