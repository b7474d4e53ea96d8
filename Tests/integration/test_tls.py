"""TLS on OpenSSL: the front (curl and Python clients), mutual TLS, certificate reload on
SIGHUP, and TLS to a grpcio backend (with and without a client certificate). Certificates
are made in the test with the openssl command line."""
import json
import pathlib
import signal
import socket
import ssl
import subprocess
import threading
import time

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import grpcweb
import node_backend
from conftest import ferry_binary, free_port
from test_operations import scrape, value
from node.v1 import node_pb2, node_pb2_grpc

GET_NODE = "/node.v1.NodeService/GetNode"
REQUEST = node_pb2.GetNodeRequest(node_id="n1").SerializeToString()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=directory)
    return directory / f"{name}.pem"


def make_certificate(directory, ca, name, subject, san=None):
    """A certificate for `subject` signed by the CA named `ca`; returns (cert path, key path)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)
    extensions = directory / f"{name}.ext"
    extensions.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", str(extensions), "-out", f"{name}.pem", cwd=directory)
    return directory / f"{name}.pem", directory / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory, "ca")
    other_ca = make_ca(directory, "other-ca")
    server = make_certificate(directory, "ca", "server", "/CN=localhost", "DNS:localhost,IP:127.0.0.1")
    renewed = make_certificate(directory, "ca", "renewed", "/CN=renewed.localhost", "DNS:localhost,IP:127.0.0.1")
    client = make_certificate(directory, "ca", "client", "/O=Ferry Tests/CN=client-1")
    stranger = make_certificate(directory, "other-ca", "stranger", "/CN=stranger")
    workload = make_certificate(directory, "ca", "workload", "/CN=orders",
                                "URI:spiffe://ferry.test/ns/shop/sa/orders,DNS:orders.shop.svc")
    return {"dir": directory, "ca": ca, "other_ca": other_ca, "server": server, "renewed": renewed, "client": client,
            "stranger": stranger, "workload": workload}


def tls_listener(pki, client_ca=False):
    cert, key = pki["server"]
    extra = f", client_ca_file: {pki['ca']}" if client_ca else ""
    return f"    tls: {{ cert_file: {cert}, key_file: {key}{extra} }}\n"


def client_context(pki, certificate=None):
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if certificate:
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def test_grpc_web_over_tls_with_curl_and_python(make_ferry, pki, recorder):
    """curl offers h2 and http/1.1 by ALPN: Ferry picks h2; with --http1.1 it gets HTTP/1.1."""
    ferry = make_ferry(extra_listener=tls_listener(pki))
    for version, alpn in (("--http2", b"ALPN: server accepted h2"), ("--http1.1", b"ALPN: server accepted http/1.1")):
        result = subprocess.run(
            ["curl", "-s", "-v", version, "--cacert", str(pki["ca"]), f"https://localhost:{ferry.port}{GET_NODE}",
             "-H", "content-type: application/grpc-web-text", "--data-binary", "AAAAAAQKAm4x"],
            capture_output=True, timeout=30)
        assert result.returncode == 0, result.stderr.decode()
        assert alpn in result.stderr
        assert grpcweb.parse_frames(grpcweb.decode_text_body(result.stdout))[1]["grpc-status"] == "0"

    context = client_context(pki)
    response = grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=context, host="localhost")
    assert response.grpc_status == 0
    assert recorder.count("GetNode") == 3
    # Hostname verification against the IP address SAN, TLS 1.3 negotiated.
    with socket.create_connection(("127.0.0.1", ferry.port)) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"


def test_native_grpc_over_tls_negotiates_h2(make_ferry, pki, recorder):
    """grpcio over TLS (ALPN h2) for the four call kinds; bidi is grpcio-reflection's."""
    from test_grpc_h2 import REFLECTION_ROUTE
    ferry = make_ferry(extra_listener=tls_listener(pki), extra_routes=REFLECTION_ROUTE)
    credentials = grpc.ssl_channel_credentials(root_certificates=pki["ca"].read_bytes())
    with grpc.secure_channel(f"localhost:{ferry.port}", credentials) as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        assert stub.GetNode(node_pb2.GetNodeRequest(node_id="n1"), timeout=10).id == "n1"
        assert [event.sequence for event in stub.WatchNodes(node_pb2.WatchNodesRequest(count=3), timeout=10)] == [1, 2, 3]
        summary = stub.StreamMetrics(iter([node_pb2.Metric(value=2.0)] * 10), timeout=10)
        assert summary.count == 10
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [reflection_pb2.ServerReflectionRequest(list_services="")] * 2
        assert len(list(reflection.ServerReflectionInfo(iter(requests), timeout=10))) == 2


def test_an_early_answer_over_tls_reaches_a_client_still_sending(make_ferry, pki, recorder):
    """The lingering close with TLS: close_notify, then the rest of the upload is dropped."""
    ferry = make_ferry(extra_listener=tls_listener(pki))
    body = b"\x00\x00\x60\x00\x00" + b"x" * (6 << 20)
    response = grpcweb.call(ferry.port, GET_NODE, body=body, tls=client_context(pki), host="localhost")
    assert response.grpc_status == 8
    assert recorder.count() == 0
    assert grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=client_context(pki), host="localhost").grpc_status == 0


def test_tls_front_refuses_old_versions_and_plain_http(make_ferry, pki):
    ferry = make_ferry(extra_listener=tls_listener(pki))
    context = client_context(pki)
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=context, host="localhost", timeout=5)
    context = client_context(pki)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    assert grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=context, host="localhost").grpc_status == 0
    # Plain HTTP on the TLS port: the handshake fails and the connection closes; no crash.
    try:
        reply = grpcweb.raw_exchange(ferry.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
    except ConnectionResetError:
        reply = b""
    assert not reply.startswith(b"HTTP/1.1")
    assert grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=client_context(pki), host="localhost").grpc_status == 0


def test_mutual_tls_accepts_known_clients_and_forwards_the_subject(make_ferry, pki, recorder, tmp_path):
    access_log = tmp_path / "access.log"
    ferry = make_ferry(extra_listener=tls_listener(pki, client_ca=True), top_level=f"access_log: {{ path: {access_log} }}\n")
    response = grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=client_context(pki, pki["client"]), host="localhost",
                            headers={"x-forwarded-client-cert": 'Subject="CN=admin"'})
    assert response.grpc_status == 0
    # The verified subject, never the client's own claim; and in the access log.
    assert recorder.metadata[-1]["x-forwarded-client-cert"] == 'Subject="CN=client-1,O=Ferry Tests"'
    deadline = time.monotonic() + 5
    while not access_log.exists() or not access_log.read_text():
        assert time.monotonic() < deadline, "no access-log line"
        time.sleep(0.05)
    assert json.loads(access_log.read_text().splitlines()[0])["client_subject"] == "CN=client-1,O=Ferry Tests"

    for certificate in (None, pki["stranger"]):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=client_context(pki, certificate), host="localhost", timeout=5)
    assert recorder.count("GetNode") == 1


def test_routes_allow_client_certificates_by_subject_or_spiffe_id(make_ferry, pki, recorder):
    """routes[].auth client_subjects / client_sans on a listener that asks for, but does not
    require, certificates: the route refuses callers without one or with another identity
    (PERMISSION_DENIED, REST 403, counted by reason); the SPIFFE ID goes upstream in XFCC."""
    cert, key = pki["server"]
    listener = (f"    tls: {{ cert_file: {cert}, key_file: {key}, client_ca_file: {pki['ca']},"
                f" require_client_certificate: false }}\n")
    ferry = make_ferry(extra_listener=listener, node_route_options=(
        "    auth: { client_subjects: ['CN=client-1,O=Ferry Tests'], client_sans: ['spiffe://ferry.test/ns/shop/*'] }\n"))

    def call(certificate):
        return grpcweb.call(ferry.port, GET_NODE, REQUEST, tls=client_context(pki, certificate), host="localhost")

    assert call(pki["client"]).grpc_status == 0
    assert call(pki["workload"]).grpc_status == 0
    assert recorder.metadata[-1]["x-forwarded-client-cert"] == (
        'Subject="CN=orders";URI="spiffe://ferry.test/ns/shop/sa/orders";DNS="orders.shop.svc"')
    anonymous = call(None)
    assert anonymous.grpc_status == 7 and "needs a client certificate" in anonymous.grpc_message
    # Another certificate of the same CA: verified, but not one the route names.
    other = make_certificate(pki["dir"], "ca", "other-client", "/CN=client-2", "URI:spiffe://ferry.test/ns/admin/sa/x")
    refused = call(other)
    assert refused.grpc_status == 7 and "'CN=client-2' is not allowed" in refused.grpc_message
    # Other routes on the same listener take anyone.
    rich = grpcweb.call(ferry.port, "/ferry.test.v1.RichService/Echo", b"", tls=client_context(pki), host="localhost")
    assert rich.grpc_status != 7
    assert recorder.count("GetNode") == 2
    metrics = scrape(ferry)
    assert value(metrics, "ferry_route_refusals_total", route="node.v1.NodeService", reason="no_client_certificate") == 1
    assert value(metrics, "ferry_route_refusals_total", route="node.v1.NodeService", reason="client_identity") == 1


def test_certificate_rules_need_a_mutual_tls_listener(tmp_path):
    config = tmp_path / "no-mtls.yaml"
    config.write_text(f"listeners: [{{ address: 127.0.0.1:{free_port()} }}]\n"
                      f"routes: [{{ match: {{ prefix: / }}, cluster: c, auth: {{ client_sans: ['spiffe://x/*'] }} }}]\n"
                      f"clusters: [{{ name: c, endpoints: [127.0.0.1:{free_port()}] }}]\n")
    result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert result.returncode != 0 and "routes[0].auth: client_subjects and client_sans need a mutual-TLS listener" in result.stderr


def test_bad_certificate_is_a_startup_error_naming_the_file(tmp_path, pki):
    config = tmp_path / "bad-tls.yaml"
    cert, _ = pki["server"]
    _, wrong_key = pki["client"]
    config.write_text(f"""admin: off
listeners:
  - address: 127.0.0.1:{free_port()}
    tls: {{ cert_file: {cert}, key_file: {wrong_key} }}
routes: [{{ match: {{ service: node.v1.NodeService }}, cluster: nodes }}]
clusters: [{{ name: nodes, endpoints: ["127.0.0.1:1"] }}]
""")
    result = subprocess.run([ferry_binary(), "run", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"listeners[0].tls: cannot load private key file '{wrong_key}': key values mismatch" in result.stderr
    # `ferry check` loads the files as starting would.
    result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"listeners[0].tls: cannot load private key file '{wrong_key}': key values mismatch" in result.stderr
    config.write_text(config.read_text().replace(str(cert), str(tmp_path / "missing.pem")))
    result = subprocess.run([ferry_binary(), "run", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and f"listeners[0].tls: cannot load certificate file '{tmp_path / 'missing.pem'}'" in result.stderr


def test_sighup_reloads_the_certificate(make_ferry, pki):
    directory = pki["dir"]
    cert, key = directory / "live.pem", directory / "live.key"
    cert.write_bytes(pki["server"][0].read_bytes())
    key.write_bytes(pki["server"][1].read_bytes())
    ferry = make_ferry(extra_listener=f"    tls: {{ cert_file: {cert}, key_file: {key} }}\n")

    def served_subject():
        with socket.create_connection(("127.0.0.1", ferry.port)) as raw:
            with client_context(pki).wrap_socket(raw, server_hostname="localhost") as tls:
                return dict(part[0] for part in tls.getpeercert()["subject"])["commonName"]

    assert served_subject() == "localhost"
    cert.write_bytes(pki["renewed"][0].read_bytes())
    key.write_bytes(pki["renewed"][1].read_bytes())
    ferry.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while served_subject() != "renewed.localhost":
        assert time.monotonic() < deadline, "the renewed certificate was never served"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def tls_backend(pki):
    """A grpcio NodeService serving TLS with the server certificate, requiring client certificates."""
    port = free_port()
    cert, key = pki["server"]
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())],
                                              root_certificates=pki["ca"].read_bytes(), require_client_auth=True)
    server, recorder = node_backend.start(port, credentials=credentials)
    recorder.port = port
    yield recorder
    server.stop(grace=None)


def upstream_tls(pki, ca=None, server_name=None, with_client_certificate=True):
    cert, key = pki["client"]
    fields = [f"ca_file: {ca or pki['ca']}"]
    if with_client_certificate:
        fields += [f"cert_file: {cert}", f"key_file: {key}"]
    if server_name:
        fields.append(f"server_name: {server_name}")
    return "    tls: { " + ", ".join(fields) + " }\n"


def test_upstream_mutual_tls_to_grpcio(make_ferry, pki, tls_backend):
    ferry = make_ferry(nodes_endpoint=f"127.0.0.1:{tls_backend.port}", cluster_options=upstream_tls(pki))
    response = grpcweb.call(ferry.port, GET_NODE, REQUEST)
    assert response.grpc_status == 0, response.grpc_message
    assert tls_backend.count("GetNode") == 1


@pytest.mark.parametrize("case, expected", [
    ("unknown-ca", "certificate verify failed"),
    ("wrong-name", "certificate verify failed: hostname mismatch"),
    ("no-client-certificate", "127.0.0.1:"),
])
def test_upstream_tls_failures_are_unavailable_naming_the_endpoint(make_ferry, pki, tls_backend, case, expected):
    options = {
        "unknown-ca": upstream_tls(pki, ca=pki["other_ca"]),
        "wrong-name": upstream_tls(pki, server_name="wrong.example"),
        "no-client-certificate": upstream_tls(pki, with_client_certificate=False),
    }[case]
    ferry = make_ferry(nodes_endpoint=f"127.0.0.1:{tls_backend.port}", cluster_options=options)
    response = grpcweb.call(ferry.port, GET_NODE, REQUEST)
    assert response.grpc_status == grpc.StatusCode.UNAVAILABLE.value[0]
    assert f"127.0.0.1:{tls_backend.port}" in response.grpc_message and expected in response.grpc_message


def test_upstream_without_alpn_h2_is_refused(make_ferry, pki):
    """A TLS server that does not choose h2 (an HTTP/1.1-only server) is not spoken HTTP/2 to."""
    cert, key = pki["server"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.set_alpn_protocols(["http/1.1"])
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.settimeout(2)
                    tls.recv(1024)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        ferry = make_ferry(nodes_endpoint=f"127.0.0.1:{port}", cluster_options=upstream_tls(pki, with_client_certificate=False))
        response = grpcweb.call(ferry.port, GET_NODE, REQUEST)
        assert response.grpc_status == grpc.StatusCode.UNAVAILABLE.value[0]
        assert f"127.0.0.1:{port}" in response.grpc_message
        assert "did not choose ALPN 'h2'" in response.grpc_message
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_connect_over_tls_negotiates_h2_for_every_call_kind(make_ferry, pki, recorder, tmp_path):
    """The connectrpc client over TLS (pyqwest lets ALPN pick, and gets h2): unary, server and
    client streams and bidi, as browsers on an HTTPS origin call Connect."""
    import pyqwest
    from test_operations import scrape, value
    from ferry.test.v1 import rich_pb2
    from ferry.test.v1.rich_service_connect import RichServiceClientSync
    from node.v1.node_connect import NodeServiceClientSync
    from restclient import compile_descriptors, rest_section
    descriptors = compile_descriptors(tmp_path / "both.pb", "node/v1/node.proto", "ferry/test/v1/rich_service.proto")
    ferry = make_ferry(extra_listener=tls_listener(pki),
                       top_level=rest_section(descriptors, "[node.v1.NodeService, ferry.test.v1.RichService]"))
    http = pyqwest.SyncClient(pyqwest.SyncHTTPTransport(tls_ca_cert=pathlib.Path(pki["ca"]).read_bytes()))
    url = f"https://localhost:{ferry.port}"
    nodes = NodeServiceClientSync(url, http_client=http, send_compression=None)
    assert nodes.get_node(node_pb2.GetNodeRequest(node_id="t1")).id == "t1"
    assert [event.sequence for event in nodes.watch_nodes(node_pb2.WatchNodesRequest(count=3))] == [1, 2, 3]
    assert nodes.stream_metrics(iter([node_pb2.Metric(value=1.5)] * 4)).sum == 6.0
    rich = RichServiceClientSync(url, http_client=http, send_compression=None)
    replies = rich.chat(iter([rich_pb2.Rich(f_string="a"), rich_pb2.Rich(f_string="b")]))
    assert [reply.f_string for reply in replies] == ["a", "b"]
    assert recorder.calls == ["GetNode", "WatchNodes", "StreamMetrics", "Chat"]
    assert value(scrape(ferry), "ferry_requests_total", route="node.v1.NodeService", grpc_service="node.v1.NodeService",
                 grpc_method="GetNode", protocol="connect", http_version="HTTP/2", grpc_code="OK") == 1
