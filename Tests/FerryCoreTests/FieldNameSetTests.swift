import FerryCore
import XCTest

final class FieldNameSetTests: XCTestCase {
    func testAFieldIsInTheSetByItsWholeName() {
        let set = FieldNameSet(["te", "connection", "keep-alive", "x-forwarded-client-cert"])
        var headers = HeaderFields()
        for name in ["te", "Connection", "keep-alive", "x-forwarded-client-cert", "ten", "connectionx", "t", "x-forwarded-client-certs"] {
            headers.append(name: name, value: "v")
        }
        XCTAssertEqual(
            (0..<headers.count).map { index in headers.withName(at: index) { set.contains($0) } },
            [true, true, true, true, false, false, false, false])
        XCTAssertFalse(headers.withName(at: 0) { FieldNameSet([]).contains($0) })
        XCTAssertFalse([UInt8]().withUnsafeBytes { set.contains($0) })
        XCTAssertTrue([UInt8]().withUnsafeBytes { FieldNameSet([""]).contains($0) })
        XCTAssertFalse(Array("x-forwarded-client-cert-and-more".utf8).withUnsafeBytes { set.contains($0) })
        // The length and last byte of a member (its bit), or of none: only the whole name counts.
        for (name, member) in [("xeep-alive", false), ("connectiom", false), ("ue", false), ("keep-alive", true)] {
            XCTAssertEqual(Array(name.utf8).withUnsafeBytes { set.contains($0) }, member, name)
        }
    }
}
