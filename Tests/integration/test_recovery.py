"""Recovery after a backend outage (issue 14, point 4): the first call after the backend listens
again succeeds, however long the outage grew the connect backoff (1 s × 1.6 up to 120 s); and a
passing health check ends the backoff without any call. The outages run side by side, each with
its own grpcio backend and Ferry, so the 120 s case sets the test's length."""
import json
import subprocess
import threading
import time
import urllib.request

import grpcweb
import node_backend
from conftest import ferry_binary, free_port, wait_for_port
from node.v1 import node_pb2

GET_NODE = "/node.v1.NodeService/GetNode"
OUTAGES = (5, 30, 120)


class Sidecar:
    """One grpcio NodeService and a one-worker Ferry in front of it, as a sidecar pair."""

    def __init__(self, tmp_path, cluster_extra=""):
        self.backend_port = free_port()
        self.server, _ = node_backend.start(self.backend_port)
        self.port, self.admin_port = free_port(), free_port()
        config = tmp_path / f"recovery-{self.port}.yaml"
        config.write_text(f"""workers: 1
admin: {{ address: 127.0.0.1:{self.admin_port} }}
listeners:
  - address: 127.0.0.1:{self.port}
routes:
  - match: {{ service: node.v1.NodeService }}
    cluster: nodes
clusters:
  - name: nodes
    endpoints: [127.0.0.1:{self.backend_port}]
{cluster_extra}""")
        with open(tmp_path / f"recovery-{self.port}.log", "wb") as log:
            self.process = subprocess.Popen([ferry_binary(), "run", "--config", str(config), "--log-level", "warning"],
                                            stdout=subprocess.DEVNULL, stderr=log)
        wait_for_port(self.port, self.process)

    def get_node(self):
        return grpcweb.call(self.port, GET_NODE, node_pb2.GetNodeRequest(node_id="n1").SerializeToString(), timeout=10)

    def stop_backend(self):
        self.server.stop(grace=None).wait()

    def start_backend(self):
        self.server, _ = node_backend.start(self.backend_port)

    def endpoint(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/clusters", timeout=5) as response:
            return json.loads(response.read())[0]["endpoints"][0]

    def close(self):
        self.server.stop(grace=None)
        self.process.terminate()
        assert self.process.wait(timeout=15) == 0


def outage(tmp_path, seconds, results):
    sidecar = Sidecar(tmp_path)
    try:
        assert sidecar.get_node().grpc_status == 0
        sidecar.stop_backend()
        # Calls keep coming during the outage, one a second: each fails fast, and each failed
        # connect grows the endpoint's backoff.
        ends = time.monotonic() + seconds
        failed = 0
        while time.monotonic() < ends:
            response = sidecar.get_node()
            assert response.grpc_status == 14, response.grpc_message
            failed += 1
            time.sleep(1)
        sidecar.start_backend()
        back = time.monotonic()
        while sidecar.get_node().grpc_status != 0:
            assert time.monotonic() - back < 30, "no recovery"
            time.sleep(0.02)
        results[seconds] = (time.monotonic() - back, failed)
    finally:
        sidecar.close()


def test_the_first_call_after_an_outage_succeeds(tmp_path):
    results = {}
    threads = [threading.Thread(target=outage, args=(tmp_path, seconds, results)) for seconds in OUTAGES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seconds in OUTAGES:
        assert seconds in results, f"the {seconds} s outage failed (see above)"
        recovered, failed = results[seconds]
        print(f"\noutage of {seconds} s ({failed} calls failed during it): first call OK {recovered:.3f}s after the backend listened")
        assert recovered < 1


def test_a_passing_health_check_ends_the_connect_backoff(tmp_path):
    sidecar = Sidecar(tmp_path, cluster_extra="    health_check: { interval: 200ms, timeout: 100ms }\n")
    try:
        assert sidecar.get_node().grpc_status == 0
        sidecar.stop_backend()
        deadline = time.monotonic() + 10
        while not sidecar.endpoint()["backing_off"]:
            assert time.monotonic() < deadline, "the failed health checks set no backoff"
            time.sleep(0.05)
        sidecar.start_backend()
        back = time.monotonic()
        while sidecar.endpoint()["backing_off"]:
            assert time.monotonic() - back < 2, "a passing health check did not end the backoff"
            time.sleep(0.05)
        print(f"\nbackoff ended {time.monotonic() - back:.3f}s after the backend listened, with no call made")
    finally:
        sidecar.close()
