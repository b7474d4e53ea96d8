import Dispatch
import Resilience
import Synchronization
import XCTest

final class CircuitBreakerTests: XCTestCase {
    func testEachLimitTripsWithItsNameAndReleasesMakeRoom() {
        let breaker = CircuitBreaker(
            thresholds: CircuitBreakerThresholds(maxConnections: 1, maxPendingRequests: 2, maxRequests: 2, maxRetries: 0))
        XCTAssertNil(breaker.acquire(.request))
        XCTAssertNil(breaker.acquire(.request))
        XCTAssertEqual(breaker.acquire(.request), "circuit breaker open: max_requests 2 reached")
        XCTAssertEqual(breaker.acquire(.retry), "circuit breaker open: max_retries 0 reached")
        XCTAssertNil(breaker.acquire(.connection))
        XCTAssertEqual(breaker.acquire(.connection), "circuit breaker open: max_connections 1 reached")
        breaker.release(.request)
        XCTAssertNil(breaker.acquire(.request))
        XCTAssertEqual(breaker.inUse(.request), 2)
        XCTAssertEqual(BreakerResource.allCases.map(breaker.trips), [1, 0, 1, 1])
    }

    func testLimitsHoldAcrossThreads() {
        let breaker = CircuitBreaker(thresholds: CircuitBreakerThresholds(maxRequests: 100))
        let granted = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<1_000 where breaker.acquire(.request) == nil { _ = granted.add(1, ordering: .relaxed) }
        }
        XCTAssertEqual(granted.load(ordering: .relaxed), 100, "one cluster-wide limit, whatever the workers")
        XCTAssertEqual(breaker.trips(.request), 8_000 - 100)
    }

    func testEnvoyDefaults() {
        let defaults = CircuitBreakerThresholds()
        XCTAssertEqual(
            [defaults.maxConnections, defaults.maxPendingRequests, defaults.maxRequests, defaults.maxRetries], [1024, 1024, 1024, 3])
    }
}

final class OutlierDetectorTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    func testConsecutiveFailuresEjectForGrowingTimesAndHalfOpenProbes() {
        var detector = OutlierDetector<String>(
            settings: OutlierDetectionSettings(
                consecutiveFailures: 3, baseEjectionNanoseconds: 10 * second,
                maxEjectionPercent: 50))
        detector.setEndpoints(["a", "b", "c", "d"])
        XCTAssertFalse(detector.recordFailure("a", now: 0))
        detector.recordSuccess("a")
        XCTAssertFalse(detector.recordFailure("a", now: 2))
        XCTAssertFalse(detector.recordFailure("a", now: 3))
        XCTAssertTrue(detector.recordFailure("a", now: 4), "third in a row")
        XCTAssertFalse(detector.isAvailable("a", now: 5 * second))
        XCTAssertEqual(detector.state(of: "a", now: 10 * second + 4), .halfOpen)
        // Half-open: one failure ejects again, for twice the base time.
        XCTAssertTrue(detector.recordFailure("a", now: 11 * second))
        XCTAssertEqual(detector.state(of: "a", now: 11 * second), .ejected(untilNanoseconds: 31 * second))
        XCTAssertEqual(detector.state(of: "a", now: 31 * second), .halfOpen)
        detector.recordSuccess("a")
        XCTAssertEqual(detector.state(of: "a", now: 31 * second), .healthy(consecutiveFailures: 0))
        XCTAssertEqual(detector.ejections, 2)
    }

    func testEjectionPercentAndTheLastEndpointStanding() {
        var detector = OutlierDetector<Int>(
            settings: OutlierDetectionSettings(
                consecutiveFailures: 1, baseEjectionNanoseconds: second,
                maxEjectionPercent: 50))
        detector.setEndpoints([1, 2, 3, 4])
        XCTAssertTrue(detector.recordFailure(1, now: 0))
        XCTAssertTrue(detector.recordFailure(2, now: 0))
        XCTAssertFalse(detector.recordFailure(3, now: 0), "50 % of 4 are out already")
        XCTAssertTrue(detector.isAvailable(3, now: 0))
        // With 10 % of two endpoints, one may still go (at least one always may), but never both.
        var pair = OutlierDetector<Int>(
            settings: OutlierDetectionSettings(
                consecutiveFailures: 1, baseEjectionNanoseconds: second,
                maxEjectionPercent: 100))
        pair.setEndpoints([1, 2])
        XCTAssertTrue(pair.recordFailure(1, now: 0))
        XCTAssertFalse(pair.recordFailure(2, now: 0), "the last endpoint is never ejected")
        var single = OutlierDetector<Int>(settings: OutlierDetectionSettings(consecutiveFailures: 1))
        single.setEndpoints([1])
        XCTAssertFalse(single.recordFailure(1, now: 0))
    }

    func testEndpointsThatLeaveAreForgottenAndNewOnesStartHealthy() {
        var detector = OutlierDetector<String>(settings: OutlierDetectionSettings(consecutiveFailures: 1, maxEjectionPercent: 100))
        detector.setEndpoints(["a", "b"])
        XCTAssertTrue(detector.recordFailure("a", now: 0))
        detector.setEndpoints(["b", "c"])
        XCTAssertEqual(detector.state(of: "a", now: 0), .healthy(consecutiveFailures: 0))
        XCTAssertTrue(detector.isAvailable("c", now: 0))
        detector.setEndpoints(["a", "b", "c"])
        XCTAssertTrue(detector.isAvailable("a", now: 0), "a returning endpoint starts over")
    }
}

final class EndpointPickerTests: XCTestCase {
    func testRoundRobinSkipsUnavailableAndTriedEndpoints() {
        var picker = EndpointPicker(endpoints: ["a", "b", "c"])
        XCTAssertEqual((0..<4).map { _ in picker.pick(excluding: []) { _ in true } }, ["a", "b", "c", "a"])
        XCTAssertEqual(picker.pick(excluding: []) { $0 != "b" }, "c")
        XCTAssertEqual(picker.pick(excluding: ["a"]) { _ in true }, "b", "a retry avoids the endpoint it failed on")
        XCTAssertEqual(picker.pick(excluding: ["a", "b", "c"]) { _ in true }, "c", "all tried: the next one anyway")
        XCTAssertNil(picker.pick(excluding: []) { _ in false })
        picker.setEndpoints(["d"])
        XCTAssertEqual(picker.pick(excluding: []) { _ in true }, "d")
        picker.setEndpoints([])
        XCTAssertNil(picker.pick(excluding: []) { _ in true })
    }
}

final class HealthCheckStateTests: XCTestCase {
    func testThresholdsInBothDirections() {
        let settings = HealthCheckSettings(healthyThreshold: 2, unhealthyThreshold: 3)
        var state = HealthCheckState()
        XCTAssertTrue(state.isHealthy, "endpoints start healthy")
        XCTAssertEqual([false, false].map { state.record(passed: $0, settings: settings) }, [false, false])
        XCTAssertFalse(state.record(passed: true, settings: settings), "a pass resets the failure count")
        XCTAssertEqual([false, false, false].map { state.record(passed: $0, settings: settings) }, [false, false, true])
        XCTAssertFalse(state.isHealthy)
        XCTAssertEqual([true, false, true, true].map { state.record(passed: $0, settings: settings) }, [false, false, false, true])
        XCTAssertTrue(state.isHealthy)
    }
}
