import FerryCore
import Resilience
import TestSupport
import XCTest

final class RetryPolicyTests: XCTestCase {
    private let policy = RetryPolicy(
        maxAttempts: 4, initialBackoffNanoseconds: 100_000_000, maxBackoffNanoseconds: 1_000_000_000,
        backoffMultiplier: 2, retryableStatusCodes: [.unavailable])

    func testBackoffCeilingGrowsByTheMultiplierUpToTheMaximum() {
        XCTAssertEqual(
            (1...6).map { policy.backoffCeiling(beforeRetry: $0) },
            [100_000_000, 200_000_000, 400_000_000, 800_000_000, 1_000_000_000, 1_000_000_000])
    }

    func testDelaysAreFullJitterAndReplayExactlyFromASeed() {
        var first = SeededGenerator(state: 42)
        var second = SeededGenerator(state: 42)
        let delays = (1...3).map { policy.backoff(beforeRetry: $0, using: &first) }
        XCTAssertEqual(delays, (1...3).map { policy.backoff(beforeRetry: $0, using: &second) })
        for (retry, delay) in zip(1..., delays) { XCTAssertLessThanOrEqual(delay, policy.backoffCeiling(beforeRetry: retry)) }
        // Full jitter covers the whole range: over many draws the extremes come near 0 and the ceiling.
        var generator = SeededGenerator(state: 7)
        let draws = (0..<2_000).map { _ in policy.backoff(beforeRetry: 1, using: &generator) }
        XCTAssertLessThan(draws.min()!, 1_000_000)
        XCTAssertGreaterThan(draws.max()!, 99_000_000)
    }

    func testMaxAttemptsIsCappedAtFive() {
        XCTAssertEqual(
            RetryPolicy(
                maxAttempts: 9, initialBackoffNanoseconds: 1, maxBackoffNanoseconds: 1, backoffMultiplier: 1,
                retryableStatusCodes: []
            ).maxAttempts, 5)
    }

    func testRetriesUntilTheAttemptsRunOut() {
        var state = RetryState(policy: policy)
        var generator = SeededGenerator(state: 1)
        var decisions: [RetryState.Decision] = []
        for _ in 0..<4 { decisions.append(state.attemptFailed(with: .unavailable, pushback: nil, throttleAllows: true, using: &generator)) }
        XCTAssertEqual(decisions.filter { if case .retry = $0 { true } else { false } }.count, 3)
        XCTAssertEqual(decisions.last, .giveUp("4 attempts made (max_attempts 4)"))
        XCTAssertEqual(state.attempts, 4)
        XCTAssertEqual(state.previousAttemptsHeader, "3")
    }

    func testWhatIsNeverRetried() {
        var generator = SeededGenerator(state: 1)
        var state = RetryState(policy: policy)
        XCTAssertEqual(state.previousAttemptsHeader, nil)
        XCTAssertEqual(
            state.attemptFailed(with: .notFound, pushback: nil, throttleAllows: true, using: &generator),
            .giveUp("NOT_FOUND is not retryable"))
        XCTAssertEqual(
            state.attemptFailed(with: .unavailable, pushback: nil, throttleAllows: false, using: &generator),
            .throttled)
        XCTAssertEqual(
            state.attemptFailed(with: .unavailable, pushback: .doNotRetry, throttleAllows: true, using: &generator),
            .giveUp("the server's pushback says not to retry"))
        state.requestBuffered(bytes: 256 * 1024)
        XCTAssertEqual(state.phase, .uncommitted, "the limit itself still fits")
        state.requestBuffered(bytes: 256 * 1024 + 1)
        XCTAssertEqual(
            state.attemptFailed(with: .unavailable, pushback: nil, throttleAllows: true, using: &generator),
            .giveUp("the call was committed"))
        var committed = RetryState(policy: policy)
        committed.commit()
        XCTAssertEqual(
            committed.attemptFailed(with: .unavailable, pushback: nil, throttleAllows: true, using: &generator),
            .giveUp("the call was committed"))
        XCTAssertEqual(committed.attempts, 1)
    }

    func testPushbackSetsTheDelayAndRestartsTheBackoff() {
        var state = RetryState(policy: policy)
        var generator = SeededGenerator(state: 3)
        var reference = SeededGenerator(state: 3)
        XCTAssertEqual(
            state.attemptFailed(with: .unavailable, pushback: nil, throttleAllows: true, using: &generator),
            .retry(afterNanoseconds: policy.backoff(beforeRetry: 1, using: &reference)))
        XCTAssertEqual(
            state.attemptFailed(
                with: .unavailable, pushback: RetryPushback(headerValue: "250"), throttleAllows: true,
                using: &generator), .retry(afterNanoseconds: 250_000_000))
        // After pushback the backoff starts over at the first step.
        XCTAssertEqual(
            state.attemptFailed(with: .unavailable, pushback: nil, throttleAllows: true, using: &generator),
            .retry(afterNanoseconds: policy.backoff(beforeRetry: 1, using: &reference)))
        XCTAssertEqual(RetryPushback(headerValue: "-1"), .doNotRetry)
        XCTAssertEqual(RetryPushback(headerValue: "soon"), .doNotRetry)
        XCTAssertEqual(RetryPushback(headerValue: "0"), .retryAfter(nanoseconds: 0))
    }
}

final class RetryThrottleTests: XCTestCase {
    func testA6TokenBucket() {
        // maxTokens 10, ratio 0.1: retries stop once the bucket is at 5 or below.
        let throttle = RetryThrottle(RetryThrottleSettings(maxTokens: 10, tokenRatio: 0.1))
        XCTAssertTrue(throttle.allowsRetry)
        for _ in 0..<4 { throttle.recordFailure() }
        XCTAssertEqual(throttle.milliTokens, 6_000)
        XCTAssertTrue(throttle.allowsRetry)
        throttle.recordFailure()
        XCTAssertFalse(throttle.allowsRetry, "5 tokens is not more than 10/2")
        throttle.recordSuccess()
        XCTAssertEqual(throttle.milliTokens, 5_100)
        XCTAssertTrue(throttle.allowsRetry)
        for _ in 0..<20 { throttle.recordFailure() }
        XCTAssertEqual(throttle.milliTokens, 0, "never below zero")
        for _ in 0..<200 { throttle.recordSuccess() }
        XCTAssertEqual(throttle.milliTokens, 10_000, "never above max")
    }

    func testRatioKeepsThreeDecimals() {
        let throttle = RetryThrottle(RetryThrottleSettings(maxTokens: 1, tokenRatio: 0.0015))
        for _ in 0..<1_000 { throttle.recordFailure() }
        throttle.recordSuccess()
        XCTAssertEqual(throttle.milliTokens, 2)
    }

    /// The amplification bound of the fault test, checked on the model: a backend that fails
    /// every call gets at most maxTokens/2 retries before throttling stops them.
    func testRetriesStopInASustainedOutage() {
        let throttle = RetryThrottle(RetryThrottleSettings(maxTokens: 10, tokenRatio: 0.1))
        var retries = 0
        for _ in 0..<1_000 {
            throttle.recordFailure()
            if throttle.allowsRetry {
                retries += 1
                throttle.recordFailure()
            }
        }
        XCTAssertLessThanOrEqual(retries, 5)
    }
}
