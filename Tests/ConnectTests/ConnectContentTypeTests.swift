import Connect
import FerryCore
import XCTest

final class ConnectContentTypeTests: XCTestCase {
    private func parse(_ value: String) throws -> ConnectContentType? {
        try ConnectContentType(parsing: Array(value.utf8)[...])
    }

    func testTheFourContentTypes() throws {
        XCTAssertEqual(try parse("application/proto"), .unary(.proto))
        XCTAssertEqual(try parse("application/json"), .unary(.json))
        XCTAssertEqual(try parse("application/connect+proto"), .streaming(.proto))
        XCTAssertEqual(try parse("application/connect+json"), .streaming(.json))
    }

    func testParametersAndCaseAreIgnored() throws {
        XCTAssertEqual(try parse("Application/JSON; charset=utf-8"), .unary(.json))
        XCTAssertEqual(try parse(" application/connect+proto ;x=y"), .streaming(.proto))
    }

    func testOtherTypesAreNotConnect() throws {
        XCTAssertNil(try parse("application/grpc-web+proto"))
        XCTAssertNil(try parse("text/plain"))
        XCTAssertNil(try parse("application/jsonx"))
    }

    func testAnUnknownStreamingCodecThrows() {
        XCTAssertThrowsError(try parse("application/connect+xml")) { error in
            XCTAssertEqual((error as? ConnectContentType.UnsupportedCodec)?.contentType, "application/connect+xml")
        }
    }

    func testHeaderValues() {
        XCTAssertEqual(ConnectContentType.unary(.json).headerValue, "application/json")
        XCTAssertEqual(ConnectContentType.streaming(.proto).headerValue, "application/connect+proto")
    }

    func testConnectNamesOfTheCodes() {
        XCTAssertEqual(GRPCStatusCode.cancelled.connectName, "canceled")
        XCTAssertEqual(GRPCStatusCode.invalidArgument.connectName, "invalid_argument")
        XCTAssertEqual(GRPCStatusCode.deadlineExceeded.connectName, "deadline_exceeded")
        XCTAssertEqual(GRPCStatusCode.unauthenticated.connectName, "unauthenticated")
    }
}
