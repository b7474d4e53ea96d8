import FerryCore
import XCTest

final class HTTPSyntaxTests: XCTestCase {
    func testTokenBytesAreExactlyRFC9110s() {
        // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            XCTAssertEqual(isHTTPTokenByte(byte), tchar.contains(byte), "byte \(byte)")
        }
    }

    func testFieldValueBytesAreExactlyRFC9110s() {
        // field-value = *( VCHAR / obs-text / SP / HTAB ): every byte but controls and DEL.
        func allowed(_ byte: UInt8) -> Bool { byte == 0x09 || (byte >= 0x20 && byte != 0x7F) }
        for byte in UInt8.min...UInt8.max {
            // At each position of a value longer than one word, so the word-wide test and the
            // byte-wise tail both see it.
            for position in [0, 5, 7, 8, 15, 19] {
                var value = [UInt8](repeating: UInt8(ascii: "a"), count: 20)
                value[position] = byte
                XCTAssertEqual(value.withUnsafeBytes(isHTTPFieldValue), allowed(byte), "byte \(byte) at \(position)")
            }
        }
        XCTAssertTrue([UInt8]().withUnsafeBytes(isHTTPFieldValue))
        XCTAssertTrue(Array("h2load nghttp2/1.52.0\t\u{80}\u{FF}".utf8).withUnsafeBytes(isHTTPFieldValue))
    }
}
