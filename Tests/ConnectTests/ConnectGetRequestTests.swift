import Connect
import FerryCore
import XCTest

final class ConnectGetRequestTests: XCTestCase {
    func testAJSONQueryInAnyOrder() throws {
        let request = try ConnectGetRequest(query: "message=%7B%22nodeId%22%3A%22a+b%22%7D&x=1&encoding=json&connect=v1")
        XCTAssertEqual(request, ConnectGetRequest.expected(.json, #"{"nodeId":"a b"}"#))
    }

    func testABase64ProtoQueryWithoutPadding() throws {
        let request = try ConnectGetRequest(query: "connect=v1&encoding=proto&base64=1&compression=gzip&message=CgJuMQ")
        XCTAssertEqual(request.message, [0x0A, 0x02, 0x6E, 0x31])
        XCTAssertEqual(request.compression, .gzip)
    }

    func testRecognizingAConnectQuery() {
        XCTAssertTrue(ConnectGetRequest.isConnectQuery("connect=v1"))
        XCTAssertTrue(ConnectGetRequest.isConnectQuery("encoding=json&message=x"))
        XCTAssertFalse(ConnectGetRequest.isConnectQuery("message=x"))
        XCTAssertFalse(ConnectGetRequest.isConnectQuery("node_id=1"))
    }

    func testRefusals() {
        XCTAssertThrowsError(try ConnectGetRequest(query: "connect=v1&message=x")) { error in
            XCTAssertEqual(error as? ConnectGetRequestError, .unsupportedCodec(""))
        }
        XCTAssertThrowsError(try ConnectGetRequest(query: "encoding=xml&message=x")) { error in
            XCTAssertEqual(error as? ConnectGetRequestError, .unsupportedCodec("xml"))
        }
        XCTAssertThrowsError(try ConnectGetRequest(query: "connect=v2&encoding=json&message=x")) { error in
            guard case .invalid(let status) = error as? ConnectGetRequestError else { return XCTFail("\(error)") }
            XCTAssertEqual(status.code, .invalidArgument)
        }
        XCTAssertThrowsError(try ConnectGetRequest(query: "encoding=proto&base64=1&message=%%")) { error in
            guard case .invalid(let status) = error as? ConnectGetRequestError else { return XCTFail("\(error)") }
            XCTAssertTrue(status.message.contains("percent-encoding"), status.message)
        }
        XCTAssertThrowsError(try ConnectGetRequest(query: "encoding=proto&base64=1&message=a")) { error in
            guard case .invalid(let status) = error as? ConnectGetRequestError else { return XCTFail("\(error)") }
            XCTAssertTrue(status.message.contains("base64"), status.message)
        }
        XCTAssertThrowsError(try ConnectGetRequest(query: "encoding=proto&compression=br&message=")) { error in
            guard case .invalid(let status) = error as? ConnectGetRequestError else { return XCTFail("\(error)") }
            XCTAssertEqual(status.code, .unimplemented)
        }
    }
}

extension ConnectGetRequest {
    fileprivate static func expected(_ codec: ConnectCodec, _ message: String) -> ConnectGetRequest {
        var request = try! ConnectGetRequest(query: "encoding=\(codec.rawValue)")
        request.message = Array(message.utf8)
        return request
    }
}
