// A one-shot or repeating timer on a loop.
import CLibevent

public final class LoopTimer {
    private var event: OpaquePointer!
    private let callback: () -> Void
    /// Keeps the event_base alive as long as this event exists.
    private let loop: EventLoop

    public init(loop: EventLoop, repeating: Bool = false, _ callback: @escaping () -> Void) {
        self.callback = callback
        self.loop = loop
        let context = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(
            loop.base, -1, repeating ? Int16(EV_PERSIST) : 0,
            { _, _, context in
                Unmanaged<LoopTimer>.fromOpaque(context!).takeUnretainedValue().callback()
            }, context)
    }

    deinit {
        event_free(event)
    }

    /// (Re)arms the timer; a repeating timer fires every `nanoseconds`.
    public func schedule(afterNanoseconds nanoseconds: UInt64) {
        var tv = timeval(nanoseconds: nanoseconds)
        event_add(event, &tv)
    }

    public func cancel() {
        event_del(event)
    }
}
