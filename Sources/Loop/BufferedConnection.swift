// A TCP connection on the loop: the border between Ferry's state machines and the socket.
//
// Built on plain events rather than bufferevents, to spend as few system calls as possible:
// - a read is one recv into the loop's shared read buffer, handed to the delegate, which parses
//   or copies what it needs (no input buffer per connection, no FIONREAD before each read);
// - writes are gathered and leave with one system call at the end of the loop iteration
//   (`EventLoop.run`), so a response written in pieces, or many responses produced by one
//   upstream read, cost one system call per connection. On a plain-text socket with nothing
//   waiting, they gather in a block of memory the loop lends (`StagedOutput`, one `send`);
//   what the socket does not take, and all TLS output, waits in an evbuffer (writev, or
//   SSL_write);
// - the write event is armed only while the socket is full, so a response that fits costs no
//   epoll_ctl.
//
// With TLS, the same loop drives an OpenSSL session on the socket: reads go through SSL_read
// until it wants more bytes, queued output through SSL_write in records of up to 16 KiB.
import CLibevent
import COpenSSL
import Glibc

/// What a connection reports to its owner. Every call happens on the loop's thread.
public protocol BufferedConnectionDelegate: AnyObject {
    /// Bytes arrived. They are valid only during the call.
    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer)
    /// The output queue fell to the low watermark set with `setOutputLowWatermark` after having
    /// been above it.
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

public final class BufferedConnection: LoopFlushable {
    private enum State {
        case connecting
        case open
        /// Nothing more is queued; closes when the output is written (input is dropped
        /// meanwhile when lingering).
        case closingAfterFlush
        /// Output written and shut down (FIN sent); input is read and dropped until the peer
        /// closes or the linger time ends (a lingering close).
        case lingering
        case closed
    }

    /// Not retained, and not weak either (weak references put every retain and release of the
    /// delegate on a slow path): owners keep the delegate alive until `didCloseWith`, after
    /// which a connection never calls it again.
    public unowned(unsafe) var delegate: BufferedConnectionDelegate?
    public let loop: EventLoop
    private var fd: Int32
    private var state: State
    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private let output: OpaquePointer
    /// Plain-text output written since the last flush while `output` was empty.
    private var staged = StagedOutput()
    private var reading = true
    /// The read timeout closes nothing until released (`holdReadTimeout`).
    private var readTimeoutHeld = false
    /// The read event's timeout is the rest of one that ran while held (`readTimedOut`), not
    /// the whole `readTimeoutNanoseconds`.
    private var readTimeoutShortened = false
    /// The read event is pending in the loop (added and not deleted since).
    private var readEventAdded = false
    private var writeEventArmed = false
    /// The read timeout, 0 for none.
    private var readTimeoutNanoseconds: UInt64 = 0
    /// When a hold of the read timeout last ended (`loop.iterationNow`).
    private var readTimeoutReleased: UInt64 = 0
    private var outputLowWatermark = 0
    private var outputAboveWatermark = false
    public var flushScheduled = false
    /// Set by `closeAfterFlush(lingering:)`: ends the lingering close.
    private var lingerTimer: LoopTimer?
    // TLS: the session, whether its handshake is still running, what a client verifies, and
    // the state OpenSSL asks to keep between non-blocking calls.
    private var tls: TLSSession?
    private var handshaking = false
    private var tlsClient: TLSClientSetup?
    /// A write that wanted the socket (or a read) again: retried with the same length.
    private var tlsRetryWriteLength = 0
    private var tlsWriteWantsWritable = false
    private var tlsReadWantsWritable = false

    /// Wraps an accepted socket (already non-blocking); with `tls`, a TLS server handshake
    /// runs before any bytes reach the delegate.
    public init(loop: EventLoop, acceptedSocket fd: Int32, tls context: TLSContext? = nil) throws {
        self.loop = loop
        self.fd = fd
        state = .open
        guard let output = evbuffer_new() else {
            Glibc.close(fd)
            throw LoopError.libevent("evbuffer_new")
        }
        self.output = output
        setNoDelay(fd)
        if let context {
            do {
                tls = try TLSSession(context: context, fd: fd, client: nil)
            } catch {
                Glibc.close(fd)
                throw error
            }
            handshaking = true
        }
        try makeReadEvent()
        updateReadEvent()
    }

    /// Starts a connect to `address`; `connectionDidConnect` (after the TLS handshake, with
    /// `tls`) or `didCloseWith` follows, unless the connect fails at once, which throws.
    public init(loop: EventLoop, connectingTo address: SocketAddress, tls: TLSClientSetup? = nil) throws {
        self.loop = loop
        tlsClient = tls
        state = .connecting
        guard let output = evbuffer_new() else { throw LoopError.libevent("evbuffer_new") }
        self.output = output
        fd = address.withSockaddr { sockaddr, _ in
            socket(
                Int32(sockaddr.pointee.sa_family),
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        guard fd >= 0 else {
            evbuffer_free(output)
            throw LoopError.connectFailed(address: address.description, reason: systemErrorDescription())
        }
        let result = address.withSockaddr { Glibc.connect(fd, $0, socklen_t($1)) }
        guard result == 0 || errno == EINPROGRESS else {
            let reason = systemErrorDescription()
            Glibc.close(fd)
            evbuffer_free(output)
            throw LoopError.connectFailed(address: address.description, reason: reason)
        }
        try makeReadEvent()
        // The socket becomes writable when the connect completes, either way.
        armWriteEvent(true)
    }

    deinit {
        staged.release(to: loop)
        freeEvents()
        evbuffer_free(output)
    }

    private func makeReadEvent() throws {
        let context = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(
            loop.base, fd, Int16(EV_READ | EV_PERSIST),
            { _, what, context in
                // Kept alive through the callback: closing can release the owner's last reference,
                // and the TLS paths still look at their state after a close.
                let connection = Unmanaged<BufferedConnection>.fromOpaque(context!).takeUnretainedValue()
                withExtendedLifetime(connection) { connection.readable(timedOut: what & Int16(EV_TIMEOUT) != 0) }
            }, context)
        guard readEvent != nil else {
            Glibc.close(fd)
            fd = -1
            state = .closed
            throw LoopError.libevent("event_new")
        }
    }

    /// The write event, made when a write first has to wait: most connections' writes go out
    /// at once, and an idle connection then holds one event instead of two (issue 19).
    private func makeWriteEvent() -> OpaquePointer? {
        event_new(
            loop.base, fd, Int16(EV_WRITE | EV_PERSIST),
            { _, _, context in
                let connection = Unmanaged<BufferedConnection>.fromOpaque(context!).takeUnretainedValue()
                withExtendedLifetime(connection) { connection.writable() }
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func freeEvents() {
        if let readEvent { event_free(readEvent) }
        if let writeEvent { event_free(writeEvent) }
        readEvent = nil
        readEventAdded = false
        writeEvent = nil
    }

    // MARK: Events

    private func readable(timedOut: Bool) {
        if timedOut {
            readTimedOut()
            return
        }
        // A byte came: the timeout runs its whole length again (libevent restarted the rest).
        if readTimeoutShortened { updateReadEvent() }
        if lingerTimer != nil {
            dropInput()
            return
        }
        if let tls {
            readTLS(tls)
            return
        }
        let buffer = loop.readBuffer
        let count = recv(fd, buffer.baseAddress, buffer.count, 0)
        if count > 0 {
            delegate?.connection(self, received: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        } else if count == 0 {
            close(reason: .endOfStream)
        } else if errno != EAGAIN && errno != EINTR {
            close(reason: .error(systemErrorDescription()))
        }
    }

    private func writable() {
        if state == .connecting {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                close(reason: .error(String(cString: strerror(error))))
                return
            }
            state = .open
            setNoDelay(fd)
            armWriteEvent(false)
            updateReadEvent()
            if let client = tlsClient {
                tlsClient = nil
                do {
                    tls = try TLSSession(context: client.context, fd: fd, client: client)
                } catch {
                    close(reason: .error("TLS: \(error)"))
                    return
                }
                handshaking = true
                continueHandshake()
                return
            }
            delegate?.connectionDidConnect(self)
        }
        if let tls {
            if handshaking {
                continueHandshake()
                return
            }
            if tlsReadWantsWritable {
                tlsReadWantsWritable = false
                readTLS(tls)
            }
        }
        flush()
    }

    // MARK: TLS

    private func continueHandshake() {
        guard let tls else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(tls.ssl)
        guard result == 1 else {
            switch SSL_get_error(tls.ssl, result) {
            case SSL_ERROR_WANT_READ: armWriteEvent(false)
            case SSL_ERROR_WANT_WRITE: armWriteEvent(true)
            default: close(reason: .error("TLS handshake failed: \(tls.handshakeFailure())"))
            }
            return
        }
        handshaking = false
        armWriteEvent(false)
        if let mismatch = tls.alpnMismatch {
            close(reason: .error("TLS: \(mismatch)"))
            return
        }
        if tls.isClient { delegate?.connectionDidConnect(self) }
        guard state == .open else { return }
        // Bytes that arrived with the last handshake message wait inside OpenSSL.
        readTLS(tls)
        if state == .open { loop.scheduleFlush(self) }
    }

    /// Reads records until OpenSSL needs more bytes from the socket (epoll cannot see what
    /// OpenSSL has already buffered, so this must not stop early while reading is on).
    private func readTLS(_ tls: TLSSession) {
        if handshaking {
            continueHandshake()
            return
        }
        let buffer = loop.readBuffer
        while state == .open && reading {
            ERR_clear_error()
            let count = SSL_read(tls.ssl, buffer.baseAddress, Int32(buffer.count))
            if count > 0 {
                delegate?.connection(self, received: UnsafeRawBufferPointer(rebasing: buffer[..<Int(count)]))
                continue
            }
            switch SSL_get_error(tls.ssl, count) {
            case SSL_ERROR_WANT_READ:
                break
            case SSL_ERROR_WANT_WRITE:
                tlsReadWantsWritable = true
                armWriteEvent(true)
            case SSL_ERROR_ZERO_RETURN:
                close(reason: .endOfStream)
            default:
                close(reason: .error("TLS: \(takeOpenSSLErrors())"))
            }
            break
        }
        // A write that waited for the peer's bytes may go now.
        if state == .open, tlsRetryWriteLength > 0 { loop.scheduleFlush(self) }
    }

    /// SSL_write of the queued output; false when the connection closed.
    private func writeTLS(_ tls: TLSSession) -> Bool {
        tlsWriteWantsWritable = false
        while case let length = evbuffer_get_length(output), length > 0 {
            let chunk = tlsRetryWriteLength > 0 ? tlsRetryWriteLength : min(length, 16 * 1024)
            let data = evbuffer_pullup(output, chunk)
            ERR_clear_error()
            let written = SSL_write(tls.ssl, data, Int32(chunk))
            if written > 0 {
                evbuffer_drain(output, Int(written))
                tlsRetryWriteLength = 0
                continue
            }
            tlsRetryWriteLength = chunk
            switch SSL_get_error(tls.ssl, written) {
            case SSL_ERROR_WANT_WRITE:
                tlsWriteWantsWritable = true
            case SSL_ERROR_WANT_READ:
                break
            default:
                close(reason: .error("TLS: \(takeOpenSSLErrors())"))
                return false
            }
            break
        }
        return true
    }

    /// The client certificate's subject and alternative names, on a TLS server connection that
    /// got one.
    public var peerIdentity: CertificateIdentity? { handshaking ? nil : tls?.peerIdentity }

    // MARK: Output

    /// Queues bytes; they leave at the end of the current event (see the file comment).
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard state == .open || state == .connecting, bytes.count > 0 else { return }
        // Behind queued bytes, or on a socket that is or will be TLS, it waits in `output`.
        let queued: Int
        if tls == nil && tlsClient == nil && evbuffer_get_length(output) == 0 {
            staged.append(bytes, loop: loop)
            queued = staged.count  // `output` is empty: no second look at its length
        } else {
            evbuffer_add(output, bytes.baseAddress, bytes.count)
            queued = outputLength
        }
        if outputLowWatermark > 0 && queued > outputLowWatermark {
            outputAboveWatermark = true
        }
        loop.scheduleFlush(self)
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Bytes queued for the socket.
    public var outputLength: Int { evbuffer_get_length(output) + staged.count }

    /// Writes what is queued with one system call; what the socket does not take waits for
    /// the write event.
    public func flush() {
        guard state == .open || state == .closingAfterFlush else { return }
        if let tls {
            // Output waits for the handshake, which flushes when it completes.
            guard !handshaking, writeTLS(tls) else { return }
        } else if !staged.isEmpty {
            // Nothing waits in `output` (see `write`): the staged bytes go first, and the rest
            // of them queue there.
            let sent = send(fd, staged.base, staged.count, Int32(MSG_NOSIGNAL))
            if closedOnWriteError(sent) { return }
            if sent < staged.count {
                let taken = max(sent, 0)
                evbuffer_add(output, staged.base! + taken, staged.count - taken)
            }
            staged.release(to: loop)
        } else if evbuffer_get_length(output) > 0 {
            if closedOnWriteError(Int(evbuffer_write(output, fd))) { return }
        }
        let remaining = evbuffer_get_length(output)
        armWriteEvent(tls == nil ? remaining > 0 : tlsWriteWantsWritable || tlsReadWantsWritable)
        if remaining == 0 && state == .closingAfterFlush {
            if lingerTimer == nil {
                close(reason: .endOfStream)
            } else {
                beginLingering()
            }
            return
        }
        if outputAboveWatermark && remaining <= outputLowWatermark {
            outputAboveWatermark = false
            delegate?.connectionOutputDrained(self)
        }
    }

    /// Whether a write's `result` was an error other than a full or interrupted socket, which
    /// closes the connection.
    private func closedOnWriteError(_ result: Int) -> Bool {
        guard result < 0 && errno != EAGAIN && errno != EINTR else { return false }
        close(reason: .error(systemErrorDescription()))
        return true
    }

    /// `connectionOutputDrained` fires when the output falls to `bytes` or below after having
    /// been above.
    public func setOutputLowWatermark(_ bytes: Int) {
        outputLowWatermark = bytes
    }

    // MARK: Reading and timeouts

    /// Stops or resumes reading from the socket (backpressure towards the peer).
    public func setReading(_ enabled: Bool) {
        guard reading != enabled else { return }
        reading = enabled
        updateReadEvent()
        // Records OpenSSL already decrypted would not wake the socket's event.
        if enabled, state == .open, let tls, SSL_pending(tls.ssl) > 0, let readEvent { event_active(readEvent, EV_READ, 0) }
    }

    /// A read timeout: the connection closes with `.timeout` when no byte arrives for this
    /// long while reading is enabled and the timeout is not held. nil turns it off.
    public func setReadTimeout(nanoseconds: UInt64?) {
        readTimeoutNanoseconds = nanoseconds ?? 0
        readTimeoutHeld = false
        updateReadEvent()
    }

    /// Holds the read timeout while the owner waits on something other than its peer (an
    /// HTTP/1.1 exchange, which may wait on its backend for longer): it closes nothing until
    /// `releaseReadTimeout`. libevent is not asked: taking the timer off and putting it back
    /// around each exchange cost two `event_add`s, about 500 instructions a call (issue 19).
    /// A timeout that fires while held is let pass (the persistent event arms it again).
    public func holdReadTimeout() {
        readTimeoutHeld = true
    }

    /// Ends a hold: the read timeout runs its whole length from now (a timeout that fires
    /// sooner, begun before or during the hold, waits for the rest). A different length
    /// (`nanoseconds`, after a reload) is set as `setReadTimeout` does.
    public func releaseReadTimeout(nanoseconds: UInt64) {
        guard nanoseconds == readTimeoutNanoseconds else { return setReadTimeout(nanoseconds: nanoseconds) }
        readTimeoutHeld = false
        readTimeoutReleased = loop.iterationNow
    }

    /// The read event's timeout fired: no byte came for that long.
    private func readTimedOut() {
        if readTimeoutHeld {
            // Let pass; a shortened timeout gets its whole length back for after the hold.
            if readTimeoutShortened { updateReadEvent() }
            return
        }
        let sinceRelease = loop.iterationNow &- readTimeoutReleased
        if sinceRelease < readTimeoutNanoseconds {
            // The timer began before the hold ended: the rest of the timeout is still to run.
            addReadEvent(timeout: timeval(nanoseconds: readTimeoutNanoseconds - sinceRelease))
            readTimeoutShortened = true
            return
        }
        close(reason: .timeout)
    }

    private func updateReadEvent() {
        guard state == .open else { return }
        if reading {
            addReadEvent(timeout: readTimeoutNanoseconds == 0 ? nil : loop.commonTimeout(nanoseconds: readTimeoutNanoseconds))
        } else {
            deleteReadEvent()
        }
    }

    /// Makes the read event pending with `timeout`, or with none.
    private func addReadEvent(timeout: timeval?) {
        guard let readEvent else { return }
        readTimeoutShortened = false
        if var timeout {
            event_add(readEvent, &timeout)
        } else if readEventAdded {
            // event_add without a timeout leaves a pending one as it was (libevent's
            // event_add): it is taken off instead. A connection's idle timeout would otherwise
            // cut the call it then carries, or a lingering close.
            event_remove_timer(readEvent)
        } else {
            event_add(readEvent, nil)
        }
        readEventAdded = true
    }

    private func deleteReadEvent() {
        guard let readEvent else { return }
        event_del(readEvent)
        readEventAdded = false
    }

    private func armWriteEvent(_ armed: Bool) {
        guard armed != writeEventArmed, fd >= 0 else { return }
        if writeEvent == nil { writeEvent = makeWriteEvent() }
        guard let writeEvent else { return close(reason: .error("event_new failed for the write event")) }
        writeEventArmed = armed
        if armed { event_add(writeEvent, nil) } else { event_del(writeEvent) }
    }

    // MARK: Closing

    /// Closes the socket now, dropping queued output, and reports `reason` (once).
    public func close(reason: ConnectionCloseReason) {
        guard state != .closed else { return }
        let wasOpen = state == .open || state == .closingAfterFlush
        state = .closed
        staged.release(to: loop)
        freeEvents()
        lingerTimer?.cancel()
        // close_notify, best effort (never after a TLS error: OpenSSL forbids it).
        var failed = false
        if case .error = reason { failed = true }
        if let tls, wasOpen, !handshaking, !failed {
            ERR_clear_error()
            SSL_shutdown(tls.ssl)
        }
        Glibc.close(fd)
        fd = -1
        delegate?.connection(self, didCloseWith: reason)
    }

    /// Stops reading and closes once everything written so far has left.
    ///
    /// `lingering`: the peer may still be sending (a response that came before the end of its
    /// request). Closing a socket with unread input makes the kernel send a reset, which can
    /// destroy the response before the peer reads it (RFC 9112 §9.6). So input is read and
    /// dropped meanwhile, the write side is shut down once the output has left, and the socket
    /// closes when the peer closes or after `lingerNanoseconds`.
    public func closeAfterFlush(lingering: Bool = false, lingerNanoseconds: UInt64 = 2_000_000_000) {
        guard state == .open else {
            if state == .connecting { close(reason: .endOfStream) }
            return
        }
        state = .closingAfterFlush
        if lingering {
            lingerTimer = LoopTimer(loop: loop) { [unowned self] in close(reason: .endOfStream) }
            lingerTimer?.schedule(afterNanoseconds: lingerNanoseconds)
            reading = true
            readTimeoutNanoseconds = 0
            readTimeoutHeld = false
            addReadEvent(timeout: nil)
        } else {
            deleteReadEvent()
        }
        loop.scheduleFlush(self)
    }

    /// The output has left: the write side closes (after TLS close_notify) and input is
    /// dropped until the peer closes or the linger time ends.
    private func beginLingering() {
        state = .lingering
        if let tls, !handshaking {
            ERR_clear_error()
            SSL_shutdown(tls.ssl)
        }
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads and drops what the peer still sends while closing; its end closes the socket.
    private func dropInput() {
        let buffer = loop.readBuffer
        let count = recv(fd, buffer.baseAddress, buffer.count, 0)
        if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { close(reason: .endOfStream) }
    }
}

/// Small messages must leave at once: Nagle's algorithm with delayed ACKs adds 40+ ms.
private func setNoDelay(_ fd: Int32) {
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
}
