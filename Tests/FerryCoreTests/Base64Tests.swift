import FerryCore
import TestSupport
import XCTest

final class Base64Tests: XCTestCase {
    func testEncodeRFC4648Vectors() {
        let vectors = [
            "": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==",
            "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy",
        ]
        for (plain, encoded) in vectors {
            XCTAssertEqual(String(decoding: Base64.encode(Array(plain.utf8)), as: UTF8.self), encoded)
        }
    }

    func testDecodeAcrossEveryChunkBoundary() throws {
        let plain = Array("gRPC-Web text bodies may split anywhere".utf8)
        let encoded = Base64.encode(plain)
        for split in 0...encoded.count {
            var decoder = Base64StreamDecoder()
            let out = try decoder.decode(encoded[0..<split]) + decoder.decode(encoded[split...])
            XCTAssertEqual(out, plain, "split at \(split)")
            XCTAssertNoThrow(try decoder.finish())
        }
    }

    func testPaddingBetweenSegments() throws {
        // "f", "fo" and "foo" encoded separately, then concatenated: PROTOCOL-WEB.md allows this.
        var decoder = Base64StreamDecoder()
        let out = try decoder.decode(Array("Zg==Zm8=Zm9v".utf8))
        XCTAssertEqual(out, Array("ffofoo".utf8))
        XCTAssertNoThrow(try decoder.finish())
    }

    func testPaddingSplitBetweenChunks() throws {
        var decoder = Base64StreamDecoder()
        var out = try decoder.decode(Array("Zg=".utf8))
        out += try decoder.decode(Array("=Zm8=".utf8))
        XCTAssertEqual(out, Array("ffo".utf8))
    }

    func testInvalidCharacterNamesOffset() {
        var decoder = Base64StreamDecoder()
        XCTAssertThrowsError(try decoder.decode(Array("Zm9v*".utf8))) { error in
            XCTAssertEqual(error as? Base64Error, .invalidCharacter(UInt8(ascii: "*"), offset: 4))
        }
    }

    func testMisplacedPadding() {
        var decoder = Base64StreamDecoder()
        XCTAssertThrowsError(try decoder.decode(Array("Z===".utf8))) { error in
            XCTAssertEqual(error as? Base64Error, .misplacedPadding(offset: 1))
        }
    }

    func testIncompleteGroupAtEnd() throws {
        var decoder = Base64StreamDecoder()
        _ = try decoder.decode(Array("Zm9".utf8))
        XCTAssertThrowsError(try decoder.finish())
    }

    func testLenientDecodingOfRandomValuesInBothAlphabetsWithAndWithoutPadding() {
        var generator = SeededGenerator(state: 4)
        for _ in 0..<2_000 {
            let plain = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var text = String(decoding: Base64.encode(plain), as: UTF8.self)
            if Bool.random(using: &generator) { text = String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }) }
            if Bool.random(using: &generator) { text = String(text.drop { _ in false }.reversed().drop { $0 == "=" }.reversed()) }
            XCTAssertEqual(Base64.decodeLenient(text), plain, text)
            var out: [UInt8] = [7]
            let decoded = Array(text.utf8).withUnsafeBytes { Base64.decodeLenient($0, appendingTo: &out) }
            XCTAssertTrue(decoded)
            XCTAssertEqual(out, [7] + plain)
        }
        for invalid in ["A", "AB=C", "AB===", "A*==", "ABC.", "Zm9v\n"] {
            XCTAssertNil(Base64.decodeLenient(invalid), invalid)
            var out: [UInt8] = [1, 2]
            let decoded = Array(invalid.utf8).withUnsafeBytes { Base64.decodeLenient($0, appendingTo: &out) }
            XCTAssertFalse(decoded, invalid)
            XCTAssertEqual(out, [1, 2], "a refused value leaves the output as it was")
        }
    }
}
