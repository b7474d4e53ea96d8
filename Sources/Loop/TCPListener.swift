// A listening socket on a loop; each worker has its own, sharing the port with SO_REUSEPORT
// so that the kernel spreads connections over workers.
import CLibevent

public final class TCPListener {
    private var listener: OpaquePointer?
    private let onAccept: (Int32) -> Void
    public let address: SocketAddress
    /// Keeps the event_base alive as long as the listener exists.
    private let loop: EventLoop

    /// `reusePort`: share the port with the other workers' listeners (SO_REUSEPORT); a
    /// listener that must be alone on its port (the admin listener) passes false.
    public init(
        loop: EventLoop, address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool = true,
        onAccept: @escaping (Int32) -> Void
    ) throws {
        self.onAccept = onAccept
        self.address = address
        self.loop = loop
        let context = Unmanaged.passUnretained(self).toOpaque()
        let flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC | (reusePort ? LEV_OPT_REUSEABLE_PORT : 0)
        listener = address.withSockaddr { sockaddr, length in
            evconnlistener_new_bind(
                loop.base,
                { _, fd, _, _, context in
                    Unmanaged<TCPListener>.fromOpaque(context!).takeUnretainedValue().onAccept(fd)
                }, context, flags, backlog, sockaddr, length)
        }
        guard listener != nil else {
            let reason = systemErrorDescription()
            throw LoopError.bindFailed(address: address.description, reason: reason)
        }
    }

    deinit {
        close()
    }

    /// Stops accepting and closes the socket.
    public func close() {
        if let listener { evconnlistener_free(listener) }
        listener = nil
    }
}
