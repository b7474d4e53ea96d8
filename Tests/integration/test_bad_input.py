"""Every bad request gets a clear answer, and nothing reaches the backend."""
import base64
import gzip
import json
import socket
from urllib.parse import unquote

import pytest

from node.v1 import node_pb2

import grpcweb
from test_operations import scrape, value

GET_NODE = "/node.v1.NodeService/GetNode"
INTERNAL, RESOURCE_EXHAUSTED = 13, 8


@pytest.fixture
def nothing_upstream(recorder):
    yield
    assert recorder.count() == 0, "a bad request reached the backend"


def test_wrong_content_type_is_415(ferry, nothing_upstream):
    response = grpcweb.call(ferry.port, GET_NODE, body=b"{}", headers={"content-type": "application/json"})
    assert response.status == 415
    assert b"application/json" in response.body


def test_frame_longer_than_body_is_internal(ferry, nothing_upstream):
    body = b"\x00\x00\x00\x00\x10" + b"abc"
    response = grpcweb.call(ferry.port, GET_NODE, body=body)
    assert response.grpc_status == INTERNAL
    assert "ends 13 bytes before its length prefix says" in response.grpc_message


def test_compressed_flag_without_encoding_is_internal(ferry, nothing_upstream):
    response = grpcweb.call(ferry.port, GET_NODE, body=grpcweb.frame(b"\x0a\x01x", flags=1))
    assert response.grpc_status == INTERNAL
    assert "compressed flag" in response.grpc_message


def test_trailer_flag_in_request_is_internal(ferry, nothing_upstream):
    response = grpcweb.call(ferry.port, GET_NODE, body=grpcweb.frame(b"", flags=0x80))
    assert response.grpc_status == INTERNAL
    assert "0x80" in response.grpc_message


def test_bad_base64_is_400(ferry, nothing_upstream):
    response = grpcweb.call(ferry.port, GET_NODE, body=b"AAAA*AAA", text=True)
    assert response.status == 400
    assert b"invalid base64 character" in response.body


def test_message_over_limit_is_resource_exhausted(ferry, nothing_upstream):
    big = node_pb2.GetNodeRequest(echo_payload=b"x" * (5 << 20)).SerializeToString()
    response = grpcweb.call(ferry.port, GET_NODE, big)
    assert response.grpc_status == RESOURCE_EXHAUSTED
    assert "limit" in response.grpc_message


def test_length_prefix_over_limit_is_resource_exhausted(ferry, nothing_upstream):
    response = grpcweb.call(ferry.port, GET_NODE, body=b"\x00\x7f\x00\x00\x00" + b"x" * 10)
    assert response.grpc_status == RESOURCE_EXHAUSTED


def test_malformed_grpc_timeout_is_400(ferry, nothing_upstream):
    response = grpcweb.call(ferry.port, GET_NODE, b"", headers={"grpc-timeout": "1second"})
    assert response.status == 400
    assert b"malformed grpc-timeout" in response.body


def test_get_on_grpc_path_is_405(ferry, nothing_upstream):
    response = grpcweb.call(ferry.port, GET_NODE, body=None, method="GET")
    assert response.status == 405


def raw(ferry, text):
    return grpcweb.raw_exchange(ferry.port, text.encode("latin-1"))


@pytest.mark.parametrize("name,request_text", [
    ("duplicate content-length",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
    ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n"),
    ("bare LF", "GET / HTTP/1.1\nHost: x\n\n"),
    ("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n"),
    ("signed content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\nx"),
    ("CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("no host", "GET / HTTP/1.1\r\n\r\n"),
])
def test_malformed_http_is_400(ferry, nothing_upstream, name, request_text):
    reply = raw(ferry, request_text)
    assert reply.startswith(b"HTTP/1.1 400 "), (name, reply[:80])


def status_json(reply):
    """(HTTP status, google.rpc.Status as a dict) of a whole raw reply."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    assert fields["content-type"] == "application/json", head
    return int(lines[0].split()[1]), json.loads(body)


@pytest.mark.parametrize("request_text,http_status,code,words", [
    ("GET / HTTP/1.1\nHost: x\n\n", 400, 3, "line ending without CR at byte"),
    ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * (61 * 1024) + "\r\n\r\n", 431, 8, "header section larger than"),
    ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505, 12, "unsupported HTTP version"),
    ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 12, "unsupported Transfer-Encoding"),
    ("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404, 5, "no route for GET /nowhere"),
    ("OPTIONS /v1/nodes/n1 HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
     "Access-Control-Request-Method: GET\r\n\r\n", 403, 7, "CORS preflight denied: origin 'https://evil.example'"),
])
def test_ferrys_own_errors_are_google_rpc_status_json(ferry, nothing_upstream, request_text, http_status, code, words):
    """Issue 20, point 2: what Ferry answers itself outside the gRPC-Web, gRPC and Connect forms
    is what a REST client reads everywhere else (grpc-gateway's form)."""
    status, error = status_json(raw(ferry, request_text))
    assert status == http_status
    assert error["code"] == code and words in error["message"], error


def test_a_refused_preflight_varies_by_origin(ferry, nothing_upstream):
    reply = raw(ferry, "OPTIONS /v1/nodes/n1 HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
                       "Access-Control-Request-Method: GET\r\n\r\n")
    assert b"\r\nvary: Origin\r\n" in reply and b"access-control-" not in reply


def test_too_many_header_fields_is_431(ferry, nothing_upstream):
    headers = "".join(f"X-H{i}: v\r\n" for i in range(101))
    assert raw(ferry, f"GET / HTTP/1.1\r\nHost: x\r\n{headers}\r\n").startswith(b"HTTP/1.1 431 ")


def test_too_large_header_section_is_431(ferry, nothing_upstream):
    assert raw(ferry, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * (61 * 1024) + "\r\n\r\n").startswith(b"HTTP/1.1 431 ")


def test_unknown_path_is_404(ferry, nothing_upstream):
    assert raw(ferry, "GET /nothing/here/at/all HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 404 ")


def test_chunked_request_body_is_accepted(ferry, recorder):
    body = grpcweb.frame(node_pb2.GetNodeRequest(node_id="c").SerializeToString())
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    reply = grpcweb.raw_exchange(ferry.port, (
        "POST /node.v1.NodeService/GetNode HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/grpc-web+proto\r\nTransfer-Encoding: chunked\r\n\r\n").encode() + chunked)
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b"grpc-status:0" in reply


def answer_before_the_body(ferry, head_fields, first_bytes, announced, path=GET_NODE):
    """Sends a request head announcing `announced` body bytes and only `first_bytes` of the
    body; returns Ferry's answer, which must come without the rest of the body."""
    with socket.create_connection(("127.0.0.1", ferry.port), timeout=5) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {announced}\r\n{head_fields}\r\n").encode()
                     + first_bytes)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            assert chunk, "closed without an answer"
            reply += chunk
        return grpcweb.parse_http_response(reply)


@pytest.mark.parametrize("text", [False, True])
def test_a_length_prefix_over_the_limit_is_answered_at_once(ferry, nothing_upstream, text):
    prefix = b"\x00\x00\x50\x00\x00"  # a 5 MiB message announced; the limit is 4 MiB
    body = base64.b64encode(prefix + b"\x00\x00\x00") if text else prefix
    content_type = "application/grpc-web-text" if text else "application/grpc-web+proto"
    # The body's declared length is within the limit: the frame's prefix alone gives it away.
    status, headers, _ = answer_before_the_body(ferry, f"Content-Type: {content_type}\r\n", body, 4096)
    assert status == 200 and headers["grpc-status"] == str(RESOURCE_EXHAUSTED)
    assert "5242880 bytes" in headers["grpc-message"] and headers["connection"] == "close"


def test_reserved_flag_bits_are_internal(ferry, nothing_upstream):
    for flags in (0x02, 0x40):
        response = grpcweb.call(ferry.port, GET_NODE, body=grpcweb.frame(b"\x0a\x01x", flags=flags))
        assert response.grpc_status == INTERNAL
        assert "reserved flag bits" in response.grpc_message


def test_a_compressed_message_in_an_encoding_not_forwarded_is_unimplemented(ferry, nothing_upstream):
    status, headers, _ = answer_before_the_body(
        ferry, "Content-Type: application/grpc-web+proto\r\ngrpc-encoding: br\r\n", grpcweb.frame(b"x" * 10, flags=1), 1000)
    assert status == 200 and headers["grpc-status"] == "12"
    assert "grpc-encoding 'br'" in unquote(headers["grpc-message"])
    assert headers["grpc-accept-encoding"] == "identity,gzip,deflate"


def test_a_gzip_compressed_message_is_forwarded(ferry, recorder):
    message = node_pb2.GetNodeRequest(node_id="zipped").SerializeToString()
    response = grpcweb.call(ferry.port, GET_NODE, body=grpcweb.frame(gzip.compress(message), flags=1),
                            headers={"grpc-encoding": "gzip"})
    assert response.grpc_status == 0, response.grpc_message
    assert node_pb2.Node.FromString(response.messages[0]).id == "zipped"


def test_the_early_answer_reaches_a_client_still_sending(ferry, nothing_upstream):
    """The answer comes while the client is still uploading 6 MiB: the close lingers, so the
    client that reads only after sending everything still gets it, not a reset."""
    body = b"\x00\x00\x60\x00\x00" + b"x" * (6 << 20)
    response = grpcweb.call(ferry.port, GET_NODE, body=body)
    assert response.grpc_status == RESOURCE_EXHAUSTED


@pytest.mark.parametrize("action, status, forwarded", [("drop", 200, False), ("reject", 400, False), ("allow", 200, True)])
def test_header_names_with_underscores(make_ferry, recorder, action, status, forwarded):
    ferry = make_ferry(extra_listener=f"    limits: {{ headers_with_underscores: {action} }}\n")
    response = grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id="n1").SerializeToString(),
                            headers={"x_user": "mallory", "x-user": "alice"})
    assert response.status == status
    if status == 400:
        assert b"'x_user' contains '_'" in response.body and recorder.count() == 0
    else:
        assert recorder.metadata[-1]["x-user"] == "alice"
        assert ("x_user" in recorder.metadata[-1]) == forwarded
    hits = value(scrape(ferry), "ferry_limit_hits_total", limit="headers_with_underscores")
    assert hits == (0 if forwarded else 1), "each dropped or refused request is counted"


def test_a_large_body_to_an_unknown_path_is_answered_without_reading_it_all(ferry, nothing_upstream):
    status, headers, _ = answer_before_the_body(ferry, "Content-Type: text/plain\r\n", b"x" * (70 << 10), 8 << 20,
                                                path="/nothing/here/at/all")
    assert status == 404
    assert headers["connection"] == "close"
