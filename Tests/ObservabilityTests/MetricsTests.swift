@testable import Observability
import XCTest

final class MetricsTests: XCTestCase {
    private let getNode = CallSeriesKey(
        route: "node.v1.NodeService", method: "/node.v1.NodeService/GetNode", protocolName: "grpc-web", httpVersion: "HTTP/1.1")

    func testCallsAreCountedByCodeAndBucket() {
        let metrics = DownstreamMetrics()
        metrics.recordCall(getNode, grpcCode: 0, durationNanoseconds: 300_000, bytesIn: 10, bytesOut: 100)
        metrics.recordCall(getNode, grpcCode: 0, durationNanoseconds: 2_000_000, bytesIn: 10, bytesOut: 100)
        metrics.recordCall(getNode, grpcCode: 5, durationNanoseconds: 20_000_000_000, bytesIn: 10, bytesOut: 50)
        metrics.recordCall(
            CallSeriesKey(route: "", method: "", protocolName: "http", httpVersion: "HTTP/1.1"), grpcCode: nil,
            durationNanoseconds: 1, bytesIn: 0, bytesOut: 20)
        let series = metrics.snapshot.series
        let counted = try! XCTUnwrap(series[getNode])
        XCTAssertEqual(counted.codes[0], 2)
        XCTAssertEqual(counted.codes[5], 1)
        XCTAssertEqual(counted.buckets.first, 1, "300 µs is under the first bound, 0.5 ms")
        XCTAssertEqual(counted.buckets[2], 1, "2 ms falls in (1 ms, 2.5 ms]")
        XCTAssertEqual(counted.buckets.last, 1, "20 s is past every bound: +Inf")
        XCTAssertEqual(counted.count, 3)
        XCTAssertEqual(counted.bytesIn, 30)
        XCTAssertEqual(counted.bytesOut, 250)
        XCTAssertEqual(series[CallSeriesKey(route: "", method: "", protocolName: "http", httpVersion: "HTTP/1.1")]?.codes[17], 1)
    }

    func testSeriesBeyondTheLimitShareOneMethodLabel() {
        let metrics = DownstreamMetrics()
        for index in 0..<(DownstreamMetrics.maxSeries + 50) {
            metrics.recordCall(
                CallSeriesKey(route: "r", method: "/a.B/M\(index)", protocolName: "grpc-web", httpVersion: "HTTP/1.1"), grpcCode: 12,
                durationNanoseconds: 1, bytesIn: 0, bytesOut: 0)
        }
        let series = metrics.snapshot.series
        XCTAssertEqual(series.count, DownstreamMetrics.maxSeries + 1)
        XCTAssertEqual(series[CallSeriesKey(route: "r", method: "other", protocolName: "grpc-web", httpVersion: "HTTP/1.1")]?.count, 50)
    }

    func testWorkerSnapshotsAddUp() {
        let first = DownstreamMetrics()
        let second = DownstreamMetrics()
        first.connectionsActive = 2
        second.connectionsActive = 3
        first.recordCall(getNode, grpcCode: 0, durationNanoseconds: 1, bytesIn: 1, bytesOut: 1)
        second.recordCall(getNode, grpcCode: 0, durationNanoseconds: 1, bytesIn: 1, bytesOut: 1)
        second.recordLimitHit("max_connections")
        var merged = DownstreamMetricsSnapshot()
        merged.add(first.snapshot)
        merged.add(second.snapshot)
        XCTAssertEqual(merged.connectionsActive, 5)
        XCTAssertEqual(merged.series[getNode]?.codes[0], 2)
        XCTAssertEqual(merged.limitHits, ["max_connections": 1])
    }

    func testExpositionGroupsFamiliesAndEscapesLabels() {
        var out = PrometheusExposition()
        out.family("a_total", .counter, help: "A.")
        out.family("b", .gauge, help: "B.")
        out.sample("a_total", ["x": "1"], 1)
        out.sample("b", [:], 2.5)
        out.sample("a_total", ["x": "quote\" back\\ line\n"], 3)
        out.family("h_seconds", .histogram, help: "H.")
        out.histogram("h_seconds", [("m", "x")], bounds: [0.5, 1], buckets: [1, 0, 2], sum: 4.25)
        XCTAssertEqual(
            out.text,
            """
            # HELP a_total A.
            # TYPE a_total counter
            a_total{x="1"} 1
            a_total{x="quote\\" back\\\\ line\\n"} 3
            # HELP b B.
            # TYPE b gauge
            b 2.5
            # HELP h_seconds H.
            # TYPE h_seconds histogram
            h_seconds_bucket{m="x",le="0.5"} 1
            h_seconds_bucket{m="x",le="1"} 1
            h_seconds_bucket{m="x",le="+Inf"} 3
            h_seconds_sum{m="x"} 4.25
            h_seconds_count{m="x"} 3

            """)
    }
}
