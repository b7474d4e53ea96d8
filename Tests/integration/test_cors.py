"""CORS: preflight answered by Ferry, allowed and denied origins."""
import http.client

import grpcweb
from node.v1 import node_pb2


def preflight(port, origin):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("OPTIONS", "/node.v1.NodeService/GetNode", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-grpc-web,x-user-agent"})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}


def test_preflight_allowed(ferry, recorder):
    status, headers = preflight(ferry.port, "https://app.example")
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://app.example"
    allowed = headers["access-control-allow-headers"]
    for name in ("x-grpc-web", "x-user-agent", "grpc-timeout", "content-type", "authorization"):
        assert name in allowed
    assert "POST" in headers["access-control-allow-methods"]
    assert int(headers["access-control-max-age"]) > 0
    assert recorder.count() == 0


def test_preflight_denied_gets_no_cors_headers(ferry, recorder):
    status, headers = preflight(ferry.port, "https://evil.example")
    assert status == 403
    assert not any(name.startswith("access-control-") for name in headers)


def test_actual_response_exposes_grpc_headers(ferry, recorder):
    response = grpcweb.call(ferry.port, "/node.v1.NodeService/GetNode",
                            node_pb2.GetNodeRequest(node_id="o").SerializeToString(),
                            headers={"origin": "https://app.example"})
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    for name in ("grpc-status", "grpc-message", "grpc-status-details-bin"):
        assert name in response.headers["access-control-expose-headers"]


def test_disallowed_origin_response_has_no_cors_headers(ferry, recorder):
    response = grpcweb.call(ferry.port, "/node.v1.NodeService/GetNode",
                            node_pb2.GetNodeRequest(node_id="o").SerializeToString(),
                            headers={"origin": "https://evil.example"})
    assert response.grpc_status == 0
    assert not any(name.startswith("access-control-") for name in response.headers)
    # The listener lists its origins: the answer depends on Origin, for any cache between.
    assert response.headers["vary"] == "Origin"


def test_default_preset_allows_any_origin(make_ferry, recorder):
    ferry = make_ferry()
    status, headers = preflight(ferry.port, "https://anything.example")
    assert status == 204
    assert headers["access-control-allow-origin"] == "*"
