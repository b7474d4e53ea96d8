import FerryCore
import GRPCWeb
import XCTest

final class GRPCWebMetadataTests: XCTestCase {
    func testContentTypes() {
        XCTAssertEqual(GRPCWebContentType(parsing: "application/grpc-web"), GRPCWebContentType(isText: false, format: nil))
        XCTAssertEqual(
            GRPCWebContentType(parsing: "application/grpc-web+proto; charset=utf-8"),
            GRPCWebContentType(isText: false, format: "proto"))
        XCTAssertEqual(GRPCWebContentType(parsing: "Application/GRPC-Web-Text"), GRPCWebContentType(isText: true, format: nil))
        XCTAssertEqual(GRPCWebContentType(parsing: "application/grpc-web-text+proto")?.isText, true)
        XCTAssertNil(GRPCWebContentType(parsing: "application/grpc"))
        XCTAssertNil(GRPCWebContentType(parsing: "application/grpc-web+"))
        XCTAssertNil(GRPCWebContentType(parsing: "application/json"))
        XCTAssertEqual(
            GRPCWebContentType(isText: true, format: nil).responseContentType(text: true),
            "application/grpc-web-text+proto")
        XCTAssertEqual(GRPCWebContentType(isText: false, format: "proto").upstreamContentType, "application/grpc+proto")
    }

    func testRequestMetadataDropsHopByHopAndConnectionNamedFields() {
        let headers: HeaderFields = [
            "host": "h", "connection": "keep-alive, x-private", "x-private": "1",
            "content-type": "application/grpc-web", "content-length": "5",
            "x-user-agent": "grpc-web-javascript/0.1", "authorization": "Bearer t",
            "x-trace-bin": "AAE=", "te": "trailers", "grpc-timeout": "1S",
        ]
        XCTAssertEqual(
            GRPCWebMetadata.requestMetadata(from: headers),
            [
                "x-user-agent": "grpc-web-javascript/0.1", "authorization": "Bearer t",
                "x-trace-bin": "AAE=",
            ])
    }

    func testRequestMetadataKeepsOnlyAllowedNamesAndDropsUnderscoreNamesWhenAsked() {
        let headers: HeaderFields = [
            "host": "h", "x-a": "1", "x_b": "2", "connect-protocol-version": "1", "x-c": "3", "x-a": "4",
        ]
        XCTAssertEqual(GRPCWebMetadata.requestMetadata(from: headers), ["x-a": "1", "x_b": "2", "x-c": "3", "x-a": "4"])
        XCTAssertEqual(GRPCWebMetadata.requestMetadata(from: headers, droppingUnderscoreNames: true), ["x-a": "1", "x-c": "3", "x-a": "4"])
        XCTAssertEqual(GRPCWebMetadata.requestMetadata(from: headers, allowing: ["x-c", "x_b", "host"]), ["x_b": "2", "x-c": "3"])
        XCTAssertEqual(
            GRPCWebMetadata.requestMetadata(from: headers, allowing: ["x-c", "x_b"], droppingUnderscoreNames: true), ["x-c": "3"])
        XCTAssertEqual(GRPCWebMetadata.requestMetadata(from: headers, allowing: []), [:])
    }

    func testResponseHeadersDropPseudoAndFramingFields() {
        let upstream: HeaderFields = [
            ":status": "200", "content-type": "application/grpc", "x-a": "1",
            "grpc-status": "0",
        ]
        var headers: HeaderFields = ["content-type": "application/grpc-web+proto"]
        GRPCWebMetadata.appendResponseHeaders(from: upstream, to: &headers)
        XCTAssertEqual(headers, ["content-type": "application/grpc-web+proto", "x-a": "1", "grpc-status": "0"])
    }
}

final class GRPCWebContentTypeTests: XCTestCase {
    func testParsesBytesCaseInsensitivelyWithParametersAndSpaces() {
        func parse(_ text: String) -> GRPCWebContentType? { Array(text.utf8).withUnsafeBytes { GRPCWebContentType(parsing: $0) } }
        XCTAssertEqual(parse(" APPLICATION/GRPC-WEB+PROTO ; charset=utf-8"), GRPCWebContentType(isText: false, format: "proto"))
        XCTAssertEqual(parse("application/grpc-web-text+JSON"), GRPCWebContentType(isText: true, format: "json"))
        XCTAssertNil(parse("application/grpc-webx"))
        XCTAssertNil(parse("application/grpc-web-textual"))
        XCTAssertNil(parse("application/grpc-web+pro to"))
        XCTAssertNil(parse(""))
    }

    func testNativeAndResponseTypesFollowTheFormat() {
        let json = GRPCWebContentType(isText: false, format: "json")
        XCTAssertEqual(json.upstreamContentType, "application/grpc+json")
        XCTAssertEqual(json.responseContentType(text: true), "application/grpc-web-text+json")
        XCTAssertEqual(GRPCWebContentType(isText: false, format: nil).upstreamContentType, "application/grpc")
    }

    func testAcceptAsksForTextAnywhereInTheList() {
        XCTAssertTrue(GRPCWebContentType.acceptsText(Array("*/*, Application/GRPC-Web-Text".utf8)[...]))
        XCTAssertFalse(GRPCWebContentType.acceptsText(Array("application/grpc-web".utf8)[...]))
        XCTAssertFalse(GRPCWebContentType.acceptsText(nil))
    }
}
