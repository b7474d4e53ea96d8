// The admin listener: its own thread and loop, so that a scrape or a reload never waits
// behind traffic and never adds work to the workers' loops beyond a snapshot of their counts.
// One request per connection (`Connection: close`), which is all probes and scrapers need.
import FerryCore
import HTTP1
import Loop
import Synchronization

public struct AdminResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: String
    /// Fields beyond the content type (`WWW-Authenticate`).
    public var headers: HeaderFields

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, headers: HeaderFields = HeaderFields()) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }
}

/// What the admin listener serves. Called on the admin thread; it may block (it waits for
/// the workers' snapshots).
public protocol AdminHandler: Sendable {
    func respond(method: String, path: Substring, headers: HeaderFields) -> AdminResponse
}

public final class AdminServer: Sendable {
    private let mailbox: LoopMailbox<AdminMessage>

    /// Binds `address` and serves `handler` on a new thread; throws when the address cannot
    /// be bound (before the thread starts serving).
    public static func start(address: SocketAddress, handler: any AdminHandler) throws -> AdminServer {
        let started = ThreadSignal()
        let outcome = StartOutcome()
        LoopThread.start {
            let loop: EventLoop
            let server: AdminLoop
            do {
                loop = try EventLoop()
                server = try AdminLoop(loop: loop, address: address, handler: handler)
            } catch {
                outcome.set(.failure(error))
                started.signal()
                return
            }
            let mailbox = LoopMailbox<AdminMessage>(loop: loop) { _ in
                server.stop()
                loop.stop()
            }
            outcome.set(.success(mailbox))
            started.signal()
            loop.run()
            withExtendedLifetime(server) {}
        }
        started.wait()
        return AdminServer(mailbox: try outcome.value!.get())
    }

    private init(mailbox: LoopMailbox<AdminMessage>) {
        self.mailbox = mailbox
    }

    /// Stops listening and ends the admin thread.
    public func stop() {
        mailbox.post(.stop)
    }
}

enum AdminMessage: Sendable {
    case stop
}

private final class StartOutcome: @unchecked Sendable {
    private let lock = Mutex<Result<LoopMailbox<AdminMessage>, Error>?>(nil)

    func set(_ result: Result<LoopMailbox<AdminMessage>, Error>) { lock.withLock { $0 = result } }
    var value: Result<LoopMailbox<AdminMessage>, Error>? { lock.withLock { $0 } }
}

/// The admin thread's listener and connections.
private final class AdminLoop {
    private let loop: EventLoop
    private var listener: TCPListener?
    private let handler: any AdminHandler
    private var connections: [ObjectIdentifier: AdminConnection] = [:]

    init(loop: EventLoop, address: SocketAddress, handler: any AdminHandler) throws {
        self.loop = loop
        self.handler = handler
        listener = try TCPListener(loop: loop, address: address, reusePort: false) { [unowned self] fd in
            guard let connection = try? BufferedConnection(loop: loop, acceptedSocket: fd) else { return }
            let admin = AdminConnection(connection: connection, server: self)
            connections[ObjectIdentifier(admin)] = admin
        }
    }

    func respond(method: String, path: Substring, headers: HeaderFields) -> AdminResponse {
        handler.respond(method: method, path: path, headers: headers)
    }

    func closed(_ connection: AdminConnection) {
        connections.removeValue(forKey: ObjectIdentifier(connection))
    }

    func stop() {
        listener?.close()
        listener = nil
        for connection in connections.values { connection.close() }
    }
}

private final class AdminConnection: BufferedConnectionDelegate {
    private let connection: BufferedConnection
    private unowned let server: AdminLoop
    private var parser = HTTP1RequestParser()
    private var head: HTTP1RequestHead?
    private var answered = false

    init(connection: BufferedConnection, server: AdminLoop) {
        self.connection = connection
        self.server = server
        connection.delegate = self
        connection.setReadTimeout(nanoseconds: 10_000_000_000)
    }

    func close() {
        connection.close(reason: .endOfStream)
    }

    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) {
        parser.append(bytes)
        while !answered {
            let event: HTTP1RequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                return send(AdminResponse(status: error.status, body: "\(error)\n"))
            }
            guard let event else { return }
            switch event {
            case .head(let head, _): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                send(server.respond(method: head.method, path: head.path, headers: head.headers))
            }
        }
    }

    private func send(_ response: AdminResponse) {
        answered = true
        var headers = HeaderFields()
        headers.append(name: "content-type", value: response.contentType)
        headers.append(contentsOf: response.headers)
        headers.append(name: "content-length", value: String(response.body.utf8.count))
        headers.append(name: "connection", value: "close")
        connection.write(HTTP1ResponseHead(status: response.status, headers: headers).serialized() + Array(response.body.utf8))
        connection.closeAfterFlush()
    }

    func connectionOutputDrained(_ connection: BufferedConnection) {}

    func connectionDidConnect(_ connection: BufferedConnection) {}

    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        server.closed(self)
    }
}
