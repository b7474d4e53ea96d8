"""Upstream failures as PROTOCOL-HTTP2.md maps them, against a misbehaving `h2` backend: stream
resets, an empty-frame flood, a blackholed backend; and keepalive PINGs that a grpcio backend
accepts on a quiet call (grpc's ping abuse policy, gRFC A8)."""
import threading
import time

import grpcweb
import pytest
import restclient
from h2_backend import H2Backend
from node.v1 import node_pb2

GET_NODE = "/node.v1.NodeService/GetNode"
CANCELLED, DEADLINE_EXCEEDED, PERMISSION_DENIED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE = 1, 4, 7, 8, 13, 14


def get_node(ferry, node_id="n1", path=GET_NODE, headers=None, timeout=30):
    return grpcweb.call(ferry.port, path, node_pb2.GetNodeRequest(node_id=node_id).SerializeToString(),
                        headers=headers, timeout=timeout)


@pytest.fixture
def h2_backend():
    started = []

    def make(mode, **kwargs):
        backend = H2Backend(mode, **kwargs)
        started.append(backend)
        return backend

    yield make
    for backend in started:
        backend.close()


@pytest.mark.parametrize("code, name, expected", [
    (0x0, "NO_ERROR", INTERNAL),
    (0x1, "PROTOCOL_ERROR", INTERNAL),
    (0x2, "INTERNAL_ERROR", INTERNAL),
    (0x3, "FLOW_CONTROL_ERROR", INTERNAL),
    (0x7, "REFUSED_STREAM", UNAVAILABLE),
    (0x8, "CANCEL", CANCELLED),
    (0xb, "ENHANCE_YOUR_CALM", RESOURCE_EXHAUSTED),
    (0xc, "INADEQUATE_SECURITY", PERMISSION_DENIED),
])
def test_rst_stream_codes_map_to_grpc_status(make_ferry, h2_backend, code, name, expected):
    backend = h2_backend(f"reset:{code}")
    ferry = make_ferry(nodes_endpoint=f"127.0.0.1:{backend.port}")
    response = get_node(ferry)
    assert response.grpc_status == expected, (name, response.grpc_message)
    assert f"127.0.0.1:{backend.port}" in response.grpc_message
    if name == "REFUSED_STREAM":
        # The backend never processed it: restarted transparently, a bounded number of times.
        assert 1 < backend.requests <= 6
    else:
        assert backend.requests == 1


@pytest.mark.parametrize("where", ["headers", "trailers"])
def test_an_upper_case_field_name_from_a_backend_fails_the_call(make_ferry, h2_backend, where):
    # RFC 9113 §8.2.1: such a response is malformed. nghttp2 resets the stream; Ferry relies on
    # that when it takes the names it hands over as lower-case.
    backend = h2_backend(f"upper-case-name:{where}")
    ferry = make_ferry(nodes_endpoint=f"127.0.0.1:{backend.port}")
    response = get_node(ferry)
    assert response.grpc_status == INTERNAL, response.grpc_message
    assert f"127.0.0.1:{backend.port}" in response.grpc_message
    assert "x-node-zone" not in response.headers and "x-node-zone" not in response.trailers
    assert backend.requests == 1


def test_an_empty_data_flood_ends_the_connection_and_spares_other_clusters(make_ferry, h2_backend, recorder):
    flood = h2_backend("empty-data-flood", flood=5000)
    ferry = make_ferry(extra_routes="  - match: { prefix: /flood. }\n    cluster: flood\n",
                       cluster_options=f"  - name: flood\n    endpoints: [127.0.0.1:{flood.port}]\n")
    healthy = []

    def other_client():
        for _ in range(20):
            healthy.append(get_node(ferry).grpc_status)

    others = threading.Thread(target=other_client)
    others.start()
    response = get_node(ferry, path="/flood.Service/Method")
    others.join()
    assert response.grpc_status == UNAVAILABLE
    assert "empty frames" in response.grpc_message and "ENHANCE_YOUR_CALM" in response.grpc_message
    deadline = time.monotonic() + 5
    while not flood.goaway_codes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flood.goaway_codes == [0xb], "GOAWAY(ENHANCE_YOUR_CALM) reached the flooding backend"
    assert healthy == [0] * 20


def test_a_blackholed_backend_is_found_within_20_seconds(make_ferry, h2_backend):
    """TCP open, nothing ever answered: with the default keepalive (10 s, 5 s), the call fails
    UNAVAILABLE instead of hanging until a deadline it does not have."""
    hole = h2_backend("blackhole")
    ferry = make_ferry(nodes_endpoint=f"127.0.0.1:{hole.port}")
    started = time.monotonic()
    response = get_node(ferry, timeout=60)
    elapsed = time.monotonic() - started
    print(f"\nblackholed backend found after {elapsed:.1f}s")
    assert response.grpc_status == UNAVAILABLE
    assert "keepalive PING not answered within 5s" in response.grpc_message
    assert elapsed < 20


def test_a_quiet_call_outlives_keepalive_pings_on_grpcio(make_ferry, recorder):
    """Pinged every 500 ms, a grpcio backend would answer GOAWAY(too_many_pings) at the fourth
    PING and fail the call; the schedule's growing gaps keep it under grpc's two strikes."""
    ferry = make_ferry(cluster_options="    keepalive_interval: 500ms\n    keepalive_timeout: 1s\n")
    response = get_node(ferry, node_id="slow-keepalive", headers={"grpc-timeout": "6S"})
    assert response.grpc_status == DEADLINE_EXCEEDED, response.grpc_message
    assert "too_many_pings" not in ferry.log.read_text()


def test_breaker_refusals_say_overloaded_in_rest_too(make_ferry, recorder, tmp_path):
    descriptors = restclient.compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    ferry = make_ferry(cluster_options="    max_requests: 1\n", top_level=restclient.rest_section(descriptors))
    slow = threading.Thread(target=get_node, args=(ferry, "slow-overload"), kwargs={"headers": {"grpc-timeout": "2S"}})
    slow.start()
    deadline = time.monotonic() + 5
    while recorder.count("GetNode") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    status, headers, body = restclient.request(ferry, "GET", "/v1/nodes/n1")
    slow.join()
    assert status == 503 and body["code"] == UNAVAILABLE and "max_requests 1 reached" in body["message"]
    assert headers["x-ferry-overloaded"] == "true"


def test_a_ping_flood_from_a_backend_that_does_not_read_is_ended(make_ferry, h2_backend, recorder):
    """The PING ACKs Ferry owes wait in nghttp2 while the backend does not read them; past
    nghttp2's limit on queued ACKs the connection ends, instead of Ferry buffering ACKs for
    as long as the flood lasts."""
    flood = h2_backend("ping-flood", flood=300_000)
    ferry = make_ferry(extra_routes="  - match: { prefix: /flood. }\n    cluster: flood\n",
                       cluster_options=f"  - name: flood\n    endpoints: [127.0.0.1:{flood.port}]\n")
    # A first call touches the pages of the whole call path (code, allocator arenas, an upstream
    # HTTP/2 session), so the growth measured below is what the flood costs.
    assert get_node(ferry).grpc_status == 0
    rss_before = ferry.rss_kib()
    started = time.monotonic()
    response = get_node(ferry, path="/flood.Service/Method")
    elapsed = time.monotonic() - started
    print(f"\nPING flood ended after {elapsed:.2f}s, RSS {rss_before} → {ferry.rss_kib()} KiB")
    assert response.grpc_status == UNAVAILABLE and "Flooding was detected" in response.grpc_message
    assert elapsed < 10, "ended by the flood guard, not by keepalive"
    # 300,000 PINGs are 5.1 MB of ACKs owed: growth well under that means they were not buffered.
    assert ferry.rss_kib() - rss_before < 4 * 1024
    assert get_node(ferry).grpc_status == 0
