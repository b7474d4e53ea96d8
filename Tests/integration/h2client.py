"""A small HTTP/2 client on the `h2` library, over cleartext with prior knowledge: many
requests on one connection at once, and the raw frames the defense tests need to send."""
import socket

import h2.config
import h2.connection
import h2.events


class Response:
    def __init__(self):
        self.headers = {}
        self.body = b""
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
