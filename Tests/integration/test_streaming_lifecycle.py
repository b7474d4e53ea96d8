"""Flow control, cancellation and drain, observed at the backend and in Ferry's memory."""
import json
import signal
import socket
import subprocess
import time
import urllib.request

import grpc
import grpcweb
from conftest import connection_refused, ferry_binary, wait_for_port
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from node.v1 import node_pb2

WATCH = "/node.v1.NodeService/WatchNodes"


def open_stream(port, request):
    body = grpcweb.frame(request.SerializeToString())
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.sendall((f"POST {WATCH} HTTP/1.1\r\nHost: x\r\ncontent-type: application/grpc-web+proto\r\n"
                  f"content-length: {len(body)}\r\n\r\n").encode() + body)
    return sock


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_slow_reader_stalls_backend_and_bounds_memory(make_ferry, recorder):
    ferry = make_ferry()
    baseline = ferry.rss_kib()
    total = 1000
    sock = open_stream(ferry.port, node_pb2.WatchNodesRequest(count=total, payload_size=64 * 1024))
    sock.recv(1024)  # the head and a little data: the stream runs
    time.sleep(2)    # the browser reads nothing for a while
    stalled_at = recorder.stream_sent
    growth_kib = ferry.rss_kib() - baseline
    print(f"slow reader: backend stalled at {stalled_at}/{total} messages of 64 KiB, "
          f"Ferry RSS grew by {growth_kib} KiB")
    assert stalled_at < total // 2, "backend kept sending: no backpressure"
    assert growth_kib < 48 * 1024, "Ferry buffered the stream in memory"
    # Reading again lets the stream finish.
    received = 0
    sock.settimeout(30)
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        received += len(chunk)
        if b"grpc-status:0" in chunk[-64:]:
            break
    sock.close()
    assert received > total * 64 * 1024
    assert recorder.stream_sent == total
    # The buffer limit held the backend back: counted, and logged (at most once a second).
    with urllib.request.urlopen(ferry.admin_url + "/metrics", timeout=10) as response:
        assert 'ferry_limit_hits_total{limit="buffer_limit_bytes"}' in response.read().decode()


def test_client_disconnect_cancels_upstream(ferry, recorder):
    sock = open_stream(ferry.port, node_pb2.WatchNodesRequest(count=10000, interval_ms=20))
    assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    assert wait_until(lambda: recorder.stream_sent >= 3)
    sock.close()
    assert recorder.cancelled.wait(timeout=10), "the backend never saw the cancellation"
    assert recorder.stream_sent < 10000


def test_sigterm_drains_in_flight_calls_then_exits_zero(make_ferry, recorder):
    ferry = make_ferry()
    sock = open_stream(ferry.port, node_pb2.WatchNodesRequest(count=20, interval_ms=50))
    raw = sock.recv(65536)
    assert raw.startswith(b"HTTP/1.1 200 OK")
    ferry.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    refused = connection_refused(ferry.port)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    sock.close()
    assert ferry.process.wait(timeout=15) == 0
    status, _, body = grpcweb.parse_http_response(raw)
    messages, trailers = grpcweb.parse_frames(body)
    assert status == 200
    assert trailers["grpc-status"] == "0"
    assert len(messages) == 20
    assert refused, "Ferry accepted a new connection while draining"


def test_check_accepts_valid_config(ferry):
    result = subprocess.run([ferry_binary(), "check", "--config", str(ferry.config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "config ok" in result.stdout


def test_check_rejects_with_key_path(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("""
listeners:
  - address: 127.0.0.1:8080
routes:
  - match: { service: a.B }
    cluster: nowhere
clusters:
  - name: nodes
    endpoints: [127.0.0.1:50051]
""")
    result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "routes[0].cluster: no cluster named 'nowhere'" in result.stderr


def test_check_reports_yaml_syntax_with_line_and_column(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("listeners:\n  - address: 127.0.0.1:8080\nroutes: [unclosed\n")
    result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "invalid YAML" in result.stderr and "line 4" in result.stderr, result.stderr


def test_check_names_a_missing_file(tmp_path):
    result = subprocess.run([ferry_binary(), "check", "--config", str(tmp_path / "absent.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "cannot read config" in result.stderr and "No such file" in result.stderr, result.stderr


def test_run_with_invalid_config_binds_nothing(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("listeners: [{address: 127.0.0.1:1, colour: red}]\nroutes: []\nclusters: []\n")
    result = subprocess.run([ferry_binary(), "run", "--config", str(config)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "clusters" in result.stderr or "colour" in result.stderr


def printed_commands(text):
    """The shell commands in indented text, a line ending in a backslash joined to the next."""
    commands, current = [], ""
    for line in text.splitlines():
        if not line.startswith("  ") and not current:
            continue
        current += line.strip()
        if current.endswith("\\"):
            current = current[:-1]
        else:
            if current:
                commands.append(current)
            current = ""
    return commands


def test_demo_serves_the_printed_call():
    process = subprocess.Popen([ferry_binary(), "demo", "--log-level", "warning"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(8080, process)
        line = process.stdout.readline()
        assert "Ferry demo" in line
        reply = subprocess.run(
            "curl -s http://127.0.0.1:8080/node.v1.NodeService/GetNode -H 'content-type: application/grpc-web-text'"
            " -H 'x-grpc-web: 1' --data 'AAAAAAQKAm4x' | base64 -d | tr -c '[:print:]' '.'",
            shell=True, capture_output=True, text=True, timeout=10).stdout
        assert "node-n1" in reply and "grpc-status:0" in reply
        output = ""
        while "curl -s http://127.0.0.1:8080/v1/nodes/n1" not in output:
            output += process.stdout.readline()
        reply = subprocess.run("curl -s http://127.0.0.1:8080/v1/nodes/n1", shell=True, capture_output=True,
                               text=True, timeout=10).stdout
        assert '"name":"node-n1"' in reply, reply
        while "Stop with Ctrl-C" not in output:
            output += process.stdout.readline()
        call_line, stream_line = [line.strip() for line in output.splitlines() if " call 127.0.0.1:8080 " in line]
        result = subprocess.run(call_line, shell=True, capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["name"] == "node-n1"
        result = subprocess.run(stream_line, shell=True, capture_output=True, text=True, timeout=10)
        assert [json.loads(line)["sequence"] for line in result.stdout.splitlines()] == ["1", "2", "3"], result.stdout
        # The grpcurl lines it prints need reflection and health through the gateway.
        assert "grpcurl -plaintext 127.0.0.1:8080 list" in output
        with grpc.insecure_channel("127.0.0.1:8080") as channel:
            assert "node.v1.NodeService" in ProtoReflectionDescriptorDatabase(channel).get_services()
            check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="node.v1.NodeService"))
            assert check.status == health_pb2.HealthCheckResponse.SERVING
        # The Connect calls it prints: unary JSON by POST and by GET, and a server stream.
        commands = [command for command in printed_commands(output) if "connect" in command]
        assert len(commands) == 3, commands
        replies = [subprocess.run(command, shell=True, capture_output=True, text=True, timeout=10).stdout
                   for command in commands]
        assert json.loads(replies[0])["name"] == "node-n1" and json.loads(replies[1])["name"] == "node-n1"
        assert replies[2].count('"sequence"') == 3 and "{}" in replies[2], replies[2]
        # The OpenAPI document it points to.
        openapi = subprocess.run("curl -s 127.0.0.1:9901/openapi.json", shell=True, capture_output=True, text=True,
                                 timeout=10).stdout
        assert "/v1/nodes/{node_id}" in json.loads(openapi)["paths"]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


def test_version_flag():
    result = subprocess.run([ferry_binary(), "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == "0.1.0"


def test_pending_limit_fails_fast_with_unavailable(make_ferry, recorder):
    ferry = make_ferry(cluster_options="    max_pending_requests: 0\n")
    response = grpcweb.call(ferry.port, "/node.v1.NodeService/GetNode",
                            node_pb2.GetNodeRequest(node_id="p").SerializeToString())
    assert response.grpc_status == 14
    assert "max_pending_requests 0" in response.grpc_message
    assert recorder.count() == 0
