@testable import Upstream
import XCTest

final class RetryBufferBudgetTests: XCTestCase {
    func testReservationsFitTheLimitOrTakeNothing() {
        let budget = RetryBufferBudget(limitBytes: 100)
        XCTAssertTrue(budget.reserve(60))
        XCTAssertFalse(budget.reserve(41))
        XCTAssertEqual(budget.usedBytes, 60)
        XCTAssertTrue(budget.reserve(40))
        budget.release(60)
        XCTAssertEqual(budget.usedBytes, 40)
        budget.limitBytes = 10
        XCTAssertFalse(budget.reserve(1), "a lowered limit holds until what is in use ends")
    }
}
