// Runs a callback on a loop's thread when another thread asks for it.
import CLibevent

/// The only loop object that may be used from another thread (`wake()`); libevent's
/// pthread locking (enabled in `EventLoop`) makes `event_active` safe there.
public final class LoopWaker: @unchecked Sendable {
    private var event: OpaquePointer!
    private let callback: () -> Void
    /// Keeps the event_base alive as long as this event exists.
    private let loop: EventLoop

    public init(loop: EventLoop, _ callback: @escaping () -> Void) {
        self.callback = callback
        self.loop = loop
        let context = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(loop.base, -1, Int16(EV_PERSIST | EV_READ), { _, _, context in
            Unmanaged<LoopWaker>.fromOpaque(context!).takeUnretainedValue().callback()
        }, context)
        // Added without a file descriptor so that the loop keeps running while it waits.
        event_add(event, nil)
    }

    deinit {
        event_free(event)
    }

    public func wake() {
        event_active(event, EV_READ, 0)
    }

    /// Stops keeping the loop alive.
    public func remove() {
        event_del(event)
    }
}
