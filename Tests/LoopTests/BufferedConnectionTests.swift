import Glibc
import XCTest

@testable import Loop

/// The read timeout held and released around work that waits on something other than the peer
/// (an HTTP/1.1 exchange), on a socket pair whose far end the test writes to.
final class BufferedConnectionReadTimeoutTests: XCTestCase {
    private var loop: EventLoop!
    private var peer: Int32 = -1
    private var connection: BufferedConnection!
    private let watcher = CloseWatcher()
    private var started: UInt64 = 0
    private var timers: [LoopTimer] = []

    override func setUpWithError() throws {
        loop = try EventLoop()
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
        peer = fds[1]
        connection = try BufferedConnection(loop: loop, acceptedSocket: fds[0])
        connection.delegate = watcher
        started = EventLoop.monotonicNow
    }

    override func tearDown() {
        Glibc.close(peer)
        timers = []
        connection = nil
    }

    private func at(milliseconds: UInt64, _ body: @escaping () -> Void) {
        let timer = LoopTimer(loop: loop, body)
        timer.schedule(afterNanoseconds: milliseconds * 1_000_000)
        timers.append(timer)
    }

    private func milliseconds(since start: UInt64) -> UInt64 { (EventLoop.monotonicNow - start) / 1_000_000 }

    /// Runs the loop until the connection closes; the milliseconds from the start it took.
    private func runUntilClosed() -> UInt64 {
        watcher.closed = { [unowned self] in watcher.closedAfter = milliseconds(since: started) }
        loop.run()
        return watcher.closedAfter
    }

    func testAHeldTimeoutClosesNothingAndRunsItsWholeLengthOnceReleased() {
        connection.setReadTimeout(nanoseconds: 100_000_000)
        connection.holdReadTimeout()
        var releasedAt: UInt64 = 0
        at(milliseconds: 330) { [unowned self] in
            XCTAssertNil(watcher.reason, "held through three timeouts")
            releasedAt = milliseconds(since: started)
            connection.releaseReadTimeout(nanoseconds: 100_000_000)
        }
        let closedAt = runUntilClosed()
        XCTAssertEqual(watcher.reason, .timeout)
        XCTAssertGreaterThanOrEqual(closedAt, releasedAt + 95, "the whole timeout after the release")
        XCTAssertLessThan(closedAt, releasedAt + 1_000)
    }

    /// The timer began before the release and fires first: the rest of the timeout still runs.
    func testATimeoutFiringSoonAfterTheReleaseWaitsForTheRest() {
        connection.setReadTimeout(nanoseconds: 200_000_000)
        connection.holdReadTimeout()
        var releasedAt: UInt64 = 0
        at(milliseconds: 150) { [unowned self] in
            releasedAt = milliseconds(since: started)
            connection.releaseReadTimeout(nanoseconds: 200_000_000)
        }
        let closedAt = runUntilClosed()
        XCTAssertEqual(watcher.reason, .timeout)
        XCTAssertGreaterThanOrEqual(closedAt, releasedAt + 195)
        XCTAssertLessThan(closedAt, releasedAt + 1_000)
    }

    /// A byte that comes while the rest runs gives the timeout its whole length back.
    func testAByteDuringTheRestRestartsTheWholeTimeout() {
        connection.setReadTimeout(nanoseconds: 200_000_000)
        connection.holdReadTimeout()
        at(milliseconds: 150) { [unowned self] in connection.releaseReadTimeout(nanoseconds: 200_000_000) }
        var wroteAt: UInt64 = 0
        at(milliseconds: 300) { [unowned self] in
            XCTAssertNil(watcher.reason)
            wroteAt = milliseconds(since: started)
            XCTAssertEqual(write(peer, "x", 1), 1)
        }
        let closedAt = runUntilClosed()
        XCTAssertEqual(watcher.reason, .timeout)
        XCTAssertEqual(watcher.received, 1)
        XCTAssertGreaterThanOrEqual(closedAt, wroteAt + 195, "the whole timeout after the byte, not the rest")
    }

    /// A release with another length (a reload's) sets it, from the release.
    func testAReleaseWithAnotherLengthSetsIt() {
        connection.setReadTimeout(nanoseconds: 1_000_000_000)
        connection.holdReadTimeout()
        at(milliseconds: 50) { [unowned self] in connection.releaseReadTimeout(nanoseconds: 100_000_000) }
        let closedAt = runUntilClosed()
        XCTAssertEqual(watcher.reason, .timeout)
        XCTAssertGreaterThanOrEqual(closedAt, 145)
        XCTAssertLessThan(closedAt, 900)
    }

    /// The iteration's time is read once per iteration and moves on with the next.
    func testTheIterationTimeIsOneReadPerIteration() {
        var first: UInt64 = 0
        var second: UInt64 = 0
        at(milliseconds: 1) { [unowned self] in
            first = loop.iterationNow
            usleep(2_000)
            XCTAssertEqual(loop.iterationNow, first, "the same within an iteration")
        }
        at(milliseconds: 20) { [unowned self] in
            second = loop.iterationNow
            connection.close(reason: .endOfStream)
        }
        loop.run()
        XCTAssertGreaterThanOrEqual(second - first, 15_000_000)
    }
}

private final class CloseWatcher: BufferedConnectionDelegate {
    var reason: ConnectionCloseReason?
    var received = 0
    var closedAfter: UInt64 = 0
    var closed: () -> Void = {}

    func connection(_ connection: BufferedConnection, received bytes: UnsafeRawBufferPointer) { received += bytes.count }
    func connectionOutputDrained(_ connection: BufferedConnection) {}
    func connectionDidConnect(_ connection: BufferedConnection) {}
    func connection(_ connection: BufferedConnection, didCloseWith reason: ConnectionCloseReason) {
        self.reason = reason
        closed()
    }
}
