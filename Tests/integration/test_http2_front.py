"""gRPC-Web and REST over Ferry's HTTP/2 front, unchanged from HTTP/1.1 but for the framing:
curl with --http2-prior-knowledge, and the `h2` library for many streams on one connection."""
import base64
import json
import subprocess

import pytest

import grpcweb
from conftest import FerryProcess
from h2client import H2Client
from node.v1 import node_pb2
from restclient import compile_descriptors, rest_section

GET_NODE = "/node.v1.NodeService/GetNode"
WATCH_NODES = "/node.v1.NodeService/WatchNodes"


@pytest.fixture(scope="module")
def h2_rest_ferry(tmp_path_factory, backend):
    descriptors = compile_descriptors(tmp_path_factory.mktemp("descriptors") / "node.pb", "node/v1/node.proto")
    process = FerryProcess(tmp_path_factory.mktemp("h2rest"), backend.port, top_level=rest_section(descriptors),
                           extra_listener="    cors: { allow_origins: [\"https://app.example\"] }\n")
    yield process
    assert process.stop() == 0


def curl_h2(*args):
    result = subprocess.run(["curl", "-s", "-i", "--http2-prior-knowledge", *args], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode()
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    return head.decode(), body


def test_grpc_web_text_over_h2c_with_curl(h2_rest_ferry, recorder):
    head, body = curl_h2(f"{h2_rest_ferry.url}{GET_NODE}", "-H", "content-type: application/grpc-web-text",
                         "--data-binary", "AAAAAAQKAm4x")
    assert head.startswith("HTTP/2 200")
    messages, trailers = grpcweb.parse_frames(grpcweb.decode_text_body(body))
    assert trailers["grpc-status"] == "0"
    assert node_pb2.Node.FromString(messages[0]).id == "n1"


def test_grpc_web_errors_are_trailers_only_over_h2(h2_rest_ferry):
    head, body = curl_h2(f"{h2_rest_ferry.url}/node.v1.NodeService/Nope", "-H", "content-type: application/grpc-web+proto",
                         "--data-binary", "@/dev/null")
    assert head.startswith("HTTP/2 200") and "grpc-status: 12" in head and body == b""


def test_rest_get_and_ndjson_stream_over_h2c_with_curl(h2_rest_ferry, recorder):
    head, body = curl_h2(f"{h2_rest_ferry.url}/v1/nodes/n7")
    assert head.startswith("HTTP/2 200") and "content-length:" in head
    assert json.loads(body)["id"] == "n7"
    head, body = curl_h2(f"{h2_rest_ferry.url}/v1/nodes:watch?count=3", "-H", "accept: application/x-ndjson")
    assert head.startswith("HTTP/2 200")
    assert [json.loads(line)["sequence"] for line in body.splitlines()] == ["1", "2", "3"]


def test_rest_error_over_h2(h2_rest_ferry):
    head, body = curl_h2(f"{h2_rest_ferry.url}/v1/nodes/missing-1")
    assert head.startswith("HTTP/2 404")
    assert json.loads(body)["code"] == 5


def test_cors_preflight_over_h2(h2_rest_ferry):
    head, body = curl_h2("-X", "OPTIONS", f"{h2_rest_ferry.url}{GET_NODE}", "-H", "origin: https://app.example",
                         "-H", "access-control-request-method: POST")
    assert head.startswith("HTTP/2 204") and "access-control-allow-origin: https://app.example" in head


def test_hundred_grpc_web_server_streams_on_one_connection(h2_rest_ferry):
    """A browser on HTTP/1.1 gets six connections per origin; over h2 one connection carries
    them all at once."""
    client = H2Client(h2_rest_ferry.port)
    request = node_pb2.WatchNodesRequest(count=5, interval_ms=20).SerializeToString()
    body = grpcweb.frame(request)
    ids = [client.start("POST", WATCH_NODES, [("content-type", "application/grpc-web+proto")], body) for _ in range(100)]
    responses = client.wait(ids)
    client.close()
    for response in responses:
        assert response.headers[":status"] == "200" and response.reset_code is None
        messages, trailers = grpcweb.parse_frames(response.body)
        assert len(messages) == 5 and trailers["grpc-status"] == "0"


def test_oversized_header_list_is_431(h2_rest_ferry):
    client = H2Client(h2_rest_ferry.port)
    response = client.request("GET", "/v1/nodes/n1", [(f"x-big-{i}", "v" * 1000) for i in range(70)])
    client.close()
    assert response.headers[":status"] == "431"


def test_unknown_path_is_404_over_h2(h2_rest_ferry):
    head, _ = curl_h2(f"{h2_rest_ferry.url}/nothing/here")
    assert head.startswith("HTTP/2 404")
