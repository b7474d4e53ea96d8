import GRPCWeb
import XCTest

final class GRPCFrameDecoderTests: XCTestCase {
    /// Two messages and an empty one, as literal wire bytes.
    let stream: [UInt8] = [
        0x00, 0, 0, 0, 3, 0x0A, 0x01, 0x78,
        0x01, 0, 0, 0, 2, 0xAB, 0xCD,
        0x00, 0, 0, 0, 0,
    ]

    func testDecodesWholeStream() throws {
        var decoder = GRPCFrameDecoder(maxMessageBytes: 100)
        let frames = try decoder.decode(stream)
        XCTAssertEqual(
            frames,
            [
                GRPCFrame(flags: 0, payload: [0x0A, 0x01, 0x78]),
                GRPCFrame(flags: 1, payload: [0xAB, 0xCD]),
                GRPCFrame(flags: 0, payload: []),
            ])
        XCTAssertNoThrow(try decoder.finish())
    }

    func testEverySplitPointGivesTheSameFrames() throws {
        var whole = GRPCFrameDecoder(maxMessageBytes: 100)
        let expected = try whole.decode(stream)
        for split in 0...stream.count {
            for second in split...stream.count {
                var decoder = GRPCFrameDecoder(maxMessageBytes: 100)
                var frames = try decoder.decode(stream[0..<split])
                frames += try decoder.decode(stream[split..<second])
                frames += try decoder.decode(stream[second...])
                XCTAssertEqual(frames, expected, "split at \(split), \(second)")
                XCTAssertNoThrow(try decoder.finish())
            }
        }
    }

    func testByteAtATime() throws {
        var decoder = GRPCFrameDecoder(maxMessageBytes: 100)
        var frames: [GRPCFrame] = []
        for byte in stream { frames += try decoder.decode([byte]) }
        XCTAssertEqual(frames.count, 3)
    }

    func testTruncatedPayloadIsReportedWithOffset() throws {
        var decoder = GRPCFrameDecoder(maxMessageBytes: 100)
        _ = try decoder.decode([0x00, 0, 0, 0, 1, 0x08, 0x00, 0, 0, 0, 16, 1, 2, 3])
        XCTAssertThrowsError(try decoder.finish()) { error in
            XCTAssertEqual(error as? GRPCFrameError, .truncated(offset: 6, missing: 13))
        }
    }

    func testTruncatedPrefix() throws {
        var decoder = GRPCFrameDecoder(maxMessageBytes: 100)
        _ = try decoder.decode([0x00, 0, 0])
        XCTAssertThrowsError(try decoder.finish()) { error in
            XCTAssertEqual(error as? GRPCFrameError, .truncated(offset: 0, missing: 2))
        }
    }

    func testLengthOverLimitFailsBeforeThePayloadArrives() {
        var decoder = GRPCFrameDecoder(maxMessageBytes: 4)
        XCTAssertThrowsError(try decoder.decode([0x00, 0, 0, 0, 5])) { error in
            XCTAssertEqual(error as? GRPCFrameError, .messageTooLarge(length: 5, limit: 4, offset: 0))
        }
    }

    func testFrameHeaderEncoding() {
        XCTAssertEqual(GRPCFrame.header(flags: 0x80, length: 0x01020304), [0x80, 1, 2, 3, 4])
        XCTAssertEqual(GRPCFrame(flags: 0, payload: [9]).serialized, [0, 0, 0, 0, 1, 9])
    }
}
