"""Every bad request gets a clear answer, and nothing reaches the backend."""
import base64

import pytest

from node.v1 import node_pb2

import grpcweb

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
