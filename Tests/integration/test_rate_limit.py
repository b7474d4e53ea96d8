"""Local rate limits (routes[].rate_limit): calls beyond a route's token bucket are refused with
RESOURCE_EXHAUSTED (HTTP 429 for REST and Connect) and `retry-after`, and never reach the
backend; every protocol shares the route's bucket, and a keyed limit has a bucket per key.
(The bucket's arithmetic is unit-tested with an injected clock: RateLimitTests.)"""
import grpc
import grpcweb
from node.v1 import node_pb2, node_pb2_grpc
from restclient import compile_descriptors, request, rest_section
from test_operations import scrape, value

GET_NODE = "/node.v1.NodeService/GetNode"
REQUEST = node_pb2.GetNodeRequest(node_id="r").SerializeToString()


def limited_ferry(make_ferry, tmp_path, options):
    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    return make_ferry(node_route_options=f"    rate_limit: {{ {options} }}\n", top_level=rest_section(descriptors))


def test_a_burst_passes_then_every_protocol_is_refused_without_reaching_the_backend(make_ferry, tmp_path, recorder):
    ferry = limited_ferry(make_ferry, tmp_path, "requests_per_second: 0.01, burst: 2")
    assert [grpcweb.call(ferry.port, GET_NODE, REQUEST).grpc_status for _ in range(2)] == [0, 0]
    web = grpcweb.call(ferry.port, GET_NODE, REQUEST)
    assert web.grpc_status == 8 and "rate limit of route 'node.v1.NodeService' exceeded" in web.grpc_message
    assert int(web.headers["retry-after"]) > 90
    status, headers, body = request(ferry, "GET", "/v1/nodes/r")
    assert status == 429 and body["code"] == 8 and int(headers["retry-after"]) > 90
    status, headers, body = request(ferry, "POST", GET_NODE, {"nodeId": "r"},
                                    {"content-type": "application/json", "connect-protocol-version": "1"})
    assert status == 429 and body["code"] == "resource_exhausted" and int(headers["retry-after"]) > 90
    with grpc.insecure_channel(f"127.0.0.1:{ferry.port}") as channel:
        try:
            node_pb2_grpc.NodeServiceStub(channel).GetNode(node_pb2.GetNodeRequest(node_id="r"), timeout=10)
            raise AssertionError("a native gRPC call passed the limit")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert int(dict(error.trailing_metadata())["retry-after"]) > 90
    assert recorder.calls == ["GetNode", "GetNode"]
    assert value(scrape(ferry), "ferry_limit_hits_total", limit="rate_limit") == 4


def test_a_keyed_limit_has_a_bucket_per_header_value(make_ferry, tmp_path, recorder):
    ferry = limited_ferry(make_ferry, tmp_path, "requests_per_second: 0.01, burst: 1, key: 'header:x-user'")

    def call(user):
        return grpcweb.call(ferry.port, GET_NODE, REQUEST, headers={"x-user": user}).grpc_status

    assert [call("ann"), call("bob"), call("ann"), call("bob"), call("cy")] == [0, 0, 8, 8, 0]
    assert recorder.calls == ["GetNode"] * 3


def test_client_ip_keys_count_each_address(make_ferry, tmp_path, recorder):
    ferry = limited_ferry(make_ferry, tmp_path, "requests_per_second: 0.01, burst: 1, key: client_ip")

    def call_from(source):
        return grpcweb.call(ferry.port, GET_NODE, REQUEST, source=source).grpc_status

    assert [call_from("127.0.0.1"), call_from("127.0.0.2"), call_from("127.0.0.1"), call_from("127.0.0.2")] == [0, 0, 8, 8]
    assert recorder.calls == ["GetNode"] * 2
