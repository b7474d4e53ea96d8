// One libevent event_base, driven by one thread. Every object of this target belongs to
// exactly one loop and is touched only from that loop's thread; `LoopMailbox` is the one
// exception, and it exists to cross threads.
import CLibevent
import Glibc

public enum LoopError: Error, CustomStringConvertible {
    case libevent(String)
    case invalidAddress(String)
    case bindFailed(address: String, reason: String)
    case connectFailed(address: String, reason: String)

    public var description: String {
        switch self {
        case .libevent(let what): "libevent: \(what) failed"
        case .invalidAddress(let address): "invalid socket address '\(address)': expected IP:port or [IPv6]:port"
        case .bindFailed(let address, let reason): "cannot listen on \(address): \(reason)"
        case .connectFailed(let address, let reason): "cannot connect to \(address): \(reason)"
        }
    }
}

public final class EventLoop {
    let base: OpaquePointer
    /// Where every connection of this loop reads into; the delegate copies what it keeps.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// What has output to write at the end of the current loop iteration.
    private var pendingFlushes: [any LoopFlushable] = []
    private var flushing: [any LoopFlushable] = []
    /// Blocks that carried connections' output (`StagedOutput`), lent to the next connection
    /// that writes: as many as were busy at once, bounded.
    private var spareOutputBlocks: [UnsafeMutableRawPointer] = []
    private static let maxSpareOutputBlocks = 64
    /// A unary response and its framing fit several times over.
    static let outputBlockSize = 4096
    /// The timeouts handed out so far, by duration (a config has a few).
    private var commonTimeouts: [CommonTimeout] = []
    /// `iterationNow` once read in this iteration, else 0.
    private var iterationTime: UInt64 = 0

    /// Once per process, before any base exists: keeps a peer's close from killing the process
    /// with SIGPIPE. libevent's locks stay off (no `evthread_use_pthreads`): each base is touched
    /// by its own thread only, and `LoopMailbox` wakes a loop through a file descriptor. With
    /// them on, every `event_add` and `event_del` took a mutex, about 4 lock and unlock pairs per
    /// unary call (issue 19).
    private static let processSetUp: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    public init() throws {
        _ = EventLoop.processSetUp
        guard let base = event_base_new() else { throw LoopError.libevent("event_base_new") }
        self.base = base
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        event_base_free(base)
        readBuffer.deallocate()
        for block in spareOutputBlocks { block.deallocate() }
    }

    /// A block of `outputBlockSize` bytes for a connection's output.
    func takeOutputBlock() -> UnsafeMutableRawPointer {
        spareOutputBlocks.popLast() ?? .allocate(byteCount: Self.outputBlockSize, alignment: 16)
    }

    /// A block a connection's output no longer needs: kept for the next, or freed when it is
    /// a grown one or enough are kept.
    func giveBack(outputBlock block: UnsafeMutableRawPointer, capacity: Int) {
        if capacity == Self.outputBlockSize && spareOutputBlocks.count < Self.maxSpareOutputBlocks {
            spareOutputBlocks.append(block)
        } else {
            block.deallocate()
        }
    }

    /// A timeout of `nanoseconds` for `event_add`, as one of libevent's common timeouts: every
    /// event added with it waits in one queue in deadline order, so adding and removing it is
    /// O(1), where an ordinary timeout is a heap operation. A connection's read timeout is
    /// re-armed by every read (a persistent event's timeout restarts whenever the event becomes
    /// active). The value is libevent's encoding of the queue (`event_base_init_common_timeout`),
    /// valid for this loop only; past libevent's 256 queues a plain timeout is returned.
    func commonTimeout(nanoseconds: UInt64) -> timeval {
        if let known = commonTimeouts.first(where: { $0.nanoseconds == nanoseconds }) { return known.timeout }
        var duration = timeval(nanoseconds: nanoseconds)
        let timeout = event_base_init_common_timeout(base, &duration)?.pointee ?? duration
        commonTimeouts.append(CommonTimeout(nanoseconds: nanoseconds, timeout: timeout))
        return timeout
    }

    /// Asks for `flushable.flush()` at the end of this loop iteration (once, however often
    /// it is asked).
    public func scheduleFlush(_ flushable: any LoopFlushable) {
        guard !flushable.flushScheduled else { return }
        flushable.flushScheduled = true
        pendingFlushes.append(flushable)
    }

    /// Flushes what the iteration's callbacks queued: HTTP/2 sessions serialize their frames
    /// into their connections, connections write with one writev each. Flushing can close a
    /// connection, whose owner may queue more output elsewhere, so this runs until nothing is
    /// pending.
    private func flushPending() {
        while !pendingFlushes.isEmpty {
            swap(&pendingFlushes, &flushing)
            for flushable in flushing {
                flushable.flushScheduled = false
                flushable.flush()
            }
            flushing.removeAll(keepingCapacity: true)
        }
    }

    /// CLOCK_MONOTONIC now, in nanoseconds: deadlines, backoff and ejection times.
    public static var monotonicNow: UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// CLOCK_MONOTONIC as of this loop iteration, read at its first use after epoll_wait
    /// returned (Envoy's approximate monotonic time): what is timed to the iteration, not to the
    /// nanosecond (a request's duration in the log and the counts, idle timeouts), costs one
    /// clock read per iteration instead of a few per call.
    public var iterationNow: UInt64 {
        if iterationTime == 0 { iterationTime = Self.monotonicNow }
        return iterationTime
    }

    /// Runs callbacks until no events remain or `stop()` is called. Each iteration handles
    /// every event one epoll_wait reported, then flushes: all requests that arrived together
    /// leave upstream in one HTTP/2 write, all responses for one connection in one writev.
    public func run() {
        while true {
            let result = event_base_loop(base, EVLOOP_ONCE)
            flushPending()
            iterationTime = 0
            if result != 0 || event_base_got_break(base) != 0 { return }
        }
    }

    /// Makes `run()` return after the current callback.
    public func stop() {
        event_base_loopbreak(base)
    }
}

/// A duration and libevent's common timeout for it (a struct, not a tuple: the run time builds a
/// tuple type's metadata from its mangled name, with the demangler and libstdc++'s strings,
/// about 400 KiB of pages that an idle gateway otherwise never touches).
private struct CommonTimeout {
    let nanoseconds: UInt64
    let timeout: timeval
}

func timeval(nanoseconds: UInt64) -> timeval {
    timeval(tv_sec: Int(nanoseconds / 1_000_000_000), tv_usec: Int(nanoseconds % 1_000_000_000 / 1_000))
}

/// The text of the current `errno`.
func systemErrorDescription() -> String {
    String(cString: strerror(errno))
}

/// Something that batches output until the end of a loop iteration (`EventLoop.scheduleFlush`).
public protocol LoopFlushable: AnyObject {
    /// Set while waiting in the loop's flush list; only the loop changes it.
    var flushScheduled: Bool { get set }
    func flush()
}
