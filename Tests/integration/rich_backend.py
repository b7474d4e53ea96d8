"""ferry.test.v1.RichService on grpcio: echoes what arrived, so that the REST tests see where each
path variable, query parameter, body and header went (Protos/ferry/test/v1/rich_service.proto)."""
import hashlib

import grpc
from google.protobuf.internal.encoder import _VarintBytes

from ferry.test.v1 import rich_pb2, rich_service_pb2, rich_service_pb2_grpc
from google.api import httpbody_pb2


def length_delimited(number, payload):
    return _VarintBytes(number << 3 | 2) + _VarintBytes(len(payload)) + payload


def status_details(code, message):
    """A google.rpc.Status, encoded by hand (google/rpc/status.proto: code 1, message 2, details 3):
    one detail whose type is in the descriptor set and one whose type is not."""
    known = length_delimited(1, b"type.googleapis.com/ferry.test.v1.Nested") + length_delimited(
        2, rich_pb2.Nested(id=7, note="why").SerializeToString())
    unknown = length_delimited(1, b"type.googleapis.com/google.rpc.ErrorInfo") + length_delimited(2, b"\x0a\x03bad")
    return (_VarintBytes(1 << 3) + _VarintBytes(code) + length_delimited(2, message.encode())
            + length_delimited(3, known) + length_delimited(3, unknown))


class RichService(rich_service_pb2_grpc.RichServiceServicer):
    def __init__(self, recorder):
        self.recorder = recorder

    def Echo(self, request, context):
        self.recorder.record("Echo", context)
        seen = sorted(key for key, _ in context.invocation_metadata())
        initial = [("x-seen-metadata", ",".join(seen))]
        if context.time_remaining() is not None:
            initial.append(("x-time-remaining", f"{context.time_remaining():.3f}"))
        cache_control = dict(context.invocation_metadata()).get("x-cache-control")
        if cache_control:
            initial.append(("cache-control", cache_control))
        context.send_initial_metadata(tuple(initial))
        context.set_trailing_metadata((("x-echo-trailer", "done"),))
        return request

    def Fail(self, request, context):
        self.recorder.record("Fail", context)
        context.set_trailing_metadata((
            ("x-trace", "abc"),
            ("grpc-status-details-bin", status_details(request.f_int32, request.f_string)),
        ))
        context.abort(next(c for c in grpc.StatusCode if c.value[0] == request.f_int32), request.f_string)

    def Download(self, request, context):
        self.recorder.record("Download", context)
        return httpbody_pb2.HttpBody(content_type="text/plain; charset=utf-8", data=f"blob {request.name}".encode())

    def Upload(self, request, context):
        self.recorder.record("Upload", context)
        return rich_service_pb2.UploadReply(name=request.name, content_type=request.file.content_type,
                                            size=len(request.file.data),
                                            sha256=hashlib.sha256(request.file.data).hexdigest())

    def UpdateNote(self, request, context):
        self.recorder.record("UpdateNote", context)
        return request

    def EchoBody(self, request, context):
        self.recorder.record("EchoBody", context)
        return request

    def Chat(self, request_iterator, context):
        self.recorder.record("Chat", context)
        count = 0
        for message in request_iterator:
            count += 1
            context.set_trailing_metadata((("x-messages", str(count)),))
            yield message
            if message.f_int32 > 0:
                context.abort(next(c for c in grpc.StatusCode if c.value[0] == message.f_int32), message.f_string)

    def StreamBody(self, request, context):
        self.recorder.record("StreamBody", context)
        context.set_trailing_metadata((("x-pieces", str(request.count)),))
        for index in range(request.count):
            yield httpbody_pb2.HttpBody(content_type="text/plain", data=f"piece {index}\n".encode())
            if request.name == "fail":
                context.abort(grpc.StatusCode.DATA_LOSS, "the stream broke")


def add_to(server, recorder):
    rich_service_pb2_grpc.add_RichServiceServicer_to_server(RichService(recorder), server)
