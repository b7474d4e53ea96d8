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
}
