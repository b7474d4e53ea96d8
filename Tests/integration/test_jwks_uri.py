"""Issuer keys fetched from `jwks_uri` (issue 17): a JWK set served over TLS on loopback by
Python's http.server, fetched through a cluster's endpoints with its CA; a rotated key is picked
up when a token names it (at most one early fetch per 5 s, however many unknown kids arrive);
until a set has arrived, calls are UNAVAILABLE (503 for REST) and nothing reaches the backend."""
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpcweb
import jwt
import pytest
from jwcrypto import jwk
from node.v1 import node_pb2
from restclient import compile_descriptors, request, rest_section
from test_operations import admin, scrape, value
from test_tls import make_ca, make_certificate

GET_NODE = "/node.v1.NodeService/GetNode"
REQUEST = node_pb2.GetNodeRequest(node_id="k1").SerializeToString()
ISSUER = "https://idp.example"


class JWKSServer:
    """Serves {"keys": [...]} at /.well-known/jwks.json over TLS and counts the fetches."""

    def __init__(self, certificate):
        self.keys = []
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"keys": [json.loads(key.export_public()) for key in server.keys]}).encode()
                server.fetches += 1
                server.host_header = self.headers["host"]
                found = self.path == "/.well-known/jwks.json"
                self.send_response(200 if found else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("idp-pki")
    make_ca(directory, "ca")
    make_ca(directory, "other-ca")
    return {"ca": directory / "ca.pem", "other_ca": directory / "other-ca.pem",
            "server": make_certificate(directory, "ca", "idp", "/CN=localhost", "DNS:localhost,IP:127.0.0.1")}


@pytest.fixture
def idp(pki):
    server = JWKSServer(pki["server"])
    yield server
    server.close()


def token(key, **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "ferry", "sub": "user-7", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(payload, key.export_to_pem(private_key=True, password=None), algorithm="ES256",
                      headers={"kid": key["kid"]})


def jwks_ferry(make_ferry, tmp_path, idp, ca):
    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    auth = (f"auth:\n  jwt:\n    - name: corp\n      issuer: {ISSUER}\n      audiences: [ferry]\n"
            f"      jwks_uri: https://localhost:{idp.port}/.well-known/jwks.json\n      jwks_cluster: idp\n")
    cluster = f"  - name: idp\n    endpoints: [127.0.0.1:{idp.port}]\n    tls: {{ ca_file: {ca} }}\n"
    return make_ferry(top_level=rest_section(descriptors) + auth, cluster_options=cluster,
                      node_route_options="    auth: { jwt: corp }\n")


def web(ferry, bearer):
    return grpcweb.call(ferry.port, GET_NODE, REQUEST, headers={"authorization": f"Bearer {bearer}"})


def eventually(check, seconds=15):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_keys_come_over_tls_and_a_rotated_key_is_fetched_when_a_token_names_it(make_ferry, tmp_path, idp, pki, recorder):
    first = jwk.JWK.generate(kty="EC", crv="P-256", kid="2026-a")
    second = jwk.JWK.generate(kty="EC", crv="P-256", kid="2026-b")
    idp.keys = [first]
    ferry = jwks_ferry(make_ferry, tmp_path, idp, pki["ca"])
    assert eventually(lambda: web(ferry, token(first)).grpc_status == 0), "the first set never arrived"
    assert idp.host_header == f"localhost:{idp.port}"

    # The issuer rotates: the new kid is unknown until the set is fetched again, early.
    idp.keys = [second]
    fetches = idp.fetches
    refused = web(ferry, token(second))
    assert refused.grpc_status in (0, 16)
    if refused.grpc_status == 16:
        assert "key '2026-b'" in refused.grpc_message
    assert eventually(lambda: web(ferry, token(second)).grpc_status == 0, seconds=10), "the rotated key was not fetched"
    assert idp.fetches > fetches

    # Made-up kids: refused, and at most one more fetch per 5 s whatever their number.
    fetches = idp.fetches
    for _ in range(30):
        assert web(ferry, token(jwk.JWK.generate(kty="EC", crv="P-256", kid=str(uuid.uuid4())))).grpc_status == 16
    time.sleep(1)
    assert idp.fetches - fetches <= 1
    assert value(scrape(ferry), "ferry_route_refusals_total", route="node.v1.NodeService", reason="unknown_key") >= 30
    assert recorder.count("GetNode") >= 2

    # A reload keeps the fetched keys while the new generation fetches again.
    assert admin(ferry, "/reload", method="POST")[0] == 200
    assert web(ferry, token(second)).grpc_status == 0


def test_until_a_set_arrives_calls_are_unavailable_and_the_log_says_why(make_ferry, tmp_path, idp, pki, recorder):
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="k")
    idp.keys = [key]
    # The cluster trusts another CA: the issuer's certificate does not verify.
    ferry = jwks_ferry(make_ferry, tmp_path, idp, pki["other_ca"])
    response = web(ferry, token(key))
    assert response.grpc_status == 14 and "keys of issuer 'corp' (jwks_uri) have not been fetched yet" in response.grpc_message
    status, _, body = request(ferry, "GET", "/v1/nodes/k1", headers={"authorization": f"Bearer {token(key)}"})
    assert status == 503 and body["code"] == 14
    assert eventually(lambda: "certificate verify failed" in ferry.log.read_text()), ferry.log.read_text()
    assert "cannot fetch issuer keys" in ferry.log.read_text()
    assert idp.fetches == 0 and recorder.calls == []
    assert value(scrape(ferry), "ferry_route_refusals_total", route="node.v1.NodeService", reason="keys_unavailable") == 2
