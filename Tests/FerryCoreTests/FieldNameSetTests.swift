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
            (0..<headers.count).map { set.contains(headers, at: $0) }, [true, true, true, true, false, false, false, false])
        XCTAssertFalse(FieldNameSet([]).contains(headers, at: 0))
    }
}
