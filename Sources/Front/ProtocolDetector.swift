// A new downstream connection until its first bytes say which protocol it speaks
// (HTTP2Preface); then the worker hands it to an HTTP/1.1 or an HTTP/2 connection, with those
// bytes.
import Loop

/// What the worker asks of each of its downstream connections, whatever their protocol.
protocol DownstreamConnection: AnyObject {
    /// The drain's grace period began: clients are told to move to another instance
    /// (HTTP/1.1 `Connection: close` on the next response; an HTTP/2 GOAWAY notice).
    func closeAfterNextResponse()
    /// Drain: idle connections close now, busy ones once their exchanges end.
    func drain()
}

final class ProtocolDetector {
    let connection: BufferedConnection
    let slot: ListenerSlot
    private unowned(unsafe) let worker: Worker
    let peer: String
    /// The bytes read so far (the preface is 24 bytes: at most a read or two).
    private var received: [UInt8] = []
    private(set) var closeAfterFirstResponse = false

    init(connection: BufferedConnection, slot: ListenerSlot, worker: Worker, peer: String) {
        self.connection = connection
        self.slot = slot
        self.worker = worker
        self.peer = peer
        connection.delegate = self
        connection.setReadTimeout(nanoseconds: slot.context.limits.idleTimeoutNanoseconds)
    }
}

extension ProtocolDetector: DownstreamConnection {
    func closeAfterNextResponse() {
        closeAfterFirstResponse = true
    }

    func drain() {
        connection.close(reason: .endOfStream)
    }
}

extension ProtocolDetector: BufferedConnectionDelegate {
    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) {
        received.append(contentsOf: bytes)
        switch HTTP2Preface.match(received) {
        case .needMore: return
        case .http2: worker.protocolDetected(self, http2: true, firstBytes: received)
        case .http1: worker.protocolDetected(self, http2: false, firstBytes: received)
        }
    }

    func connectionOutputDrained(_ connection: BufferedConnection) {}

    func connectionDidConnect(_ connection: BufferedConnection) {}

    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        if reason == .timeout { slot.context.limits.reportIdleTimeout(to: slot.context.limitReporter) }
        worker.connectionClosed(self, slot: slot)
    }
}
