import FerryCore
import XCTest

final class WriteBufferTests: XCTestCase {
    /// Pieces of every kind come out in order, across growth from the smallest capacity, and
    /// emptying keeps nothing of what was written.
    func testPiecesComeOutInOrderAcrossGrowth() {
        var buffer = WriteBuffer(capacity: 1)
        var expected: [UInt8] = []
        for round in 0..<200 {
            let piece = (0..<(round % 37)).map { UInt8(truncatingIfNeeded: round &+ $0) }
            piece.withUnsafeBytes { buffer.append($0) }
            buffer.append(ascii: "\r\n")
            buffer.append(UInt8(truncatingIfNeeded: round))
            buffer.append(upTo: 3) { room in
                room[0] = 0x41
                return 1
            }
            expected += piece + [0x0D, 0x0A, UInt8(truncatingIfNeeded: round), 0x41]
        }
        XCTAssertEqual(buffer.count, expected.count)
        XCTAssertEqual(buffer.bytes, expected)
        buffer.removeAll()
        XCTAssertTrue(buffer.isEmpty)
        buffer.append(ascii: "next")
        XCTAssertEqual(buffer.bytes, Array("next".utf8))
        buffer.append(UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertEqual(buffer.withUnsafeBytes { $0.count }, 4)
    }
}
