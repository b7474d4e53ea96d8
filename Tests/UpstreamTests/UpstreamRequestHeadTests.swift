import FerryCore
@testable import Upstream
import XCTest

final class UpstreamRequestHeadTests: XCTestCase {
    private let pseudoFields: HeaderFields = [":method": "POST", ":scheme": "http", ":authority": "b:50051"]

    private func expected(_ path: String, _ contentType: String) -> HeaderFields {
        var fields = pseudoFields
        fields.append(contentsOf: [":path": path, "content-type": contentType, "te": "trailers"])
        return fields
    }

    /// The block nghttp2 is handed: the pseudo-fields, then the method's fields.
    private func block(_ head: borrowing UpstreamRequestHead) -> HeaderFields {
        var fields = head.pseudoFields
        fields.append(contentsOf: head.methodFields)
        return fields
    }

    func testTheBlockFollowsEachCallsMethodAndContentType() {
        var head = UpstreamRequestHead(pseudoFields: pseudoFields)
        let calls = [
            ("/a.B/C", "application/grpc"), ("/a.B/C", "application/grpc"), ("/a.B/D", "application/grpc"),
            ("/a.B/D", "application/grpc+proto"), ("/a.B/C", "application/grpc"), ("/a.B/C", "application/grpc"),
        ]
        for (path, contentType) in calls {
            XCTAssertNil(head.update(path: path, contentType: contentType, keepingReplaced: false))
            XCTAssertEqual(block(head), expected(path, contentType), "\(path) \(contentType)")
            // nghttp2 reads the pseudo-fields in place: they never change.
            XCTAssertEqual(head.pseudoFields, pseudoFields)
        }
    }

    func testAPathThatIsAPrefixOfTheLastIsNotTakenForIt() {
        var head = UpstreamRequestHead(pseudoFields: pseudoFields)
        _ = head.update(path: "/a.B/Call", contentType: "application/grpc", keepingReplaced: false)
        _ = head.update(path: "/a.B/C", contentType: "application/grpc", keepingReplaced: false)
        XCTAssertEqual(block(head), expected("/a.B/C", "application/grpc"))
        // Fields kept by someone else are not changed by the next update.
        let kept = head.methodFields
        _ = head.update(path: "/a.B/D", contentType: "application/grpc", keepingReplaced: false)
        XCTAssertEqual(kept, [":path": "/a.B/C", "content-type": "application/grpc", "te": "trailers"])
    }

    func testReplacedFieldsAreHandedBackUntouchedWhenAsked() {
        var head = UpstreamRequestHead(pseudoFields: pseudoFields)
        // Nothing to replace the first time, nor when the method stays.
        XCTAssertNil(head.update(path: "/a.B/C", contentType: "application/grpc", keepingReplaced: true))
        XCTAssertNil(head.update(path: "/a.B/C", contentType: "application/grpc", keepingReplaced: true))
        let before = head.methodFields.withUnsafeStorage { $0.baseAddress }
        let replaced = head.update(path: "/a.B/LongerName", contentType: "application/grpc", keepingReplaced: true)
        XCTAssertEqual(replaced, [":path": "/a.B/C", "content-type": "application/grpc", "te": "trailers"])
        // Where nghttp2 may still read them: the same bytes, left as they were.
        XCTAssertEqual(replaced?.withUnsafeStorage { $0.baseAddress }, before)
        XCTAssertEqual(block(head), expected("/a.B/LongerName", "application/grpc"))
    }

    func testAnAttemptsFieldsAreItsDeadlineAndItsRetryCount() {
        var head = UpstreamRequestHead(pseudoFields: pseudoFields)
        let timeout = GRPCTimeout(nanoseconds: 1_500_000_000)
        head.startAttempt(timeout: timeout, previousAttempts: "2")
        XCTAssertEqual(head.attemptFields, ["grpc-timeout": timeout.headerValue, "grpc-previous-rpc-attempts": "2"])
        // The next attempt's fields replace them: none here.
        head.startAttempt(timeout: nil, previousAttempts: nil)
        XCTAssertTrue(head.attemptFields.isEmpty)
    }
}
