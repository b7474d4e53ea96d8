"""The bundled Swift NodeService, the backend of `ferry demo` and the benchmarks (issue 20, point
3), checked with peers we did not write: grpcio's health and reflection clients, straight and
through Ferry's native gRPC front; Ferry's own `rest.reflection` against it; and its streaming
methods through the gateway in gRPC-Web, native gRPC and REST."""
import subprocess

import grpc
import grpcweb
import pytest
from conftest import ROOT, FerryProcess, free_port, wait_for, wait_for_port
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from node.v1 import node_pb2, node_pb2_grpc
from restclient import compile_descriptors, request, rest_section

ROUTES = "".join(f"  - match: {{ service: {service} }}\n    cluster: nodes\n" for service in (
    "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"))


def node_service_binary():
    path = ROOT / ".build" / "debug" / "node-service"
    if not path.exists():
        subprocess.run(["swift", "build", "--product", "node-service"], cwd=ROOT, check=True)
    return str(path)


@pytest.fixture(scope="module")
def swift_backend():
    port = free_port()
    process = subprocess.Popen([node_service_binary(), "--address", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, swift_backend):
    directory = tmp_path_factory.mktemp("demo-backend")
    descriptors = compile_descriptors(directory / "node.pb", "node/v1/node.proto")
    ferry = FerryProcess(directory, swift_backend, extra_routes=ROUTES, top_level=rest_section(descriptors))
    yield ferry
    assert ferry.stop() == 0


@pytest.fixture(params=["direct", "through Ferry"])
def channel(request, swift_backend, gateway):
    port = swift_backend if request.param == "direct" else gateway.port
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel


def test_health_check_answers_per_service(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "node.v1.NodeService", "grpc.health.v1.Health"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as refused:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_sends_the_status_and_stays_open(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service, status in (("node.v1.NodeService", health_pb2.HealthCheckResponse.SERVING),
                            ("no.such.Service", health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)):
        watch = health.Watch(health_pb2.HealthCheckRequest(service=service), timeout=30)
        assert next(watch).status == status
        # The call stays open (the protocol: a watcher hears of changes until it leaves).
        assert watch.is_active()
        watch.cancel()


def test_reflection_gives_every_file_to_grpcio_reflection(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    assert "node.v1.NodeService" in database.get_services()
    pool = descriptor_pool.DescriptorPool(database)
    service = pool.FindServiceByName("node.v1.NodeService")
    assert [method.name for method in service.methods] == ["GetNode", "StreamMetrics", "WatchNodes"]
    assert pool.FindMessageTypeByName("node.v1.Node").fields_by_name["created_at"].message_type.full_name == \
        "google.protobuf.Timestamp"
    # A method name, an import by file name, an unknown symbol.
    assert database.FindFileContainingSymbol("node.v1.NodeService.GetNode").name == "node/v1/node.proto"
    assert database.FindFileByName("google/api/http.proto").package == "google.api"
    with pytest.raises(KeyError):
        database.FindFileContainingSymbol("no.such.Message")


def test_ferry_reads_its_rest_api_from_the_swift_backends_reflection(tmp_path, swift_backend):
    ferry = FerryProcess(tmp_path, swift_backend,
                         top_level="rest:\n  reflection: { cluster: nodes }\n  services: [node.v1.NodeService]\n")
    try:
        wait_for(lambda: request(ferry, "GET", "/v1/nodes/n1")[0] == 200, "REST never came up from reflection")
        status, _, body = request(ferry, "GET", "/v1/nodes/n1")
        assert status == 200 and body["name"] == "node-n1"
    finally:
        assert ferry.stop() == 0


def test_streaming_methods_through_the_gateway(gateway):
    stub = node_pb2_grpc.NodeServiceStub(grpc.insecure_channel(f"127.0.0.1:{gateway.port}"))
    events = list(stub.WatchNodes(node_pb2.WatchNodesRequest(count=5), timeout=10))
    assert [event.sequence for event in events] == [1, 2, 3, 4, 5] and events[4].node.id == "n5"
    summary = stub.StreamMetrics(iter([node_pb2.Metric(value=1.5), node_pb2.Metric(value=2.5)]), timeout=10)
    assert summary.count == 2 and summary.sum == 4.0
    # gRPC-Web: the same stream as frames in one HTTP/1.1 response, then the trailer frame.
    response = grpcweb.call(gateway.port, "/node.v1.NodeService/WatchNodes",
                            node_pb2.WatchNodesRequest(count=3).SerializeToString())
    assert response.grpc_status == 0 and len(response.messages) == 3
    # REST: the stream as a JSON array, its messages as they come.
    status, _, body = request(gateway, "GET", "/v1/nodes:watch?count=2")
    assert status == 200 and [event["sequence"] for event in body] == ["1", "2"], body
