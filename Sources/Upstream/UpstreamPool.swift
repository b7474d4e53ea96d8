// The connections of one worker to one cluster: calls are multiplexed onto HTTP/2 connections
// up to each peer's SETTINGS_MAX_CONCURRENT_STREAMS, another connection opens when all are full
// (up to `maxConnections`), and calls queue beyond that up to `maxPendingRequests`.
import FerryCore
import Logging
import Loop

/// A cluster as the pool needs it.
public struct UpstreamClusterSettings: Sendable {
    public var name: String
    public var endpoints: [SocketAddress]
    /// `:authority` sent upstream; the endpoint's address when nil.
    public var authority: String?
    /// Connections per worker.
    public var maxConnections: Int
    /// Calls waiting for a stream, per worker.
    public var maxPendingRequests: Int
    public var connectTimeoutNanoseconds: UInt64
    /// HTTP/2 PING interval; a PING not answered by the next one closes the connection.
    public var keepaliveIntervalNanoseconds: UInt64?

    public init(name: String, endpoints: [SocketAddress], authority: String? = nil, maxConnections: Int = 4,
                maxPendingRequests: Int = 1024, connectTimeoutNanoseconds: UInt64 = 2_000_000_000,
                keepaliveIntervalNanoseconds: UInt64? = 30_000_000_000) {
        self.name = name
        self.endpoints = endpoints
        self.authority = authority
        self.maxConnections = maxConnections
        self.maxPendingRequests = maxPendingRequests
        self.connectTimeoutNanoseconds = connectTimeoutNanoseconds
        self.keepaliveIntervalNanoseconds = keepaliveIntervalNanoseconds
    }
}

public final class UpstreamPool {
    public let settings: UpstreamClusterSettings
    private let loop: EventLoop
    private let logger: Logger
    private var connections: [HTTP2ClientConnection] = []
    /// FIFO of calls waiting for a stream; `pendingHead` avoids O(n) removal at the front.
    private var pending: [UpstreamCall] = []
    private var pendingHead = 0
    private var nextEndpoint = 0
    /// Streams a connection still being set up is expected to take (HTTP/2's initial
    /// unlimited SETTINGS_MAX_CONCURRENT_STREAMS, capped as servers commonly do).
    private static let assumedStreamsPerNewConnection = 100

    public init(settings: UpstreamClusterSettings, loop: EventLoop, logger: Logger) {
        self.settings = settings
        self.loop = loop
        self.logger = logger
    }

    private var pendingCount: Int { pending.count - pendingHead }

    /// Sends `call` on a connection with a free stream, or queues it. A call the pool cannot
    /// take fails at once with UNAVAILABLE naming the limit.
    public func start(_ call: UpstreamCall) {
        if let connection = connections.first(where: { $0.hasCapacity }) {
            connection.start(call)
            return
        }
        guard pendingCount < settings.maxPendingRequests else {
            call.deliver(.failed(GRPCStatus(.unavailable,
                "cluster '\(settings.name)': too many pending requests (max_pending_requests \(settings.maxPendingRequests))")))
            return
        }
        call.state = .queued
        pending.append(call)
        openConnectionIfNeeded()
    }

    /// Closes idle connections and lets busy ones finish (drain).
    public func shutdown() {
        for connection in connections { connection.shutdown() }
    }

    private func openConnectionIfNeeded() {
        let connecting = connections.filter { $0.state == .connecting }.count
        guard pendingCount > connecting * UpstreamPool.assumedStreamsPerNewConnection,
              connections.count < settings.maxConnections, !settings.endpoints.isEmpty else { return }
        let endpoint = settings.endpoints[nextEndpoint % settings.endpoints.count]
        nextEndpoint += 1
        do {
            connections.append(try HTTP2ClientConnection(pool: self, loop: loop, endpoint: endpoint))
        } catch {
            failPending("upstream connect to \(endpoint) (cluster \(settings.name)) failed: \(error)")
        }
    }

    private func dispatchPending() {
        while pendingCount > 0, let connection = connections.first(where: { $0.hasCapacity }) {
            let call = pending[pendingHead]
            pendingHead += 1
            if !call.isFinished { connection.start(call) }
        }
        compactPending()
        if pendingCount > 0 { openConnectionIfNeeded() }
    }

    private func compactPending() {
        if pendingHead > 64 && pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        } else if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
    }

    private func failPending(_ message: String) {
        let failed = pending[pendingHead...]
        pending.removeAll()
        pendingHead = 0
        for call in failed where !call.isFinished {
            call.deliver(.failed(GRPCStatus(.unavailable, message)))
        }
    }

    func connectionReady(_ connection: HTTP2ClientConnection) {
        logger.debug("upstream connected", metadata: ["cluster": "\(settings.name)", "endpoint": "\(connection.endpoint)"])
        dispatchPending()
    }

    func capacityChanged(_ connection: HTTP2ClientConnection) {
        dispatchPending()
    }

    func connectionClosed(_ connection: HTTP2ClientConnection, wasConnecting: Bool, message: String) {
        connections.removeAll { $0 === connection }
        logger.info("upstream connection closed", metadata: ["cluster": "\(settings.name)", "reason": "\(message)"])
        if wasConnecting && !connections.contains(where: { $0.state == .connecting || $0.state == .ready }) {
            failPending(message)
        } else {
            dispatchPending()
        }
    }
}
