import Loop
@testable import Upstream
import XCTest

final class TriedEndpointsTests: XCTestCase {
    func testEachEndpointOnceInTheOrderTried() throws {
        let a = try SocketAddress(parsing: "127.0.0.1:1")
        let b = try SocketAddress(parsing: "127.0.0.2:1")
        let c = try SocketAddress(parsing: "[::1]:1")
        var tried = TriedEndpoints()
        XCTAssertTrue(tried.isEmpty)
        XCTAssertEqual(Array(tried), [])
        tried.insert(a)
        XCTAssertEqual(Array(tried), [a])
        tried.insert(a)
        tried.insert(b)
        tried.insert(a)
        tried.insert(c)
        tried.insert(b)
        XCTAssertEqual(Array(tried), [a, b, c])
        XCTAssertEqual(tried.count, 3)
        XCTAssertTrue(tried.contains(c))
        XCTAssertFalse(tried.contains(try SocketAddress(parsing: "127.0.0.3:1")))
    }
}
