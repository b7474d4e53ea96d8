import FerryCore
import Routing
import XCTest

final class RouterTests: XCTestCase {
    let router = Router(routes: [
        Route(match: .pathPrefix("/admin.v1."), cluster: "admin"),
        Route(match: .service("node.v1.NodeService"), cluster: "nodes"),
        Route(match: .pathPrefix("/node.v1."), cluster: "fallback"),
    ])

    func testServiceMatch() {
        XCTAssertEqual(router.route(path: "/node.v1.NodeService/GetNode")?.cluster, "nodes")
    }

    func testFirstMatchingRouteWinsInConfigOrder() {
        let ordered = Router(routes: [
            Route(match: .pathPrefix("/node."), cluster: "first"),
            Route(match: .service("node.v1.NodeService"), cluster: "second"),
        ])
        XCTAssertEqual(ordered.route(path: "/node.v1.NodeService/GetNode")?.cluster, "first")
    }

    func testPrefixMatch() {
        XCTAssertEqual(router.route(path: "/node.v1.Other/Call")?.cluster, "fallback")
        XCTAssertEqual(router.route(path: "/admin.v1.Admin/Call")?.cluster, "admin")
    }

    func testUnknownServiceHasNoRoute() {
        XCTAssertNil(router.route(path: "/other.Service/Call"))
        let serviceOnly = Router(routes: [Route(match: .service("node.v1.NodeService"), cluster: "nodes")])
        XCTAssertNil(serviceOnly.route(path: "/node.v1.NodeService"))
        XCTAssertNil(serviceOnly.route(path: "/node.v1.NodeServiceX/GetNode"))
    }

    func testMethodPathShape() {
        XCTAssertEqual(GRPCMethodPath("/a.B/C")?.service, "a.B")
        XCTAssertNil(GRPCMethodPath("/a.B/C/D"))
        XCTAssertNil(GRPCMethodPath("/a.B/"))
        XCTAssertNil(GRPCMethodPath("a.B/C"))
    }

    func testClientIdentityRuleMatchesSubjectsExactlyAndNamesByPrefix() {
        let rule = ClientIdentityRule(subjects: ["CN=a,O=b"], sans: ["spiffe://td/ns/shop/*", "admin.example"])
        XCTAssertTrue(rule.allows(subject: "CN=a,O=b", sans: []))
        XCTAssertFalse(rule.allows(subject: "CN=a", sans: []))
        XCTAssertTrue(rule.allows(subject: "CN=x", sans: ["spiffe://td/ns/shop/sa/orders"]))
        XCTAssertFalse(rule.allows(subject: "CN=x", sans: ["spiffe://td/ns/shopping/sa/orders"]))
        XCTAssertTrue(rule.allows(subject: "CN=x", sans: ["other", "admin.example"]))
        XCTAssertFalse(rule.allows(subject: "CN=x", sans: ["admin.example.org"]))
    }
}
