@testable import Admin
import XCTest

final class AdminTokenTests: XCTestCase {
    private let token = AdminToken(token: "s3cret-token")

    func testTheBearerTokenIsAllowed() {
        XCTAssertEqual(token.check(authorization: "Bearer s3cret-token"), .allowed)
        XCTAssertEqual(token.check(authorization: "bearer s3cret-token"), .allowed, "the scheme is case-insensitive")
    }

    func testNoBearerCredentialsAreMissing() {
        XCTAssertEqual(token.check(authorization: nil), .missing)
        XCTAssertEqual(token.check(authorization: "Basic dXNlcjpwYXNz"), .missing)
        XCTAssertEqual(token.check(authorization: "Bearer"), .missing)
    }

    func testAnyOtherTokenIsInvalid() {
        for given in ["s3cret-tokeN", "s3cret-toke", "s3cret-token2", "x", String(repeating: "s", count: 100)] {
            XCTAssertEqual(token.check(authorization: "Bearer \(given)"), .invalid, given)
        }
    }

    func testTheFileIsTrimmedAndMustHoldAToken() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-admin-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("token")
        try "  from-a-secret\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try AdminToken(contentsOfFile: file.path).check(authorization: "Bearer from-a-secret"), .allowed)
        try "\n\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AdminToken(contentsOfFile: file.path)) { error in
            XCTAssertTrue("\(error)".contains("1 to 4096 bytes"), "\(error)")
        }
        XCTAssertThrowsError(try AdminToken(contentsOfFile: directory.appendingPathComponent("absent").path)) { error in
            XCTAssertTrue("\(error)".hasPrefix("admin.token_file: cannot read"), "\(error)")
        }
    }
}
