import GRPCWeb
import XCTest

final class GRPCFrameScannerTests: XCTestCase {
    /// Two messages and an empty one, as literal wire bytes.
    let stream: [UInt8] = [
        0x00, 0, 0, 0, 3, 0x0A, 0x01, 0x78,
        0x01, 0, 0, 0, 2, 0xAB, 0xCD,
        0x00, 0, 0, 0, 0,
    ]

    /// Prefixes found, and every payload byte in order, when `stream` is fed in `pieces`.
    private func scan(_ pieces: [ArraySlice<UInt8>]) throws -> ([GRPCFrameScanner.Piece], [UInt8]) {
        var scanner = GRPCFrameScanner(maxMessageBytes: 100)
        var prefixes: [GRPCFrameScanner.Piece] = []
        var payload: [UInt8] = []
        for piece in pieces {
            try Array(piece).withUnsafeBytes { bytes in
                var index = 0
                while let found = try scanner.next(in: bytes, from: &index) {
                    switch found {
                    case .prefix: prefixes.append(found)
                    case .payload(let range, _): payload += bytes[range]
                    }
                }
            }
        }
        try scanner.finish()
        return (prefixes, payload)
    }

    func testFindsPrefixesAndPayloadsAtEverySplitPoint() throws {
        let expectedPrefixes: [GRPCFrameScanner.Piece] = [
            .prefix(flags: 0, length: 3), .prefix(flags: 1, length: 2),
            .prefix(flags: 0, length: 0),
        ]
        for split in 0...stream.count {
            for second in split...stream.count {
                let (prefixes, payload) = try scan([stream[0..<split], stream[split..<second], stream[second...]])
                XCTAssertEqual(prefixes, expectedPrefixes, "split at \(split), \(second)")
                XCTAssertEqual(payload, [0x0A, 0x01, 0x78, 0xAB, 0xCD], "split at \(split), \(second)")
            }
        }
    }

    func testPayloadPieceSaysWhenItCompletesTheFrame() throws {
        var scanner = GRPCFrameScanner(maxMessageBytes: 100)
        var pieces: [GRPCFrameScanner.Piece] = []
        for chunk in [[0x00, 0, 0, 0, 3, 0x0A] as [UInt8], [0x01, 0x78]] {
            try chunk.withUnsafeBytes { bytes in
                var index = 0
                while let piece = try scanner.next(in: bytes, from: &index) { pieces.append(piece) }
            }
        }
        XCTAssertEqual(
            pieces,
            [
                .prefix(flags: 0, length: 3), .payload(5..<6, completesFrame: false),
                .payload(0..<2, completesFrame: true),
            ])
    }

    func testLengthOverTheLimitNamesTheFrameOffset() throws {
        var scanner = GRPCFrameScanner(maxMessageBytes: 4)
        try ([0x00, 0, 0, 0, 1, 0x08, 0x00, 0, 0, 0, 5] as [UInt8]).withUnsafeBytes { bytes in
            var index = 0
            XCTAssertEqual(try scanner.next(in: bytes, from: &index), .prefix(flags: 0, length: 1))
            XCTAssertEqual(try scanner.next(in: bytes, from: &index), .payload(5..<6, completesFrame: true))
            XCTAssertThrowsError(try scanner.next(in: bytes, from: &index)) { error in
                XCTAssertEqual(error as? GRPCFrameError, .messageTooLarge(length: 5, limit: 4, offset: 6))
            }
        }
    }
}
