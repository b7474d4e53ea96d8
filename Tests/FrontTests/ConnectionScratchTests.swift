@testable import Front
import XCTest

final class ConnectionScratchTests: XCTestCase {
    func testRecordsAndBuffersAreReused() {
        let scratch = ConnectionScratch()
        let record = scratch.takeRecord()
        scratch.giveBack(record)
        XCTAssertTrue(scratch.takeRecord() === record)

        var buffer = scratch.takeBuffer()
        buffer.append(contentsOf: [1, 2, 3])
        buffer.removeAll(keepingCapacity: true)
        let capacity = buffer.capacity
        scratch.giveBack(buffer)
        XCTAssertEqual(scratch.takeBuffer().capacity, capacity)
    }

    func testALargeBufferIsFreedNotKept() {
        let scratch = ConnectionScratch()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64 * 1024)
        scratch.giveBack(buffer)
        XCTAssertEqual(scratch.takeBuffer().capacity, 0)
    }

    func testSparesAreBounded() {
        let scratch = ConnectionScratch()
        let records = (0..<300).map { _ in scratch.takeRecord() }
        for record in records { scratch.giveBack(record) }
        var kept = Set<ObjectIdentifier>()
        for _ in 0..<300 { kept.insert(ObjectIdentifier(scratch.takeRecord())) }
        // 256 spares come back; the rest are new records.
        XCTAssertEqual(kept.intersection(records.map(ObjectIdentifier.init)).count, 256)
    }

    func testTheWriteBufferStartsEmptyEachTime() {
        let scratch = ConnectionScratch()
        var written: [[UInt8]] = []
        scratch.withWriteBuffer { bytes in
            bytes.append(1)
            bytes.append(2)
            written.append(bytes.bytes)
        }
        scratch.withWriteBuffer { bytes in
            bytes.append(3)
            written.append(bytes.bytes)
        }
        XCTAssertEqual(written, [[1, 2], [3]])
    }

    func testAResponseHeadsFieldsComeBackEmpty() {
        let scratch = ConnectionScratch()
        var first = scratch.takeHeaders()
        XCTAssertTrue(first.isEmpty)
        first.append(name: "x-secret", value: "for the first client only")
        scratch.giveBack(headers: first)
        var second = scratch.takeHeaders()
        XCTAssertTrue(second.isEmpty, "nothing of the last response's head is left in the lent storage")
        second.append(name: "content-type", value: "application/grpc-web+proto")
        XCTAssertEqual(second, ["content-type": "application/grpc-web+proto"])
        XCTAssertTrue(scratch.takeHeaders().isEmpty, "lent out and not back: a new one")
    }
}
