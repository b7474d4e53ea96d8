import CLibevent
import XCTest

@testable import Loop

final class EventLoopTests: XCTestCase {
    /// A duration gets one common-timeout queue per loop, and an event added with it fires
    /// after that duration, not at once (the value is libevent's encoding, not the duration).
    func testACommonTimeoutIsOneQueuePerDurationAndFiresAfterIt() throws {
        let loop = try EventLoop()
        let fifty = loop.commonTimeout(nanoseconds: 50_000_000)
        XCTAssertEqual(fifty.tv_usec, loop.commonTimeout(nanoseconds: 50_000_000).tv_usec)
        XCTAssertEqual(fifty.tv_sec, 0)
        XCTAssertNotEqual(fifty.tv_usec, loop.commonTimeout(nanoseconds: 60_000_000).tv_usec)
        XCTAssertNotEqual(fifty.tv_usec, 50_000, "libevent's encoding of its queue, not the plain duration")

        let started = EventLoop.monotonicNow
        var firedAfter: UInt64 = 0
        let fired = Fired { firedAfter = EventLoop.monotonicNow - started }
        let event = event_new(
            loop.base, -1, 0, { _, _, context in Unmanaged<Fired>.fromOpaque(context!).takeUnretainedValue().body() },
            Unmanaged.passUnretained(fired).toOpaque())
        defer { event_free(event) }
        var timeout = fifty
        event_add(event, &timeout)
        loop.run()
        XCTAssertGreaterThanOrEqual(firedAfter, 45_000_000)
        XCTAssertLessThan(firedAfter, 5_000_000_000)
    }
}

private final class Fired {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
