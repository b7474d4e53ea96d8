"""Ferry, Envoy and nghttpx side by side in front of the same node-service; writes bench/RESULTS.md.

Run through `bench/compare`, which installs the tools and builds the release binaries first.
Every case runs `--runs` times with the gateways interleaved (Ferry, Envoy, Ferry, Envoy), each
gateway with one worker, everything on loopback. CPU time is utime+stime from /proc/PID/stat
over the measured window; success is checked on the response bytes (a gRPC-Web error is HTTP 200).
"""
import argparse
import datetime
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import costs

ROOT = Path(__file__).resolve().parent.parent
HZ = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
HISTORY_MARKER = "<!-- bench/compare rewrites everything above this line and keeps what is below -->"

UNARY_PATH = "/node.v1.NodeService/GetNode"
STREAM_PATH = "/node.v1.NodeService/WatchNodes"
UNARY_FRAME = b"\0\0\0\0\x04\x0a\x02n1"  # GetNodeRequest{node_id: "n1"}
STREAM_MESSAGES = 1000
STREAM_FRAME = b"\0\0\0\0\x03\x08\xe8\x07"  # WatchNodesRequest{count: 1000}
WEB_HEADERS = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
GRPC_HEADERS = {"content-type": "application/grpc", "te": "trailers"}
CONNECT_HEADERS = {"content-type": "application/json", "connect-protocol-version": "1"}
CONNECT_BODY = b'{"nodeId":"n1"}'
CONNECT_CASE = "Connect unary JSON (POST)"
NATIVE_GRPC_CASE = "native gRPC unary over h2c (h2load -c10 -m10)"
GRPC_WEB_H2_CASE = "gRPC-Web unary over h2c (h2load -c10 -m10)"
REST_PATH = "/v1/nodes/n1"  # GetNode by its google.api.http rule
METRICS_OFF_CASE = "gRPC-Web unary, metrics off (admin: off)"
ACCESS_LOG_CASE = "gRPC-Web unary, metrics, access log and tracing on"
JWT_OFF_CASE = "gRPC-Web unary, auth off, the same bearer token sent"
JWT_CACHED_CASE = "gRPC-Web unary, JWT auth, one token (cached)"
JWT_FRESH_CASES = {"ES256": "gRPC-Web unary, JWT auth, a new ES256 token per call",
                   "RS256": "gRPC-Web unary, JWT auth, a new RS256 token per call"}
# nghttpx has no gRPC-Web codec: it carries native gRPC framing over HTTP/1.1 to the h2 backend,
# which is less work per call than Ferry's gRPC-Web (issue 19 compares the two anyway).
NGHTTPX_CASE = "unary, native gRPC framing over HTTP/1.1 (nghttpx)"
PAIRED_CASE = "gRPC-Web unary, paired with nghttpx"
WORKERS_CASE = "gRPC-Web unary, workers: 2 (wrk -t2)"
# More tokens than a worker caches (10,000): cycling through them, every call verifies a signature.
FRESH_TOKENS = 12_000


# ---------------------------------------------------------------- processes and /proc


def user_and_kernel_seconds(pid):
    """utime and stime of a process; fields 14 and 15 of /proc/PID/stat, counted after the ')'."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / HZ, int(fields[12]) / HZ


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_busy_seconds():
    """Busy CPU time of the whole machine (all cores) from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / HZ


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Window:
    """A measured window: CPU of the gateway and backend, of the load tool, and of everything else."""

    def __init__(self, gateway_pid, backend_pid):
        self.pids = (gateway_pid, backend_pid)
        self.start = time.monotonic()
        self.cpu = [user_and_kernel_seconds(p) for p in self.pids]
        self.children = children_cpu_seconds()
        self.machine = machine_busy_seconds()

    def finish(self):
        elapsed = time.monotonic() - self.start
        (gateway_user, gateway_kernel), (backend_user, backend_kernel) = (
            tuple(now - then for now, then in zip(user_and_kernel_seconds(p), before))
            for p, before in zip(self.pids, self.cpu))
        gateway, backend = gateway_user + gateway_kernel, backend_user + backend_kernel
        tool = children_cpu_seconds() - self.children
        other = machine_busy_seconds() - self.machine - gateway - backend - tool
        # User time is the gateway's own code; kernel time is mostly loopback TCP, which a
        # proxy pays per read and write. Issue 19 compares the two with nghttpx's.
        return {"gateway_cpu": gateway, "gateway_user_cpu": gateway_user, "backend_cpu": backend,
                "other_load": max(0.0, other) / (elapsed * CORES)}


class Service:
    def __init__(self, name, argv, port, log_path):
        self.name, self.port = name, port
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# ---------------------------------------------------------------- a minimal HTTP/1.1 client


def read_response(sock, buffered=b""):
    """Reads one HTTP/1.1 response (content-length or chunked); returns (status, body, rest)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        data += recv_some(sock)
    head, data = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(data) < length:
            data += recv_some(sock)
        return status, data[:length], data[length:]
    if headers.get("transfer-encoding", "").lower() != "chunked":
        raise RuntimeError(f"response without framing: {head!r}")
    body = b""
    while True:
        while b"\r\n" not in data:
            data += recv_some(sock)
        size_line, data = data.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:  # the last chunk, then trailer fields (none expected) and an empty line
            while not data.startswith(b"\r\n") and b"\r\n\r\n" not in data:
                data += recv_some(sock)
            rest = data[2:] if data.startswith(b"\r\n") else data.split(b"\r\n\r\n", 1)[1]
            return status, body, rest
        while len(data) < size + 2:
            data += recv_some(sock)
        body, data = body + data[:size], data[size + 2:]


def recv_some(sock):
    chunk = sock.recv(65536)
    if not chunk:
        raise RuntimeError("connection closed mid-response")
    return chunk


def grpc_web_request(port, path, frame, extra_headers=None):
    headers = "".join(f"{k}: {v}\r\n" for k, v in {**WEB_HEADERS, **(extra_headers or {})}.items())
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{headers}"
            f"content-length: {len(frame)}\r\n\r\n").encode() + frame


def rest_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode())
        status, body, _ = read_response(sock)
    return status, body


def call_ok(port, headers=None):
    """One GetNode call; True when the response bytes carry the node and grpc-status:0."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(grpc_web_request(port, UNARY_PATH, UNARY_FRAME, headers))
        status, body, _ = read_response(sock)
    return status == 200 and b"node-n1" in body and b"grpc-status:0" in body


def native_h1_call_ok(port, headers=None):
    """One GetNode call in native gRPC framing over HTTP/1.1 (what nghttpx forwards)."""
    fields = "".join(f"{k}: {v}\r\n" for k, v in GRPC_HEADERS.items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((f"POST {UNARY_PATH} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{fields}"
                      f"content-length: {len(UNARY_FRAME)}\r\n\r\n").encode() + UNARY_FRAME)
        status, body, _ = read_response(sock)
    return status == 200 and b"node-n1" in body


def wait_until_serving(service, deadline=20, headers=None, check=call_ok):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
        try:
            if check(service.port, headers):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{service.name} did not serve a correct GetNode within {deadline} s")


# ---------------------------------------------------------------- configurations


def ferry_config(port, backend_port, descriptors):
    """Ferry as shipped: metrics on (the admin listener, here on port+30), no access log."""
    return f"""workers: 1
admin: {{ address: 127.0.0.1:{port + 30} }}
listeners:
  - address: 127.0.0.1:{port}
    cors: grpc-web
routes:
  - match: {{ service: node.v1.NodeService }}
    cluster: nodes
clusters:
  - name: nodes
    endpoints: [127.0.0.1:{backend_port}]
rest:
  descriptor_set: {descriptors}
  services: [node.v1.NodeService]
"""


def envoy_config(port, backend_port, descriptors):
    """Equivalent to ferry_config: grpc_web, cors (Ferry's gRPC-Web preset), grpc_json_transcoder on
    the same descriptor set, router, h2 upstream."""
    return f"""static_resources:
  listeners:
  - name: web
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: nodes
              domains: ["*"]
              routes:
              - match: {{ prefix: "/node.v1.NodeService/" }}
                route: {{ cluster: nodes, timeout: 0s }}
              typed_per_filter_config:
                envoy.filters.http.cors:
                  "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                  allow_origin_string_match: [{{ safe_regex: {{ regex: ".*" }} }}]
                  allow_methods: "POST, GET, OPTIONS"
                  allow_headers: "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization, x-accept-content-transfer-encoding, x-accept-response-streaming"
                  expose_headers: "grpc-status, grpc-message, grpc-status-details-bin"
                  max_age: "86400"
          http_filters:
          - name: envoy.filters.http.grpc_web
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb }}
          - name: envoy.filters.http.cors
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }}
          - name: envoy.filters.http.grpc_json_transcoder
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder
              proto_descriptor: {descriptors}
              services: [node.v1.NodeService]
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}
  clusters:
  - name: nodes
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: nodes
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {backend_port} }} }} }}
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{ http2_protocol_options: {{}} }}
"""


WRK_SCRIPT = """wrk.method = "{method}"
wrk.body = "{body}"
{headers}
local bad = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, "{expect}", {min_length}, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("BAD %d\\n", bad))
end
"""


JWT_ROTATING_SCRIPT = """local tokens = {{}}
for line in io.lines("{tokens}") do tokens[#tokens + 1] = line end
local next_token = 0
function request()
  next_token = next_token % #tokens + 1
  wrk.headers["authorization"] = "Bearer " .. tokens[next_token]
  return wrk.format()
end
"""


def lua_string(data):
    return "".join(f"\\{b}" for b in data)


def wrk_script(method="POST", body=b"", expect="grpc-status:0", min_length=1, headers=WEB_HEADERS):
    """A wrk script that counts responses whose body lacks `expect` (searched from `min_length`)."""
    lines = "\n".join(f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items())
    return WRK_SCRIPT.format(method=method, body=lua_string(body), headers=lines,
                             expect=expect.replace('"', '\\"'), min_length=min_length)


# ---------------------------------------------------------------- load tools


def run_wrk(args, url, script):
    out = subprocess.run(["wrk", *args, "-s", script, url], check=True, capture_output=True,
                         text=True).stdout
    figures = {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
               "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
               "failed": int(re.search(r"^BAD (\d+)", out, re.M).group(1))}
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["failed"] += int(non2xx.group(1)) if non2xx else 0
    figures["socket_errors"] = errors.group(1) if errors else ""
    for name, quantile in (("p50", "50%"), ("p99", "99%")):
        match = re.search(rf"^\s+{quantile}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
            figures[name] = float(match.group(1)) * scale
    return figures


def run_h2load(args, url, work):
    """h2load with a per-request log; p50/p99 come from the log (h2load prints only mean/sd)."""
    log = work / "h2load.log"
    log.unlink(missing_ok=True)
    out = subprocess.run(["h2load", *args, f"--log-file={log}", url], check=True,
                         capture_output=True, text=True).stdout
    done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    durations = []
    for line in log.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1] != "-1":
            durations.append(int(parts[2]) / 1000.0)
    durations.sort()
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    succeeded = int(codes.group(1)) if codes else 0
    return {"requests": int(done.group(2)), "rps": rps,
            "failed": int(done.group(2)) - succeeded,
            "p50": quantile(durations, 0.50), "p99": quantile(durations, 0.99)}


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# ---------------------------------------------------------------- cases


class Bench:
    def __init__(self, opts, work):
        self.opts, self.work = opts, work
        self.bin = Path(opts.bin)
        self.rows = []  # dicts: case, run, gateway, figures...
        self.services = []
        scripts = {
            "unary": wrk_script(body=UNARY_FRAME),
            # The trailer frame comes after all 1,000 messages: finding it near the end means the
            # whole stream arrived.
            "stream": wrk_script(body=STREAM_FRAME, min_length=-64),
            "rest": wrk_script(method="GET", expect='"name":"node-n1"', headers={}),
            "connect": wrk_script(body=CONNECT_BODY, expect='"name":"node-n1"', headers=CONNECT_HEADERS),
            # The grpc-status trailer is in the chunked trailer section, which wrk does not show.
            "grpc-h1": wrk_script(body=UNARY_FRAME, expect="node-n1", headers=GRPC_HEADERS),
        }
        self.scripts = {}
        for name, text in scripts.items():
            (work / f"{name}.lua").write_text(text)
            self.scripts[name] = str(work / f"{name}.lua")
        # The descriptor set both gateways transcode REST with.
        self.descriptors = work / "node.pb"
        subprocess.run(["protoc", "-I", str(ROOT / "Protos"), "--include_imports",
                        f"--descriptor_set_out={self.descriptors}", "node/v1/node.proto"], check=True)
        (work / "unary.bin").write_bytes(UNARY_FRAME)
        (work / "grpc.bin").write_bytes(UNARY_FRAME)  # the same frame is a native gRPC request

    def start(self, run):
        o = self.opts
        for port in (o.backend_port, o.ferry_port, o.envoy_port):
            ensure_port_free(port)
        self.backend = Service("node-service", [str(self.bin / "node-service"), "--address",
                                                f"127.0.0.1:{o.backend_port}"],
                               o.backend_port, self.work / f"backend-{run}.log")
        self.services = [self.backend]
        (self.work / "ferry.yaml").write_text(ferry_config(o.ferry_port, o.backend_port, self.descriptors))
        (self.work / "envoy.yaml").write_text(envoy_config(o.envoy_port, o.backend_port, self.descriptors))
        self.ferry = Service("Ferry", [str(self.bin / "ferry"), "run", "--config",
                                       str(self.work / "ferry.yaml"), "--log-level", "warning"],
                             o.ferry_port, self.work / f"ferry-{run}.log")
        self.services.append(self.ferry)
        self.envoy = Service("Envoy", [o.envoy, "-c", str(self.work / "envoy.yaml"),
                                       "--concurrency", "1", "--disable-hot-restart",
                                       "-l", "error", "--log-path", str(self.work / f"envoy-{run}.log")],
                             o.envoy_port, self.work / f"envoy-{run}.out")
        self.services.append(self.envoy)
        for gateway in (self.ferry, self.envoy):
            wait_until_serving(gateway)
        self.nghttpx = None
        if o.nghttpx:
            ensure_port_free(o.nghttpx_port)
            self.nghttpx = Service("nghttpx", nghttpx_argv(o, o.nghttpx_port, self.work / f"nghttpx-{run}.log"),
                                   o.nghttpx_port, self.work / f"nghttpx-{run}.out")
            self.services.append(self.nghttpx)
            wait_until_serving(self.nghttpx, check=native_h1_call_ok)
        time.sleep(1)
        return (self.ferry, self.envoy)

    def stop(self):
        for service in reversed(self.services):
            service.stop()
        self.services = []

    def record(self, case, run, gateway, figures):
        row = {"case": case, "run": run, "gateway": gateway.name, **figures}
        self.rows.append(row)
        shown = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in figures.items())
        print(f"  {case} · run {run} · {gateway.name}: {shown}", flush=True)

    def measured(self, gateway, load):
        window = Window(gateway.pid, self.backend.pid)
        figures = load()
        figures.update(window.finish())
        figures["rss_kib"] = rss_kib(gateway.pid)
        figures["per_cpu"] = figures["requests"] / figures["gateway_cpu"] if figures["gateway_cpu"] else 0
        return figures

    def idle(self, run, gateway):
        self.record("idle RSS", run, gateway, {"rss_kib": rss_kib(gateway.pid)})

    def idle_connections(self, run, gateway):
        """Opens N keep-alive connections, each completes one call, then all stay idle."""
        count = self.opts.idle_connections
        before = rss_kib(gateway.pid)
        sockets = []
        try:
            request = grpc_web_request(gateway.port, UNARY_PATH, UNARY_FRAME)
            for _ in range(count):
                sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
                sockets.append(sock)
                sock.sendall(request)
                status, body, _ = read_response(sock)
                if status != 200 or b"grpc-status:0" not in body:
                    raise RuntimeError(f"{gateway.name}: call on idle-connection setup failed")
            time.sleep(2)
            after = rss_kib(gateway.pid)
            alive = sum(1 for s in sockets if still_open(s))
        finally:
            for sock in sockets:
                sock.close()
        time.sleep(1)
        self.record(f"{count} idle connections", run, gateway,
                    {"rss_kib": after, "alive": alive,
                     "per_connection_kib": (after - before) / count})

    def wrk_measured(self, gateway, path, connections, script, warm_up_seconds, seconds=None):
        """wrk against `path` after a warm-up; figures of the measured window (`seconds` long,
        `--duration` unless given)."""
        url = f"http://127.0.0.1:{gateway.port}{path}"
        args = ["-t1", f"-c{connections}"]
        run_wrk([*args, f"-d{warm_up_seconds}s"], url, self.scripts[script])
        return self.measured(gateway, lambda: run_wrk(
            [*args, f"-d{seconds or self.opts.duration}s", "--latency"], url, self.scripts[script]))

    def rest(self, run, gateway):
        status, body = rest_get(gateway.port, REST_PATH)
        if status != 200 or b'"name":"node-n1"' not in body:
            raise RuntimeError(f"{gateway.name}: REST GET {REST_PATH} answered {status}: {body[:200]!r}")
        figures = self.wrk_measured(gateway, REST_PATH, self.opts.connections, "rest", 3)
        self.record("REST GET", run, gateway, figures)

    def connect(self, run, gateway):
        """Connect unary JSON (issue 16): the same GetNode as REST GET, as a Connect client sends
        it. Ferry only: Envoy's connect_grpc_bridge passes the JSON codec on to the backend
        (`application/grpc+json`), which node-service, like most gRPC servers, does not speak."""
        figures = self.wrk_measured(gateway, UNARY_PATH, self.opts.connections, "connect", 3)
        self.record(CONNECT_CASE, run, gateway, figures)

    def unary(self, run, gateway):
        figures = self.wrk_measured(gateway, UNARY_PATH, self.opts.connections, "unary", 3)
        self.record("gRPC-Web unary", run, gateway, figures)

    def nghttpx_pairs(self, run):
        """The same GetNode through Ferry and through nghttpx (in the framing it can carry, issue 19's
        peer), in `--pairs` pairs of short windows back to back, the order swapped every pair. On a
        shared 2-core VM the speed of the machine drifts by tens of percent within a minute; a ratio
        taken between neighbouring windows cancels what the drift does to both, and the median of
        the pairs' ratios is the figure the goal is judged on."""
        for pair in range(1, self.opts.pairs + 1):
            sides = [(self.ferry, PAIRED_CASE, "unary"), (self.nghttpx, NGHTTPX_CASE, "grpc-h1")]
            for gateway, case, script in sides if pair % 2 else reversed(sides):
                figures = self.wrk_measured(gateway, UNARY_PATH, self.opts.connections, script, 1,
                                            seconds=self.opts.pair_seconds)
                self.record(case, run, gateway, {"pair": pair, **figures})

    def workers(self, run):
        """Ferry with two workers under two wrk threads: requests per CPU-second, and how the
        listeners' SO_REUSEPORT spread the connections (each worker thread's share of the CPU)."""
        port = self.opts.ferry_port + 20
        ensure_port_free(port)
        config = self.work / "ferry-workers.yaml"
        config.write_text(ferry_config(port, self.opts.backend_port, self.descriptors).replace("workers: 1", "workers: 2"))
        ferry = Service("Ferry", [str(self.bin / "ferry"), "run", "--config", str(config), "--log-level", "warning"],
                        port, self.work / f"ferry-workers-{run}.log")
        try:
            wait_until_serving(ferry)
            url = f"http://127.0.0.1:{port}{UNARY_PATH}"
            args = ["-t2", f"-c{self.opts.connections}"]
            run_wrk([*args, "-d3s"], url, self.scripts["unary"])
            before = costs.thread_cpu_seconds(ferry.pid, HZ)
            figures = self.measured(ferry, lambda: run_wrk(
                [*args, f"-d{self.opts.duration}s", "--latency"], url, self.scripts["unary"]))
            after = costs.thread_cpu_seconds(ferry.pid, HZ)
            busiest = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)[:2]
            figures["worker_split"] = busiest[1] / busiest[0] if busiest and busiest[0] else float("nan")
            self.record(WORKERS_CASE, run, ferry, figures)
        finally:
            ferry.stop()

    def syscalls(self, run):
        """System calls per call (strace -c), Ferry's gRPC-Web and nghttpx's native gRPC over HTTP/1.1
        under the same load: `h2load --h1 -c10 -n N` (keep-alive, one request at a time each)."""
        peers = [(self.ferry, WEB_HEADERS, "gRPC-Web unary")]
        if self.nghttpx:
            peers.append((self.nghttpx, GRPC_HEADERS, NGHTTPX_CASE))
        calls = self.opts.syscall_calls
        for gateway, headers, case in peers:
            url = f"http://127.0.0.1:{gateway.port}{UNARY_PATH}"

            def load(count):
                subprocess.run(["h2load", "--h1", "-c10", f"-n{count}", "-d", str(self.work / "unary.bin"),
                                *[f"-H{k}: {v}" for k, v in headers.items()], url], check=True, capture_output=True)
            load(1000)
            total, counts = costs.syscalls(gateway.pid, lambda: load(calls))
            top = ", ".join(f"{name} {count / calls:.2f}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
            self.record(f"system calls per call, {case} ({top})", run, gateway,
                        {"syscalls_per_call": total / calls})

    def variant(self, run, case, change, script="unary", headers=None):
        """The unary case again on a second Ferry whose config `change` edits: what a feature
        costs, against the first Ferry's figures (metrics on, nothing else)."""
        port = self.opts.ferry_port + 20
        ensure_port_free(port)
        config = self.work / "ferry-variant.yaml"
        config.write_text(change(ferry_config(port, self.opts.backend_port, self.descriptors)))
        variant = Service("Ferry", [str(self.bin / "ferry"), "run", "--config", str(config), "--log-level", "warning"],
                          port, self.work / f"ferry-variant-{run}.log")
        try:
            wait_until_serving(variant, headers=headers)
            figures = self.wrk_measured(variant, UNARY_PATH, self.opts.connections, script, 3)
            self.record(case, run, variant, figures)
        finally:
            variant.stop()

    def jwt_setup(self):
        """An ES256 and an RS256 key in a JWK set file, one long-lived token, and FRESH_TOKENS
        distinct tokens of each algorithm (once per bench: RSA signing takes a while)."""
        if hasattr(self, "jwks"):
            return
        import json
        import jwt
        from jwcrypto import jwk
        keys = {"ES256": jwk.JWK.generate(kty="EC", crv="P-256", kid="bench-ec"),
                "RS256": jwk.JWK.generate(kty="RSA", size=2048, kid="bench-rsa")}
        self.jwks = self.work / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [json.loads(key.export_public()) for key in keys.values()]}))
        # Loaded once: PyJWT would parse a PEM (and check the RSA key, which is slow) per token.
        signers = {alg: key.get_op_key("sign") for alg, key in keys.items()}

        def token(alg, serial):
            claims = {"iss": "https://idp.bench", "aud": "ferry", "sub": f"user-{serial}", "exp": int(time.time()) + 86400}
            return jwt.encode(claims, signers[alg], algorithm=alg, headers={"kid": keys[alg]["kid"]})

        self.jwt_headers = {"authorization": f"Bearer {token('ES256', 0)}"}
        (self.work / "jwt-cached.lua").write_text(wrk_script(body=UNARY_FRAME, headers={**WEB_HEADERS, **self.jwt_headers}))
        for alg in JWT_FRESH_CASES:
            tokens = self.work / f"tokens-{alg}.txt"
            tokens.write_text("\n".join(token(alg, serial) for serial in range(FRESH_TOKENS)) + "\n")
            (self.work / f"jwt-{alg}.lua").write_text(
                wrk_script(body=UNARY_FRAME) + JWT_ROTATING_SCRIPT.format(tokens=tokens))
        for name in ("jwt-cached", *(f"jwt-{alg}" for alg in JWT_FRESH_CASES)):
            self.scripts[name] = str(self.work / f"{name}.lua")

    def jwt_auth(self, run):
        """Issue 17: what JWT authentication costs on the route. A client repeating its token
        hits the worker's cache (goal: within 5 % of the same requests, token included, through
        a route without auth: the header's bytes are read and forwarded either way); a new token
        per call pays a signature check each time."""
        self.jwt_setup()
        self.variant(run, JWT_OFF_CASE, lambda config: config, script="jwt-cached")
        self.variant(run, JWT_CACHED_CASE, self.with_jwt_auth, script="jwt-cached", headers=self.jwt_headers)
        for alg, case in JWT_FRESH_CASES.items():
            self.variant(run, case, self.with_jwt_auth, script=f"jwt-{alg}", headers=self.jwt_headers)

    def with_jwt_auth(self, config):
        """The config with the GetNode route requiring the bench issuer's tokens."""
        return (config.replace("    cluster: nodes\n", "    cluster: nodes\n    auth: { jwt: bench }\n", 1)
                + f"auth:\n  jwt:\n    - {{ name: bench, issuer: 'https://idp.bench', audiences: [ferry],"
                f" jwks_file: {self.jwks} }}\n")

    def instructions(self):
        """callgrind's instructions per call: as shipped, and with the jwt cases, the same
        token sent to a route without and with auth (the cached path)."""
        counts = {"gRPC-Web unary": callgrind_instructions(self.opts, self.work)}
        if self.opts.nghttpx:
            counts[NGHTTPX_CASE] = nghttpx_callgrind_instructions(self.opts, self.work)
        if hasattr(self, "jwks"):
            counts[JWT_OFF_CASE] = callgrind_instructions(self.opts, self.work, headers=self.jwt_headers)
            counts[JWT_CACHED_CASE] = callgrind_instructions(
                self.opts, self.work, change=self.with_jwt_auth, headers=self.jwt_headers)
        for case, (per_call, calls, allocations) in counts.items():
            print(f"  {case}: {per_call:,.0f} instructions and {allocations:.1f} allocations per call over {calls:,} calls",
                  flush=True)
        return counts

    def metrics_off(self, run):
        self.variant(run, METRICS_OFF_CASE, lambda config: re.sub(r"admin: .*\n", "admin: off\n", config))

    def access_log(self, run):
        """An access-log line per call, and a new W3C trace for each."""
        self.variant(run, ACCESS_LOG_CASE, lambda config: config
                     + f"access_log: {{ path: {self.work / f'access-{run}.log'} }}\n"
                     + "tracing: { create_traceparent: true }\n")

    def equal_load(self, run, gateway, rate):
        url = f"http://127.0.0.1:{gateway.port}{UNARY_PATH}"
        per_client = max(1, rate // self.opts.connections)
        args = ["--h1", f"-c{self.opts.connections}", f"--rps={per_client}",
                f"-D{self.opts.duration}", "--warm-up-time=2", "-d", str(self.work / "unary.bin"),
                *[f"-H{k}: {v}" for k, v in WEB_HEADERS.items()]]
        figures = self.measured(gateway, lambda: run_h2load(args, url, self.work))
        self.record(f"gRPC-Web unary at {per_client * self.opts.connections} req/s offered",
                    run, gateway, figures)

    def stream(self, run, gateway):
        figures = self.wrk_measured(gateway, STREAM_PATH, self.opts.stream_connections, "stream", 2)
        figures["messages_per_s"] = figures["rps"] * STREAM_MESSAGES
        figures["messages_per_cpu"] = figures["per_cpu"] * STREAM_MESSAGES
        self.record("gRPC-Web server streaming", run, gateway, figures)

    def h2load_measured(self, gateway, headers, body_file):
        """h2load over h2c with prior knowledge, -c10 -m10 (the issue's load), after a warm-up."""
        url = f"http://127.0.0.1:{gateway.port}{UNARY_PATH}"
        args = ["-c10", "-m10", f"-D{self.opts.duration}", "--warm-up-time=2", "-d", str(self.work / body_file),
                *[f"-H{k}: {v}" for k, v in headers.items()]]
        return self.measured(gateway, lambda: run_h2load(args, url, self.work))

    def native_grpc(self, run, gateway):
        """Native gRPC unary through the gateway's HTTP/2 front (grpc passthrough)."""
        check_grpc_call(gateway.name, f"http://127.0.0.1:{gateway.port}{UNARY_PATH}", self.work / "grpc.bin")
        figures = self.h2load_measured(gateway, GRPC_HEADERS, "grpc.bin")
        self.record(NATIVE_GRPC_CASE, run, gateway, figures)

    def grpc_web_h2(self, run, gateway):
        figures = self.h2load_measured(gateway, WEB_HEADERS, "unary.bin")
        self.record(GRPC_WEB_H2_CASE, run, gateway, figures)

    def direct(self, run):
        """Native gRPC straight to node-service over h2: the backend's ceiling."""
        url = f"http://127.0.0.1:{self.opts.backend_port}{UNARY_PATH}"
        check_grpc_call("node-service", url, self.work / "grpc.bin")
        args = [f"-c{self.opts.connections}", "-m1", f"-D{self.opts.duration}",
                "--warm-up-time=2", "-d", str(self.work / "grpc.bin"),
                "-Hcontent-type: application/grpc", "-Hte: trailers"]
        window = Window(self.backend.pid, self.backend.pid)
        figures = run_h2load(args, url, self.work)
        figures.update(window.finish())
        figures["backend_cpu"] = figures.pop("gateway_cpu")
        figures["per_cpu"] = 0
        self.record("native gRPC direct to node-service", run, self.backend, figures)


def check_grpc_call(name, url, body):
    """One native gRPC call with nghttp: h2load counts 2xx only, so the status is checked first."""
    check = subprocess.run(["nghttp", "-v", "-d", str(body), *[f"-H{k}: {v}" for k, v in GRPC_HEADERS.items()], url],
                           capture_output=True, text=True, errors="replace").stdout
    if "grpc-status: 0" not in check or "node-n1" not in check:
        raise RuntimeError(f"native gRPC call through {name} failed:\n{check}")


def ensure_port_free(port):
    """SO_REUSEPORT would let a leftover process share the port and take part of the load."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return
    raise RuntimeError(f"port {port} is already in use; stop what listens there or pass another port")


def still_open(sock):
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def callgrind_instructions(opts, work, change=lambda config: config, headers=None):
    """Instructions Ferry's process executes per gRPC-Web unary call, and its allocations (calls to
    malloc and its kin), counted by callgrind
    over a fixed number of calls after a warm-up (repeatable on a noisy machine); `change`
    edits the config and `headers` go with every call, as for the variant cases."""
    port = opts.ferry_port + 10
    (work / "callgrind.yaml").write_text(change(ferry_config(port, opts.backend_port, work / "node.pb")))
    # valgrind 3.19 cannot read the DWARF 5 debug info; the symbol table is enough.
    subprocess.run(["objcopy", "--strip-debug", str(Path(opts.bin) / "ferry"), str(work / "ferry")], check=True)
    argv = [str(work / "ferry"), "run", "--config", str(work / "callgrind.yaml"), "--log-level", "warning"]
    return callgrind_per_call(opts, work, "Ferry", argv, port, {**WEB_HEADERS, **(headers or {})},
                              lambda port, _: call_ok(port, headers))


def nghttpx_callgrind_instructions(opts, work):
    """The same count for nghttpx under the same load, in the framing it carries (native gRPC
    over HTTP/1.1): what the leanest proxy on the same libraries executes per call (issue 19)."""
    port = opts.nghttpx_port + 10
    argv = nghttpx_argv(opts, port, work / "callgrind-nghttpx.err")
    return callgrind_per_call(opts, work, "nghttpx", argv, port, GRPC_HEADERS, native_h1_call_ok)


def nghttpx_argv(opts, port, error_log):
    """nghttpx as issue 19 runs it: one worker in the main process, no config file, an
    HTTP/1.1 front on `port` and an h2 backend (the node-service)."""
    return [opts.nghttpx, "--conf=/dev/null", "-n1", "--single-process", f"--frontend=127.0.0.1,{port};no-tls",
            f"--backend=127.0.0.1,{opts.backend_port};;proto=h2", f"--errorlog-file={error_log}"]


def callgrind_per_call(opts, work, name, argv, port, headers, check):
    """(instructions, calls, allocations) per call of `argv` run under callgrind, in front of a
    node-service of its own: `h2load --h1 -c10`, 1,000 calls of warm-up, then
    `--callgrind-calls` counted."""
    ensure_port_free(port)
    backend = Service("node-service", [str(Path(opts.bin) / "node-service"), "--address",
                                       f"127.0.0.1:{opts.backend_port}"],
                      opts.backend_port, work / "callgrind-backend.log")
    out_file = work / f"callgrind-{name}.out"
    gateway = Service(name, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *argv],
                      port, work / f"callgrind-{name}.log")
    try:
        wait_until_serving(gateway, deadline=120, check=check)
        url = f"http://127.0.0.1:{port}{UNARY_PATH}"
        base = ["--h1", "-c10", "-d", str(work / "unary.bin"), *[f"-H{k}: {v}" for k, v in headers.items()], url]
        subprocess.run(["h2load", "-n1000", *base], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "--zero", str(gateway.pid)], check=True, capture_output=True)
        out = subprocess.run(["h2load", f"-n{opts.callgrind_calls}", *base], check=True,
                             capture_output=True, text=True).stdout
        succeeded = int(re.search(r"(\d+) succeeded", out).group(1))
        subprocess.run(["callgrind_control", "--dump", str(gateway.pid)], check=True, capture_output=True)
        dumps = sorted(work.glob(f"callgrind-{name}.out*"), key=lambda p: p.stat().st_mtime)
        total, allocations = costs.callgrind_counts(dumps[-1])
        return total / succeeded, succeeded, allocations / succeeded
    finally:
        gateway.stop()
        backend.stop()


# ---------------------------------------------------------------- report


def median(rows, key):
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else float("nan")


def fmt(value, digits=0):
    if isinstance(value, float) and value != value:
        return "–"
    return f"{value:,.{digits}f}"


def paired_ratios(rows):
    """Ferry's requests per CPU-second over nghttpx's, one ratio per pair of neighbouring windows."""
    nghttpx = {(r["run"], r["pair"]): r["per_cpu"] for r in rows if r["case"] == NGHTTPX_CASE}
    return [r["per_cpu"] / nghttpx[r["run"], r["pair"]] for r in rows
            if r["case"] == PAIRED_CASE and nghttpx.get((r["run"], r["pair"]))]


def summary(rows, rate_case, instructions):
    def pick(case, gateway):
        return [r for r in rows if r["case"] == case and r["gateway"] == gateway]

    def goal(name, case, key, target, check, digits=0, unit=""):
        f, e = median(pick(case, "Ferry"), key), median(pick(case, "Envoy"), key)
        ratio = f / e if e else float("nan")
        met = "yes" if check(f, e, ratio) else "**no**"
        return f"| {name} | {fmt(f, digits)}{unit} | {fmt(e, digits)}{unit} | {ratio:.2f}× | {target} | {met} |"

    def compared(name, case):
        """Ferry's `case` beside REST GET: the same call, both JSON transcoded."""
        connect, rest = median(pick(case, "Ferry"), "per_cpu"), median(pick("REST GET", "Ferry"), "per_cpu")
        envoy = median(pick("REST GET", "Envoy"), "per_cpu")
        return (f"| {name} | {fmt(connect, 0)} | REST GET: Ferry {fmt(rest, 0)}, Envoy {fmt(envoy, 0)} "
                f"| {connect / rest if rest else float('nan'):.2f}× of Ferry's REST, "
                f"{connect / envoy if envoy else float('nan'):.2f}× of Envoy's | (reported) | – |")

    idle_case = next((r["case"] for r in rows if r["case"].endswith("idle connections")), "")
    lines = [
        "| goal | Ferry | Envoy | Ferry/Envoy | target | met |",
        "|---|---|---|---|---|---|",
        goal("gRPC-Web unary, requests per gateway CPU-second", "gRPC-Web unary", "per_cpu",
             "≥ 2.5×", lambda f, e, r: r >= 2.5),
        goal("REST GET (JSON transcoding), requests per gateway CPU-second", "REST GET", "per_cpu",
             "≥ 2.5×", lambda f, e, r: r >= 2.5),
        compared("Connect unary JSON (Ferry) beside REST GET (Ferry, then Envoy), requests per gateway CPU-second "
                 "(issue 16)", CONNECT_CASE),
        goal(f"p99 at equal offered load ({rate_case.split(' at ')[-1]})", rate_case, "p99",
             "≤ Envoy", lambda f, e, r: f <= e, 2, " ms"),
        goal("idle RSS", "idle RSS", "rss_kib", "≤ 8,192 KiB", lambda f, e, r: f <= 8192, 0, " KiB"),
        goal("RSS per idle keep-alive connection", idle_case, "per_connection_kib", "≤ 1 KiB (issue 19)",
             lambda f, e, r: f <= 1, 2, " KiB"),
        goal("server streaming, messages per gateway CPU-second", "gRPC-Web server streaming",
             "messages_per_cpu", "(no goal)", lambda f, e, r: True),
        goal("native gRPC unary over h2c, requests per gateway CPU-second (issue 15)", NATIVE_GRPC_CASE, "per_cpu",
             "≥ 2×", lambda f, e, r: r >= 2),
        goal("gRPC-Web unary over h2c, requests per gateway CPU-second (issue 15)", GRPC_WEB_H2_CASE, "per_cpu",
             "(reported)", lambda f, e, r: True),
    ]
    plain = median(pick("gRPC-Web unary", "Ferry"), "per_cpu")
    ratios = paired_ratios(rows)
    if ratios:
        ratio = statistics.median(ratios)
        lines.append(f"| gRPC-Web unary (Ferry) against {NGHTTPX_CASE}, requests per gateway CPU-second "
                     f"in {len(ratios)} pairs of neighbouring windows | {fmt(median(pick(PAIRED_CASE, 'Ferry'), 'per_cpu'), 0)} "
                     f"| nghttpx: {fmt(median(pick(NGHTTPX_CASE, 'nghttpx'), 'per_cpu'), 0)} "
                     f"| {ratio:.2f}× of nghttpx (the median of the pairs' ratios, {min(ratios):.2f}–{max(ratios):.2f}) "
                     f"| ≥ 1.2× (issue 19) | {'yes' if ratio >= 1.2 else '**no**'} |")
        idle_nghttpx = median(pick("idle RSS", "nghttpx"), "rss_kib")
        lines.append(f"| idle RSS beside nghttpx | {fmt(median(pick('idle RSS', 'Ferry'), 'rss_kib'), 0)} KiB "
                     f"| nghttpx: {fmt(idle_nghttpx, 0)} KiB | – | (reported) | – |")
    split = [(gateway, pick(case, gateway)) for case, gateway in ((PAIRED_CASE, "Ferry"), (NGHTTPX_CASE, "nghttpx"))]
    if all(picked and "gateway_user_cpu" in picked[0] for _, picked in split):
        def per_call(picked, seconds):
            return statistics.median(seconds(r) / r["requests"] * 1e6 for r in picked)
        shown = "; ".join(f"{gateway}: user {per_call(picked, lambda r: r['gateway_user_cpu']):.2f} µs, "
                          f"kernel {per_call(picked, lambda r: r['gateway_cpu'] - r['gateway_user_cpu']):.2f} µs"
                          for gateway, picked in split)
        lines.append(f"| gateway CPU per call in user and kernel time, gRPC-Web unary (Ferry) and {NGHTTPX_CASE} "
                     f"| {shown} | – | – | (issue 19: tracked) | – |")
    for case, gateway in (("gRPC-Web unary", "Ferry"), (NGHTTPX_CASE, "nghttpx")):
        calls = [r for r in rows if r["case"].startswith(f"system calls per call, {case}") and r["gateway"] == gateway]
        if calls:
            lines.append(f"| system calls per call, {case} (strace -c, h2load --h1 -c10) | {gateway}: "
                         f"{fmt(median(calls, 'syscalls_per_call'), 2)} | – | – | (issue 19: tracked) | – |")
    two = pick(WORKERS_CASE, "Ferry")
    if two:
        lines.append(f"| {WORKERS_CASE}, requests per gateway CPU-second; CPU of the less busy worker / the busier "
                     f"| {fmt(median(two, 'per_cpu'), 0)} | one worker: {fmt(plain, 0)} "
                     f"| split {median(two, 'worker_split'):.2f} | (issue 19: reported) | – |")
    off = median(pick(METRICS_OFF_CASE, "Ferry"), "per_cpu")
    if off == off:  # not NaN: the case ran
        lines.append(f"| Ferry's metrics (on by default): gRPC-Web unary requests per CPU-second, on "
                     f"| {fmt(plain, 0)} | off: {fmt(off, 0)} | {plain / off:.2f}× of off | (issue 6: not measurably slower) | – |")
    logged = median(pick(ACCESS_LOG_CASE, "Ferry"), "per_cpu")
    if logged == logged:
        lines.append(f"| Ferry with metrics, access log and tracing on, gRPC-Web unary requests per CPU-second "
                     f"| {fmt(logged, 0)} | metrics only: {fmt(plain, 0)} | {logged / plain:.2f}× of metrics only | (issue 6: show the cost) | – |")
    cached = median(pick(JWT_CACHED_CASE, "Ferry"), "per_cpu")
    if cached == cached:
        off = median(pick(JWT_OFF_CASE, "Ferry"), "per_cpu")
        lines.append(f"| JWT auth on the route, one token repeated (cached), gRPC-Web unary requests per CPU-second "
                     f"| {fmt(cached, 0)} | auth off, same token sent: {fmt(off, 0)} (no token: {fmt(plain, 0)}) "
                     f"| {cached / off:.2f}× of auth off | ≥ 0.95× (issue 17) | {'yes' if cached >= 0.95 * off else '**no**'} |")
        for alg, case in JWT_FRESH_CASES.items():
            fresh = median(pick(case, "Ferry"), "per_cpu")
            extra = (1 / fresh - 1 / cached) * 1e6 if fresh == fresh and fresh else float("nan")
            lines.append(f"| JWT auth, a new {alg} token per call (a signature check each), requests per CPU-second "
                         f"| {fmt(fresh, 0)} | cached: {fmt(cached, 0)} | {fmt(extra, 1)} µs of CPU per verification "
                         f"| (issue 17: reported) | – |")
    if instructions:
        per_call, calls, allocations = instructions["gRPC-Web unary"]
        lines.append(f"| Ferry instructions per gRPC-Web unary call (callgrind, {calls:,} calls) "
                     f"| {per_call:,.0f} | – | – | (tracked) | – |")
        lines.append(f"| Ferry allocations (malloc and kin) per gRPC-Web unary call (callgrind, {calls:,} calls) "
                     f"| {allocations:.1f} | – | – | (issue 19: tracked) | – |")
    if instructions and NGHTTPX_CASE in instructions:
        ferry, nghttpx = instructions["gRPC-Web unary"], instructions[NGHTTPX_CASE]
        lines.append(f"| Instructions per unary call under the same load (callgrind), Ferry gRPC-Web / nghttpx native "
                     f"gRPC over HTTP/1.1 | {ferry[0]:,.0f} ({ferry[2]:.1f} allocations) "
                     f"| {nghttpx[0]:,.0f} ({nghttpx[2]:.1f} allocations) | {nghttpx[0] / ferry[0]:.2f}× "
                     f"| (issue 19: nghttpx's ÷ Ferry's; free of the machine's noise, but not the per-CPU ratio: the two "
                     f"differ in kernel time and in the cost of an instruction) | – |")
    if instructions and JWT_CACHED_CASE in instructions:
        on, off = instructions[JWT_CACHED_CASE][0], instructions[JWT_OFF_CASE][0]
        lines.append(f"| Ferry instructions per call with a cached token, JWT auth on / off (the same token sent) "
                     f"| {on:,.0f} | off: {off:,.0f} | {on / off:.3f}× | (issue 17: within 5 %) "
                     f"| {'yes' if on <= 1.05 * off else '**no**'} |")
    return "\n".join(lines)


def table(rows):
    lines = ["| case | run | gateway | req/s | p50 ms | p99 ms | failed | gateway CPU s | req per gateway CPU-s "
             "| backend CPU s | RSS KiB | other load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        other = r.get("other_load")
        load = "–" if other is None else (f"**{other:.0%} ⚠**" if other > 0.10 else f"{other:.0%}")
        extra = ""
        if "per_connection_kib" in r:
            extra = f" ({r['per_connection_kib']:.2f} KiB per connection, {r['alive']} open)"
        if "pair" in r:
            extra = f" (pair {r['pair']})"
        if "messages_per_s" in r:
            extra = f" ({r['messages_per_s']:,.0f} msg/s, {r['messages_per_cpu']:,.0f} msg per CPU-s)"
        lines.append(
            f"| {r['case']}{extra} | {r['run']} | {r['gateway']} | {fmt(r.get('rps', float('nan')))} "
            f"| {fmt(r.get('p50', float('nan')), 2)} | {fmt(r.get('p99', float('nan')), 2)} "
            f"| {r.get('failed', '–')} | {fmt(r.get('gateway_cpu', float('nan')), 2)} "
            f"| {fmt(r.get('per_cpu') or float('nan'))} | {fmt(r.get('backend_cpu', float('nan')), 2)} "
            f"| {fmt(r.get('rss_kib', float('nan')))} | {load} |")
    return "\n".join(lines)


def versions(opts):
    def first_line(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.machine())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    rev = first_line(["git", "-C", str(ROOT), "describe", "--always", "--dirty"])
    return [
        f"- Machine: {cpu}, {CORES} cores, {mem:,} MiB, Linux {platform.release()}",
        f"- Ferry {first_line([str(Path(opts.bin) / 'ferry'), '--version'])} (commit {rev}), "
        f"{first_line(['swift', '--version'])}",
        f"- Envoy: {first_line([opts.envoy, '--version']).split('version:')[-1].strip()}",
        f"- Load: {first_line(['wrk', '-v'])}; {first_line(['h2load', '--version'])}",
    ]


def write_results(opts, rows, rate_case, instructions, started):
    path = ROOT / "bench" / "RESULTS.md"
    history = ""
    if path.exists() and HISTORY_MARKER in path.read_text():
        history = path.read_text().split(HISTORY_MARKER, 1)[1]
    c, d = opts.connections, opts.duration
    text = f"""# bench/compare results

Written by `bench/compare` on {started:%Y-%m-%d %H:%M} UTC ({opts.runs} runs per case, Ferry and Envoy
interleaved, one worker each, same node-service backend, loopback).

{chr(10).join(versions(opts))}

## Goals (issue 3), medians over the runs

{summary(rows, rate_case, instructions)}

## Every run

{table(rows)}

"Other load" is the machine's busy CPU time outside the gateway, the backend and the load tool
over the window, as a share of all cores (`/proc/stat`); rows above 10 % are marked ⚠.
Requests count as succeeded only when the response bytes carry `grpc-status:0` (wrk's Lua
`response()`), or a 2xx status for h2load, whose requests are checked by a byte-level call first.

## Commands

- `bench/compare` (`--runs {opts.runs} --duration {d} --connections {c}`); the gateways run as
  `ferry run --config ferry.yaml --log-level warning` (1 worker) and
  `envoy -c envoy.yaml --concurrency 1 --disable-hot-restart -l error` (configs: `bench/compare.py`).
- gRPC-Web unary: `wrk -t1 -c{c} -d{d}s --latency -s unary.lua URL` after `-d3s` of warm-up.
- Ferry against nghttpx (issue 19): {opts.pairs} pairs per run of `wrk -t1 -c{c} -d{opts.pair_seconds}s` through
  Ferry (gRPC-Web, `unary.lua`) and through nghttpx (native gRPC framing, `grpc-h1.lua`), each after
  `-d1s` of warm-up, back to back, the order swapped every pair; the goal is judged on the median of
  the pairs' ratios.
- REST GET: the same with `rest.lua`, `GET {REST_PATH}` (GetNode through `google.api.http`), a
  success being a 200 whose JSON carries `"name":"node-n1"`; Ferry's `rest` section and Envoy's
  `grpc_json_transcoder` read the same descriptor set (`protoc --include_imports` of node.proto).
- Connect unary JSON (Ferry only): `wrk` as above with `connect.lua`, `POST {UNARY_PATH}` with
  `content-type: application/json`, `connect-protocol-version: 1` and `{CONNECT_BODY.decode()}`, a
  success being a 200 whose JSON carries `"name":"node-n1"`. Envoy has no Connect-to-gRPC
  transcoding for JSON (its `connect_grpc_bridge` keeps the codec), so the row stands beside REST GET.
- JWT auth (issue 17): the unary load with `authorization: Bearer <ES256 token>` on a second Ferry
  whose GetNode route has no auth (baseline), then `auth: {{ jwt: bench }}` (a JWK set file with an
  ES256 and an RS256 key) with that one token (cached), then with {FRESH_TOKENS:,} distinct ES256 or
  RS256 tokens in turn (`request()` in Lua; more than a worker's 10,000 cached tokens, so each call
  verifies a signature). CPU per verification = 1/(fresh req per CPU-s) − 1/(cached req per CPU-s).
- Equal load: `h2load --h1 -c{c} --rps=R/{c} -D{d} --warm-up-time=2 -d getnode.bin
  -H'content-type: application/grpc-web+proto' -H'x-grpc-web: 1' URL` with R = 70 % of the slower
  gateway's unary req/s; p50/p99 from `--log-file`.
- Server streaming: `wrk -t1 -c{opts.stream_connections} -d{d}s -s stream.lua URL`
  (WatchNodes, {STREAM_MESSAGES:,} messages per call).
- Idle: RSS 1 s after start and one call; then {opts.idle_connections:,} keep-alive connections that each
  made one call, RSS 2 s later.
- Native gRPC and gRPC-Web over h2c (issue 15): `h2load -c10 -m10 -D{d} --warm-up-time=2
  -d getnode.grpc -H'content-type: application/grpc' -H'te: trailers' URL` (gRPC-Web: its headers
  and framing) through each gateway, after one call checked with `nghttp` for `grpc-status: 0`.
- Ceiling: `h2load -c{c} -m1 -D{d} -d getnode.grpc -H'content-type: application/grpc' URL`
  straight to node-service.
- Instructions: `valgrind --tool=callgrind ferry run …` (a copy without debug info),
  `h2load --h1 -n1000 -c10` warm-up,
  `callgrind_control --zero`, `h2load --h1 -n{opts.callgrind_calls} -c10`, `callgrind_control --dump`;
  nghttpx the same way (`valgrind --tool=callgrind nghttpx … --single-process`), with native gRPC
  framing over HTTP/1.1.

{HISTORY_MARKER}{history or chr(10)}"""
    path.write_text(text)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="directory with release ferry and node-service")
    parser.add_argument("--envoy", required=True, help="the Envoy binary")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--stream-connections", type=int, default=10)
    parser.add_argument("--idle-connections", type=int, default=2000)
    parser.add_argument("--callgrind-calls", type=int, default=5000, help="0 skips callgrind")
    parser.add_argument("--cases", default="idle,connections,unary,workers,syscalls,metrics-off,access-log,jwt,rest,connect,"
                                           "equal-load,stream,grpc,grpc-web-h2,direct",
                        help="comma-separated subset of: idle,connections,unary,workers,syscalls,metrics-off,access-log,jwt,"
                             "rest,connect,equal-load,stream,grpc,grpc-web-h2,direct")
    parser.add_argument("--nghttpx", default="nghttpx", help="the nghttpx binary; empty: no nghttpx")
    parser.add_argument("--nghttpx-port", type=int, default=18082)
    parser.add_argument("--pairs", type=int, default=6, help="Ferry-nghttpx pairs of windows per run")
    parser.add_argument("--pair-seconds", type=int, default=5, help="the length of each window of a pair")
    parser.add_argument("--syscall-calls", type=int, default=20000, help="calls counted under strace")
    parser.add_argument("--ferry-port", type=int, default=18080)
    parser.add_argument("--envoy-port", type=int, default=18081)
    parser.add_argument("--backend-port", type=int, default=15051)
    opts = parser.parse_args()
    cases = set(opts.cases.split(","))
    started = datetime.datetime.now(datetime.timezone.utc)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 3 * opts.idle_connections)), hard))

    with tempfile.TemporaryDirectory(prefix="ferry-compare-") as tmp:
        work = Path(tmp)
        bench = Bench(opts, work)
        rate = None
        rate_case = ""
        for run in range(1, opts.runs + 1):
            print(f"run {run} of {opts.runs}", flush=True)
            try:
                gateways = bench.start(run)
                if "idle" in cases:
                    for gateway in gateways:
                        bench.idle(run, gateway)
                    if bench.nghttpx:
                        bench.idle(run, bench.nghttpx)
                if "connections" in cases:
                    for gateway in gateways:
                        bench.idle_connections(run, gateway)
                if "unary" in cases or "equal-load" in cases:
                    for gateway in gateways:
                        bench.unary(run, gateway)
                    if bench.nghttpx:
                        bench.nghttpx_pairs(run)
                if "workers" in cases:
                    bench.workers(run)
                if "syscalls" in cases:
                    bench.syscalls(run)
                if "metrics-off" in cases:
                    bench.metrics_off(run)
                if "access-log" in cases:
                    bench.access_log(run)
                if "jwt" in cases:
                    bench.jwt_auth(run)
                if "rest" in cases:
                    for gateway in gateways:
                        bench.rest(run, gateway)
                if "connect" in cases:
                    bench.connect(run, gateways[0])
                if "equal-load" in cases:
                    if rate is None:
                        slower = min(r["rps"] for r in bench.rows if r["case"] == "gRPC-Web unary")
                        rate = int(slower * 0.7) // 1000 * 1000 or 1000
                    for gateway in gateways:
                        bench.equal_load(run, gateway, rate)
                    rate_case = bench.rows[-1]["case"]
                if "stream" in cases:
                    for gateway in gateways:
                        bench.stream(run, gateway)
                if "grpc" in cases:
                    for gateway in gateways:
                        bench.native_grpc(run, gateway)
                if "grpc-web-h2" in cases:
                    for gateway in gateways:
                        bench.grpc_web_h2(run, gateway)
                if "direct" in cases:
                    bench.direct(run)
            finally:
                bench.stop()
        instructions = None
        if opts.callgrind_calls:
            print("callgrind: instructions per call", flush=True)
            instructions = bench.instructions()
        write_results(opts, bench.rows, rate_case, instructions, started)
        print(summary(bench.rows, rate_case, instructions))


if __name__ == "__main__":
    sys.exit(main())
