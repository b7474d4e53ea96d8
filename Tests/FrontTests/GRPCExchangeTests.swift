@testable import Front
import FerryCore
import Upstream
import XCTest

final class GRPCExchangeTests: XCTestCase {
    private let stream = FakeDownstreamStream()
    private lazy var exchange = GRPCExchange(stream: stream)
    private lazy var call = UpstreamCall(
        request: UpstreamRequest(
            path: "/p.S/M", metadata: HeaderFields(), contentType: "application/grpc",
            timeout: nil, body: [], streamsBody: true),
        delegate: exchange)

    private func receive(_ part: UpstreamResponsePart) {
        exchange.upstreamCall(call, received: part)
    }

    func testHeadMessagesAndTrailersPassThrough() {
        receive(.head(HeaderFields([":status": "200", "content-type": "application/grpc+proto", "x-meta": "m"])))
        ([0, 0, 0, 0, 1, 7] as [UInt8]).withUnsafeBytes { receive(.data($0)) }
        receive(.trailers(HeaderFields(["grpc-status": "0", "x-trailer": "t"])))
        XCTAssertEqual(
            stream.events,
            [
                .head(status: 200, headers: ["content-type": "application/grpc+proto", "x-meta": "m"], contentLength: nil),
                .data([0, 0, 0, 0, 1, 7]),
                .end(trailers: ["grpc-status": "0", "x-trailer": "t"]),
            ])
        XCTAssertEqual(exchange.grpcStatusCode, 0)
    }

    func testTrailersOnlyResponseIsOneHeadWithNoBody() {
        receive(
            .trailers(HeaderFields([":status": "200", "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "gone"])))
        XCTAssertEqual(
            stream.events,
            [
                .head(
                    status: 200, headers: ["content-type": "application/grpc", "grpc-status": "5", "grpc-message": "gone"], contentLength: 0
                ),
                .end(trailers: [:]),
            ])
        XCTAssertEqual(exchange.grpcStatusCode, 5)
    }

    func testFailureBeforeTheHeadIsTrailersOnly() {
        receive(.failed(GRPCStatus(.unavailable, "upstream connect failed")))
        XCTAssertEqual(
            stream.events,
            [
                .head(
                    status: 200,
                    headers: ["content-type": "application/grpc", "grpc-status": "14", "grpc-message": "upstream connect failed"],
                    contentLength: 0),
                .end(trailers: [:]),
            ])
    }

    func testFailureAfterTheHeadEndsWithItsStatus() {
        receive(.head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        receive(.failed(GRPCStatus(.internal, "upstream reset the stream")))
        XCTAssertEqual(stream.events.last, .end(trailers: ["grpc-status": "13", "grpc-message": "upstream reset the stream"]))
    }

    func testNonGRPCUpstreamAnswerBecomesAStatus() {
        receive(.head(HeaderFields([":status": "503", "content-type": "text/html"])))
        guard case .head(200, let headers, 0)? = stream.events.first else { return XCTFail("\(stream.events)") }
        XCTAssertEqual(headers["grpc-status"], "14")
        XCTAssertEqual(headers["grpc-message"], "upstream answered HTTP status 503")
    }

    func testTrailersWithoutStatusAreInternalKeepingTheirMetadata() {
        receive(.head(HeaderFields([":status": "200", "content-type": "application/grpc"])))
        receive(.trailers(HeaderFields(["x-only": "1"])))
        XCTAssertEqual(
            stream.events.last,
            .end(trailers: ["x-only": "1", "grpc-status": "13", "grpc-message": "upstream response had no grpc-status"]))
    }

    func testRejectAnswersTrailersOnly() {
        exchange.reject(GRPCStatus(.unimplemented, "no route for gRPC method /x.Y/Z"))
        XCTAssertEqual(
            stream.events.first,
            .head(
                status: 200,
                headers: [
                    "content-type": "application/grpc", "grpc-status": "12",
                    "grpc-message": "no route for gRPC method /x.Y/Z",
                ], contentLength: 0))
    }

    func testRequestBytesSentUpstreamAreReleasedDownstream() {
        exchange.upstreamCall(call, sentRequestBytes: 300)
        XCTAssertEqual(stream.forwardedRequestBytes, 300)
    }

    func testClientGoneCountsAsCancelled() {
        exchange.downstreamClosed()
        XCTAssertEqual(exchange.grpcStatusCode, GRPCStatusCode.cancelled.rawValue)
        XCTAssertEqual(stream.events, [])
    }
}
