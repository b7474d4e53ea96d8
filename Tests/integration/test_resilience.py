"""Upstream resilience against real grpcio backends (issue 5's fault tests): three NodeService
backends on 127.0.0.2, 127.0.0.3 and 127.0.0.4 behind one cluster; backends killed, drained with
GOAWAY, failing half their calls, slow, or all down. The tests assert on statuses and on the
calls counted at the backends, never on timings; the timings they see are printed for the note."""
import subprocess
import threading
import time

import grpcweb
import node_backend
import pytest
from conftest import ferry_binary, free_port, wait_for_port
from node.v1 import node_pb2

GET_NODE = "/node.v1.NodeService/GetNode"
HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
RETRY_POLICY = """    retry_policy:
      max_attempts: 5
      initial_backoff: 5ms
      max_backoff: 50ms
      backoff_multiplier: 2
      retryable_status_codes: [UNAVAILABLE]
"""


class Backends:
    """Three grpcio NodeService backends on one port of three loopback addresses."""

    def __init__(self):
        self.port = free_port()
        self.recorders = [node_backend.Recorder() for _ in HOSTS]
        self.servers = [None, None, None]
        for index in range(3):
            self.start(index)

    def start(self, index):
        self.servers[index], _ = node_backend.start(self.port, host=HOSTS[index], recorder=self.recorders[index])

    def stop(self, index, grace=None):
        self.servers[index].stop(grace=grace).wait()

    def calls(self, method="GetNode"):
        return sum(recorder.count(method) for recorder in self.recorders)

    def endpoints(self):
        return ", ".join(f"{host}:{self.port}" for host in HOSTS)

    def close(self):
        for server in self.servers:
            server.stop(grace=None)


@pytest.fixture
def backends():
    started = Backends()
    yield started
    started.close()


class Gateway:
    def __init__(self, tmp_path, backends, route_extra=RETRY_POLICY, cluster_extra="", endpoints=None, top_level=""):
        self.port = free_port()
        config = tmp_path / f"resilience-{self.port}.yaml"
        config.write_text(f"""workers: 1
drain_timeout: 2s
admin: off
listeners:
  - address: 127.0.0.1:{self.port}
routes:
  - match: {{ service: node.v1.NodeService }}
    cluster: nodes
{route_extra}clusters:
  - name: nodes
    endpoints: [{endpoints or backends.endpoints()}]
    connect_timeout: 1s
{cluster_extra}{top_level}""")
        self.log = tmp_path / f"resilience-{self.port}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([ferry_binary(), "run", "--config", str(config), "--log-level", "warning"],
                                            stdout=subprocess.DEVNULL, stderr=log)
        wait_for_port(self.port, self.process)

    def get_node(self, node_id="n1", headers=None):
        return grpcweb.call(self.port, GET_NODE, node_pb2.GetNodeRequest(node_id=node_id).SerializeToString(),
                            headers=headers, timeout=20)

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=15) == 0


@pytest.fixture
def gateway_factory(tmp_path):
    started = []

    def make(backends, **kwargs):
        gateway = Gateway(tmp_path, backends, **kwargs)
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


class Load:
    """Steady unary calls from a few client threads until stopped; every status is kept."""

    def __init__(self, gateway, threads=4):
        self.gateway = gateway
        self.statuses = []
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def run(self):
        while self.running:
            response = self.gateway.get_node()
            with self.lock:
                self.statuses.append((response.grpc_status, response.grpc_message))

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=30)
        return self.statuses


def test_calls_spread_round_robin_over_the_endpoints(backends, gateway_factory):
    gateway = gateway_factory(backends)
    for _ in range(30):
        assert gateway.get_node().grpc_status == 0
    assert [recorder.count("GetNode") for recorder in backends.recorders] == [10, 10, 10]


@pytest.mark.parametrize("how, grace", [("kill", None), ("goaway", 2.0)])
def test_a_backend_going_away_under_load_fails_no_call(backends, gateway_factory, how, grace):
    """(a) killed: its connection drops; (g) graceful grpcio shutdown: GOAWAY, then the
    streams it did not take are refused and the ones it did finish."""
    gateway = gateway_factory(backends)
    load = Load(gateway)
    time.sleep(0.5)
    threading.Thread(target=backends.stop, args=(1, grace)).start()
    time.sleep(1.5)
    statuses = load.stop()
    failures = [status for status in statuses if status[0] != 0]
    print(f"\n{how}: {len(statuses)} calls, {len(failures)} failed")
    assert len(statuses) > 100 and failures == []


def test_half_failing_backends_succeed_by_retry_with_bounded_attempts(backends, gateway_factory):
    for recorder in backends.recorders:
        recorder.fault = "unavailable-every-other"
    gateway = gateway_factory(backends)
    calls = 60
    statuses = [gateway.get_node(headers={"x-call": str(i)}).grpc_status for i in range(calls)]
    attempts = backends.calls()
    print(f"\nhalf failing: {calls} calls, {attempts} attempts at the backends ({attempts / calls:.2f}x)")
    assert statuses == [0] * calls
    assert attempts <= 4 * calls
    # The retries carry grpc-previous-rpc-attempts (gRFC A6).
    seen = [metadata.get("grpc-previous-rpc-attempts") for recorder in backends.recorders for metadata in recorder.metadata]
    assert "1" in seen and None in seen


def test_retry_throttle_bounds_amplification_in_an_outage(backends, gateway_factory):
    for recorder in backends.recorders:
        recorder.fault = "unavailable"
    gateway = gateway_factory(backends, cluster_extra="    retry_throttling: { max_tokens: 10, token_ratio: 0.1 }\n")
    calls = 100
    statuses = [gateway.get_node().grpc_status for _ in range(calls)]
    attempts = backends.calls()
    print(f"\nthrottled outage: {calls} calls, {attempts} attempts ({attempts / calls:.2f}x)")
    assert statuses == [14] * calls
    # Without the throttle every call would make 5 attempts; with it, retries stop once the
    # bucket is at half: 10 tokens, 1 per failed attempt, so at most 5 retries in all.
    assert attempts <= calls + 5


def test_deadline_exceeded_near_the_client_timeout_and_the_backend_sees_the_cancel(backends, gateway_factory):
    gateway = gateway_factory(backends)
    started = time.monotonic()
    response = gateway.get_node("slow-1", headers={"grpc-timeout": "500m"})
    elapsed = time.monotonic() - started
    print(f"\ndeadline: DEADLINE_EXCEEDED after {elapsed:.3f}s (grpc-timeout 500m, backend delay 30s)")
    assert response.grpc_status == 4
    assert elapsed < 10
    assert any(recorder.cancelled.wait(5) for recorder in backends.recorders)


def test_route_timeout_applies_when_the_client_sends_none(backends, gateway_factory):
    gateway = gateway_factory(backends, route_extra="    timeout: 300ms\n")
    started = time.monotonic()
    response = gateway.get_node("slow-2")
    # Ferry's timer and the backend, which got grpc-timeout 300m, race to say so: either way
    # the route's deadline applied.
    assert response.grpc_status == 4 and response.grpc_message in ("deadline of 300ms exceeded (cluster nodes, 1 attempt)",
                                                                   "Deadline Exceeded")
    assert time.monotonic() - started < 2


def test_all_backends_down_fail_fast_and_recover(backends, gateway_factory):
    gateway = gateway_factory(backends)
    assert gateway.get_node().grpc_status == 0
    before = backends.calls()
    for index in range(3):
        backends.stop(index)
    started = time.monotonic()
    statuses = [gateway.get_node() for _ in range(20)]
    elapsed = time.monotonic() - started
    print(f"\nall down: 20 calls failed in {elapsed:.3f}s", [r.grpc_message for r in statuses[:3]])
    assert all(response.grpc_status == 14 for response in statuses)
    # After the first call found every endpoint refusing, the cluster fails calls at once
    # without connecting, until an endpoint's connect backoff runs out.
    assert all("no reachable endpoint" in response.grpc_message for response in statuses[1:]), statuses[1].grpc_message
    assert backends.calls() == before
    for index in range(3):
        backends.start(index)
    deadline = time.monotonic() + 20
    while gateway.get_node().grpc_status != 0:
        assert time.monotonic() < deadline, "no recovery after the backends returned"
        time.sleep(0.1)


def test_max_requests_trips_fast_without_an_upstream_attempt(backends, gateway_factory):
    gateway = gateway_factory(backends, route_extra="", cluster_extra="    max_requests: 1\n")
    slow = threading.Thread(target=gateway.get_node, args=("slow-3", {"grpc-timeout": "2S"}))
    slow.start()
    time.sleep(0.3)
    before = backends.calls()
    response = gateway.get_node()
    slow.join()
    assert response.grpc_status == 14 and "max_requests 1 reached" in response.grpc_message
    # Overload, not an outage: clients and load balancers can tell (Envoy's x-envoy-overloaded).
    assert response.headers.get("x-ferry-overloaded") == "true"
    assert backends.calls() == before


class MutableDNS:
    """A DNS server on a loopback port (dnslib) whose A answers the test changes; TTL 1 s."""

    def __init__(self):
        from dnslib import QTYPE, RCODE, RR, A
        from dnslib.server import BaseResolver, DNSLogger, DNSServer

        self.answers = {}
        outer = self

        class Resolver(BaseResolver):
            def resolve(self, request, handler):
                reply = request.reply()
                # evdns randomizes the case of names it asks for (the "0x20" defence): compare lowercased.
                addresses = outer.answers.get(str(request.q.qname).rstrip(".").lower())
                if addresses is None:
                    reply.header.rcode = RCODE.NXDOMAIN
                elif request.q.qtype == QTYPE.A:
                    for address in addresses:
                        reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=1))
                return reply

        self.port = free_port()
        self.server = DNSServer(Resolver(), port=self.port, address="127.0.0.1", logger=DNSLogger(logf=lambda _: None))
        self.server.start_thread()

    def stop(self):
        self.server.stop()


def test_dns_change_moves_traffic_and_in_flight_calls_finish(backends, gateway_factory):
    dns = MutableDNS()
    dns.answers["nodes.ferry.test"] = ["127.0.0.2"]
    try:
        gateway = gateway_factory(backends, cluster_extra=f"    dns_resolver: 127.0.0.1:{dns.port}\n    dns_refresh: 300ms\n", endpoints=f"nodes.ferry.test:{backends.port}")
        for _ in range(10):
            assert gateway.get_node().grpc_status == 0
        assert [recorder.count("GetNode") for recorder in backends.recorders] == [10, 0, 0]
        # A stream in flight on 127.0.0.2 when the answer changes: 5 events, 200 ms apart.
        stream = {}
        watcher = threading.Thread(target=lambda: stream.update(response=grpcweb.call(
            gateway.port, "/node.v1.NodeService/WatchNodes",
            node_pb2.WatchNodesRequest(count=5, interval_ms=200).SerializeToString(), timeout=20)))
        watcher.start()
        time.sleep(0.2)
        dns.answers["nodes.ferry.test"] = ["127.0.0.3"]
        changed = time.monotonic()
        while backends.recorders[1].count("GetNode") == 0:
            assert gateway.get_node().grpc_status == 0
            assert time.monotonic() - changed < 10, "traffic did not move to the new address"
            time.sleep(0.02)
        moved_after = time.monotonic() - changed
        before = backends.recorders[0].count("GetNode")
        for _ in range(10):
            assert gateway.get_node().grpc_status == 0
        assert backends.recorders[0].count("GetNode") == before, "no new call goes to the old address"
        watcher.join(timeout=20)
        response = stream["response"]
        assert response.grpc_status == 0 and len(response.messages) == 5, "the in-flight stream finished"
        # The name stops resolving: the last good set stays.
        del dns.answers["nodes.ferry.test"]
        time.sleep(1.0)
        for _ in range(5):
            assert gateway.get_node().grpc_status == 0
        print(f"\ndns: traffic moved {moved_after:.3f}s after the answer changed (dns_refresh 300ms, TTL 1s)")
    finally:
        dns.stop()


def test_failing_health_check_takes_an_endpoint_out_and_back(backends, gateway_factory):
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    class RecordingHealth(health.HealthServicer):
        def __init__(self, recorder):
            super().__init__()
            self.recorder = recorder

        def Check(self, request, context):
            self.recorder.record("Check", context)
            return super().Check(request, context)

    # grpcio takes services only before start: the backends restart with health checking on.
    servicers = [RecordingHealth(recorder) for recorder in backends.recorders]
    for index in range(3):
        backends.stop(index)
        backends.servers[index], _ = node_backend.start(
            backends.port, host=HOSTS[index], recorder=backends.recorders[index],
            extra=lambda server, servicer=servicers[index]: health_pb2_grpc.add_HealthServicer_to_server(servicer, server))
    gateway = gateway_factory(backends, cluster_extra="    health_check: { interval: 100ms, timeout: 500ms, unhealthy_threshold: 2 }\n")
    servicers[1].set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    time.sleep(0.8)
    before = backends.recorders[1].count("GetNode")
    for _ in range(30):
        assert gateway.get_node().grpc_status == 0
    assert backends.recorders[1].count("GetNode") == before, "the unhealthy endpoint got calls"
    assert backends.recorders[1].count("Check") >= 2
    servicers[1].set("", health_pb2.HealthCheckResponse.SERVING)
    time.sleep(0.8)
    for _ in range(30):
        assert gateway.get_node().grpc_status == 0
    assert backends.recorders[1].count("GetNode") > before, "the endpoint did not come back"


def test_a_failing_endpoint_is_ejected_then_gets_calls_again_after_the_ejection_time(backends, gateway_factory):
    """Outlier detection (issue 20, point 5): three UNAVAILABLE in a row take the endpoint out
    for base_ejection_time; then it gets calls again. No retry policy: every failure shows."""
    backends.recorders[0].fault = "unavailable"
    gateway = gateway_factory(
        backends, route_extra="",
        cluster_extra="    outlier_detection: { consecutive_failures: 3, base_ejection_time: 2s, max_ejection_percent: 50 }\n")
    statuses = [gateway.get_node().grpc_status for _ in range(30)]
    failed = backends.recorders[0].count("GetNode")
    assert statuses.count(14) == failed == 3, statuses
    statuses = [gateway.get_node().grpc_status for _ in range(30)]
    assert statuses == [0] * 30 and backends.recorders[0].count("GetNode") == failed, "the ejected endpoint got calls"
    backends.recorders[0].fault = None
    time.sleep(2.5)
    statuses = [gateway.get_node().grpc_status for _ in range(30)]
    assert statuses == [0] * 30
    assert backends.recorders[0].count("GetNode") > failed, "the endpoint did not come back after its ejection time"


@pytest.mark.parametrize("idempotent", [False, True])
def test_failure_status_in_trailers_is_retried_only_for_idempotent_routes(backends, gateway_factory, idempotent):
    for recorder in backends.recorders:
        recorder.fault = "unavailable-after-headers-every-other"
    gateway = gateway_factory(backends, route_extra=RETRY_POLICY + ("    idempotent: true\n" if idempotent else ""))
    statuses = [gateway.get_node().grpc_status for _ in range(30)]
    if idempotent:
        # The reply is held until its trailers, so UNAVAILABLE there can still be retried.
        assert statuses == [0] * 30
    else:
        # Response headers commit the call (gRFC A6): the failure reaches the client.
        assert 14 in statuses and 0 in statuses


def test_per_try_timeout_cancels_a_slow_attempt_and_retries_elsewhere(backends, gateway_factory):
    backends.recorders[0].fault = "slow"
    gateway = gateway_factory(backends, route_extra=RETRY_POLICY + "    per_try_timeout: 200ms\n")
    started = time.monotonic()
    statuses = [gateway.get_node().grpc_status for _ in range(9)]
    elapsed = time.monotonic() - started
    print(f"\nper-try timeout: 9 calls in {elapsed:.3f}s, {backends.recorders[0].count('GetNode')} attempts hit the slow backend")
    assert statuses == [0] * 9
    assert backends.recorders[0].count("GetNode") >= 1
    assert backends.recorders[0].cancelled.wait(5), "the slow backend saw the cancellation"


def test_pushback_of_minus_one_stops_retries(backends, gateway_factory):
    for recorder in backends.recorders:
        recorder.fault = "unavailable-pushback-stop"
    gateway = gateway_factory(backends)
    statuses = [gateway.get_node().grpc_status for _ in range(10)]
    assert statuses == [14] * 10
    assert backends.calls() == 10, "grpc-retry-pushback-ms: -1 means no retry (gRFC A6)"


def test_streams_known_from_the_descriptor_set_are_exempt_from_the_route_timeout(tmp_path, backends, gateway_factory):
    from restclient import compile_descriptors, rest_section

    descriptors = compile_descriptors(tmp_path / "node.pb", "node/v1/node.proto")
    gateway = gateway_factory(backends, route_extra="    timeout: 300ms\n", top_level=rest_section(descriptors))
    stream = grpcweb.call(gateway.port, "/node.v1.NodeService/WatchNodes",
                          node_pb2.WatchNodesRequest(count=5, interval_ms=150).SerializeToString(), timeout=20)
    assert stream.grpc_status == 0 and len(stream.messages) == 5, "a 750 ms stream outlived the 300 ms route timeout"
    assert gateway.get_node("slow-4").grpc_status == 4, "unary calls get the route timeout"
