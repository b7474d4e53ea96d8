import FerryCore
@testable import Upstream
import XCTest

final class StreamTableTests: XCTestCase {
    private final class Delegate: UpstreamCallDelegate {
        func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {}
    }

    private let delegate = Delegate()

    private func makeCall() -> UpstreamCall {
        UpstreamCall(
            request: UpstreamRequest(path: "/a.B/C", metadata: HeaderFields(), contentType: "application/grpc", timeout: nil, body: []),
            delegate: delegate)
    }

    func testStreamsOpenedInTurnAreFoundAndGone() {
        var table = StreamTable()
        let calls = (0..<40).map { _ in makeCall() }
        for (index, call) in calls.enumerated() { table.insert(call, id: Int32(2 * index + 1)) }
        XCTAssertEqual(table.count, 40)
        for (index, call) in calls.enumerated() { XCTAssertTrue(table[Int32(2 * index + 1)] === call) }
        XCTAssertNil(table[2])
        XCTAssertNil(table[81])
        XCTAssertEqual(table.all.map(\.id), (0..<40).map { Int32(2 * $0 + 1) })
        XCTAssertTrue(table.removeValue(forKey: 1) === calls[0])
        XCTAssertNil(table.removeValue(forKey: 1))
        XCTAssertEqual(table.count, 39)
        table.removeAll()
        XCTAssertTrue(table.isEmpty)
        XCTAssertNil(table[3])
    }

    /// Against a Dictionary, through inserts and removals in random order, with ids that share
    /// slots (far apart by multiples of the table's size) so that runs form and shift back.
    func testAgreesWithADictionaryThroughCollidingRuns() {
        var generator = SplitMix64(state: 19)
        var table = StreamTable()
        var model: [Int32: UpstreamCall] = [:]
        let pool = (0..<24).map { _ in makeCall() }
        for step in 0..<20_000 {
            let id = Int32(1 + 2 * Int.random(in: 0..<12, using: &generator) + 64 * Int.random(in: 0..<4, using: &generator))
            if Bool.random(using: &generator) {
                let call = pool[Int.random(in: 0..<pool.count, using: &generator)]
                table.insert(call, id: id)
                model[id] = call
            } else {
                XCTAssertTrue(table.removeValue(forKey: id) === model.removeValue(forKey: id), "step \(step)")
            }
            XCTAssertEqual(table.count, model.count, "step \(step)")
            for (known, call) in model { XCTAssertTrue(table[known] === call, "step \(step), id \(known)") }
        }
        XCTAssertEqual(table.all.map(\.id), model.keys.sorted())
    }
}
