"""Slow clients (slowloris, issue 14 point 1): a request head has `header_read_timeout` from its
first byte and a buffered body `request_body_timeout` from the head's end, however steadily the
bytes trickle in; then 408 (DEADLINE_EXCEEDED for gRPC-Web), the connection closed, the limit
counted, and nothing sent to the backend."""
import socket
import threading
import time

import grpcweb
import pytest
import restclient
from node.v1 import node_pb2
from test_operations import scrape, value

GET_NODE = "/node.v1.NodeService/GetNode"


def trickle(port, head, body=b"", every=0.2, limit=60):
    """Sends `head` and then `body` one byte every `every` seconds (the head too, after its
    first line, when `body` is empty); returns (seconds until Ferry answered, the answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.settimeout(every)
        started = time.monotonic()
        pieces = [head] + [body[i:i + 1] for i in range(len(body))] if body else \
            [head[:20]] + [head[i:i + 1] for i in range(20, len(head))]
        reply = b""
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:
                break
            try:
                reply = sock.recv(65536)
            except socket.timeout:
                continue
            break
        sock.settimeout(5)
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            reply += chunk
        return time.monotonic() - started, reply


def grpc_web_head(length, path=GET_NODE):
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


@pytest.fixture
def strict_ferry(make_ferry, tmp_path):
    descriptors = restclient.compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    return make_ferry(extra_listener="    limits: { header_read_timeout: 1s, request_body_timeout: 1s }\n",
                      top_level=restclient.rest_section(descriptors))


def test_a_trickled_head_gets_408_within_its_budget(strict_ferry, recorder):
    head = b"POST /node.v1.NodeService/GetNode HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    elapsed, reply = trickle(strict_ferry.port, head)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:100]
    assert b"header_read_timeout" in reply
    assert b"content-type: application/json" in reply and b'{"code":4,' in reply, "google.rpc.Status, DEADLINE_EXCEEDED"
    assert 0.9 < elapsed < 2.5, "a budget from the first byte, not restarted by each byte"
    assert recorder.count() == 0
    assert value(scrape(strict_ferry), "ferry_limit_hits_total", limit="header_read_timeout") == 1


def test_a_trickled_grpc_web_body_is_deadline_exceeded(strict_ferry, recorder):
    message = grpcweb.frame(node_pb2.GetNodeRequest(node_id="n1", echo_payload=b"x" * 100).SerializeToString())
    elapsed, reply = trickle(strict_ferry.port, grpc_web_head(len(message)), message)
    status, headers, _ = grpcweb.parse_http_response(reply)
    assert status == 200 and headers["grpc-status"] == "4", reply[:300]
    assert "request_body_timeout" in headers["grpc-message"]
    assert headers.get("connection") == "close"
    assert 0.9 < elapsed < 2.5
    assert recorder.count() == 0
    assert value(scrape(strict_ferry), "ferry_limit_hits_total", limit="request_body_timeout") == 1


@pytest.mark.parametrize("path, code", [
    ("/v1/nodes:get", b'"code":4'),  # REST: google.rpc.Status
    ("/node.v1.NodeService/GetNode", b'"code":"deadline_exceeded"'),  # Connect unary
])
def test_a_trickled_json_body_is_408(strict_ferry, recorder, path, code):
    body = b'{"nodeId": "n1", "echoPayload": "' + b"QUFB" * 30 + b'"}'
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    elapsed, reply = trickle(strict_ferry.port, head, body)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert code in reply and b"request_body_timeout" in reply
    assert 0.9 < elapsed < 2.5
    assert recorder.count() == 0


def test_the_default_budgets_cut_off_a_byte_every_5_seconds(make_ferry, recorder):
    """The issue's client: one byte every 5 s, head or body, against the defaults (10 s each)."""
    ferry = make_ferry()
    message = grpcweb.frame(node_pb2.GetNodeRequest(node_id="n1").SerializeToString())
    results = {}

    def run(name, *args):
        results[name] = trickle(ferry.port, *args, every=5)

    threads = [threading.Thread(target=run, args=("head", b"POST / HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 40 + b"\r\n\r\n")),
               threading.Thread(target=run, args=("body", grpc_web_head(len(message) + 20), message + b"\0" * 20))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"\ndefault budgets: head cut after {results['head'][0]:.1f}s, body after {results['body'][0]:.1f}s")
    assert results["head"][1].startswith(b"HTTP/1.1 408 ") and 9.5 < results["head"][0] < 13
    assert b"grpc-status: 4" in results["body"][1] and 9.5 < results["body"][0] < 13
    assert recorder.count() == 0
