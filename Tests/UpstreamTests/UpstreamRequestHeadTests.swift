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

    func testTheBlockFollowsEachCallsMethodAndContentType() {
        var head = UpstreamRequestHead(pseudoFields: pseudoFields)
        let calls = [
            ("/a.B/C", "application/grpc"), ("/a.B/C", "application/grpc"), ("/a.B/D", "application/grpc"),
            ("/a.B/D", "application/grpc+proto"), ("/a.B/C", "application/grpc"), ("/a.B/C", "application/grpc"),
        ]
        for (path, contentType) in calls {
            head.update(path: path, contentType: contentType)
            XCTAssertEqual(head.fields, expected(path, contentType), "\(path) \(contentType)")
        }
    }

    func testAPathThatIsAPrefixOfTheLastIsNotTakenForIt() {
        var head = UpstreamRequestHead(pseudoFields: pseudoFields)
        head.update(path: "/a.B/Call", contentType: "application/grpc")
        head.update(path: "/a.B/C", contentType: "application/grpc")
        XCTAssertEqual(head.fields, expected("/a.B/C", "application/grpc"))
        // A block kept by someone else is not changed by the next update.
        let kept = head.fields
        head.update(path: "/a.B/D", contentType: "application/grpc")
        XCTAssertEqual(kept, expected("/a.B/C", "application/grpc"))
    }
}
