"""A small HTTP/2 client on the `h2` library, over cleartext with prior knowledge: many
requests on one connection at once, and the raw frames the defense tests need to send."""
import socket

import h2.config
import h2.connection
import h2.events


class Response:
    def __init__(self):
        self.headers = {}
        # A bytearray: appending each DATA frame to bytes would copy the whole body every time.
        self.body = bytearray()
        self.trailers = {}
        self.reset_code = None
        self.done = False


class H2Client:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.connection.initiate_connection()
        self.connection.increment_flow_control_window(16 << 20)
        self.flush()
        self.responses = {}
        self.goaway = None

    def flush(self):
        data = self.connection.data_to_send()
        if data:
            self.sock.sendall(data)

    def start(self, method, path, headers=(), body=b""):
        """Sends one request; returns its stream id."""
        stream_id = self.connection.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "http"), (":authority", "localhost"), (":path", path), *headers]
        self.connection.send_headers(stream_id, fields, end_stream=not body)
        if body:
            self.connection.send_data(stream_id, body, end_stream=True)
        self.responses[stream_id] = Response()
        self.flush()
        return stream_id

    def wait(self, stream_ids):
        """Reads until every stream in `stream_ids` ended (or the connection did)."""
        while not all(self.responses[i].done for i in stream_ids):
            data = self.sock.recv(65536)
            if not data:
                break
            for event in self.connection.receive_data(data):
                self.handle(event)
            self.flush()
        return [self.responses[i] for i in stream_ids]

    def handle(self, event):
        response = self.responses.get(getattr(event, "stream_id", None))
        if isinstance(event, h2.events.ResponseReceived):
            response.headers = dict(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            response.body += event.data
            self.connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            response.trailers = dict(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            response.done = True
        elif isinstance(event, h2.events.StreamReset):
            response.reset_code = event.error_code
            response.done = True
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event.error_code
            for pending in self.responses.values():
                pending.done = True

    def request(self, method, path, headers=(), body=b""):
        return self.wait([self.start(method, path, headers, body)])[0]

    def close(self):
        self.sock.close()


def raw_frame(frame_type, flags, stream_id, payload=b""):
    """One HTTP/2 frame as bytes (RFC 9113 §4.1), for what the h2 library will not send."""
    return len(payload).to_bytes(3, "big") + bytes([frame_type, flags]) + stream_id.to_bytes(4, "big") + payload


def literal_field(name, value):
    """An HPACK literal header field without indexing, new name (RFC 7541 §6.2.2), short strings."""
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = raw_frame(0x4, 0, 0)
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def request_block(path, content_type="application/grpc"):
    return b"".join(literal_field(n, v) for n, v in ((":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                                                        (":path", path), ("content-type", content_type), ("te", "trailers")))


def read_frames(sock, until=None, timeout=10):
    """Frames the server sends, as (type, flags, stream id, payload), until `until(frame)` is
    true, the connection closes, or `timeout`; returns them all."""
    import time
    deadline = time.monotonic() + timeout
    buffered = b""
    frames = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except (TimeoutError, OSError):
            break
        if not data:
            break
        buffered += data
        while len(buffered) >= 9 and len(buffered) >= 9 + int.from_bytes(buffered[:3], "big"):
            length = int.from_bytes(buffered[:3], "big")
            frame = (buffered[3], buffered[4], int.from_bytes(buffered[5:9], "big") & 0x7FFFFFFF, buffered[9:9 + length])
            buffered = buffered[9 + length:]
            frames.append(frame)
            if until and until(frame):
                return frames
    return frames


def goaway_of(frames):
    """(error code, debug data) of the first GOAWAY among `frames`, or None."""
    for frame_type, _, _, payload in frames:
        if frame_type == GOAWAY:
            return int.from_bytes(payload[4:8], "big"), payload[8:]
    return None
