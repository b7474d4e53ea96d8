import FerryCore
import XCTest

final class Base64Tests: XCTestCase {
    func testEncodeRFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==",
                       "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
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
}
