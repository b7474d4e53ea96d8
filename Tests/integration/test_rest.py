"""REST/JSON through Ferry to the grpcio NodeService, mapped by the google.api.http rules of
Protos/node/v1/node.proto (compiled here into a descriptor set with grpcio-tools' protoc)."""
import json
import shutil
import signal
import socket
import subprocess

import pytest
from conftest import FerryProcess, ferry_binary, free_port, wait_for
from restclient import compile_descriptors, moved_node_descriptors, request, rest_section


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory):
    return compile_descriptors(tmp_path_factory.mktemp("descriptors") / "node.pb", "node/v1/node.proto")


@pytest.fixture(scope="module")
def rest_ferry(tmp_path_factory, backend, descriptors):
    process = FerryProcess(tmp_path_factory.mktemp("rest"), backend.port, top_level=rest_section(descriptors))
    yield process
    assert process.stop() == 0


def test_get_with_a_path_variable(rest_ferry, recorder):
    status, headers, body = request(rest_ferry, "GET", "/v1/nodes/n1")
    assert status == 200, body
    assert body["id"] == "n1" and body["name"] == "node-n1" and body["state"] == "NODE_STATE_READY"
    assert body["memoryBytes"] == str(1 << 33) and body["labels"] == ["zone=local", "role=test"]
    assert not any(name.startswith("grpc-") for name in headers)
    assert recorder.calls == ["GetNode"]


def test_response_metadata_comes_under_a_prefix(rest_ferry):
    status, headers, body = request(rest_ferry, "GET", "/v1/nodes/n1", headers={"x-echo": "hello"})
    assert status == 200, body
    assert headers["x-grpc-metadata-x-echo-header"] == "hello"
    assert headers["x-grpc-trailer-x-echo-trailer"] == "hello"
    assert not any(name.startswith("grpc-") for name in headers)


def test_post_with_the_whole_message_as_body(rest_ferry):
    status, _, body = request(rest_ferry, "POST", "/v1/nodes:get", {"nodeId": "n2", "echo_payload": "AAEC"})
    assert status == 200, body
    assert body["id"] == "n2" and body["payload"] == "AAEC"


def test_grpc_errors_become_http_statuses_with_a_status_body(rest_ferry):
    status, _, body = request(rest_ferry, "GET", "/v1/nodes/missing-1")
    assert status == 404
    assert body == {"code": 5, "message": "node 'missing-1' not found (ünïcödé 100%)", "details": []}
    status, _, body = request(rest_ferry, "POST", "/v1/nodes:get", {})
    assert status == 400 and body["code"] == 3 and body["message"] == "node_id is required"


def test_routing_refusals_are_json(rest_ferry, recorder):
    status, _, body = request(rest_ferry, "GET", "/v1/things")
    assert (status, body["code"]) == (404, 5) and "no REST route for GET /v1/things" in body["message"]
    status, headers, body = request(rest_ferry, "DELETE", "/v1/nodes/n1")
    assert (status, body["code"], headers["allow"]) == (405, 12, "GET")
    status, _, body = request(rest_ferry, "GET", "/v1/nodes/n1?colour=red")
    assert (status, body["code"]) == (400, 3)
    assert "unknown query parameter 'colour'" in body["message"]
    status, _, body = request(rest_ferry, "POST", "/v1/nodes:get", b'{"nodeId": "n1",}')
    assert (status, body["code"]) == (400, 3)
    assert "request body: invalid JSON at byte 16" in body["message"]
    status, _, body = request(rest_ferry, "GET", "/v1/nodes/%FF")
    assert (status, body["code"]) == (400, 3)
    status, _, body = request(rest_ferry, "POST", "/v1/metrics:stream", {"nodeId": "n1"})
    assert (status, body["code"]) == (400, 3) and "expected '['" in body["message"]
    assert recorder.calls == []


def test_client_streaming_takes_a_json_array(rest_ferry):
    metrics = [{"nodeId": "n1", "name": "cpu", "value": 1.5}, {"nodeId": "n1", "name": "cpu", "value": 2.5}]
    status, _, body = request(rest_ferry, "POST", "/v1/metrics:stream", metrics)
    assert status == 200, body
    assert body == {"count": "2", "sum": 4.0}, body


def test_server_streaming_as_json_array_ndjson_and_sse(rest_ferry):
    status, headers, body = request(rest_ferry, "GET", "/v1/nodes:watch?count=3")
    assert status == 200 and headers["transfer-encoding"] == "chunked", body
    assert [event["sequence"] for event in body] == ["1", "2", "3"]
    status, headers, body = request(rest_ferry, "GET", "/v1/nodes:watch?count=2", headers={"accept": "application/x-ndjson"})
    assert headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line)["sequence"] for line in body.splitlines()] == ["1", "2"]
    status, headers, body = request(rest_ferry, "GET", "/v1/nodes:watch?count=2", headers={"accept": "text/event-stream"})
    assert headers["content-type"] == "text/event-stream"
    events = [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]
    assert [event["sequence"] for event in events] == ["1", "2"]


def test_stream_errors_after_the_first_message_end_the_stream(rest_ferry):
    status, _, body = request(rest_ferry, "GET", "/v1/nodes:watch?count=200000")
    assert status == 200
    assert body[0]["sequence"] == "1"
    assert body[-1] == {"error": {"code": 8, "message": "too many events requested", "details": []}}
    status, _, body = request(rest_ferry, "GET", "/v1/nodes:watch?count=200000", headers={"accept": "application/x-ndjson"})
    assert json.loads(body.splitlines()[-1])["error"]["code"] == 8



def test_grpc_web_still_works_beside_rest(rest_ferry):
    import grpcweb
    response = grpcweb.call(rest_ferry.port, "/node.v1.NodeService/GetNode", b"\x0a\x02n1")
    assert response.status == 200 and response.grpc_status == 0
    assert b"node-n1" in response.messages[0]


def test_unreachable_backend_is_503_json(tmp_path, descriptors):
    down = FerryProcess(tmp_path, free_port(), top_level=rest_section(descriptors))
    try:
        status, _, body = request(down, "GET", "/v1/nodes/n1")
    finally:
        down.stop()
    assert (status, body["code"]) == (503, 14), body
    assert "cluster nodes" in body["message"]
    down = FerryProcess(tmp_path, free_port(), top_level=rest_section(descriptors))
    try:
        status, _, body = request(down, "GET", "/v1/nodes:watch")
    finally:
        down.stop()
    assert (status, body["code"]) == (503, 14), "a stream that fails before its first message gets its own status"


@pytest.mark.parametrize("section, message", [
    ("rest:\n  descriptor_set: /nonexistent.pb\n  services: [node.v1.NodeService]\n",
     "rest.descriptor_set: cannot read '/nonexistent.pb': No such file"),
    (None, "rest: service 'node.v1.Nope' is not in the descriptor set (services: node.v1.NodeService)"),
])
def test_check_refuses_bad_rest_sections(tmp_path, descriptors, section, message):
    section = section or rest_section(descriptors, "[node.v1.Nope]")
    config = tmp_path / "rest.yaml"
    config.write_text("listeners: [{address: 127.0.0.1:1}]\nroutes: [{match: {service: node.v1.NodeService}, cluster: nodes}]\n"
                      "clusters: [{name: nodes, endpoints: [127.0.0.1:2]}]\n" + section)
    result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_check_counts_rest_rules(tmp_path, descriptors):
    config = tmp_path / "rest.yaml"
    config.write_text("listeners: [{address: 127.0.0.1:1}]\nroutes: [{match: {service: node.v1.NodeService}, cluster: nodes}]\n"
                      "clusters: [{name: nodes, endpoints: [127.0.0.1:2]}]\n" + rest_section(descriptors))
    result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0 and "REST: 7 rule(s)" in result.stdout, result.stdout + result.stderr


def test_a_body_over_the_limit_is_413_before_it_ends(rest_ferry, recorder):
    """Declared too large: refused from the head; chunked past the limit: refused as soon as it
    passes, without reading the rest."""
    status, _, body = request(rest_ferry, "POST", "/v1/nodes:get", b"x" * ((4 << 20) + 1))
    assert (status, body["code"]) == (413, 8) and "limit of 4194304 bytes" in body["message"]
    with socket.create_connection(("127.0.0.1", rest_ferry.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/nodes:get HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"a" * 65536
        reply = b""
        for _ in range(200):  # up to 12.5 MiB; the answer must come after about 4 MiB
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break
            sock.settimeout(0.001)
            try:
                reply += sock.recv(65536)
            except (socket.timeout, BlockingIOError):
                pass
            sock.settimeout(10)
            if reply:
                break
        while b"\r\n\r\n" not in reply:
            more = sock.recv(65536)
            assert more, "closed without an answer"
            reply += more
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert recorder.calls == []


def test_a_changed_descriptor_set_applied_by_sighup_changes_the_routes(tmp_path, backend, recorder):
    """The descriptor file is read again on reload: GetNode's rule moved to /v2 takes effect."""
    import pathlib
    import signal
    import time
    from restclient import ROOT
    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    ferry = FerryProcess(tmp_path, backend.port, top_level=rest_section(descriptors))
    try:
        assert request(ferry, "GET", "/v1/nodes/r1")[0] == 200
        assert request(ferry, "GET", "/v2/nodes/r1")[0] == 404
        moved = tmp_path / "moved" / "node" / "v1"
        moved.mkdir(parents=True)
        source = (pathlib.Path(ROOT) / "Protos" / "node" / "v1" / "node.proto").read_text()
        (moved / "node.proto").write_text(source.replace('get: "/v1/nodes/{node_id}"', 'get: "/v2/nodes/{node_id}"'))
        compile_descriptors(tmp_path / "node-v2.pb", "node/v1/node.proto", first_include=tmp_path / "moved")
        (tmp_path / "node-v2.pb").replace(descriptors)
        ferry.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while request(ferry, "GET", "/v2/nodes/r1")[0] != 200:
            assert time.monotonic() < deadline, "the new descriptor set was not applied"
            time.sleep(0.1)
        status, _, body = request(ferry, "GET", "/v1/nodes/r1")
        assert status == 404 and "no REST route for GET /v1/nodes/r1" in body["message"]
        assert recorder.calls.count("GetNode") >= 2
    finally:
        assert ferry.stop() == 0



def test_a_reload_reads_the_descriptor_file_again(make_ferry, tmp_path, recorder):
    """Issue 20, point 5: a new descriptor set in the same file takes effect on SIGHUP (GetNode's
    rule moved to /v2); calls keep working throughout."""
    path = tmp_path / "api.pb"
    compile_descriptors(path, "node/v1/node.proto")
    ferry = make_ferry(top_level=rest_section(path))
    assert request(ferry, "GET", "/v1/nodes/n1")[0] == 200
    shutil.copy(moved_node_descriptors(tmp_path / "moved"), path)
    assert request(ferry, "GET", "/v1/nodes/n1")[0] == 200, "the file is read again only on reload"
    ferry.process.send_signal(signal.SIGHUP)
    wait_for(lambda: request(ferry, "GET", "/v2/nodes/n1")[0] == 200, "the moved rule never took effect")
    status, _, body = request(ferry, "GET", "/v1/nodes/n1")
    assert status == 404 and "no REST route" in body["message"]
    assert recorder.calls.count("GetNode") == 3
