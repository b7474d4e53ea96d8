import FerryCore
import HTTP1
import TestSupport
import XCTest

final class HTTP1RequestParserPropertyTests: XCTestCase {
    /// Parses `bytes` fed in random pieces; returns the events or the error.
    private func parse(_ bytes: [UInt8], using random: inout SeededGenerator) -> Result<[HTTP1RequestParser.Event], HTTP1ParseError> {
        var parser = HTTP1RequestParser()
        var events: [HTTP1RequestParser.Event] = []
        var offset = 0
        while offset < bytes.count {
            let length = Int.random(in: 1...max(1, min(64, bytes.count - offset)), using: &random)
            parser.append(bytes[offset..<offset + length])
            offset += length
            do {
                while let event = try parser.next() { events.append(event) }
            } catch {
                return .failure(error)
            }
        }
        return .success(events)
    }

    /// Bodies are compared as concatenated bytes: how they are split depends on the pieces.
    private func normalized(_ events: [HTTP1RequestParser.Event]) -> [String] {
        var out: [String] = []
        var body: [UInt8] = []
        for event in events {
            switch event {
            case .head(let head, let framing): out.append("head \(head.method) \(head.target) \(head.headers.count) \(framing)")
            case .body(let chunk): body += chunk
            case .end:
                out.append("body \(body)")
                out.append("end")
                body = []
            }
        }
        return out
    }

    func testRandomSplitsOfValidRequestsGiveTheSameEvents() throws {
        var random = SeededGenerator(state: 42)
        for _ in 0..<300 {
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let body = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                if Bool.random(using: &random) {
                    stream += Array("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
                } else {
                    stream += Array("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                    if !body.isEmpty { stream += Array("\(String(body.count, radix: 16))\r\n".utf8) + body + [13, 10] }
                    stream += Array("0\r\n\r\n".utf8)
                }
            }
            var whole = HTTP1RequestParser()
            whole.append(stream)
            var expected: [HTTP1RequestParser.Event] = []
            while let event = try whole.next() { expected.append(event) }
            let pieces = try parse(stream, using: &random).get()
            XCTAssertEqual(normalized(pieces), normalized(expected))
        }
    }

    func testRandomBytesNeverCrashOrLoop() {
        var random = SeededGenerator(state: 7)
        let alphabet = Array("GET POST / HTTP/1.1\r\n:Host Content-Length Transfer-Encoding chunked 0123456789abcdef \t;=".utf8)
        for _ in 0..<2000 {
            let length = Int.random(in: 0...400, using: &random)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &random) ? alphabet.randomElement(using: &random)! : UInt8.random(in: 0...255, using: &random)
            }
            _ = parse(bytes, using: &random)
        }
    }

    func testMutatedRequestsAreEitherParsedOrRefused() {
        var random = SeededGenerator(state: 99)
        let valid = Array("POST /node.v1.NodeService/GetNode HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc".utf8)
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            switch parse(bytes, using: &random) {
            case .failure(let error):
                XCTAssertTrue([400, 431, 501, 505].contains(error.status), "\(error)")
            case .success:
                break
            }
        }
    }
}
