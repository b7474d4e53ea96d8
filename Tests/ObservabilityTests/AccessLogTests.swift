@testable import Observability
import TestSupport
import XCTest

final class AccessLogTests: XCTestCase {
    func testJSONLine() {
        let entry = AccessLogEntry(
            startNanoseconds: 1_764_237_600_123_456_789, peer: "127.0.0.1:5000", method: "POST",
            path: "/node.v1.NodeService/GetNode?x=\"1\"", protocolName: "grpc-web", httpVersion: "HTTP/1.1", grpcStatus: 0, httpStatus: 200,
            bytesIn: 9, bytesOut: 120, durationNanoseconds: 1_234_567, upstream: "127.0.0.2:50051", attempts: 2,
            traceID: "4bf92f3577b34da6a3ce929d0e0e4736")
        XCTAssertEqual(
            String(decoding: entry.jsonLine, as: UTF8.self),
            #"{"time":"2025-11-27T10:00:00.123Z","peer":"127.0.0.1:5000","method":"POST","#
                + #""path":"/node.v1.NodeService/GetNode?x=\"1\"","protocol":"grpc-web","http_version":"HTTP/1.1","grpc_status":0,"http_status":200,"#
                + #""bytes_in":9,"bytes_out":120,"duration_ms":1.235,"upstream":"127.0.0.2:50051","attempts":2,"#
                + #""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","client_subject":null}"# + "\n")
        var refused = entry
        refused.grpcStatus = nil
        refused.upstream = nil
        refused.traceID = nil
        refused.path = "/a\u{1}b"
        XCTAssertTrue(String(decoding: refused.jsonLine, as: UTF8.self).contains(#""path":"/a\u0001b""#))
        XCTAssertTrue(
            String(decoding: refused.jsonLine, as: UTF8.self).contains(#""grpc_status":null"#)
                && String(decoding: refused.jsonLine, as: UTF8.self).contains(#""trace_id":null,"client_subject":null}"#))
    }

    func testTraceparentParsingFollowsTheW3CRules() {
        let valid = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        XCTAssertEqual(valid?.traceID, "4bf92f3577b34da6a3ce929d0e0e4736")
        XCTAssertEqual(valid?.parentID, "00f067aa0ba902b7")
        for invalid in [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            XCTAssertNil(TraceContext(traceparent: invalid), invalid)
        }
        var generator = SeededGenerator(state: 5)
        let created = TraceContext(using: &generator)
        XCTAssertEqual(TraceContext(traceparent: created.traceparent), created, "a created context is a valid header")
        XCTAssertEqual(created.flags, "01")
    }
}
