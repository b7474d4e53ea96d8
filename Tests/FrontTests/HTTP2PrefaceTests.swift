@testable import Front
import XCTest

final class HTTP2PrefaceTests: XCTestCase {
    func testTheWholePrefaceIsHTTP2() {
        XCTAssertEqual(HTTP2Preface.match(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)), .http2)
        XCTAssertEqual(HTTP2Preface.match(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\u{4}".utf8)), .http2)
    }

    func testAPrefixOfThePrefaceNeedsMore() {
        XCTAssertEqual(HTTP2Preface.match(Array("PRI * HTTP/2".utf8)), .needMore)
        XCTAssertEqual(HTTP2Preface.match([UInt8]()), .needMore)
    }

    func testAnythingElseIsHTTP1() {
        XCTAssertEqual(HTTP2Preface.match(Array("POST /node.v1.NodeService/GetNode HTTP/1.1\r\n".utf8)), .http1)
        XCTAssertEqual(HTTP2Preface.match(Array("PRI * HTTP/1.1\r\n".utf8)), .http1)
        XCTAssertEqual(HTTP2Preface.match(Array("G".utf8)), .http1)
    }
}
