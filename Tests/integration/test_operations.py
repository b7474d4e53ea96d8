"""Operations: Prometheus metrics checked against the calls made, the admin endpoints, reload
(SIGHUP and `ferry reload`) under load, drain on SIGTERM, and the front's limits."""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import grpc
import grpcweb
from conftest import connection_refused, ferry_binary, free_port, wait_for_port
from node.v1 import node_pb2, node_pb2_grpc
from restclient import compile_descriptors, request, rest_section

GET_NODE = "/node.v1.NodeService/GetNode"
WATCH_NODES = "/node.v1.NodeService/WatchNodes"


def get_node(ferry, node_id="n1", **kwargs):
    return grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id=node_id).SerializeToString(), **kwargs)


def admin(ferry, path, method="GET"):
    """(status, body text) of an admin request."""
    status, _, body = admin_exchange(ferry, path, method)
    return status, body


def admin_exchange(ferry, path, method="GET", token=None):
    """(status, headers, body text) of an admin request, with a bearer token when given."""
    request = urllib.request.Request(ferry.admin_url + path, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def scrape(ferry):
    """{(name, frozenset(labels)): value} of every sample at /metrics."""
    status, text = admin(ferry, "/metrics")
    assert status == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def test_metrics_count_the_calls_made(make_ferry, recorder, tmp_path):
    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    ferry = make_ferry(top_level=rest_section(descriptors))
    for _ in range(3):
        assert get_node(ferry).grpc_status == 0
    assert get_node(ferry, text=True).grpc_status == 0
    assert get_node(ferry, "missing-1").grpc_status == 5
    assert request(ferry, "GET", "/v1/nodes/n2")[0] == 200
    assert request(ferry, "GET", "/nowhere")[0] == 404
    assert grpcweb.call(ferry.port, "/down.Service/Call", b"").grpc_status == 14

    samples = scrape(ferry)
    route = {"route": "node.v1.NodeService", "grpc_service": "node.v1.NodeService", "grpc_method": "GetNode",
             "http_version": "HTTP/1.1"}
    assert value(samples, "ferry_requests_total", **route, protocol="grpc-web", grpc_code="OK") == 3
    assert value(samples, "ferry_requests_total", **route, protocol="grpc-web", grpc_code="NOT_FOUND") == 1
    assert value(samples, "ferry_requests_total", **route, protocol="grpc-web-text", grpc_code="OK") == 1
    assert value(samples, "ferry_requests_total", **route, protocol="rest", grpc_code="OK") == 1
    assert value(samples, "ferry_requests_total", route="", grpc_service="", grpc_method="", protocol="http",
                 http_version="HTTP/1.1", grpc_code="none") == 1
    assert value(samples, "ferry_requests_total", route="/down.", grpc_service="down.Service", grpc_method="Call",
                 protocol="grpc-web", http_version="HTTP/1.1", grpc_code="UNAVAILABLE") == 1
    # The histogram holds every call of its series; the latency is plausible.
    assert value(samples, "ferry_request_duration_seconds_count", **route, protocol="grpc-web") == 4
    assert value(samples, "ferry_request_duration_seconds_bucket", **route, protocol="grpc-web", le="+Inf") == 4
    assert 0 < value(samples, "ferry_request_duration_seconds_sum", **route, protocol="grpc-web") < 4
    request_bytes = value(samples, "ferry_request_bytes_total", **route, protocol="grpc-web")
    assert request_bytes == 4 * 5 + 3 * len(node_pb2.GetNodeRequest(node_id="n1").SerializeToString()) + len(
        node_pb2.GetNodeRequest(node_id="missing-1").SerializeToString())
    assert value(samples, "ferry_response_bytes_total", **route, protocol="grpc-web") > 4 * 100

    assert value(samples, "ferry_downstream_connections_total") >= 8
    assert value(samples, "ferry_downstream_requests_active") == 0
    endpoint = {"cluster": "nodes", "endpoint": f"127.0.0.1:{recorder.port}"}
    assert value(samples, "ferry_upstream_connections_active", **endpoint) >= 1
    assert value(samples, "ferry_upstream_streams_active", **endpoint) == 0
    down = [labels for (name, labels), count in samples.items()
            if name == "ferry_upstream_connect_failures_total" and dict(labels)["cluster"] == "down" and count >= 1]
    assert down, "the refused connect to the down cluster is counted"
    assert value(samples, "ferry_upstream_breaker_trips_total", cluster="nodes", limit="max_requests") == 0
    assert value(samples, "ferry_draining") == 0


def test_admin_endpoints(make_ferry, recorder, tmp_path):
    resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    resolver.bind(("127.0.0.1", 0))  # a DNS server that never answers
    try:
        ferry = make_ferry(top_level=f"""  - name: unresolved
    endpoints: [backend.invalid:50051]
    dns_resolver: 127.0.0.1:{resolver.getsockname()[1]}
""")
        assert admin(ferry, "/healthz") == (200, "ok\n")
        status, body = admin(ferry, "/ready")
        assert status == 503 and "unresolved" in body, "a cluster without endpoints keeps the gateway unready"
        clusters = json.loads(admin(ferry, "/clusters")[1])
        nodes = next(cluster for cluster in clusters if cluster["name"] == "nodes")
        assert nodes["endpoints"][0]["address"] == f"127.0.0.1:{recorder.port}"
        assert set(nodes["breaker_trips"]) == {"max_connections", "max_pending_requests", "max_requests", "max_retries"}
        config = json.loads(admin(ferry, "/config")[1])
        assert config["drain_timeout"] == "5s" and config["workers"] == 2
        assert config["listeners"][0]["limits"]["idle_timeout"] == "60s"
        assert config["admin"]["address"] == f"127.0.0.1:{ferry.admin_port}"
        assert admin(ferry, "/nope")[0] == 404
        assert admin(ferry, "/metrics", method="POST")[0] == 405
    finally:
        resolver.close()
    ferry = make_ferry()
    assert admin(ferry, "/ready") == (200, "ready\n")


def test_config_shows_tls_key_files_redacted(make_ferry, tmp_path):
    key = tmp_path / "secret.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(tmp_path / "c.pem")],
                   check=True, capture_output=True)
    ferry = make_ferry(extra_listener=f"    tls: {{ cert_file: {tmp_path / 'c.pem'}, key_file: {key} }}\n")
    status, text = admin(ferry, "/config")
    assert status == 200 and str(key) not in text
    assert json.loads(text)["listeners"][0]["tls"]["private_key_file"] == "[redacted]"


class Load:
    """Clients calling GetNode back to back on keep-alive connections; every result is kept."""

    def __init__(self, ferry, clients=4):
        self.ferry = ferry
        self.stop = threading.Event()
        self.results = []
        self.reconnects = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def run(self):
        body = grpcweb.frame(node_pb2.GetNodeRequest(node_id="n1").SerializeToString())
        headers = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
        connection = http.client.HTTPConnection("127.0.0.1", self.ferry.port, timeout=10)
        while not self.stop.is_set():
            try:
                connection.request("POST", GET_NODE, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                status = grpcweb.parse_frames(data)[1].get("grpc-status") if response.status == 200 else response.status
            except (OSError, http.client.HTTPException) as error:
                status = repr(error)
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.ferry.port, timeout=10)
                with self.lock:
                    self.reconnects += 1
            with self.lock:
                self.results.append(status)
        connection.close()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)
        return self.results


def test_reload_under_load_keeps_every_call_and_connection(make_ferry, recorder):
    ferry = make_ferry()
    original = ferry.config.read_text()
    load = Load(ferry)
    time.sleep(0.3)
    # A valid change (the nodes cluster gets new options, so its pool is replaced; a route is
    # added) by SIGHUP.
    ferry.config.write_text(original.replace("routes:\n", "routes:\n  - match: { prefix: /added. }\n    cluster: down\n", 1)
                            .replace(f"endpoints: [127.0.0.1:{recorder.port}]\n",
                                     f"endpoints: [127.0.0.1:{recorder.port}]\n    max_requests: 500\n", 1))
    ferry.process.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    # An invalid config is refused with its reason; the running one stays.
    ferry.config.write_text(original.replace("cluster: nodes", "cluster: nowhere", 1))
    result = subprocess.run([ferry_binary(), "reload", "--admin", f"127.0.0.1:{ferry.admin_port}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "routes[0].cluster: no cluster named 'nowhere'" in result.stderr
    time.sleep(0.3)
    ferry.config.write_text(original)
    result = subprocess.run([ferry_binary(), "reload", "--admin", f"127.0.0.1:{ferry.admin_port}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout == "reloaded\n"
    time.sleep(0.3)
    results = load.finish()
    assert len(results) > 100
    assert set(results) == {"0"}, f"failed calls: {[r for r in results if r != '0'][:5]}"
    assert load.reconnects == 0, "keep-alive connections survive reloads"
    log = ferry.log.read_text()
    assert "reload rejected; the running config stays" in log and "nowhere" in log


def test_reload_takes_effect_on_open_connections(make_ferry):
    ferry = make_ferry()
    connection = http.client.HTTPConnection("127.0.0.1", ferry.port, timeout=10)

    def call_status():
        connection.request("POST", "/added.Service/Call", body=grpcweb.frame(b""),
                           headers={"content-type": "application/grpc-web+proto"})
        response = connection.getresponse()
        response.read()
        return response.getheader("grpc-status")  # trailers-only: in the headers

    assert call_status() == "12"
    ferry.config.write_text(ferry.config.read_text().replace(
        "routes:\n", "routes:\n  - match: { prefix: /added. }\n    cluster: down\n", 1))
    assert admin(ferry, "/reload", method="POST") == (200, "reloaded\n")
    assert call_status() == "14", "the new route, on the same connection"
    connection.close()


def test_a_reload_between_a_head_and_its_body_keeps_the_connection_on_its_context(make_ferry):
    """A request whose head came before a reload is answered under the old context, and so is
    one pipelined behind it in the same bytes (both are parsed while the first is answered);
    the next request read from the socket gets the new one. Ferry stays up throughout."""
    ferry = make_ferry()
    body = grpcweb.frame(b"")

    def call(path):
        return (f"POST {path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/grpc-web+proto\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode()

    def statuses(sock, count):
        received = b""
        while received.count(b"grpc-status:") < count:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {received!r}"
            received += chunk
        return [line.split(b":")[1].strip().decode() for line in received.split(b"\r\n") if line.startswith(b"grpc-status:")]

    with socket.create_connection(("127.0.0.1", ferry.port), timeout=10) as sock:
        sock.sendall(call("/added.Service/Call"))
        time.sleep(0.2)
        ferry.config.write_text(ferry.config.read_text().replace(
            "routes:\n", "routes:\n  - match: { prefix: /added. }\n    cluster: down\n", 1))
        assert admin(ferry, "/reload", method="POST") == (200, "reloaded\n")
        sock.sendall(body + call("/added.Service/Call") + body)
        assert statuses(sock, 2) == ["12", "12"], "both under the context the first head came in"
        sock.sendall(call("/added.Service/Call") + body)
        assert statuses(sock, 1) == ["14"], "the next request read gets the reloaded routes"
    assert ferry.process.poll() is None


def test_drain_finishes_in_flight_calls_then_refuses(make_ferry, recorder):
    ferry = make_ferry(drain_grace="1s")
    stream = {}

    def watch():
        message = node_pb2.WatchNodesRequest(count=6, interval_ms=300).SerializeToString()
        stream["response"] = grpcweb.call(ferry.port, WATCH_NODES, message)

    thread = threading.Thread(target=watch)
    thread.start()
    time.sleep(0.3)
    ferry.process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    assert admin(ferry, "/ready") == (503, "draining\n")
    assert value(scrape(ferry), "ferry_draining") == 1
    response = get_node(ferry)
    assert response.grpc_status == 0, "new connections are still accepted during the grace period"
    assert response.headers.get("connection") == "close", "keep-alive clients are sent elsewhere"
    time.sleep(1.2)
    assert connection_refused(ferry.port), "after the grace period the listener is closed"
    thread.join(timeout=10)
    messages, trailers = grpcweb.parse_frames(stream["response"].body)
    assert trailers["grpc-status"] == "0" and len(messages) == 6, "the in-flight stream finished"
    assert ferry.process.wait(timeout=10) == 0


def test_max_connections_refuses_counts_and_logs_once_a_second(make_ferry):
    ferry = make_ferry(extra_listener="    limits: { max_connections: 2 }\n")
    time.sleep(0.3)  # the startup probe's connection has closed
    held = [socket.create_connection(("127.0.0.1", ferry.port)) for _ in range(2)]
    time.sleep(0.1)
    refused = 0
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", ferry.port), timeout=2) as extra:
            try:
                if extra.recv(1) == b"":
                    refused += 1
            except ConnectionResetError:
                refused += 1
    assert refused == 20, "connections past max_connections are closed at once"
    for connection in held:
        connection.close()
    time.sleep(0.2)
    assert get_node(ferry).grpc_status == 0, "room again once connections close"
    assert value(scrape(ferry), "ferry_limit_hits_total", limit="max_connections") == 20
    logged = [line for line in ferry.log.read_text().splitlines() if "limit=max_connections" in line]
    assert 1 <= len(logged) <= 2, "twenty hits within a second are logged once (twice across a second boundary)"


def test_header_read_and_idle_timeouts(make_ferry):
    ferry = make_ferry(extra_listener="    limits: { header_read_timeout: 300ms, idle_timeout: 400ms }\n")
    # A request that never finishes its head is cut off (slowloris); an idle connection closes.
    with socket.create_connection(("127.0.0.1", ferry.port), timeout=5) as slow:
        slow.sendall(b"POST /node.v1.NodeService/GetNode HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert slow.recv(100).startswith(b"HTTP/1.1 408 ")
        assert 0.2 < time.monotonic() - started < 3
    with socket.create_connection(("127.0.0.1", ferry.port), timeout=5) as idle:
        started = time.monotonic()
        assert idle.recv(100) == b""
        assert 0.3 < time.monotonic() - started < 3

    samples = scrape(ferry)
    assert value(samples, "ferry_limit_hits_total", limit="header_read_timeout") == 1
    assert value(samples, "ferry_limit_hits_total", limit="idle_timeout") >= 1


def test_max_concurrent_streams_per_upstream_connection(make_ferry, recorder):
    ferry = make_ferry(cluster_options="    max_concurrent_streams: 1\n")
    results = []

    def watch():
        message = node_pb2.WatchNodesRequest(count=3, interval_ms=200).SerializeToString()
        results.append(grpcweb.call(ferry.port, WATCH_NODES, message).grpc_status)

    threads = [threading.Thread(target=watch) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    nodes = next(cluster for cluster in json.loads(admin(ferry, "/clusters")[1]) if cluster["name"] == "nodes")
    endpoint = nodes["endpoints"][0]
    for thread in threads:
        thread.join(timeout=10)
    assert results == [0, 0, 0, 0]
    assert endpoint["streams"] == 4 and endpoint["connections"] >= 4, "one stream per connection at most"


def test_admin_token_guards_reload_and_config(make_ferry, tmp_path):
    """With admin.token_file, POST /reload and GET /config need `Authorization: Bearer <token>`
    (401 with a Bearer challenge otherwise, the token never echoed); probes and metrics stay open."""
    token_file = tmp_path / "admin-token"
    token_file.write_text("t0k3n-from-a-secret\n")
    ferry = make_ferry(admin_options=f", token_file: {token_file}")

    def call(path, method="GET", token=None):
        return admin_exchange(ferry, path, method, token)

    for path, method in (("/config", "GET"), ("/reload", "POST")):
        status, headers, body = call(path, method)
        assert status == 401 and headers["www-authenticate"] == 'Bearer realm="ferry-admin"', (path, body)
        status, headers, body = call(path, method, token="guess")
        assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
        assert "guess" not in body
    assert call("/config", token="t0k3n-from-a-secret")[0] == 200
    assert call("/reload", "POST", token="t0k3n-from-a-secret")[:3:2] == (200, "reloaded\n")
    for path in ("/ready", "/healthz", "/metrics", "/clusters"):
        assert call(path)[0] == 200, path


def test_an_unreadable_admin_token_file_stops_the_start(tmp_path):
    config = tmp_path / "ferry.yaml"
    config.write_text(f"admin: {{ address: 127.0.0.1:{free_port()}, token_file: {tmp_path / 'absent'} }}\n"
                      f"listeners: [{{ address: 127.0.0.1:{free_port()} }}]\nroutes: [{{ match: {{ prefix: / }}, cluster: c }}]\n"
                      f"clusters: [{{ name: c, endpoints: [127.0.0.1:{free_port()}] }}]\n")
    for command in ("check", "run"):
        result = subprocess.run([ferry_binary(), command, "--config", str(config)], capture_output=True, text=True, timeout=20)
        assert result.returncode != 0 and "admin.token_file: cannot read" in result.stderr, (command, result.stderr)


def test_check_reports_every_error_and_run_reads_the_environment(tmp_path, backend):
    """Issue 20, point 4: `ferry check` names every broken key at once; `${NAME}` and
    `${NAME:-default}` fill values from the environment, one file for every pod."""
    config = tmp_path / "ferry.yaml"
    config.write_text("workers: 0\n"
                      "listeners: [{ address: 127.0.0.1:99999 }]\n"
                      "routes: [{ match: { prefix: / }, cluster: nowhere }]\n"
                      "clusters: [{ name: c, endpoints: [\"${BACKEND}\"] }]\n")
    result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True, timeout=20,
                            env={"PATH": os.environ["PATH"]})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert "4 errors:" in lines[0], result.stderr
    for words in ("clusters[0].endpoints[0]: environment variable BACKEND is not set",
                  "routes[0].cluster: no cluster named 'nowhere'", "listeners[0].address:", "workers: 0 is out of range"):
        assert any(words in line for line in lines), (words, result.stderr)

    port, admin = free_port(), free_port()
    config.write_text("admin: { address: \"127.0.0.1:${ADMIN_PORT}\" }\n"
                      "listeners: [{ address: \"${POD_IP:-127.0.0.1}:${PORT}\" }]\n"
                      "routes: [{ match: { service: node.v1.NodeService }, cluster: nodes }]\n"
                      "clusters: [{ name: nodes, endpoints: [\"${BACKEND}\"] }]\n")
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "ADMIN_PORT": str(admin), "BACKEND": f"127.0.0.1:{backend.port}"}
    process = subprocess.Popen([ferry_binary(), "run", "--config", str(config)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        response = grpcweb.call(port, "/node.v1.NodeService/GetNode", node_pb2.GetNodeRequest(node_id="env").SerializeToString())
        assert response.grpc_status == 0
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_idle_timeout_does_not_cut_a_call_in_progress(make_ferry):
    """The idle timeout is for a connection with no request: a call that runs longer (here a
    server stream of 1.25 s against 400 ms) is not cut off by it, over HTTP/1.1 as over HTTP/2.
    Once the call is over, the idle connection closes as before."""
    ferry = make_ferry(extra_listener="    limits: { idle_timeout: 400ms }\n")
    message = node_pb2.WatchNodesRequest(count=5, interval_ms=250)
    started = time.monotonic()
    result = grpcweb.call(ferry.port, WATCH_NODES, message.SerializeToString())
    assert time.monotonic() - started > 1.0
    assert result.grpc_status == 0 and len(result.messages) == 5
    with grpc.insecure_channel(f"127.0.0.1:{ferry.port}") as channel:
        replies = list(node_pb2_grpc.NodeServiceStub(channel).WatchNodes(message, timeout=10))
    assert len(replies) == 5
    assert value(scrape(ferry), "ferry_limit_hits_total", limit="idle_timeout") == 0
    with socket.create_connection(("127.0.0.1", ferry.port), timeout=5) as idle:
        assert idle.recv(100) == b""
    assert value(scrape(ferry), "ferry_limit_hits_total", limit="idle_timeout") == 1
