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
    private func block(_ head: UpstreamRequestHead) -> HeaderFields {
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
            head.update(path: path, contentType: contentType)
            XCTAssertEqual(block(head), expected(path, contentType), "\(path) \(contentType)")
            // nghttp2 reads the pseudo-fields in place: they never change.
            XCTAssertEqual(head.pseudoFields, pseudoFields)
        }
    }

    func testAPathThatIsAPrefixOfTheLastIsNotTakenForIt() {
        var head = UpstreamRequestHead(pseudoFields: pseudoFields)
        head.update(path: "/a.B/Call", contentType: "application/grpc")
        head.update(path: "/a.B/C", contentType: "application/grpc")
        XCTAssertEqual(block(head), expected("/a.B/C", "application/grpc"))
        // Fields kept by someone else are not changed by the next update.
        let kept = head.methodFields
        head.update(path: "/a.B/D", contentType: "application/grpc")
        XCTAssertEqual(kept, [":path": "/a.B/C", "content-type": "application/grpc", "te": "trailers"])
    }
}
