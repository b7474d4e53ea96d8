// Threads for event loops, and the one-shot signal their starters wait on: POSIX threads and
// semaphores directly, because Foundation's Thread would bring ~11 MiB of resident libraries
// into a process that otherwise needs none of them.
import Glibc

public enum LoopThread {
    /// Starts a detached thread that runs `body`.
    public static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, box)
        precondition(result == 0, "pthread_create failed: \(String(cString: strerror(result)))")
        pthread_detach(thread)
    }
}

private final class ThreadBody {
    let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
    }
}

/// A counting signal between threads (a POSIX semaphore).
public final class ThreadSignal: @unchecked Sendable {
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    public init() {
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    public func signal() {
        sem_post(semaphore)
    }

    public func wait() {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }

    /// Waits until signalled or until `deadline` (CLOCK_REALTIME nanoseconds, as
    /// sem_timedwait takes it); true when signalled.
    public func wait(untilRealtimeNanoseconds deadline: UInt64) -> Bool {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while true {
            if sem_timedwait(semaphore, &time) == 0 { return true }
            if errno != EINTR { return false }
        }
    }

    /// CLOCK_REALTIME now, in nanoseconds (for `wait(untilRealtimeNanoseconds:)`).
    public static var realtimeNow: UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
