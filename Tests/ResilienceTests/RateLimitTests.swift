import Resilience
import XCTest

final class RateLimitTests: XCTestCase {
    private let second: Int64 = 1_000_000_000

    func testABurstPassesThenOneTokenPerInterval() {
        let limiter = RateLimiter(policy: RateLimitPolicy(requestsPerSecond: 10, burst: 3))
        let now: Int64 = 1_000 * second
        for _ in 0..<3 { XCTAssertAllowed(limiter.acquire(key: "", now: now)) }
        XCTAssertEqual(limiter.acquire(key: "", now: now), .limited(retryAfterNanoseconds: 100_000_000))
        // A token comes every 100 ms.
        XCTAssertEqual(limiter.acquire(key: "", now: now + 50_000_000), .limited(retryAfterNanoseconds: 50_000_000))
        XCTAssertAllowed(limiter.acquire(key: "", now: now + 100_000_000))
        XCTAssertEqual(limiter.acquire(key: "", now: now + 100_000_000), .limited(retryAfterNanoseconds: 100_000_000))
        // After a quiet second the bucket is full again, and no fuller than the burst.
        let later = now + 10 * second
        for _ in 0..<3 { XCTAssertAllowed(limiter.acquire(key: "", now: later)) }
        guard case .limited = limiter.acquire(key: "", now: later) else { return XCTFail("a fourth call passed") }
    }

    func testASteadyRateAtTheLimitAlwaysPasses() {
        let limiter = RateLimiter(policy: RateLimitPolicy(requestsPerSecond: 100, burst: 1))
        for tick in 0..<1000 { XCTAssertAllowed(limiter.acquire(key: "", now: Int64(tick) * 10_000_000)) }
        guard case .limited = limiter.acquire(key: "", now: 999 * 10_000_000) else { return XCTFail() }
    }

    func testFractionalRates() {
        let limiter = RateLimiter(policy: RateLimitPolicy(requestsPerSecond: 0.5, burst: 1))
        XCTAssertAllowed(limiter.acquire(key: "", now: 0))
        XCTAssertEqual(limiter.acquire(key: "", now: second), .limited(retryAfterNanoseconds: second))
        XCTAssertAllowed(limiter.acquire(key: "", now: 2 * second))
    }

    func testKeysHaveBucketsOfTheirOwn() {
        let limiter = RateLimiter(policy: RateLimitPolicy(requestsPerSecond: 1, burst: 1, key: .clientIP))
        XCTAssertAllowed(limiter.acquire(key: "10.0.0.1", now: 0))
        XCTAssertAllowed(limiter.acquire(key: "10.0.0.2", now: 0))
        guard case .limited = limiter.acquire(key: "10.0.0.1", now: 0) else { return XCTFail() }
        XCTAssertEqual(limiter.keyCount, 2)
    }

    func testBucketsAtRestAreDroppedAndNewKeysBeyondTheBoundShareOne() {
        let limiter = RateLimiter(policy: RateLimitPolicy(requestsPerSecond: 1, burst: 1, key: .header("x-user")), maxKeys: 2)
        XCTAssertAllowed(limiter.acquire(key: "a", now: 0))
        XCTAssertAllowed(limiter.acquire(key: "b", now: 0))
        // The table is full and both buckets are still refilling: c and d share the overflow bucket.
        XCTAssertAllowed(limiter.acquire(key: "c", now: 0))
        guard case .limited = limiter.acquire(key: "d", now: 0) else { return XCTFail("a new key beyond the bound passed free") }
        // Two seconds on, every bucket is full again: they are dropped to make room.
        XCTAssertAllowed(limiter.acquire(key: "e", now: 2 * second))
        XCTAssertLessThanOrEqual(limiter.keyCount, 2)
    }

    func testWorkersShareTheRouteBucket() {
        let limiter = RateLimiter(policy: RateLimitPolicy(requestsPerSecond: 1, burst: 100))
        let allowed = AllowedCounter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<100 {
                if case .allowed = limiter.acquire(key: "", now: 0) { allowed.add() }
            }
        }
        XCTAssertEqual(allowed.value, 100, "exactly the burst passes, whichever threads ask")
    }
}

private final class AllowedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

private func XCTAssertAllowed(_ decision: RateLimitPolicy.Decision, file: StaticString = #filePath, line: UInt = #line) {
    guard case .allowed = decision else { return XCTFail("refused: \(decision)", file: file, line: line) }
}
