"""The access log (one JSON line per call) and W3C trace context, through Ferry to grpcio."""
import json
import time

import grpcweb
from node.v1 import node_pb2
from restclient import compile_descriptors, request, rest_section

GET_NODE = "/node.v1.NodeService/GetNode"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def read_lines(path, count, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)
    raise AssertionError(f"expected {count} access-log lines in {path}")


def test_every_call_gets_one_json_line_with_its_trace(tmp_path, make_ferry, recorder):
    log = tmp_path / "access.log"
    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    ferry = make_ferry(top_level=rest_section(descriptors) + f"access_log: {{ path: {log} }}\ntracing: {{ create_traceparent: true }}\n")
    message = node_pb2.GetNodeRequest(node_id="n1").SerializeToString()
    assert grpcweb.call(ferry.port, GET_NODE, message, headers={"traceparent": TRACEPARENT}).grpc_status == 0
    assert grpcweb.call(ferry.port, GET_NODE, message, text=True).grpc_status == 0
    assert grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id="missing-1").SerializeToString()).grpc_status == 5
    assert request(ferry, "GET", "/v1/nodes/n2")[0] == 200
    assert request(ferry, "GET", "/nowhere")[0] == 404
    first, created, missing, rest, refused = read_lines(log, 5)

    assert first["method"] == "POST" and first["path"] == GET_NODE and first["protocol"] == "grpc-web"
    assert first["http_version"] == "HTTP/1.1"
    assert first["grpc_status"] == 0 and first["http_status"] == 200 and first["attempts"] == 1
    assert first["bytes_in"] == 5 + len(message) and first["bytes_out"] > 100 and first["duration_ms"] >= 0
    assert first["upstream"] == f"127.0.0.1:{recorder.port}" and first["peer"].startswith("127.0.0.1:")
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736", "the client's trace"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert recorder.metadata[0]["traceparent"] == TRACEPARENT, "passed to the backend unchanged"

    # No traceparent: Ferry starts a trace, sends it upstream and logs its id.
    assert created["protocol"] == "grpc-web-text" and len(created["trace_id"]) == 32
    assert recorder.metadata[1]["traceparent"].split("-")[1] == created["trace_id"]

    assert missing["grpc_status"] == 5 and missing["http_status"] == 200
    assert rest["protocol"] == "rest" and rest["grpc_status"] == 0 and rest["path"] == "/v1/nodes/n2"
    assert refused["protocol"] == "http" and refused["http_status"] == 404 and refused["upstream"] is None
    assert refused["attempts"] == 0


def test_no_access_log_and_no_created_trace_by_default(make_ferry, recorder):
    ferry = make_ferry()
    assert grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id="n1").SerializeToString()).grpc_status == 0
    assert "traceparent" not in recorder.metadata[0]
