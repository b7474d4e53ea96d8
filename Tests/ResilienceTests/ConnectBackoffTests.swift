import Resilience
import FerryCore
import XCTest

final class ConnectBackoffTests: XCTestCase {
    func testCeilingsFollowGRPCConnectionBackoff() {
        let seconds = (1...12).map { ConnectBackoff.ceiling(afterFailures: $0) / 1e9 }
        XCTAssertEqual(seconds[0], 1)
        XCTAssertEqual(seconds[1], 1.6, accuracy: 1e-9)
        XCTAssertEqual(seconds[2], 2.56, accuracy: 1e-9)
        XCTAssertEqual(seconds[10], 109.95116277760006, accuracy: 1e-6)
        XCTAssertEqual(seconds[11], 120, "capped at 120 s")
    }

    func testEachWaitIsJitteredWithinTwentyPercent() {
        var generator = SplitMix64(state: 7)
        for failures in 1...20 {
            var backoff = ConnectBackoff()
            for _ in 1..<failures { backoff.connectFailed(now: 0, using: &generator) }
            let wait = Double(backoff.connectFailed(now: 1_000, using: &generator))
            let ceiling = ConnectBackoff.ceiling(afterFailures: failures)
            XCTAssertGreaterThanOrEqual(wait, ceiling * 0.8 - 1)
            XCTAssertLessThanOrEqual(wait, ceiling * 1.2 + 1)
            XCTAssertEqual(backoff.untilNanoseconds, 1_000 + UInt64(wait))
        }
    }

    func testConnectsWaitUntilTheBackoffEnds() {
        var generator = SplitMix64(state: 1)
        var backoff = ConnectBackoff()
        XCTAssertTrue(backoff.allowsConnect(now: 0))
        let wait = backoff.connectFailed(now: 5_000, using: &generator)
        XCTAssertFalse(backoff.allowsConnect(now: 5_000 + wait - 1))
        XCTAssertTrue(backoff.allowsConnect(now: 5_000 + wait))
        XCTAssertEqual(backoff.failures, 1)
    }
}
