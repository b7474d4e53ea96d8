import FerryCore
import HTTP1
import XCTest

final class HTTP1ResponseHeadTests: XCTestCase {
    func testTheHeadIsTheStatusLineTheFieldsAndAnEmptyLine() {
        var headers = HeaderFields()
        headers.append(name: "content-type", value: "application/grpc-web+proto")
        let head = HTTP1ResponseHead(status: 404, headers: headers)
        XCTAssertEqual(
            String(decoding: head.serialized(), as: UTF8.self),
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/grpc-web+proto\r\n\r\n")
        var out = WriteBuffer()
        head.appendStatusLineAndFields(to: &out)
        XCTAssertEqual(out.bytes + Array("\r\n".utf8), head.serialized())
    }

    func testContentLengthDigitsAreWrittenInPlace() {
        for length in [0, 7, 10, 1234, 4_194_309] {
            var out = WriteBuffer()
            out.append(ascii: "x")
            HTTP1ResponseHead.appendContentLength(length, to: &out)
            XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "xcontent-length: \(length)\r\n")
        }
    }
}
