import FerryCore
@testable import Upstream
import XCTest

/// The request side of an UpstreamCall without a connection: what nghttp2's data source gets.
final class UpstreamCallBodyTests: XCTestCase {
    private final class Recorder: UpstreamCallDelegate {
        var sent = 0
        func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {}
        func upstreamCall(_ call: UpstreamCall, sentRequestBytes count: Int) { sent += count }
    }

    private let recorder = Recorder()

    private func take(_ call: UpstreamCall, max: Int = 100) -> (bytes: [UInt8], last: Bool, deferred: Bool) {
        var buffer = [UInt8](repeating: 0, count: max)
        let chunk = buffer.withUnsafeMutableBufferPointer { call.takeBody(into: $0.baseAddress!, maxLength: max) }
        return (Array(buffer.prefix(chunk.count)), chunk.last, chunk.deferred)
    }

    func testAWholeBodyGoesInPiecesThenEnds() {
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: "/a.B/C", metadata: HeaderFields(), contentType: "application/grpc",
                timeout: nil, body: Array(0..<10)), delegate: recorder)
        XCTAssertEqual(take(call, max: 4).bytes, [0, 1, 2, 3])
        let rest = take(call)
        XCTAssertEqual(rest.bytes, [4, 5, 6, 7, 8, 9])
        XCTAssertTrue(rest.last)
        XCTAssertEqual(recorder.sent, 0, "a whole body is not streamed: nothing to report")
    }

    func testAStreamedBodyWaitsForItsBytesAndReportsWhatLeft() {
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: "/a.B/C", metadata: HeaderFields(), contentType: "application/grpc",
                timeout: nil, body: [], streamsBody: true), delegate: recorder)
        XCTAssertTrue(take(call).deferred)
        ([1, 2, 3] as [UInt8]).withUnsafeBytes { call.sendBody($0) }
        let first = take(call)
        XCTAssertEqual(first.bytes, [1, 2, 3])
        XCTAssertFalse(first.last)
        XCTAssertEqual(recorder.sent, 3)
        XCTAssertTrue(take(call).deferred)
        call.endBody()
        let end = take(call)
        XCTAssertEqual(end.bytes, [])
        XCTAssertTrue(end.last)
    }

    func testWithoutARetryPolicyAStreamedBodyIsNotKeptForReplay() {
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: "/a.B/C", metadata: HeaderFields(), contentType: "application/grpc",
                timeout: nil, body: [], streamsBody: true), delegate: recorder)
        XCTAssertTrue(call.canReplay)
        ([1] as [UInt8]).withUnsafeBytes { call.sendBody($0) }
        XCTAssertFalse(call.canReplay)
    }
}
