"""A misbehaving HTTP/2 backend on the `h2` library, for the faults grpcio never makes: streams
reset with any RST_STREAM code, a flood of empty DATA frames, or a blackhole (the connection is
accepted and read, and nothing is ever answered). Runs on a thread of the pytest process and
records what it received (GOAWAY codes, PINGs), so tests can check Ferry's side of the wire."""
import socket
import threading
import time

import h2.config
import h2.connection
import h2.events


class H2Backend:
    """`mode`: "reset:<code>" resets every request's stream with that HTTP/2 error code;
    "empty-data-flood" answers headers, then `flood` empty DATA frames; "ping-flood" answers a
    request with `flood` PINGs, 100 a millisecond, and never reads again (the ACKs pile up on
    Ferry's side);
    "blackhole" answers nothing at all, not even SETTINGS; "upper-case-name:headers" and
    "upper-case-name:trailers" answer a call whose response headers or trailers hold the name
    `X-Node-Zone`, which RFC 9113 §8.2.1 forbids (the h2 library is told not to fix it)."""

    def __init__(self, mode, flood=1000):
        self.mode = mode
        self.flood = flood
        self.lock = threading.Lock()
        self.goaway_codes = []
        self.pings = 0
        self.requests = 0
        self.flooded = threading.Event()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if mode == "ping-flood":
            # A small window, so that Ferry's unread ACKs stay in Ferry rather than in the kernel.
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.running = True
        self.sockets = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        connection = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, validate_inbound_headers=False, validate_outbound_headers=False,
            normalize_outbound_headers=False))
        if self.mode != "blackhole":
            connection.initiate_connection()
            client.sendall(connection.data_to_send())
        while self.running:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.mode == "blackhole":
                continue
            try:
                events = connection.receive_data(data)
            except Exception:  # noqa: BLE001 - a test peer: whatever Ferry sent, stop reading
                return
            for event in events:
                self.handle(connection, event)
            try:
                client.sendall(connection.data_to_send())
                if self.mode == "ping-flood" and any(isinstance(e, h2.events.RequestReceived) for e in events):
                    # Raw PING frames (length 8, type 6, stream 0); nothing is read after them.
                    # A drip, so that no single read of Ferry's holds the 1,000 that nghttp2
                    # would call a flood at once: the ACKs must pile up first.
                    batch = b"\x00\x00\x08\x06\x00\x00\x00\x00\x0012345678" * 100
                    for _ in range(self.flood // 100):
                        client.sendall(batch)
                        time.sleep(0.001)
                    self.flooded.set()
                    return
            except OSError:
                return

    def handle(self, connection, event):
        with self.lock:
            if isinstance(event, h2.events.ConnectionTerminated):
                self.goaway_codes.append(int(event.error_code))
            elif isinstance(event, h2.events.PingReceived):
                self.pings += 1
            elif isinstance(event, h2.events.RequestReceived):
                self.requests += 1
        if not isinstance(event, h2.events.RequestReceived):
            return
        if self.mode.startswith("reset:"):
            connection.reset_stream(event.stream_id, error_code=int(self.mode.split(":")[1]))
        elif self.mode == "empty-data-flood":
            connection.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
            for _ in range(self.flood):
                connection.send_data(event.stream_id, b"")
        elif self.mode.startswith("upper-case-name:"):
            bad = ("X-Node-Zone", "eu-1")
            in_headers = self.mode.endswith(":headers")
            headers = [(":status", "200"), ("content-type", "application/grpc")]
            connection.send_headers(event.stream_id, headers + [bad] if in_headers else headers)
            connection.send_data(event.stream_id, b"\0\0\0\0\0")
            trailers = [("grpc-status", "0")]
            connection.send_headers(event.stream_id, trailers if in_headers else trailers + [bad], end_stream=True)

    def close(self):
        self.running = False
        self.listener.close()
        for client in self.sockets:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()
