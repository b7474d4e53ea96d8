"""Helpers of the REST tests: descriptor sets compiled from Protos/, and raw HTTP/1.1 exchanges."""
import gzip
import json
import pathlib
import socket

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]


def compile_descriptors(path, *protos, first_include=None, source_info=False):
    """A descriptor set of Protos/<proto>… with their imports, by grpcio-tools' protoc; files in
    `first_include` shadow those of Protos/; with `source_info`, the comments too."""
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    shadow = [f"-I{first_include}"] if first_include else []
    comments = ["--include_source_info"] if source_info else []
    assert protoc.main(["protoc", *shadow, f"-I{ROOT / 'Protos'}", f"-I{include}", "--include_imports", *comments,
                        f"--descriptor_set_out={path}", *protos]) == 0
    return path


def moved_node_descriptors(directory):
    """A descriptor set of node.proto with GetNode's rule moved from /v1 to /v2, in `directory`."""
    moved = directory / "include" / "node" / "v1"
    moved.mkdir(parents=True)
    source = (ROOT / "Protos" / "node" / "v1" / "node.proto").read_text()
    (moved / "node.proto").write_text(source.replace('get: "/v1/nodes/{node_id}"', 'get: "/v2/nodes/{node_id}"'))
    return compile_descriptors(directory / "node-v2.pb", "node/v1/node.proto", first_include=directory / "include")


def rest_section(descriptors, services="[node.v1.NodeService]", extra=""):
    return f"rest:\n  descriptor_set: {descriptors}\n  services: {services}\n{extra}"


def exchange(ferry, method, path, body=None, headers=None):
    """One raw HTTP/1.1 exchange on a fresh connection: everything the server sent until it closed."""
    payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{ferry.port}", f"content-length: {len(payload)}",
             "connection: close"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", ferry.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def request(ferry, method, path, body=None, headers=None):
    """(status, headers, parsed JSON or text) of one exchange; chunked bodies are decoded and
    chunked trailer fields join the headers."""
    head, _, content = exchange(ferry, method, path, body, headers).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = parse_fields(header_lines)
    if fields.get("transfer-encoding") == "chunked":
        content, trailers = dechunk(content)
        fields.update(trailers)
    if fields.get("content-encoding") == "gzip":
        content = gzip.decompress(content)
    if fields.get("content-type") == "application/json":
        parsed = json.loads(content)
    elif fields.get("content-type", "").startswith("text/") or not content:
        parsed = content.decode()
    else:
        parsed = content
    return int(status_line.split()[1]), fields, parsed


def parse_fields(lines):
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


def dechunk(data):
    """(body, trailer fields) of a complete chunked body (RFC 9112 §7.1)."""
    body = bytearray()
    offset = 0
    while True:
        line_end = data.index(b"\r\n", offset)
        size = int(data[offset:line_end], 16)
        offset = line_end + 2
        if size == 0:
            rest = data[offset:]
            trailer_block = rest[:rest.index(b"\r\n\r\n") + 2] if rest != b"\r\n" else b""
            return bytes(body), parse_fields(line for line in trailer_block.decode("latin-1").split("\r\n") if line)
        body += data[offset:offset + size]
        offset += size + 2
