// A TCP connection as a libevent bufferevent: the border between Ferry's state machines and
// the socket. Reads arrive as byte chunks, writes are queued in the output buffer.
import CLibevent

/// What a connection reports to its owner. Every call happens on the loop's thread.
public protocol BufferedConnectionDelegate: AnyObject {
    /// Bytes arrived; read them with `consumeInput`.
    func connectionHasInput(_ connection: BufferedConnection)
    /// The output buffer drained to the low watermark set with `setOutputLowWatermark`.
    func connectionOutputDrained(_ connection: BufferedConnection)
    /// An outgoing connect completed.
    func connectionDidConnect(_ connection: BufferedConnection)
    /// The peer closed, an error happened, or a timeout fired. The connection is unusable.
    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason)
}

public enum ConnectionCloseReason: Equatable, CustomStringConvertible {
    case endOfStream
    case timeout
    case error(String)

    public var description: String {
        switch self {
        case .endOfStream: "connection closed by peer"
        case .timeout: "timed out"
        case .error(let reason): reason
        }
    }
}

public final class BufferedConnection {
    private var bev: OpaquePointer?
    public weak var delegate: BufferedConnectionDelegate?
    private var closeWhenFlushed = false
    /// Keeps the event_base alive as long as the bufferevent exists.
    private let loop: EventLoop

    /// Wraps an accepted socket (already non-blocking).
    public init(loop: EventLoop, acceptedSocket fd: Int32) throws {
        self.loop = loop
        setNoDelay(fd)
        guard let bev = bufferevent_socket_new(loop.base, fd, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else {
            evutil_closesocket(fd)
            throw LoopError.libevent("bufferevent_socket_new")
        }
        self.bev = bev
        installCallbacks()
        bufferevent_enable(bev, Int16(EV_READ | EV_WRITE))
    }

    /// Starts a connect to `address`; `connectionDidConnect` or `didCloseWith` follows, unless
    /// the connect fails at once, which throws.
    public init(loop: EventLoop, connectingTo address: SocketAddress) throws {
        self.loop = loop
        guard let bev = bufferevent_socket_new(loop.base, -1, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else {
            throw LoopError.libevent("bufferevent_socket_new")
        }
        self.bev = bev
        installCallbacks()
        guard address.withSockaddr({ bufferevent_socket_connect(bev, $0, $1) }) == 0 else {
            throw LoopError.connectFailed(address: address.description, reason: systemErrorDescription())
        }
        bufferevent_enable(bev, Int16(EV_READ | EV_WRITE))
    }

    deinit {
        if let bev { bufferevent_free(bev) }
    }

    public var isOpen: Bool { bev != nil && !closeWhenFlushed }

    private func installCallbacks() {
        let context = Unmanaged.passUnretained(self).toOpaque()
        bufferevent_setcb(bev, { _, context in
            let connection = Unmanaged<BufferedConnection>.fromOpaque(context!).takeUnretainedValue()
            connection.delegate?.connectionHasInput(connection)
        }, { _, context in
            let connection = Unmanaged<BufferedConnection>.fromOpaque(context!).takeUnretainedValue()
            connection.outputDrained()
        }, { _, events, context in
            let connection = Unmanaged<BufferedConnection>.fromOpaque(context!).takeUnretainedValue()
            connection.handleEvents(events)
        }, context)
    }

    private func outputDrained() {
        if closeWhenFlushed {
            if outputLength == 0 { close(reason: .endOfStream) }
            return
        }
        delegate?.connectionOutputDrained(self)
    }

    private func handleEvents(_ events: Int16) {
        if events & Int16(BEV_EVENT_CONNECTED) != 0 {
            if let fd = bev.map({ bufferevent_getfd($0) }) { setNoDelay(fd) }
            delegate?.connectionDidConnect(self)
            return
        }
        let reason: ConnectionCloseReason
        if events & Int16(BEV_EVENT_TIMEOUT) != 0 {
            reason = .timeout
        } else if events & Int16(BEV_EVENT_ERROR) != 0 {
            reason = .error(systemErrorDescription())
        } else {
            reason = .endOfStream
        }
        close(reason: reason)
    }

    /// Frees the socket now and reports `reason` to the delegate (once).
    public func close(reason: ConnectionCloseReason) {
        guard let bev else { return }
        self.bev = nil
        bufferevent_free(bev)
        delegate?.connection(self, didCloseWith: reason)
    }

    /// Closes once everything written so far has reached the socket.
    public func closeAfterFlush() {
        guard let bev, !closeWhenFlushed else { return }
        closeWhenFlushed = true
        bufferevent_disable(bev, Int16(EV_READ))
        bufferevent_setwatermark(bev, Int16(EV_WRITE), 0, 0)
        if outputLength == 0 { close(reason: .endOfStream) }
    }

    /// Hands every buffered input chunk to `body`, then drains what it read.
    public func consumeInput(_ body: (UnsafeRawBufferPointer) -> Void) {
        guard let bev, let input = bufferevent_get_input(bev) else { return }
        let total = evbuffer_get_length(input)
        guard total > 0 else { return }
        let count = evbuffer_peek(input, -1, nil, nil, 0)
        if count > 0 {
            withUnsafeTemporaryAllocation(of: iovec.self, capacity: Int(count)) { vectors in
                let filled = evbuffer_peek(input, -1, nil, vectors.baseAddress, count)
                for index in 0..<Int(filled) {
                    body(UnsafeRawBufferPointer(start: vectors[index].iov_base, count: vectors[index].iov_len))
                }
            }
        }
        evbuffer_drain(input, total)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard let bev, !closeWhenFlushed, bytes.count > 0 else { return }
        bufferevent_write(bev, bytes.baseAddress, bytes.count)
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Bytes queued for the socket.
    public var outputLength: Int {
        guard let bev else { return 0 }
        return evbuffer_get_length(bufferevent_get_output(bev))
    }

    /// `connectionOutputDrained` fires when the output falls to `bytes` or below.
    public func setOutputLowWatermark(_ bytes: Int) {
        guard let bev else { return }
        bufferevent_setwatermark(bev, Int16(EV_WRITE), bytes, 0)
    }

    /// Stops or resumes reading from the socket (backpressure towards the peer).
    public func setReading(_ enabled: Bool) {
        guard let bev, !closeWhenFlushed else { return }
        if enabled { bufferevent_enable(bev, Int16(EV_READ)) } else { bufferevent_disable(bev, Int16(EV_READ)) }
    }

    /// A read timeout: the connection closes with `.timeout` when no byte arrives for this
    /// long while reading is enabled. nil turns it off.
    public func setReadTimeout(nanoseconds: UInt64?) {
        guard let bev else { return }
        if let nanoseconds {
            var tv = timeval(nanoseconds: nanoseconds)
            bufferevent_set_timeouts(bev, &tv, nil)
        } else {
            bufferevent_set_timeouts(bev, nil, nil)
        }
    }
}

/// Small messages must leave at once: Nagle's algorithm with delayed ACKs adds 40+ ms.
private func setNoDelay(_ fd: Int32) {
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
}
