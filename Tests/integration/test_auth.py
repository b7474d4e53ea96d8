"""JWT authentication at the edge (auth.jwt, routes[].auth): tokens made by PyJWT with keys from
jwcrypto, checked by Ferry against a JWK set file before anything reaches the backend, on every
protocol; claims rules; claims forwarded as metadata in place of what the client sent."""
import json
import time

import grpc
import grpcweb
import jwt
import pytest
from jwcrypto import jwk
from node.v1 import node_pb2, node_pb2_grpc
from restclient import compile_descriptors, request, rest_section
from test_operations import scrape, value

GET_NODE = "/node.v1.NodeService/GetNode"
REQUEST = node_pb2.GetNodeRequest(node_id="a1").SerializeToString()
ISSUER = "https://idp.example"


@pytest.fixture(scope="module")
def keys():
    return {"rsa": jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1"),
            "ec": jwk.JWK.generate(kty="EC", crv="P-256", kid="ec-1"),
            "stranger": jwk.JWK.generate(kty="EC", crv="P-256", kid="ec-1")}


def token(keys, key="rsa", alg="RS256", kid=None, **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "ferry", "sub": "user-7", "role": "reader", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(payload, keys[key].export_to_pem(private_key=True, password=None), algorithm=alg,
                      headers={"kid": kid or keys[key]["kid"]})


@pytest.fixture
def auth_ferry(make_ferry, tmp_path, keys):
    def make(forward_token="true", route_options=""):
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps({"keys": [json.loads(keys[name].export_public()) for name in ("rsa", "ec")]}))
        descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
        auth = (f"auth:\n  jwt:\n    - name: corp\n      issuer: {ISSUER}\n      audiences: [ferry]\n"
                f"      jwks_file: {jwks}\n      forward_claims: {{ sub: x-echo }}\n      forward_token: {forward_token}\n")
        return make_ferry(top_level=rest_section(descriptors) + auth,
                          node_route_options="    auth: { jwt: corp, claims: { role: [admin, reader] } }\n" + route_options)
    return make


def web(ferry, bearer=None, **headers):
    if bearer:
        headers["authorization"] = f"Bearer {bearer}"
    return grpcweb.call(ferry.port, GET_NODE, REQUEST, headers=headers)


def test_a_valid_token_passes_and_its_claim_replaces_the_clients_header(auth_ferry, keys, recorder):
    ferry = auth_ferry()
    for key, alg in (("rsa", "RS256"), ("ec", "ES256"), ("rsa", "PS256")):
        response = web(ferry, token(keys, key, alg), **{"x-echo": "forged-by-client"})
        assert response.grpc_status == 0, (alg, response.grpc_message)
        # GetNode echoes x-echo back: the backend saw the token's sub, not the client's value.
        assert response.headers["x-echo-header"] == "user-7"
    assert recorder.metadata[-1]["authorization"].startswith("Bearer ")


@pytest.mark.parametrize("case, make_bearer, reason, label", [
    ("missing", lambda keys: None, "no bearer token", "missing"),
    ("garbage", lambda keys: "not.a.token", "malformed token", "malformed"),
    ("unsigned", lambda keys: jwt.encode({"iss": ISSUER, "aud": "ferry"}, None, algorithm="none"), "algorithm 'none'",
     "algorithm"),
    ("forged", lambda keys: token(keys, "stranger", "ES256"), "signature does not verify", "signature"),
    ("expired", lambda keys: token(keys, exp=int(time.time()) - 120), "has expired", "expired"),
    ("other issuer", lambda keys: token(keys, iss="https://evil.example"), "issuer", "issuer"),
    ("other audience", lambda keys: token(keys, aud="someone-else"), "audience", "audience"),
    ("unknown key", lambda keys: token(keys, "stranger", "ES256", kid="ec-9"), "key 'ec-9'", "unknown_key"),
])
def test_bad_tokens_are_unauthenticated_and_never_reach_the_backend(auth_ferry, keys, recorder, case, make_bearer, reason,
                                                                      label):
    ferry = auth_ferry()
    bearer = make_bearer(keys)
    response = web(ferry, bearer)
    assert response.grpc_status == 16 and reason in response.grpc_message, (case, response.grpc_message)
    if bearer:
        assert bearer not in response.grpc_message
    assert recorder.calls == []
    # Counted by route and reason.
    assert value(scrape(ferry), "ferry_route_refusals_total", route="node.v1.NodeService", reason=label) == 1


def test_a_claim_outside_the_rule_is_permission_denied(auth_ferry, keys, recorder):
    ferry = auth_ferry()
    response = web(ferry, token(keys, role="guest"))
    assert response.grpc_status == 7 and "claim 'role'" in response.grpc_message
    assert web(ferry, token(keys, role=["guest", "admin"])).grpc_status == 0
    assert recorder.calls == ["GetNode"]
    assert value(scrape(ferry), "ferry_route_refusals_total", route="node.v1.NodeService", reason="claims") == 1


def test_a_rate_limit_keyed_by_a_claim_has_a_bucket_per_subject(auth_ferry, keys, recorder):
    ferry = auth_ferry(route_options="    rate_limit: { requests_per_second: 0.01, burst: 1, key: 'claim:sub' }\n")
    statuses = [web(ferry, token(keys, sub=subject)).grpc_status for subject in ("ann", "bob", "ann", "bob", "cy")]
    assert statuses == [0, 0, 8, 8, 0]
    assert recorder.calls == ["GetNode"] * 3
    assert value(scrape(ferry), "ferry_route_refusals_total", route="node.v1.NodeService", reason="rate_limit") == 2


def test_rest_gets_401_and_403_with_bearer_challenges(auth_ferry, keys, recorder):
    ferry = auth_ferry()
    status, headers, body = request(ferry, "GET", "/v1/nodes/n1")
    assert status == 401 and body["code"] == 16 and headers["www-authenticate"] == 'Bearer realm="ferry"'
    status, headers, body = request(ferry, "GET", "/v1/nodes/n1", headers={"authorization": "Bearer x.y.z"})
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    assert "error_description=" in headers["www-authenticate"]
    status, headers, body = request(ferry, "GET", "/v1/nodes/n1", headers={"authorization": f"Bearer {token(keys, role='guest')}"})
    assert status == 403 and body["code"] == 7 and 'error="insufficient_scope"' in headers["www-authenticate"]
    status, _, body = request(ferry, "GET", "/v1/nodes/n1", headers={"authorization": f"Bearer {token(keys)}"})
    assert status == 200 and body["id"] == "n1"
    assert recorder.calls == ["GetNode"]


def test_connect_and_native_grpc_are_refused_the_same_way(auth_ferry, keys, recorder):
    ferry = auth_ferry()
    status, headers, body = request(ferry, "POST", GET_NODE, {"nodeId": "c"},
                                    {"content-type": "application/json", "connect-protocol-version": "1"})
    assert status == 401 and body["code"] == "unauthenticated" and headers["www-authenticate"].startswith("Bearer")
    with grpc.insecure_channel(f"127.0.0.1:{ferry.port}") as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.GetNode(node_pb2.GetNodeRequest(node_id="g"), timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = stub.GetNode(node_pb2.GetNodeRequest(node_id="g"), timeout=10,
                             metadata=(("authorization", f"Bearer {token(keys, 'ec', 'ES256')}"),))
        assert reply.id == "g"
    assert recorder.calls == ["GetNode"]


def test_cors_preflights_need_no_token(auth_ferry):
    ferry = auth_ferry()
    status, _, _ = request(ferry, "OPTIONS", GET_NODE, headers={
        "origin": "https://app.example", "access-control-request-method": "POST"})
    assert status == 204


def test_forward_token_false_keeps_the_token_from_the_backend(auth_ferry, keys, recorder):
    ferry = auth_ferry(forward_token="false")
    assert web(ferry, token(keys)).grpc_status == 0
    assert "authorization" not in recorder.metadata[-1] and recorder.metadata[-1]["x-echo"] == "user-7"


def test_ferry_check_loads_the_key_files(tmp_path, keys):
    from conftest import ferry_binary, free_port
    import subprocess
    small = jwk.JWK.generate(kty="RSA", size=1024, kid="small")
    (tmp_path / "small.json").write_text(json.dumps({"keys": [json.loads(small.export_public())]}))
    (tmp_path / "short-secret").write_text("too-short")
    for provider, expected in ((f"jwks_file: {tmp_path / 'absent.json'}", "auth.jwt[0].jwks_file: cannot read"),
                               (f"jwks_file: {tmp_path / 'small.json'}", "no key Ferry verifies with (key 'small'"),
                               (f"secret_file: {tmp_path / 'short-secret'}", "needs 32 bytes or more")):
        config = tmp_path / "ferry.yaml"
        config.write_text(f"listeners: [{{ address: 127.0.0.1:{free_port()} }}]\n"
                          f"routes: [{{ match: {{ prefix: / }}, cluster: c, auth: {{ jwt: corp }} }}]\n"
                          f"clusters: [{{ name: c, endpoints: [127.0.0.1:{free_port()}] }}]\n"
                          f"auth: {{ jwt: [ {{ name: corp, {provider} }} ] }}\n")
        result = subprocess.run([ferry_binary(), "check", "--config", str(config)], capture_output=True, text=True, timeout=20)
        assert result.returncode != 0 and expected in result.stderr, (provider, result.stderr)
