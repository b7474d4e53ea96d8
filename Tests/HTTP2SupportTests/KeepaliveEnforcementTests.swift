import HTTP2Support
import XCTest

final class KeepaliveEnforcementTests: XCTestCase {
    let second: UInt64 = 1_000_000_000

    func testThirdStrikeWithinTheIntervalIsAbuse() {
        var policy = KeepaliveEnforcement(minimumIntervalNanoseconds: 10 * second, maxStrikes: 2)
        XCTAssertFalse(policy.pingReceived(now: 0))
        XCTAssertFalse(policy.pingReceived(now: 1 * second))  // strike 1
        XCTAssertFalse(policy.pingReceived(now: 2 * second))  // strike 2
        XCTAssertTrue(policy.pingReceived(now: 3 * second))  // strike 3: GOAWAY
    }

    func testPingsSpacedByTheIntervalNeverStrike() {
        var policy = KeepaliveEnforcement(minimumIntervalNanoseconds: 10 * second, maxStrikes: 0)
        for tick in 0..<100 { XCTAssertFalse(policy.pingReceived(now: UInt64(tick) * 10 * second)) }
    }

    func testResponsesClearTheStrikes() {
        var policy = KeepaliveEnforcement(minimumIntervalNanoseconds: 10 * second, maxStrikes: 1)
        for tick in 0..<50 {
            XCTAssertFalse(policy.pingReceived(now: UInt64(tick) * second))
            policy.responseSent()
        }
    }

    func testGRPCDefaults() {
        let policy = KeepaliveEnforcement()
        XCTAssertEqual(policy.minimumIntervalNanoseconds, 300 * second)
        XCTAssertEqual(policy.maxStrikes, 2)
    }
}
