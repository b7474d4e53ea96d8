"""gRPC-Web through Ferry to a grpcio backend, with sonora's client and raw HTTP."""
import base64
import http.client

import grpc
import pytest
import sonora.client

from node.v1 import node_pb2

import grpcweb

GET_NODE = "/node.v1.NodeService/GetNode"
WATCH = "/node.v1.NodeService/WatchNodes"


def port_of(ferry):
    return ferry.port


def sonora_unary(ferry, path=GET_NODE, response=node_pb2.Node):
    channel = sonora.client.insecure_web_channel(ferry.url)
    return channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response.FromString)


def test_unary_with_sonora(ferry, recorder):
    node = sonora_unary(ferry)(node_pb2.GetNodeRequest(node_id="n1"))
    assert node.id == "n1"
    assert node.name == "node-n1"
    assert node.state == node_pb2.NODE_STATE_READY
    assert node.memory_bytes == 8 << 30
    assert list(node.labels) == ["zone=local", "role=test"]
    assert node.created_at.seconds == 1767225600
    assert recorder.count("GetNode") == 1


def test_unary_text_mode_raw(ferry, recorder):
    response = grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id="t1").SerializeToString(), text=True)
    assert response.status == 200
    assert response.headers["content-type"] == "application/grpc-web-text+proto"
    assert response.grpc_status == 0
    assert node_pb2.Node.FromString(response.messages[0]).name == "node-t1"


def test_text_request_padded_in_pieces(ferry, recorder):
    # Two independently padded base64 segments: PROTOCOL-WEB.md allows padding mid-stream.
    framed = grpcweb.frame(node_pb2.GetNodeRequest(node_id="pad").SerializeToString())
    body = base64.b64encode(framed[:4]) + base64.b64encode(framed[4:])
    assert b"=" in body[:-2]
    response = grpcweb.call(ferry.port, GET_NODE, body=body, text=True)
    assert response.grpc_status == 0
    assert node_pb2.Node.FromString(response.messages[0]).id == "pad"


def test_accept_header_asks_for_text_response(ferry, recorder):
    response = grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id="a1").SerializeToString(),
                            headers={"accept": "application/grpc-web-text"})
    assert response.headers["content-type"] == "application/grpc-web-text+proto"
    assert node_pb2.Node.FromString(response.messages[0]).id == "a1"


def test_server_streaming_1000_messages_with_sonora(ferry, recorder):
    channel = sonora.client.insecure_web_channel(ferry.url)
    watch = channel.unary_stream(WATCH, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=node_pb2.NodeEvent.FromString)
    events = list(watch(node_pb2.WatchNodesRequest(count=1000)))
    assert [e.sequence for e in events] == list(range(1, 1001))


def test_server_streaming_text_mode(ferry, recorder):
    response = grpcweb.call(ferry.port, WATCH, node_pb2.WatchNodesRequest(count=50).SerializeToString(), text=True)
    assert response.grpc_status == 0
    assert [node_pb2.NodeEvent.FromString(m).sequence for m in response.messages] == list(range(1, 51))


def test_three_mib_message_both_ways(ferry, recorder):
    payload = bytes(range(256)) * (3 * 4096)
    assert len(payload) == 3 << 20
    node = sonora_unary(ferry)(node_pb2.GetNodeRequest(node_id="big", echo_payload=payload))
    assert node.payload == payload


def test_three_mib_message_text_mode(ferry, recorder):
    payload = b"x" * (3 << 20)
    response = grpcweb.call(ferry.port, GET_NODE,
                            node_pb2.GetNodeRequest(node_id="bigt", echo_payload=payload).SerializeToString(), text=True)
    assert response.grpc_status == 0
    assert node_pb2.Node.FromString(response.messages[0]).payload == payload


def test_custom_metadata_and_trailers_round_trip(ferry, recorder):
    binary = bytes([0, 1, 2, 250])
    response = grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id="m1").SerializeToString(),
                            headers={"x-echo": "hello", "x-echo-bin": base64.b64encode(binary).decode(),
                                     "connection": "keep-alive, x-hop", "x-hop": "dropped"})
    assert response.grpc_status == 0
    assert response.headers["x-echo-header"] == "hello"
    assert response.trailers["x-echo-trailer"] == "hello"
    assert base64.b64decode(response.trailers["x-echo-trailer-bin"] + "==") == binary
    seen = recorder.metadata[-1]
    assert seen["x-echo"] == "hello"
    assert seen["x-echo-bin"] == binary
    assert "x-hop" not in seen and "connection" not in seen and "host" not in seen


def test_sonora_sees_trailing_metadata(ferry, recorder):
    node, call = sonora_unary(ferry).with_call(node_pb2.GetNodeRequest(node_id="m2"), metadata=[("x-echo", "v")])
    assert node.id == "m2"
    assert ("x-echo-trailer", "v") in call.trailing_metadata()


def test_error_status_with_message(ferry, recorder):
    with pytest.raises(grpc.RpcError) as error:
        sonora_unary(ferry)(node_pb2.GetNodeRequest(node_id="missing-7"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert error.value.details() == "node 'missing-7' not found (ünïcödé 100%)"


def test_unknown_service_is_unimplemented_without_backend(ferry, recorder):
    response = grpcweb.call(ferry.port, "/other.v1.Unknown/Call", b"")
    assert response.status == 200
    assert response.grpc_status == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert "/other.v1.Unknown/Call" in response.grpc_message
    assert recorder.count() == 0


def test_backend_down_is_unavailable_naming_cluster(ferry, recorder):
    response = grpcweb.call(ferry.port, "/down.v1.Service/Call", b"")
    assert response.grpc_status == grpc.StatusCode.UNAVAILABLE.value[0]
    assert "cluster down" in response.grpc_message
    assert "127.0.0.1:" in response.grpc_message


def test_grpc_timeout_is_forwarded(ferry, recorder):
    response = grpcweb.call(ferry.port, GET_NODE, node_pb2.GetNodeRequest(node_id="t").SerializeToString(),
                            headers={"grpc-timeout": "5S"})
    assert response.grpc_status == 0
    # grpcio exposes the deadline, not the header; the call succeeding with a 5 s budget and the
    # header being absent from plain metadata shows it travelled as grpc-timeout.
    assert "grpc-timeout" not in recorder.metadata[-1]


def test_finished_calls_leave_nothing_behind(ferry):
    """3,000 gRPC-Web calls with 16 KiB each way on one keep-alive connection: each call's
    exchange, upstream call and buffers go when it ends (the connection and its exchange hold
    each other until the next request), so Ferry's memory stays put."""
    body = grpcweb.frame(node_pb2.GetNodeRequest(node_id="n1", echo_payload=b"x" * 16384).SerializeToString())
    connection = http.client.HTTPConnection("127.0.0.1", ferry.port, timeout=10)

    def call():
        connection.request("POST", GET_NODE, body=body, headers={"content-type": "application/grpc-web+proto"})
        response = connection.getresponse()
        assert response.status == 200 and len(response.read()) > 16384

    for _ in range(300):
        call()
    before = ferry.rss_kib()
    for _ in range(3000):
        call()
    growth = ferry.rss_kib() - before
    connection.close()
    assert growth < 2048, f"Ferry grew by {growth} KiB over 3,000 calls"


def test_keep_alive_serves_several_calls_on_one_connection(ferry, recorder):
    request = node_pb2.GetNodeRequest(node_id="k").SerializeToString()
    body = grpcweb.frame(request)
    one = (f"POST {GET_NODE} HTTP/1.1\r\nHost: x\r\ncontent-type: application/grpc-web+proto\r\n"
           f"content-length: {len(body)}\r\n\r\n").encode() + body
    reply = grpcweb.raw_exchange(ferry.port, one * 3, timeout=2)
    assert reply.count(b"HTTP/1.1 200 OK") == 3
    assert recorder.count("GetNode") == 3
