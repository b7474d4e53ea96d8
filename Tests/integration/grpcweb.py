"""A raw gRPC-Web client over http.client, for what sonora does not cover (text mode, headers,
malformed input). Framing per PROTOCOL-WEB.md."""
import base64
import http.client
import socket
import struct


def frame(payload, flags=0):
    return struct.pack(">BI", flags, len(payload)) + payload


def parse_frames(body):
    """Splits a binary gRPC-Web body into (messages, trailers dict)."""
    messages, trailers, offset = [], {}, 0
    while offset < len(body):
        flags, length = struct.unpack(">BI", body[offset:offset + 5])
        payload = body[offset + 5:offset + 5 + length]
        assert len(payload) == length, "truncated frame in response"
        offset += 5 + length
        if flags & 0x80:
            for line in payload.decode("ascii").split("\r\n"):
                if line:
                    name, value = line.split(":", 1)
                    trailers[name] = value.strip()
        else:
            messages.append(payload)
    return messages, trailers


def decode_text_body(body):
    """Decodes a -text body that may be several padded base64 chunks back to back."""
    out, start = b"", 0
    for index in range(0, len(body), 4):
        group = body[index:index + 4]
        if group.endswith(b"="):
            out += base64.b64decode(body[start:index + 4])
            start = index + 4
    return out + base64.b64decode(body[start:])


class Response:
    def __init__(self, status, headers, body, text):
        self.status = status
        self.headers = headers
        self.body = body
        raw = decode_text_body(body) if text and status == 200 else body
        if status == 200:
            self.messages, self.trailers = parse_frames(raw)
        else:
            self.messages, self.trailers = [], {}

    @property
    def grpc_status(self):
        value = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if value is None else int(value)

    @property
    def grpc_message(self):
        from urllib.parse import unquote
        value = self.trailers.get("grpc-message", self.headers.get("grpc-message"))
        return None if value is None else unquote(value)


def call(url_port, path, message=b"", text=False, headers=None, body=None, method="POST", timeout=30, tls=None,
         host="127.0.0.1", source=None):
    """One gRPC-Web call; `body` overrides the framed, possibly base64-encoded `message`; with
    `tls` (an ssl.SSLContext), over HTTPS to `host`; from the loopback address `source` if given."""
    content_type = "application/grpc-web-text" if text else "application/grpc-web+proto"
    request_headers = {"content-type": content_type, "x-grpc-web": "1"}
    request_headers.update(headers or {})
    if body is None:
        body = frame(message)
        if text:
            body = base64.b64encode(body)
    if tls is None:
        connection = http.client.HTTPConnection(host, url_port, timeout=timeout,
                                                source_address=(source, 0) if source else None)
    else:
        connection = http.client.HTTPSConnection(host, url_port, timeout=timeout, context=tls)
    try:
        connection.request(method, path, body=body, headers=request_headers)
        response = connection.getresponse()
        data = response.read()
        response_headers = {k.lower(): v for k, v in response.getheaders()}
        return Response(response.status, response_headers, data, text or "text" in response_headers.get("content-type", ""))
    finally:
        connection.close()


def raw_exchange(port, request_bytes, timeout=5):
    """Sends raw bytes and returns everything the server sends until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request_bytes)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


def parse_http_response(raw):
    """Splits a raw HTTP/1.1 response into (status, headers dict, de-chunked body)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") != "chunked":
        return status, headers, rest
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body += rest[:size]
        rest = rest[size + 2:]
    return status, headers, body
