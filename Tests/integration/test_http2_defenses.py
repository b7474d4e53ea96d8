"""The HTTP/2 front's defenses, each attacked over a raw connection while a grpcio client on
another connection keeps calling and must keep getting fast answers: Rapid Reset
(CVE-2023-44487), CONTINUATION floods (CVE-2024-27316 class), PING and SETTINGS floods from a
client that does not read (a bounded outbound control-frame queue), empty frames
(CVE-2019-9518), too many streams, oversized header lists, PINGs more often than the keepalive
policy allows, and slow heads and bodies (slowloris)."""
import socket
import threading
import time

import grpc
import hpack
import pytest

import grpcweb
from conftest import FerryProcess
from h2client import (ACK, CONTINUATION, DATA, EMPTY_SETTINGS, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, PREFACE,
                      RST_STREAM, SETTINGS, goaway_of, literal_field, raw_frame, read_frames, request_block)
from node.v1 import node_pb2, node_pb2_grpc

ENHANCE_YOUR_CALM, REFUSED_STREAM, PROTOCOL_ERROR = 0xB, 0x7, 0x1
GET_NODE = "/node.v1.NodeService/GetNode"


@pytest.fixture(scope="module")
def ferry(tmp_path_factory, backend):
    process = FerryProcess(tmp_path_factory.mktemp("defenses"), backend.port,
                           extra_listener="    limits: { header_read_timeout: 1s, request_body_timeout: 1s }\n"
                                          "    http2: { min_ping_interval: 10s }\n")
    yield process
    assert process.stop() == 0


class Bystander:
    """A grpcio client calling GetNode in a loop on its own connection; records each latency."""

    def __init__(self, port):
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = node_pb2_grpc.NodeServiceStub(self.channel)
        self.latencies = []
        self.failures = []
        self.running = True
        self.stub.GetNode(node_pb2.GetNodeRequest(node_id="warm"), timeout=10)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            started = time.monotonic()
            try:
                self.stub.GetNode(node_pb2.GetNodeRequest(node_id="b1"), timeout=5)
                self.latencies.append(time.monotonic() - started)
            except grpc.RpcError as error:
                self.failures.append(error.code())
            time.sleep(0.01)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        deadline = time.monotonic() + 5
        while len(self.latencies) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.running = False
        self.thread.join(10)
        self.channel.close()
        # Fast answers all along: no failure, none slower than a second (2 cores, CI noise).
        assert self.failures == []
        assert len(self.latencies) >= 5
        assert max(self.latencies) < 1.0, f"slowest bystander call {max(self.latencies):.3f} s"


def attacker(port, recv_buffer=None):
    sock = socket.socket()
    if recv_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
    sock.connect(("127.0.0.1", port))
    sock.sendall(PREFACE + EMPTY_SETTINGS)
    return sock


def gauge(ferry, name):
    import urllib.request
    text = urllib.request.urlopen(f"{ferry.admin_url}/metrics", timeout=5).read().decode()
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " "))


def limit_hits(ferry, limit):
    import urllib.request
    text = urllib.request.urlopen(f"{ferry.admin_url}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("ferry_limit_hits_total{") and f'limit="{limit}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0


def test_rapid_reset_ends_the_connection(ferry, backend):
    with Bystander(ferry.port):
        sock = attacker(ferry.port)
        block = request_block(GET_NODE)
        burst = b"".join(raw_frame(HEADERS, END_HEADERS, stream_id, block) + raw_frame(RST_STREAM, 0, stream_id, (8).to_bytes(4, "big"))
                         for stream_id in range(1, 4001, 2))
        try:
            sock.sendall(burst)
        except OSError:
            pass  # closed mid-send: the defense worked before the attack was over
        frames = read_frames(sock, until=lambda frame: frame[0] == GOAWAY)
        sock.close()
    assert goaway_of(frames) == (ENHANCE_YOUR_CALM, b"rapid_reset")
    assert limit_hits(ferry, "http2_rapid_reset") >= 1
    # Every reset stream's exchange ended: nothing is left counted as in progress.
    deadline = time.monotonic() + 5
    while gauge(ferry, "ferry_downstream_requests_active") != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gauge(ferry, "ferry_downstream_requests_active") == 0


def test_continuation_flood_ends_the_connection(ferry):
    with Bystander(ferry.port):
        sock = attacker(ferry.port)
        frames = [raw_frame(HEADERS, 0, 1, request_block(GET_NODE))]
        frames += [raw_frame(CONTINUATION, 0, 1, literal_field(f"x-c{i}", "v")) for i in range(100)]
        try:
            sock.sendall(b"".join(frames))
        except OSError:
            pass
        received = read_frames(sock, until=lambda frame: frame[0] == GOAWAY)
        sock.close()
    assert goaway_of(received)[0] == ENHANCE_YOUR_CALM


def test_settings_flood_without_reading_is_bounded(ferry):
    """A client that sends SETTINGS (each owed an ACK) and never reads: the ACKs wait in a
    bounded queue, then the connection ends; Ferry's memory stays put."""
    rss_before = ferry.rss_kib()
    with Bystander(ferry.port):
        sock = attacker(ferry.port, recv_buffer=4096)
        sock.settimeout(10)
        flood = EMPTY_SETTINGS * 10_000
        closed = False
        for _ in range(1000):
            try:
                sock.sendall(flood)
            except OSError:
                closed = True
                break
        sock.close()
    assert closed, "the flooding connection was never closed"
    assert ferry.rss_kib() - rss_before < 20_000
    assert limit_hits(ferry, "http2_flood") >= 1


def test_pings_more_often_than_allowed_get_too_many_pings(ferry):
    with Bystander(ferry.port):
        sock = attacker(ferry.port)
        for index in range(4):
            sock.sendall(raw_frame(PING, 0, 0, index.to_bytes(8, "big")))
            time.sleep(0.05)
        frames = read_frames(sock, until=lambda frame: frame[0] == GOAWAY)
        sock.close()
    assert goaway_of(frames) == (ENHANCE_YOUR_CALM, b"too_many_pings")
    # The abusive PING may still be acknowledged: nghttp2 queues each ACK as the PING arrives.
    assert sum(1 for frame in frames if frame[0] == PING and frame[1] & ACK) >= 3


def test_pings_answered_by_responses_are_fine(ferry):
    """A PING after each response is no abuse (grpc's rule: strikes reset when the server sends)."""
    sock = attacker(ferry.port)
    for index in range(5):
        stream_id = 1 + 2 * index
        sock.sendall(raw_frame(HEADERS, END_HEADERS | END_STREAM, stream_id, request_block(GET_NODE)))
        read_frames(sock, until=lambda frame, s=stream_id: frame[2] == s and frame[1] & END_STREAM)
        sock.sendall(raw_frame(PING, 0, 0, index.to_bytes(8, "big")))
    frames = read_frames(sock, until=lambda frame: frame[0] == PING and frame[1] & ACK and frame[3] == (4).to_bytes(8, "big"))
    sock.close()
    assert goaway_of(frames) is None


def test_empty_data_frames_end_the_connection(ferry):
    with Bystander(ferry.port):
        sock = attacker(ferry.port)
        sock.sendall(raw_frame(HEADERS, END_HEADERS, 1, request_block(GET_NODE)) + raw_frame(DATA, 0, 1) * 100)
        frames = read_frames(sock, until=lambda frame: frame[0] == GOAWAY)
        sock.close()
    assert goaway_of(frames) == (ENHANCE_YOUR_CALM, b"empty_frames")


def hundred_and_one_held_calls():
    """101 calls the backend holds ("slow-" ids wait until cancelled), on streams 1 … 201."""
    block = request_block(GET_NODE)
    message = grpcweb.frame(node_pb2.GetNodeRequest(node_id="slow-1").SerializeToString())
    return b"".join(raw_frame(HEADERS, END_HEADERS, s, block) + raw_frame(DATA, END_STREAM, s, message) for s in range(1, 203, 2))


def test_streams_beyond_the_limit_are_refused(ferry, recorder):
    """Before the client acknowledges Ferry's SETTINGS (max 100 streams), a stream beyond the
    limit is refused alone (RST_STREAM(REFUSED_STREAM): the client may retry it)."""
    sock = attacker(ferry.port)
    sock.sendall(hundred_and_one_held_calls())
    frames = read_frames(sock, until=lambda frame: frame[0] == RST_STREAM, timeout=10)
    sock.close()
    resets = [(stream_id, int.from_bytes(payload, "big")) for frame_type, _, stream_id, payload in frames if frame_type == RST_STREAM]
    assert resets == [(201, REFUSED_STREAM)]
    assert goaway_of(frames) is None


def test_streams_beyond_an_acknowledged_limit_end_the_connection(ferry, recorder):
    """Once the client has acknowledged the limit, exceeding it is a protocol error (nghttp2's
    choice, which RFC 9113 §5.1.2 leaves open): GOAWAY names the last stream taken, 199."""
    with Bystander(ferry.port):
        sock = attacker(ferry.port)
        read_frames(sock, until=lambda frame: frame[0] == SETTINGS and not frame[1] & ACK)
        sock.sendall(raw_frame(SETTINGS, ACK, 0) + hundred_and_one_held_calls())
        frames = read_frames(sock, until=lambda frame: frame[0] == GOAWAY, timeout=10)
        sock.close()
    goaway = [payload for frame_type, _, _, payload in frames if frame_type == GOAWAY][0]
    assert int.from_bytes(goaway[:4], "big") == 199 and int.from_bytes(goaway[4:8], "big") == PROTOCOL_ERROR


def test_slow_header_block_ends_the_connection(ferry):
    """A header block left unfinished holds up the whole connection (RFC 9113 §6.10): after
    header_read_timeout the connection ends."""
    sock = attacker(ferry.port)
    started = time.monotonic()
    sock.sendall(raw_frame(HEADERS, 0, 1, request_block(GET_NODE)))
    frames = read_frames(sock, until=lambda frame: frame[0] == GOAWAY, timeout=10)
    sock.close()
    assert goaway_of(frames) == (ENHANCE_YOUR_CALM, b"header_read_timeout")
    assert 0.8 < time.monotonic() - started < 3


def test_slow_grpc_web_body_is_answered_deadline_exceeded(ferry):
    sock = attacker(ferry.port)
    started = time.monotonic()
    sock.sendall(raw_frame(HEADERS, END_HEADERS, 1, request_block(GET_NODE, "application/grpc-web+proto"))
                 + raw_frame(DATA, 0, 1, b"\x00\x00"))
    frames = read_frames(sock, until=lambda frame: frame[2] == 1 and frame[0] == RST_STREAM, timeout=10)
    sock.close()
    assert 0.8 < time.monotonic() - started < 3
    headers = [frame for frame in frames if frame[0] == HEADERS and frame[2] == 1]
    assert headers and headers[0][1] & END_STREAM, "trailers-only answer"
    # The connection's first header block: a fresh HPACK decoder reads it.
    fields = dict(hpack.Decoder().decode(headers[0][3]))
    assert fields["grpc-status"] == "4" and "request_body_timeout" in fields["grpc-message"]
    resets = [frame for frame in frames if frame[0] == RST_STREAM and frame[2] == 1]
    assert int.from_bytes(resets[0][3], "big") == 0, "RST_STREAM(NO_ERROR) after the answer"
