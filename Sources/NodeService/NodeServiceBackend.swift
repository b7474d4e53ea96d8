// Runs NodeService on its own event loop, in the calling thread or in a background thread.
import GRPCServer
import Logging
import Loop

public enum NodeServiceBackend {
    /// Serves on `address` in this thread; never returns.
    public static func run(address: String, logger: Logger) throws -> Never {
        let loop = try EventLoop()
        let server = try GRPCServer(
            loop: loop, address: try SocketAddress(parsing: address),
            handlers: NodeServiceHandlers.all(), logger: logger)
        logger.info("node-service listening on \(address)")
        withExtendedLifetime(server) { loop.run() }
        fatalError("node-service event loop stopped")
    }

    /// Serves on `address` in a background thread; returns once it listens, or throws the
    /// bind error.
    public static func startInBackground(address: String, logger: Logger) throws {
        let ready = ThreadSignal()
        let failure = BindFailure()
        LoopThread.start {
            do {
                let loop = try EventLoop()
                let server = try GRPCServer(
                    loop: loop, address: try SocketAddress(parsing: address),
                    handlers: NodeServiceHandlers.all(), logger: logger)
                ready.signal()
                withExtendedLifetime(server) { loop.run() }
            } catch {
                failure.error = error
                ready.signal()
            }
        }
        ready.wait()
        if let error = failure.error { throw error }
    }
}

private final class BindFailure: @unchecked Sendable {
    var error: Error?
}
