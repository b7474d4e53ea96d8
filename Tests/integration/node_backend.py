"""NodeService on grpcio (the C-core reference implementation), as the backend behind Ferry.

Runs in the pytest process so that tests can read what the backend saw: calls, metadata,
cancellations, and how far a stream got.
"""
import threading
import time
from concurrent import futures

import grpc
from grpc_reflection.v1alpha import reflection

import rich_backend
from node.v1 import node_pb2, node_pb2_grpc


class Recorder:
    """What the backend observed, shared with the tests."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = []            # method names, in order
        self.metadata = []         # request metadata of each call, as dicts
        self.cancelled = threading.Event()
        self.stream_sent = 0       # messages handed to grpcio by the current stream
        # Fault injection for the resilience tests: None, "unavailable-every-other" (GetNode
        # fails with UNAVAILABLE on this backend's 1st, 3rd, … call), "unavailable", or
        # "unavailable-after-headers-every-other" (the same, with response headers sent first:
        # the status then comes in trailers), "unavailable-pushback-stop" (UNAVAILABLE with
        # grpc-retry-pushback-ms: -1), "slow" (every GetNode waits until cancelled), or
        # "slow-reader" (StreamMetrics reads its first message after 3 s), or
        # "stream-unavailable-every-other" (StreamMetrics reads every message, then fails with
        # UNAVAILABLE on this backend's 1st, 3rd, … call).
        self.fault = None
        self.get_node_calls = 0
        self.stream_calls = 0      # StreamMetrics calls that read their whole request

    def record(self, method, context):
        with self.lock:
            self.calls.append(method)
            self.metadata.append(dict(context.invocation_metadata()))

    def count(self, method=None):
        with self.lock:
            return len([c for c in self.calls if method is None or c == method])


class NodeService(node_pb2_grpc.NodeServiceServicer):
    def __init__(self, recorder):
        self.recorder = recorder

    def GetNode(self, request, context):
        self.recorder.record("GetNode", context)
        with self.recorder.lock:
            self.recorder.get_node_calls += 1
            failing = self.recorder.fault == "unavailable" or (
                self.recorder.fault in ("unavailable-every-other", "unavailable-after-headers-every-other")
                and self.recorder.get_node_calls % 2 == 1)
        if self.recorder.fault == "unavailable-pushback-stop":
            context.set_trailing_metadata((("grpc-retry-pushback-ms", "-1"),))
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected fault, do not retry")
        if self.recorder.fault == "slow":
            return self.wait_until_cancelled(context)
        if failing and self.recorder.fault == "unavailable-after-headers-every-other":
            context.send_initial_metadata((("x-attempt", "failing"),))
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "injected fault")
        metadata = dict(context.invocation_metadata())
        if "x-echo" in metadata:
            context.send_initial_metadata((("x-echo-header", metadata["x-echo"]),))
            trailers = [("x-echo-trailer", metadata["x-echo"])]
            if "x-echo-bin" in metadata:
                trailers.append(("x-echo-trailer-bin", metadata["x-echo-bin"]))
            context.set_trailing_metadata(tuple(trailers))
        if not request.node_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "node_id is required")
        if request.node_id.startswith("missing"):
            context.abort(grpc.StatusCode.NOT_FOUND, f"node '{request.node_id}' not found (ünïcödé 100%)")
        if request.node_id.startswith("slow"):
            return self.wait_until_cancelled(context)
        node = node_pb2.Node(
            id=request.node_id,
            name=f"node-{request.node_id}",
            state=node_pb2.NODE_STATE_READY,
            memory_bytes=8 << 30,
            labels=["zone=local", "role=test"],
            payload=request.echo_payload,
        )
        node.created_at.FromSeconds(1767225600)
        return node

    def wait_until_cancelled(self, context, limit=30):
        """A call that never answers: it ends when the client cancels it (or after `limit`)."""
        deadline = time.monotonic() + limit
        while context.is_active() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not context.is_active():
            self.recorder.cancelled.set()
        return node_pb2.Node()

    def StreamMetrics(self, request_iterator, context):
        self.recorder.record("StreamMetrics", context)
        if self.recorder.fault == "slow-reader":
            # Reads nothing for a while: the client must be held back, not buffered for.
            time.sleep(3)
        summary = node_pb2.MetricsSummary()
        for metric in request_iterator:
            summary.count += 1
            summary.sum += metric.value
        with self.recorder.lock:
            self.recorder.stream_calls += 1
            failing = self.recorder.fault == "stream-unavailable-every-other" and self.recorder.stream_calls % 2 == 1
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"injected fault after {summary.count} messages")
        return summary

    def WatchNodes(self, request, context):
        self.recorder.record("WatchNodes", context)
        context.add_callback(self.recorder.cancelled.set)
        payload = b"a" * request.payload_size
        count = request.count or 10
        for sequence in range(1, count + 1):
            if not context.is_active():
                return
            if request.interval_ms:
                time.sleep(request.interval_ms / 1000)
            with self.recorder.lock:
                self.recorder.stream_sent = sequence
            yield node_pb2.NodeEvent(sequence=sequence, node=node_pb2.Node(id=f"n{sequence}", payload=payload))
            if count > 100000:
                # Error tests: a stream that fails after its first message.
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many events requested")


def start(port, host="127.0.0.1", recorder=None, extra=None, credentials=None):
    """Starts the backend on host:port; returns (server, recorder). `extra(server)` may add
    services before the server starts; with `credentials` (grpc.ssl_server_credentials) it
    serves TLS."""
    recorder = recorder or Recorder()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.max_send_message_length", 16 << 20)],
    )
    node_pb2_grpc.add_NodeServiceServicer_to_server(NodeService(recorder), server)
    rich_backend.add_to(server, recorder)
    # grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo: a real bidi stream.
    reflection.enable_server_reflection((node_pb2.DESCRIPTOR.services_by_name["NodeService"].full_name,
                                         reflection.SERVICE_NAME), server)
    if extra:
        extra(server)
    if credentials is None:
        server.add_insecure_port(f"{host}:{port}")
    else:
        server.add_secure_port(f"{host}:{port}", credentials)
    server.start()
    return server, recorder
