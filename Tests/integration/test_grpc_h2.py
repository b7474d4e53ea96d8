"""Native gRPC through Ferry's HTTP/2 front (h2c with prior knowledge, and h2 by ALPN over TLS):
grpcio clients for the four call kinds, deadlines, cancellation seen by the backend, metadata
and trailers both ways, 4 MiB messages both ways, errors Ferry answers itself, and
grpcio-reflection's bidi ServerReflectionInfo."""
import threading
import time

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from conftest import FerryProcess
from node.v1 import node_pb2, node_pb2_grpc

REFLECTION_ROUTE = "  - match: { service: grpc.reflection.v1alpha.ServerReflection }\n    cluster: nodes\n"


@pytest.fixture(scope="module")
def h2_ferry(tmp_path_factory, backend):
    process = FerryProcess(tmp_path_factory.mktemp("h2"), backend.port, extra_routes=REFLECTION_ROUTE)
    yield process
    assert process.stop() == 0


@pytest.fixture
def stub(h2_ferry):
    channel = grpc.insecure_channel(f"127.0.0.1:{h2_ferry.port}")
    yield node_pb2_grpc.NodeServiceStub(channel)
    channel.close()


def test_unary_call_with_metadata_and_trailers_both_ways(stub, recorder):
    node, call = stub.GetNode.with_call(node_pb2.GetNodeRequest(node_id="n1"), timeout=10,
                                        metadata=[("x-echo", "hello"), ("x-echo-bin", b"\x00\xff")])
    assert node.id == "n1" and node.name == "node-n1"
    assert ("x-echo-header", "hello") in call.initial_metadata()
    trailers = dict(call.trailing_metadata())
    assert trailers["x-echo-trailer"] == "hello" and trailers["x-echo-trailer-bin"] == b"\x00\xff"
    seen = recorder.metadata[-1]
    assert seen["x-echo"] == "hello" and seen["x-echo-bin"] == b"\x00\xff"


def test_server_streaming(stub, recorder):
    events = list(stub.WatchNodes(node_pb2.WatchNodesRequest(count=50), timeout=10))
    assert [event.sequence for event in events] == list(range(1, 51))


def test_client_streaming_forwards_every_message(stub, recorder):
    metrics = (node_pb2.Metric(node_id="n1", value=float(i)) for i in range(1000))
    summary = stub.StreamMetrics(metrics, timeout=10)
    assert summary.count == 1000 and summary.sum == sum(range(1000))


def test_client_streaming_messages_go_up_as_they_arrive(stub, recorder):
    """The backend reads the first message while the client still holds the rest back."""
    seen_first = threading.Event()
    release = threading.Event()

    def metrics():
        yield node_pb2.Metric(node_id="n1", value=1)
        # The call has reached the backend before the request is complete: not buffered whole.
        assert wait_for(lambda: recorder.count("StreamMetrics") == 1, 5)
        seen_first.set()
        release.wait(5)
        yield node_pb2.Metric(node_id="n1", value=2)

    future = stub.StreamMetrics.future(metrics(), timeout=10)
    assert seen_first.wait(10)
    release.set()
    assert future.result().count == 2


def test_bidi_stream_with_grpc_reflection(h2_ferry):
    """ServerReflectionInfo is bidirectional: each request gets its answer on the open stream."""
    with grpc.insecure_channel(f"127.0.0.1:{h2_ferry.port}") as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="node.v1.NodeService")]
        answers = list(reflection.ServerReflectionInfo(iter(requests), timeout=10))
    assert len(answers) == 2
    services = {service.name for service in answers[0].list_services_response.service}
    assert "node.v1.NodeService" in services
    assert answers[1].file_descriptor_response.file_descriptor_proto


def test_bidi_answers_interleave_with_requests(h2_ferry):
    """The next request is sent only after the previous answer arrived: a proxy that waited for
    the end of the request stream would deadlock here."""
    answered = threading.Semaphore(0)

    def requests():
        for _ in range(3):
            yield reflection_pb2.ServerReflectionRequest(list_services="")
            assert answered.acquire(timeout=5), "no answer before the next request"

    with grpc.insecure_channel(f"127.0.0.1:{h2_ferry.port}") as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        count = 0
        for _ in reflection.ServerReflectionInfo(requests(), timeout=10):
            count += 1
            answered.release()
    assert count == 3


def test_large_messages_both_ways(stub):
    payload = bytes(range(256)) * (4 * 1024 * 1024 // 256 - 64)
    node = stub.GetNode(node_pb2.GetNodeRequest(node_id="n1", echo_payload=payload), timeout=30)
    assert node.payload == payload


def test_finished_calls_leave_nothing_behind(h2_ferry, stub):
    """3,000 calls with 16 KiB each way: each call's exchange, upstream call and buffers go
    when it ends (a stream and its exchange hold each other until the stream closes), so
    Ferry's memory stays put (a kept stream and exchange: about 2 KiB a call)."""
    request = node_pb2.GetNodeRequest(node_id="n1", echo_payload=b"x" * 16384)
    for _ in range(300):
        stub.GetNode(request, timeout=10)
    before = h2_ferry.rss_kib()
    for _ in range(3000):
        assert len(stub.GetNode(request, timeout=10).payload) == 16384
    growth = h2_ferry.rss_kib() - before
    assert growth < 2048, f"Ferry grew by {growth} KiB over 3,000 calls"


def test_deadline_is_enforced_and_the_backend_sees_it_cancelled(stub, recorder):
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failure:
        stub.GetNode(node_pb2.GetNodeRequest(node_id="slow-1"), timeout=0.5)
    assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3
    assert recorder.cancelled.wait(5)


def test_client_cancel_reaches_the_backend(stub, recorder):
    stream = stub.WatchNodes(node_pb2.WatchNodesRequest(count=1000, interval_ms=20), timeout=30)
    assert next(stream).sequence == 1
    stream.cancel()
    assert recorder.cancelled.wait(5)
    sent = recorder.stream_sent
    time.sleep(0.3)
    assert recorder.stream_sent <= sent + 1


def test_backend_errors_pass_through_with_details(stub):
    with pytest.raises(grpc.RpcError) as failure:
        stub.GetNode(node_pb2.GetNodeRequest(node_id="missing-7"), timeout=10)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert failure.value.details() == "node 'missing-7' not found (ünïcödé 100%)"


def test_unknown_method_is_unimplemented(h2_ferry):
    with grpc.insecure_channel(f"127.0.0.1:{h2_ferry.port}") as channel:
        method = channel.unary_unary("/nope.v1.Nope/Call")
        with pytest.raises(grpc.RpcError) as failure:
            method(b"", timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "/nope.v1.Nope/Call" in failure.value.details()


def test_unreachable_cluster_is_unavailable(h2_ferry):
    with grpc.insecure_channel(f"127.0.0.1:{h2_ferry.port}") as channel:
        method = channel.unary_unary("/down.v1.Down/Call")
        with pytest.raises(grpc.RpcError) as failure:
            method(b"", timeout=10)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE


def test_many_concurrent_streams_on_one_connection(stub):
    """100 server streams at once over grpcio's one connection, each complete."""
    streams = [stub.WatchNodes(node_pb2.WatchNodesRequest(count=20, interval_ms=10), timeout=30) for _ in range(100)]
    assert all([event.sequence for event in stream] == list(range(1, 21)) for stream in streams)


def test_calls_of_two_methods_interleaved_keep_their_own_paths(stub):
    """Calls of two methods started together share one upstream connection, whose HEADERS are
    serialized after the method changed again (Ferry keeps each method's fields until then)."""
    calls = []
    for i in range(200):
        if i % 2:
            metrics = [node_pb2.Metric(node_id="n", name="m", value=v) for v in (1.0, float(i))]
            calls.append(("sum", i, stub.StreamMetrics.future(iter(metrics), timeout=30)))
        else:
            calls.append(("node", i, stub.GetNode.future(node_pb2.GetNodeRequest(node_id=f"n{i}"), timeout=30)))
    for kind, i, future in calls:
        reply = future.result()
        if kind == "sum":
            assert (reply.count, reply.sum) == (2, 1.0 + i)
        else:
            assert reply.id == f"n{i}"


def test_http1_and_http2_share_the_port(h2_ferry, stub):
    import grpcweb
    assert grpcweb.call(h2_ferry.port, "/node.v1.NodeService/GetNode", node_pb2.GetNodeRequest(node_id="n1").SerializeToString()).grpc_status == 0
    assert stub.GetNode(node_pb2.GetNodeRequest(node_id="n2"), timeout=10).id == "n2"


def test_http2_off_serves_http1_only(make_ferry):
    ferry = make_ferry(extra_listener="    http2: off\n")
    with grpc.insecure_channel(f"127.0.0.1:{ferry.port}") as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.GetNode(node_pb2.GetNodeRequest(node_id="n1"), timeout=5)
    assert failure.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


MIB = 1 << 20


def test_a_backend_that_does_not_read_holds_the_client_back(h2_ferry, stub, recorder):
    """64 MiB of client-streamed messages towards a backend that reads nothing for 3 s: flow
    control holds the client back end to end, so Ferry buffers no more than its windows."""
    recorder.fault = "slow-reader"
    yielded = []
    rss_before = h2_ferry.rss_kib()
    peak = [rss_before]

    def metrics():
        for index in range(64):
            yielded.append(index)
            peak[0] = max(peak[0], h2_ferry.rss_kib())
            yield node_pb2.Metric(node_id="x" * MIB, value=1.0)

    try:
        future = stub.StreamMetrics.future(metrics(), timeout=60)
        time.sleep(2)
        held_back_at = len(yielded)
        summary = future.result()
    finally:
        recorder.fault = None
    assert summary.count == 64
    assert held_back_at < 32, f"the client sent {held_back_at} MiB while the backend read nothing"
    assert peak[0] - rss_before < 16 * 1024, f"Ferry grew by {peak[0] - rss_before} KiB"


def test_a_client_that_does_not_read_holds_the_backend_back(h2_ferry, stub, recorder):
    """A 64 MiB server stream to a client that reads nothing for 3 s: the backend is held back
    (it has sent only what the windows take) and Ferry's memory stays put; then every message
    arrives."""
    rss_before = h2_ferry.rss_kib()
    stream = stub.WatchNodes(node_pb2.WatchNodesRequest(count=64, payload_size=MIB), timeout=60)
    time.sleep(3)
    sent_while_paused = recorder.stream_sent
    rss_paused = h2_ferry.rss_kib()
    events = list(stream)
    assert len(events) == 64 and all(len(event.node.payload) == MIB for event in events)
    assert sent_while_paused < 32, f"the backend sent {sent_while_paused} MiB to a client that read nothing"
    assert rss_paused - rss_before < 16 * 1024, f"Ferry grew by {rss_paused - rss_before} KiB"


def test_native_grpc_is_logged_and_counted_as_grpc_over_http2(make_ferry, recorder, tmp_path):
    from test_access_log import read_lines
    from test_operations import scrape, value
    log = tmp_path / "access.log"
    ferry = make_ferry(top_level=f"access_log: {{ path: {log} }}\n")
    with grpc.insecure_channel(f"127.0.0.1:{ferry.port}") as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        assert stub.GetNode(node_pb2.GetNodeRequest(node_id="n1"), timeout=10).id == "n1"
        with pytest.raises(grpc.RpcError):
            stub.GetNode(node_pb2.GetNodeRequest(node_id="missing-2"), timeout=10)
    ok, missing = read_lines(log, 2)
    assert ok["protocol"] == "grpc" and ok["http_version"] == "HTTP/2" and ok["grpc_status"] == 0
    assert ok["upstream"] == f"127.0.0.1:{recorder.port}" and ok["bytes_in"] > 0 and ok["bytes_out"] > 0
    assert missing["grpc_status"] == 5
    labels = {"route": "node.v1.NodeService", "grpc_service": "node.v1.NodeService", "grpc_method": "GetNode",
              "protocol": "grpc", "http_version": "HTTP/2"}
    samples = scrape(ferry)
    assert value(samples, "ferry_requests_total", **labels, grpc_code="OK") == 1
    assert value(samples, "ferry_requests_total", **labels, grpc_code="NOT_FOUND") == 1
    assert value(samples, "ferry_downstream_requests_active") == 0


@pytest.mark.parametrize("size, top_level, attempts", [
    (10 * 1024, "", 2),                           # replayed: within the call's 256 KiB
    (400 * 1024, "", 1),                          # past max_buffered_request_bytes: committed
    (10 * 1024, "retry_buffer_bytes: 4096\n", 1),  # past the worker's total: committed
])
def test_streamed_requests_are_replayed_within_the_retry_buffers(tmp_path, backend, recorder, size, top_level, attempts):
    """gRFC A6 with a streamed request: the messages sent so far are kept for a retry while they
    fit the call's and the worker's buffers; beyond them the call stands with its attempt."""
    from test_resilience import Gateway  # its route retries UNAVAILABLE
    gateway = Gateway(tmp_path, None, endpoints=f"127.0.0.1:{backend.port}", top_level=top_level)
    backend.stream_calls = 0
    backend.fault = "stream-unavailable-every-other"
    messages = [node_pb2.Metric(node_id="x" * 1024, value=1.0) for _ in range(size // 1024)]
    try:
        with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            stub = node_pb2_grpc.NodeServiceStub(channel)
            if attempts == 2:
                assert stub.StreamMetrics(iter(messages), timeout=20).count == len(messages)
            else:
                with pytest.raises(grpc.RpcError) as failure:
                    stub.StreamMetrics(iter(messages), timeout=20)
                assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        backend.fault = None
        gateway.stop()
    assert backend.stream_calls == attempts
