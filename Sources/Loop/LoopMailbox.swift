// Messages to a loop from other threads: the one way across threads into a loop's world.
// `post` may be called from any thread; the handler runs on the loop's thread, in order.
//
// The wake-up is a write to an eventfd the loop watches, so that libevent needs no locks (see
// `EventLoop.processSetUp`): `event_active` from another thread would need them on every base.
import CLibevent
import Glibc
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

    /// Queues `message` and wakes the loop (from any thread). Only a message that finds the
    /// queue empty writes to the eventfd: the others ride on a wake-up still to be delivered,
    /// since the loop drains the eventfd before it takes the queue.
    public func post(_ message: Message) {
        let wakes = queue.withLock { queue in
            queue.append(message)
            return queue.count == 1
        }
        if wakes { event.wake() }
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

/// The eventfd behind a mailbox and its read event (not generic: a C callback cannot capture
/// generic parameters).
private final class WakeEvent {
    var event: OpaquePointer!
    private let descriptor: Int32
    private let callback: () -> Void
    /// Keeps the event_base alive as long as this event exists.
    private let loop: EventLoop

    init(loop: EventLoop, callback: @escaping () -> Void) {
        self.callback = callback
        self.loop = loop
        descriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(descriptor >= 0, "eventfd failed: \(String(cString: strerror(errno)))")
        let context = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(
            loop.base, descriptor, Int16(EV_PERSIST | EV_READ),
            { _, _, context in
                let wake = Unmanaged<WakeEvent>.fromOpaque(context!).takeUnretainedValue()
                wake.drain()
                wake.callback()
            }, context)
        event_add(event, nil)
    }

    deinit {
        event_free(event)
        close(descriptor)
    }

    /// Makes the eventfd readable (any thread).
    func wake() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Reads the eventfd's count back to zero, before the queue is taken.
    private func drain() {
        var count: UInt64 = 0
        _ = read(descriptor, &count, MemoryLayout<UInt64>.size)
    }
}
