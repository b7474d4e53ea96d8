// A thread with a loop of its own that takes messages: where the gateway fetches what it needs
// from elsewhere (JWK sets, reflected descriptors), so that a slow source never holds up a worker.
// `stop` waits for the thread to end: the process must not exit (and OpenSSL clean up behind
// it) while the thread is still in the middle of a fetch, a TLS handshake or a digest.
import Loop

final class FetchThread<Message: Sendable>: Sendable {
    private enum Envelope: Sendable {
        case message(Message)
        case stop
    }

    /// What the thread does with messages, and when it stops (the loop ends after it).
    struct Handlers {
        let receive: (Message) -> Void
        let stop: () -> Void
    }

    private let mailbox: LoopMailbox<Envelope>
    private let finished = ThreadSignal()

    /// Starts the thread; returns once its loop takes messages. `setup` runs on the thread.
    init(purpose: String, setup: @escaping @Sendable (EventLoop) -> Handlers) throws(GatewayResourceError) {
        let started = Replies<LoopMailbox<Envelope>?>()
        let finished = finished
        LoopThread.start {
            defer { finished.signal() }
            guard let loop = try? EventLoop() else { return started.reply(nil) }
            let handlers = setup(loop)
            var mailbox: LoopMailbox<Envelope>?
            mailbox = LoopMailbox(loop: loop) { envelope in
                switch envelope {
                case .message(let message):
                    handlers.receive(message)
                case .stop:
                    handlers.stop()
                    mailbox?.remove()
                    loop.stop()
                }
            }
            started.reply(mailbox)
            loop.run()
        }
        guard let mailbox = started.wait(count: 1, timeoutNanoseconds: 10_000_000_000).first ?? nil else {
            throw GatewayResourceError(description: "cannot start the loop that \(purpose)")
        }
        self.mailbox = mailbox
    }

    func post(_ message: Message) {
        mailbox.post(.message(message))
    }

    /// Ends the thread after the messages posted before, and waits for it (a few seconds at most).
    func stop() {
        mailbox.post(.stop)
        _ = finished.wait(untilRealtimeNanoseconds: ThreadSignal.realtimeNow + 5_000_000_000)
    }
}
