import FerryCore
import Resilience
import XCTest

final class RefreshScheduleTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testFetchesAtStartThenEveryRefresh() {
        var refresh = RefreshSchedule(refreshNanoseconds: 600 * second)
        XCTAssertEqual(refresh.start(now: 10 * second), .fetch)
        XCTAssertEqual(refresh.fetchSucceeded(now: 11 * second), .wait(untilNanoseconds: 611 * second))
        XCTAssertEqual(refresh.timerFired(now: 300 * second), .wait(untilNanoseconds: 611 * second), "early timer: wait on")
        XCTAssertEqual(refresh.timerFired(now: 611 * second), .fetch)
        XCTAssertEqual(refresh.timerFired(now: 612 * second), .none, "a fetch is under way")
    }

    func testFailuresBackOffWithinTheRefresh() {
        var random = SplitMix64(state: 7)
        var refresh = RefreshSchedule(refreshNanoseconds: 3 * second)
        _ = refresh.start(now: 0)
        guard case .wait(let first) = refresh.fetchFailed(now: 0, using: &random) else { return XCTFail("no wait") }
        XCTAssert((800_000_000...1_200_000_000).contains(first), "1 s ± 20 %: \(first)")
        var now = first
        for _ in 0..<10 {
            XCTAssertEqual(refresh.timerFired(now: now), .fetch)
            guard case .wait(let until) = refresh.fetchFailed(now: now, using: &random) else { return XCTFail("no wait") }
            XCTAssertLessThanOrEqual(until - now, 3 * second, "capped at the refresh interval")
            now = until
        }
        XCTAssertEqual(refresh.timerFired(now: now), .fetch)
        XCTAssertEqual(refresh.fetchSucceeded(now: now), .wait(untilNanoseconds: now + 3 * second))
    }

    func testAStaleCopyFetchesEarlyButAtMostOncePerInterval() {
        var refresh = RefreshSchedule(refreshNanoseconds: 600 * second)
        _ = refresh.start(now: 100 * second)
        XCTAssertEqual(refresh.staleCopyFound(now: 100 * second), .none, "the fetch under way brings the set")
        _ = refresh.fetchSucceeded(now: 101 * second)
        // Within the interval after the last fetch began: the timer is pulled in, not a fetch now.
        XCTAssertEqual(refresh.staleCopyFound(now: 102 * second), .wait(untilNanoseconds: 105 * second))
        XCTAssertEqual(refresh.staleCopyFound(now: 103 * second), .none, "already due sooner")
        XCTAssertEqual(refresh.timerFired(now: 105 * second), .fetch)
        _ = refresh.fetchSucceeded(now: 106 * second)
        XCTAssertEqual(refresh.staleCopyFound(now: 111 * second), .fetch, "past the interval: at once")
        XCTAssertEqual(refresh.staleCopyFound(now: 111 * second), .none)
    }

    func testWithoutARefreshASuccessIsFinalButAStaleCopyStillFetches() {
        var random = SplitMix64(state: 3)
        var refresh = RefreshSchedule(refreshNanoseconds: nil)
        XCTAssertEqual(refresh.start(now: 0), .fetch)
        guard case .wait(let retry) = refresh.fetchFailed(now: 0, using: &random) else { return XCTFail("no wait") }
        XCTAssertEqual(refresh.timerFired(now: retry), .fetch)
        XCTAssertEqual(refresh.fetchSucceeded(now: retry), .none)
        XCTAssertEqual(refresh.timerFired(now: retry + 3600 * second), .none, "no refresh interval")
        XCTAssertEqual(refresh.staleCopyFound(now: retry + 10 * second), .fetch)
    }
}
