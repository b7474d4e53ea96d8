import FerryCore
import XCTest

final class BearerCredentialsTests: XCTestCase {
    private func token(_ value: String?) -> String? {
        BearerCredentials.token(inAuthorization: value.map { Array($0.utf8)[...] }).map { String(decoding: $0, as: UTF8.self) }
    }

    func testTheSchemeIsCaseInsensitiveAndSpacesAroundTheTokenGo() {
        XCTAssertEqual(token("Bearer abc.def.ghi"), "abc.def.ghi")
        XCTAssertEqual(token("bEaReR   abc "), "abc")
        XCTAssertEqual(token(" Bearer x"), "x")
    }

    func testOtherSchemesAndEmptyTokensAreNone() {
        XCTAssertNil(token(nil))
        XCTAssertNil(token("Basic dXNlcjpwYXNz"))
        XCTAssertNil(token("Bearer"))
        XCTAssertNil(token("Bearer "))
        XCTAssertNil(token("Bearerx abc"))
        XCTAssertNil(token("Bearer\tabc"))
    }
}
