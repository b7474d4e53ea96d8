import FerryCore
import Routing
import XCTest

final class CORSPolicyTests: XCTestCase {
    func testPresetAnswersPreflightForAnyOrigin() {
        let headers: HeaderFields = ["origin": "https://a.example", "access-control-request-method": "POST"]
        XCTAssertTrue(CORSPolicy.isPreflight(method: "OPTIONS", headers: headers))
        guard case .allowed(let fields) = CORSPolicy.grpcWebPreset.preflight(headers: headers) else { return XCTFail() }
        XCTAssertEqual(fields["access-control-allow-origin"], "*")
        XCTAssertTrue(fields["access-control-allow-headers"]!.contains("x-grpc-web"))
        XCTAssertTrue(fields["access-control-allow-headers"]!.contains("connect-protocol-version, connect-timeout-ms"))
        XCTAssertEqual(fields["access-control-max-age"], "86400")
    }

    func testListedOriginIsEchoedWithVary() {
        var policy = CORSPolicy.grpcWebPreset
        policy.allowOrigins = .list(["https://a.example"])
        let fields = policy.responseHeaders(origin: "https://a.example")
        XCTAssertEqual(fields["access-control-allow-origin"], "https://a.example")
        XCTAssertEqual(fields["vary"], "Origin")
        XCTAssertEqual(
            fields["access-control-expose-headers"], "grpc-status, grpc-message, grpc-status-details-bin, connect-content-encoding")
    }

    func testDisallowedOriginGetsNoCORSHeadersButVary() {
        var policy = CORSPolicy.grpcWebPreset
        policy.allowOrigins = .list(["https://a.example"])
        // The answer differs by origin: a shared cache must key it on Origin.
        XCTAssertEqual(policy.responseHeaders(origin: "https://b.example"), ["vary": "Origin"])
        XCTAssertTrue(policy.responseHeaders(origin: nil).isEmpty)
        XCTAssertTrue(CORSPolicy.grpcWebPreset.responseHeaders(origin: "https://b.example")["vary"] == nil)
        XCTAssertEqual(
            policy.preflight(headers: ["origin": "https://b.example", "access-control-request-method": "POST"]),
            .denied("origin 'https://b.example' is not allowed"))
    }

    func testCredentialsEchoOriginEvenForWildcard() {
        var policy = CORSPolicy.grpcWebPreset
        policy.allowCredentials = true
        let fields = policy.responseHeaders(origin: "https://a.example")
        XCTAssertEqual(fields["access-control-allow-origin"], "https://a.example")
        XCTAssertEqual(fields["access-control-allow-credentials"], "true")
    }

    func testRESTMethodsJoinThePresetButNotAListGivenByHand() {
        let rules = ["GET", "POST", "PATCH", "DELETE", "GET", "SEARCH"]
        let preset = CORSPolicy.grpcWebPreset.addingRESTMethods(rules)
        XCTAssertEqual(preset.allowMethods, ["POST", "GET", "OPTIONS", "PATCH", "DELETE", "SEARCH"])
        guard case .allowed(let fields) = preset.preflight(headers: ["origin": "o", "access-control-request-method": "PATCH"]) else {
            return XCTFail()
        }
        XCTAssertEqual(fields["access-control-allow-methods"], "POST, GET, OPTIONS, PATCH, DELETE, SEARCH")

        var listed = CORSPolicy.grpcWebPreset
        listed.allowMethods = ["POST"]
        listed.addsRESTMethods = false
        XCTAssertEqual(listed.addingRESTMethods(rules).allowMethods, ["POST"])
    }

    func testDisallowedMethodIsDenied() {
        let result = CORSPolicy.grpcWebPreset.preflight(headers: ["origin": "o", "access-control-request-method": "DELETE"])
        XCTAssertEqual(result, .denied("method 'DELETE' is not allowed"))
    }
}
