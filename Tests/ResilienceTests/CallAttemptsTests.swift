import FerryCore
import Resilience
import XCTest

final class CallAttemptsTests: XCTestCase {
    private let policy = RetryPolicy(
        maxAttempts: 3, initialBackoffNanoseconds: 100, maxBackoffNanoseconds: 1_000,
        backoffMultiplier: 2, retryableStatusCodes: [.unavailable], maxBufferedRequestBytes: 1_000)
    private var random = SplitMix64(state: 42)

    private func end(
        _ attempts: inout CallAttempts, _ code: GRPCStatusCode, throttleAllows: Bool = true,
        deadlineLeft: UInt64? = nil
    ) -> CallAttempts.EndVerdict {
        attempts.attemptEnded(
            code: code, pushback: nil, throttleAllows: throttleAllows, deadlineLeftNanoseconds: deadlineLeft,
            using: &random)
    }

    func testAFailedAttemptIsRetriedAfterABackoffUntilTheAttemptsRunOut() {
        var attempts = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        attempts.streamOpened()
        guard case .retry(let first) = end(&attempts, .unavailable) else { return XCTFail() }
        XCTAssertLessThanOrEqual(first, 100)
        XCTAssertEqual(attempts.phase, .backingOff)
        attempts.streamOpened()
        guard case .retry = end(&attempts, .unavailable) else { return XCTFail() }
        attempts.streamOpened()
        XCTAssertEqual(end(&attempts, .unavailable), .deliver(notRetried: .giveUp("3 attempts made (max_attempts 3)")))
        XCTAssertEqual(attempts.attempts, 3)
    }

    func testNothingIsRetriedOnceTheResponseStarted() {
        var attempts = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        attempts.streamOpened()
        XCTAssertEqual(attempts.headReceived(), .deliver)
        attempts.partDelivered()
        XCTAssertEqual(end(&attempts, .unavailable), .deliver(notRetried: nil))
    }

    func testStatusesOutsideThePolicyAndOKEndTheCall() {
        var attempts = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        attempts.streamOpened()
        XCTAssertEqual(end(&attempts, .notFound), .deliver(notRetried: .giveUp("NOT_FOUND is not retryable")))
        var ok = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        ok.streamOpened()
        XCTAssertEqual(end(&ok, .ok), .deliver(notRetried: nil))
    }

    func testTheThrottleAndTheDeadlineCanRefuseARetry() {
        var throttled = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        throttled.streamOpened()
        XCTAssertEqual(end(&throttled, .unavailable, throttleAllows: false), .deliver(notRetried: .throttled))
        var late = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        late.streamOpened()
        XCTAssertEqual(end(&late, .unavailable, deadlineLeft: 0), .deliver(notRetried: .giveUp("the deadline comes first")))
    }

    func testARequestPastTheBufferIsNeverRetried() {
        var attempts = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 2_000)
        attempts.streamOpened()
        XCTAssertEqual(end(&attempts, .unavailable), .deliver(notRetried: .giveUp("the call was committed")))
        var streamed = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 0)
        streamed.replayDropped()
        streamed.streamOpened()
        XCTAssertEqual(end(&streamed, .unavailable), .deliver(notRetried: .giveUp("the call was committed")))
    }

    func testUnprocessedAttemptsGoAgainTransparentlyUpToALimit() {
        var attempts = CallAttempts(retryPolicy: nil, holdsReplies: false, requestBytes: 10)
        for _ in 0..<CallAttempts.transparentRetryLimit {
            attempts.streamOpened()
            XCTAssertTrue(attempts.retryTransparently(mayGoAgain: true, canReplay: true))
            XCTAssertEqual(attempts.phase, .waiting)
        }
        XCTAssertFalse(attempts.retryTransparently(mayGoAgain: true, canReplay: true))
        XCTAssertEqual(attempts.attempts, 1, "transparent retries are not attempts")
        var nowhere = CallAttempts(retryPolicy: nil, holdsReplies: false, requestBytes: 10)
        XCTAssertFalse(nowhere.retryTransparently(mayGoAgain: false, canReplay: true))
        XCTAssertFalse(nowhere.retryTransparently(mayGoAgain: true, canReplay: false))
    }

    func testAnIdempotentReplyIsHeldUntilItsTrailersThenReleasedPastTheBuffer() {
        var attempts = CallAttempts(retryPolicy: policy, holdsReplies: true, requestBytes: 10)
        attempts.streamOpened()
        XCTAssertEqual(attempts.headReceived(), .hold)
        XCTAssertEqual(attempts.dataReceived(count: 600), .hold)
        XCTAssertEqual(attempts.dataReceived(count: 600), .releaseHeld)
        attempts.partDelivered()
        XCTAssertEqual(attempts.dataReceived(count: 10), .deliver)
    }

    func testAHeldReplyWhoseTrailersFailIsRetried() {
        var attempts = CallAttempts(retryPolicy: policy, holdsReplies: true, requestBytes: 10)
        attempts.streamOpened()
        XCTAssertEqual(attempts.headReceived(), .hold)
        guard case .retry = end(&attempts, .unavailable) else { return XCTFail("a held reply can still be retried") }
        attempts.streamOpened()
        XCTAssertFalse(attempts.receivedHead, "a new attempt has no head yet")
    }

    func testCancelResetsAnOpenStreamOrEndsAtOnce() {
        var active = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        active.streamOpened()
        XCTAssertTrue(active.cancel())
        XCTAssertEqual(end(&active, .unavailable), .deliver(notRetried: nil), "a cancelled call is never retried")
        var queued = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        queued.queued()
        XCTAssertFalse(queued.cancel())
        XCTAssertEqual(queued.phase, .finished)
    }

    func testThePerTryTimeoutAppliesOnlyBeforeTheHead() {
        var attempts = CallAttempts(retryPolicy: policy, holdsReplies: false, requestBytes: 10)
        XCTAssertFalse(attempts.perTryTimeoutApplies())
        attempts.streamOpened()
        XCTAssertTrue(attempts.perTryTimeoutApplies())
        _ = attempts.headReceived()
        XCTAssertFalse(attempts.perTryTimeoutApplies())
    }
}
