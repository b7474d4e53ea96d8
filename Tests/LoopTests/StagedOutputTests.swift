import XCTest

@testable import Loop

final class StagedOutputTests: XCTestCase {
    private func append(_ text: [UInt8], to staged: inout StagedOutput, loop: EventLoop) {
        text.withUnsafeBytes { staged.append($0, loop: loop) }
    }

    private func contents(_ staged: StagedOutput) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: staged.base, count: staged.count))
    }

    func testPiecesGatherInOrderInABlockTheLoopLendsAgainOnceReleased() throws {
        let loop = try EventLoop()
        var staged = StagedOutput()
        XCTAssertTrue(staged.isEmpty)
        let pieces = ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", "5\r\nhello\r\n", "0\r\n\r\n"].map { Array($0.utf8) }
        for piece in pieces { append(piece, to: &staged, loop: loop) }
        append([], to: &staged, loop: loop)
        XCTAssertEqual(contents(staged), pieces.flatMap { $0 })
        let block = staged.base
        staged.release(to: loop)
        XCTAssertTrue(staged.isEmpty)
        XCTAssertNil(staged.base)

        var next = StagedOutput()
        append(Array("next".utf8), to: &next, loop: loop)
        XCTAssertEqual(next.base, block, "the released block is lent to the next connection that writes")
        XCTAssertEqual(contents(next), Array("next".utf8))
        next.release(to: loop)
    }

    func testAWriteLargerThanABlockGrowsIntoMemoryOfItsOwn() throws {
        let loop = try EventLoop()
        var staged = StagedOutput()
        let head = Array("head".utf8)
        let large = (0..<(3 * EventLoop.outputBlockSize)).map { UInt8(truncatingIfNeeded: $0) }
        append(head, to: &staged, loop: loop)
        let block = staged.base
        append(large, to: &staged, loop: loop)
        append(head, to: &staged, loop: loop)
        XCTAssertNotEqual(staged.base, block)
        XCTAssertEqual(contents(staged), head + large + head)
        staged.release(to: loop)

        // The block it started in went back when it grew; the grown memory was freed.
        var next = StagedOutput()
        append(head, to: &next, loop: loop)
        XCTAssertEqual(next.base, block)
        next.release(to: loop)
    }
}
