"""Fixtures: a grpcio NodeService backend and a `ferry run` process in front of it, on loopback."""
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(pathlib.Path(__file__).parent / "generated"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))

import node_backend  # noqa: E402


def ferry_binary():
    """The debug build, or FERRY_BINARY (scripts/sanitize runs the tests on a sanitized build)."""
    if "FERRY_BINARY" in os.environ:
        return os.environ["FERRY_BINARY"]
    path = ROOT / ".build" / "debug" / "ferry"
    if not path.exists():
        subprocess.run(["swift", "build", "--product", "ferry"], cwd=ROOT, check=True)
    return str(path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process=None, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"ferry exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def wait_for(condition, what, timeout=20):
    """Polls `condition` until it holds; fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def connection_refused(port):
    """Whether nothing accepts connections on the port any more (a drained listener)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


class FerryProcess:
    def __init__(self, tmp_path, backend_port, extra_listener="", cluster_options="", top_level="", nodes_endpoint=None,
                 drain_grace="0s", extra_routes="", admin_options="", node_route_options="", log_level="warning"):
        self.port = free_port()
        self.admin_port = free_port()
        self.config = tmp_path / f"ferry-{self.port}.yaml"
        self.config.write_text(f"""
workers: 2
drain_timeout: 5s
drain_grace: {drain_grace}
admin: {{ address: 127.0.0.1:{self.admin_port}{admin_options} }}
listeners:
  - address: 127.0.0.1:{self.port}
{extra_listener}
routes:
  - match: {{ service: node.v1.NodeService }}
    cluster: nodes
{node_route_options}  - match: {{ service: ferry.test.v1.RichService }}
    cluster: nodes
{extra_routes}  - match: {{ prefix: /down. }}
    cluster: down
clusters:
  - name: nodes
    endpoints: [{nodes_endpoint or f"127.0.0.1:{backend_port}"}]
{cluster_options}  - name: down
    endpoints: [127.0.0.1:{free_port()}]
{top_level}""")
        # Logs go to a file: a pipe nobody reads could fill up and stall Ferry.
        self.log = tmp_path / f"ferry-{self.port}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [ferry_binary(), "run", "--config", str(self.config), "--log-level", log_level],
                stdout=subprocess.DEVNULL, stderr=log)
        wait_for_port(self.port, self.process)
        # The admin listener has a thread of its own: it may come up after the workers.
        wait_for_port(self.admin_port, self.process)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"

    @property
    def pid(self):
        return self.process.pid

    def rss_kib(self):
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture(scope="session")
def backend():
    port = free_port()
    server, recorder = node_backend.start(port)
    recorder.port = port
    yield recorder
    server.stop(grace=None)


@pytest.fixture(scope="session")
def ferry(tmp_path_factory, backend):
    process = FerryProcess(tmp_path_factory.mktemp("ferry"), backend.port, extra_listener="    cors: { allow_origins: [\"https://app.example\"] }\n")
    yield process
    assert process.stop() == 0


@pytest.fixture
def recorder(backend):
    """The backend's recorder, reset for one test."""
    with backend.lock:
        backend.calls.clear()
        backend.metadata.clear()
        backend.stream_sent = 0
    backend.cancelled.clear()
    return backend


@pytest.fixture
def make_ferry(tmp_path, backend):
    """Starts extra Ferry processes with their own config; stops them after the test."""
    started = []

    def make(**kwargs):
        process = FerryProcess(tmp_path, backend.port, **kwargs)
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop(signal.SIGKILL)
