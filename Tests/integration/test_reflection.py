"""REST descriptors from server reflection (`rest.reflection`), fetched from grpcio-reflection's
servicer: at start (with backoff while the backend is down, REST 503 meanwhile), on reload and
every `refresh`; the digest logged and in /config; a pin refuses another set; v1 first, v1alpha
when the server has only that."""
import hashlib
import json
import pathlib
import signal
import time
from concurrent import futures

import grpc
import pytest
from conftest import FerryProcess, free_port, wait_for
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2
from node.v1 import node_pb2
from restclient import ROOT, compile_descriptors, moved_node_descriptors, request
from test_operations import admin

SERVICES = ["node.v1.NodeService"]


def rest_reflection(options="", services="[node.v1.NodeService]"):
    return f"rest:\n  reflection: {{ cluster: reflector{options} }}\n  services: {services}\n"


def reflector_cluster(port):
    return f"  - name: reflector\n    endpoints: [127.0.0.1:{port}]\n"


class Reflector:
    """grpcio-reflection's servicer over the files of one descriptor set (a pool of its own), under
    grpc.reflection.v1alpha (all that grpcio-reflection registers) and, when asked, v1 as well (the
    same messages on the wire); records which version each stream used."""

    def __init__(self, port, descriptors, versions=("v1alpha",)):
        pool = descriptor_pool.DescriptorPool()
        for file in descriptor_pb2.FileDescriptorSet.FromString(pathlib.Path(descriptors).read_bytes()).file:
            pool.AddSerializedFile(file.SerializeToString())
        servicer = reflection.ReflectionServicer(SERVICES, pool=pool)
        self.streams = []
        handlers = []
        for version in versions:
            def info(requests, context, version=version):
                self.streams.append(version)
                yield from servicer.ServerReflectionInfo(requests, context)
            handlers.append(grpc.method_handlers_generic_handler(
                f"grpc.reflection.{version}.ServerReflection",
                {"ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                    info, request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                    response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)}))
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers(handlers)
        self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.server.start()

    def stop(self):
        self.server.stop(grace=None).wait()


@pytest.fixture(scope="module")
def node_descriptors(tmp_path_factory):
    return compile_descriptors(tmp_path_factory.mktemp("reflection") / "node.pb", "node/v1/node.proto")


@pytest.fixture(scope="module")
def moved_descriptors(tmp_path_factory):
    return moved_node_descriptors(tmp_path_factory.mktemp("moved"))


def reflection_status(ferry):
    status, body = admin(ferry, "/config")
    assert status == 200
    return json.loads(body)["rest_reflection_status"]


def test_rest_from_the_reflection_of_a_grpcio_backend(tmp_path, backend, recorder):
    """The backend itself (grpcio, grpcio-reflection's v1alpha) gives its files: REST, OpenAPI and
    the console work from them, and the digest is logged and shown."""
    ferry = FerryProcess(
        tmp_path, backend.port, log_level="info",
        top_level="rest:\n  reflection: { cluster: nodes }\n  services: [node.v1.NodeService, ferry.test.v1.RichService]\n")
    try:
        wait_for(lambda: request(ferry, "GET", "/v1/nodes/n7")[0] == 200, "REST never came up")
        status, _, body = request(ferry, "GET", "/v1/nodes/n7")
        assert body["id"] == "n7" and "GetNode" in recorder.calls
        shown = reflection_status(ferry)
        assert shown["digest"].startswith("sha256:") and len(shown["digest"]) == 71
        assert shown["files"] >= 5 and shown["last_error"] is None and shown["failures"] == 0
        assert shown["digest"] in ferry.log.read_text()
        status, document = admin(ferry, "/openapi.json")
        assert status == 200 and "/v1/nodes/{node_id}" in json.loads(document)["paths"]
        assert admin(ferry, "/ready")[0] == 200
    finally:
        assert ferry.stop() == 0


def test_a_backend_down_at_start_is_retried_and_rest_is_503_until_then(tmp_path, backend, node_descriptors):
    port = free_port()
    ferry = FerryProcess(tmp_path, backend.port, cluster_options=reflector_cluster(port), top_level=rest_reflection())
    reflector = None
    try:
        status, _, body = request(ferry, "GET", "/v1/nodes/n1")
        assert status == 503 and body["code"] == 14
        assert "descriptors have not arrived yet from the server reflection of cluster 'reflector'" in body["message"]
        assert admin(ferry, "/ready")[0] == 503
        assert admin(ferry, "/openapi.json")[0] == 503
        # Connect's JSON codec needs the descriptors too; its binary codec does not.
        status, _, body = request(ferry, "POST", "/node.v1.NodeService/GetNode", {"nodeId": "n1"},
                                  {"content-type": "application/json", "connect-protocol-version": "1"})
        assert status == 503 and body["code"] == "unavailable" and "'reflector'" in body["message"]
        status, _, body = request(ferry, "POST", "/node.v1.NodeService/GetNode", node_pb2.GetNodeRequest(node_id="n1").SerializeToString(),
                                  {"content-type": "application/proto", "connect-protocol-version": "1"})
        assert status == 200 and node_pb2.Node.FromString(body).id == "n1"
        wait_for(lambda: reflection_status(ferry)["failures"] >= 1, "no failed fetch recorded")
        assert "refused" in reflection_status(ferry)["last_error"]
        reflector = Reflector(port, node_descriptors)
        # Backoff: 1 s, 1.6 s, 2.56 s … (±20 %) after each failure.
        wait_for(lambda: request(ferry, "GET", "/v1/nodes/n1")[0] == 200, "the descriptors never arrived")
        assert reflection_status(ferry)["last_error"] is None
        assert admin(ferry, "/ready")[0] == 200
        assert "cannot fetch descriptors by server reflection" in ferry.log.read_text()
    finally:
        if reflector:
            reflector.stop()
        assert ferry.stop() == 0


def test_v1_is_asked_first_and_v1alpha_when_the_server_lacks_it(tmp_path, backend, node_descriptors):
    both_port, alpha_port = free_port(), free_port()
    both = Reflector(both_port, node_descriptors, versions=("v1", "v1alpha"))
    alpha = Reflector(alpha_port, node_descriptors)
    ferries = []
    try:
        for port in (both_port, alpha_port):
            ferries.append(FerryProcess(tmp_path, backend.port, cluster_options=reflector_cluster(port), top_level=rest_reflection()))
        for ferry in ferries:
            wait_for(lambda: request(ferry, "GET", "/v1/nodes/n1")[0] == 200, "REST never came up")
        assert both.streams == ["v1"]
        assert alpha.streams == ["v1alpha"]
        assert reflection_status(ferries[0])["digest"] == reflection_status(ferries[1])["digest"], "the same files, the same set"
    finally:
        for ferry in ferries:
            assert ferry.stop() == 0
        both.stop()
        alpha.stop()


def test_a_pin_refuses_another_set_and_takes_its_own(tmp_path, backend, node_descriptors):
    port = free_port()
    reflector = Reflector(port, node_descriptors)
    wrong = "sha256:" + "0" * 64
    ferry = FerryProcess(
        tmp_path, backend.port, cluster_options=reflector_cluster(port), top_level=rest_reflection(f", pin: \"{wrong}\""))
    try:
        wait_for(lambda: reflection_status(ferry)["failures"] >= 1, "no fetch refused")
        error = reflection_status(ferry)["last_error"]
        assert f"not the pinned {wrong} (rest.reflection.pin)" in error
        assert request(ferry, "GET", "/v1/nodes/n1")[0] == 503
        # The digest it refused is the one to pin.
        digest = error.split("digest is ")[1].split(",")[0]
        ferry.config.write_text(ferry.config.read_text().replace(wrong, digest))
        ferry.process.send_signal(signal.SIGHUP)
        wait_for(lambda: request(ferry, "GET", "/v1/nodes/n1")[0] == 200, "the pinned set was not taken")
        assert reflection_status(ferry)["digest"] == digest
    finally:
        assert ferry.stop() == 0
        reflector.stop()


@pytest.mark.parametrize("how", ["refresh", "reload"])
def test_changed_descriptors_arrive_by_refresh_or_reload(tmp_path, backend, node_descriptors, moved_descriptors, how):
    """The reflection server is restarted with GetNode moved to /v2: a `refresh` finds it on its own,
    a reload (SIGHUP) fetches again; until then the last set serves (a reload keeps it meanwhile)."""
    port = free_port()
    reflector = Reflector(port, node_descriptors)
    options = ", refresh: 1s" if how == "refresh" else ""
    ferry = FerryProcess(tmp_path, backend.port, cluster_options=reflector_cluster(port), top_level=rest_reflection(options))
    try:
        wait_for(lambda: request(ferry, "GET", "/v1/nodes/n1")[0] == 200, "REST never came up")
        first = reflection_status(ferry)["digest"]
        reflector.stop()
        reflector = Reflector(port, moved_descriptors)
        if how == "reload":
            time.sleep(1.5)
            assert reflector.streams == [], "no refresh without `refresh`"
            ferry.process.send_signal(signal.SIGHUP)
        wait_for(lambda: request(ferry, "GET", "/v2/nodes/n1")[0] == 200, "the moved rule never arrived")
        status, _, body = request(ferry, "GET", "/v1/nodes/n1")
        assert status == 404 and "no REST route" in body["message"]
        assert reflection_status(ferry)["digest"] not in (None, first)
    finally:
        assert ferry.stop() == 0
        reflector.stop()


def test_the_digest_is_the_sha256_of_the_set_in_dependency_order(tmp_path, backend, node_descriptors):
    """What /config shows can be checked from the outside: the files of the set, imports first,
    ties by name, as one FileDescriptorSet."""
    port = free_port()
    reflector = Reflector(port, node_descriptors)
    ferry = FerryProcess(tmp_path, backend.port, cluster_options=reflector_cluster(port), top_level=rest_reflection())
    try:
        wait_for(lambda: request(ferry, "GET", "/v1/nodes/n1")[0] == 200, "REST never came up")
        files = {file.name: file for file in descriptor_pb2.FileDescriptorSet.FromString(node_descriptors.read_bytes()).file}
        ordered = []

        def visit(name):
            if name in ordered:
                return
            for imported in files[name].dependency:
                visit(imported)
            ordered.append(name)
        for name in sorted(files):
            visit(name)
        expected = descriptor_pb2.FileDescriptorSet(file=[files[name] for name in ordered]).SerializeToString()
        assert reflection_status(ferry)["digest"] == "sha256:" + hashlib.sha256(expected).hexdigest()
    finally:
        assert ferry.stop() == 0
        reflector.stop()
