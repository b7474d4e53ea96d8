// Messages to a loop from other threads: the one way across threads into a loop's world.
// `post` may be called from any thread; the handler runs on the loop's thread, in order.
import CLibevent
import Synchronization

public final class LoopMailbox<Message: Sendable>: @unchecked Sendable {
    private var event: WakeEvent!
    private let handler: (Message) -> Void
    private let queue = Mutex<[Message]>([])

    /// `handler` runs on `loop`'s thread for each posted message.
    public init(loop: EventLoop, handler: @escaping (Message) -> Void) {
        self.handler = handler
        event = WakeEvent(loop: loop) { [unowned self] in deliver() }
    }

    /// Queues `message` and wakes the loop (from any thread).
    public func post(_ message: Message) {
        queue.withLock { $0.append(message) }
        event_active(event.event, EV_READ, 0)
    }

    private func deliver() {
        let messages = queue.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
        for message in messages { handler(message) }
    }

    /// Stops keeping the loop alive; later messages are not delivered.
    public func remove() {
        event_del(event.event)
    }
}

/// The event behind a mailbox (not generic: a C callback cannot capture generic parameters).
private final class WakeEvent {
    var event: OpaquePointer!
    private let callback: () -> Void
    /// Keeps the event_base alive as long as this event exists.
    private let loop: EventLoop

    init(loop: EventLoop, callback: @escaping () -> Void) {
        self.callback = callback
        self.loop = loop
        let context = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(
            loop.base, -1, Int16(EV_PERSIST | EV_READ),
            { _, _, context in
                Unmanaged<WakeEvent>.fromOpaque(context!).takeUnretainedValue().callback()
            }, context)
        // Added without a file descriptor so that the loop keeps running while it waits.
        event_add(event, nil)
    }

    deinit {
        event_free(event)
    }
}
