"""gzip on the REST edge (issue 18): replies of 1 KiB or more gzipped when Accept-Encoding allows
(curl --compressed and Python's gzip read them), streams as one gzip member flushed after every
message, request bodies with Content-Encoding: gzip inflated within max_message_bytes (a zip bomb
gets 413 and never reaches the backend), other codings 415."""
import base64
import gzip
import json
import socket
import subprocess
import time
import zlib

import pytest
from conftest import FerryProcess
from restclient import compile_descriptors, request, rest_section

BIG = base64.b64encode(bytes(range(256)) * 8).decode()  # 2 KiB of payload, 2.7 KiB as JSON


@pytest.fixture(scope="module")
def rest_ferry(tmp_path_factory, backend):
    descriptors = compile_descriptors(tmp_path_factory.mktemp("descriptors") / "node.pb", "node/v1/node.proto")
    process = FerryProcess(tmp_path_factory.mktemp("gzip"), backend.port,
                           top_level=rest_section(descriptors),
                           extra_listener="    limits: { max_message_bytes: 65536 }\n")
    yield process
    assert process.stop() == 0


def test_large_replies_are_gzipped_when_the_client_accepts_it(rest_ferry):
    body = {"nodeId": "g1", "echo_payload": BIG}
    status, headers, reply = request(rest_ferry, "POST", "/v1/nodes:get", body, {"accept-encoding": "gzip, br"})
    assert status == 200 and headers["content-encoding"] == "gzip" and reply["payload"] == BIG
    assert headers["vary"] == "accept-encoding"
    assert int(headers["content-length"]) < len(json.dumps(reply)) // 2
    # Not asked for, refused by weight, or small: plain.
    for accept in (None, "gzip;q=0, identity", "br"):
        status, headers, reply = request(rest_ferry, "POST", "/v1/nodes:get", body,
                                         {"accept-encoding": accept} if accept else None)
        assert status == 200 and "content-encoding" not in headers and reply["payload"] == BIG, accept
    status, headers, reply = request(rest_ferry, "GET", "/v1/nodes/g2", headers={"accept-encoding": "*"})
    assert status == 200 and "content-encoding" not in headers and reply["id"] == "g2"
    _, headers, _ = request(rest_ferry, "POST", "/v1/nodes:get", body, {"accept-encoding": "*;q=0.5"})
    assert headers["content-encoding"] == "gzip"


def test_curl_reads_the_gzipped_reply(rest_ferry):
    result = subprocess.run(
        ["curl", "-s", "--compressed", "-D", "-", f"{rest_ferry.url}/v1/nodes:get", "-H", "content-type: application/json",
         "--data-binary", json.dumps({"nodeId": "c1", "echo_payload": BIG})], capture_output=True, timeout=30)
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head.lower()
    assert json.loads(body)["payload"] == BIG


def test_a_gzipped_stream_is_flushed_message_by_message(rest_ferry):
    """NDJSON over one connection, read as it comes: the first message inflates long before the
    stream ends, and the whole body is one valid gzip member."""
    with socket.create_connection(("127.0.0.1", rest_ferry.port), timeout=10) as sock:
        sock.sendall(b"GET /v1/nodes:watch?count=3&intervalMs=400 HTTP/1.1\r\nhost: x\r\n"
                     b"accept: application/x-ndjson\r\naccept-encoding: gzip\r\nconnection: close\r\n\r\n")
        started = time.monotonic()
        raw = b""
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = b""
        first_line_at = None
        while chunk := sock.recv(65536):
            raw += chunk
            head, separator, body = raw.partition(b"\r\n\r\n")
            if not separator:
                continue
            # Chunks as they stand: inflate what has arrived so far.
            data, offset = b"", 0
            while (end := body.find(b"\r\n", offset)) != -1:
                size = int(body[offset:end], 16)
                if size == 0 or len(body) < end + 2 + size:
                    break
                data += body[end + 2:end + 2 + size]
                offset = end + 4 + size
            text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
            if first_line_at is None and b"\n" in text:
                first_line_at = time.monotonic() - started
        ended_at = time.monotonic() - started
    assert b"content-encoding: gzip" in head.lower()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["sequence"] for line in lines] == ["1", "2", "3"]  # int64: strings in JSON
    assert first_line_at is not None and first_line_at < ended_at - 0.5, (first_line_at, ended_at)
    assert inflater.decompress(data) and inflater.eof, "the member was not finished"


def test_gzipped_request_bodies_are_inflated(rest_ferry, recorder):
    body = gzip.compress(json.dumps({"nodeId": "z1"}).encode())
    status, _, reply = request(rest_ferry, "POST", "/v1/nodes:get", body,
                               {"content-type": "application/json", "content-encoding": "gzip"})
    assert status == 200 and reply["id"] == "z1"
    assert recorder.calls == ["GetNode"]


def test_a_zip_bomb_is_413_and_bad_codings_are_refused(rest_ferry, recorder):
    bomb = gzip.compress(b'{"nodeId":"b","echoPayload":"' + b"A" * (8 << 20) + b'"}')
    assert len(bomb) < 65536
    status, _, reply = request(rest_ferry, "POST", "/v1/nodes:get", bomb,
                               {"content-type": "application/json", "content-encoding": "gzip"})
    assert status == 413 and reply["code"] == 8 and "inflates to more than the limit of 65536 bytes" in reply["message"]
    status, _, reply = request(rest_ferry, "POST", "/v1/nodes:get", b"not gzip at all",
                               {"content-type": "application/json", "content-encoding": "gzip"})
    assert status == 400 and "invalid gzip data" in reply["message"]
    status, headers, reply = request(rest_ferry, "POST", "/v1/nodes:get", b"{}",
                                     {"content-type": "application/json", "content-encoding": "br"})
    assert status == 415 and headers["accept-encoding"] == "gzip" and "'br' is not supported" in reply["message"]
    assert recorder.calls == []
