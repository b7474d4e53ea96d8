import HTTP2Support
import XCTest

final class StreamResetGuardTests: XCTestCase {
    let millisecond: UInt64 = 1_000_000

    func testBurstThenLimit() {
        var guardian = StreamResetGuard(burst: 5, perSecond: 10, now: 0)
        for _ in 0..<5 { XCTAssertFalse(guardian.prematureReset(now: 0)) }
        XCTAssertTrue(guardian.prematureReset(now: 0))
    }

    func testTokensComeBackAtTheRate() {
        var guardian = StreamResetGuard(burst: 5, perSecond: 10, now: 0)
        for _ in 0..<5 { _ = guardian.prematureReset(now: 0) }
        // 10 a second: one token every 100 ms.
        XCTAssertTrue(guardian.prematureReset(now: 50 * millisecond))
        XCTAssertFalse(guardian.prematureReset(now: 150 * millisecond))
        XCTAssertTrue(guardian.prematureReset(now: 160 * millisecond))
    }

    func testSustainedResetsBelowTheRateAreFine() {
        var guardian = StreamResetGuard(burst: 5, perSecond: 10, now: 0)
        for tick in 1...1000 { XCTAssertFalse(guardian.prematureReset(now: UInt64(tick) * 110 * millisecond)) }
    }

    func testRapidResetIsCaughtQuickly() {
        // The attack: thousands of resets a second. Caught after the burst.
        var guardian = StreamResetGuard(now: 0)
        var allowed = 0
        for index in 0..<10_000 where !guardian.prematureReset(now: UInt64(index) * 100_000) { allowed += 1 }
        XCTAssertLessThan(allowed, 400)
    }
}
