"""Soak: Ferry under steady mixed load for N minutes (issue 14), reporting RSS and open file
descriptors every 15 s. Run through bench/soak, which builds the release binaries.

Load, all on loopback, against one Ferry worker in front of the bundled node-service:
- gRPC-Web unary GetNode at a fixed rate over keep-alive connections (every call must succeed);
- a REST server stream (`GET /v1/nodes:watch`, NDJSON) every second, cut by the client after
  its first messages (the first message must arrive);
- a client that disconnects every half second: mid-head, mid-body, or before reading its reply.

Pass: RSS at the end within 2 % of RSS after the warm-up (the first tenth of the run, at least a
minute), file descriptors back to the idle baseline once the load stops, no failed call.
"""
import argparse
import http.client
import os
import pathlib
import socket
import struct
import subprocess
import sys
import threading
import time

from compare import ferry_config

ROOT = pathlib.Path(__file__).resolve().parents[1]
GET_NODE = "/node.v1.NodeService/GetNode"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def grpc_web_body(node_id):
    message = b"\x0a" + bytes([len(node_id)]) + node_id.encode()
    return struct.pack(">BI", 0, len(message)) + message


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}
        self.failures = []

    def add(self, name, count=1):
        with self.lock:
            self.values[name] = self.values.get(name, 0) + count

    def fail(self, what):
        with self.lock:
            self.failures.append(what)


def unary_client(port, rate, stop, counters):
    """gRPC-Web unary calls at `rate` per second on one keep-alive connection."""
    connection = None
    interval = 1.0 / rate
    next_at = time.monotonic()
    body = grpc_web_body("soak")
    while not stop.is_set():
        next_at += interval
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", GET_NODE, body=body,
                               headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"})
            response = connection.getresponse()
            data = response.read()
            if response.status != 200 or b"grpc-status:0" not in data:
                counters.fail(f"unary: HTTP {response.status} {data[-80:]!r}")
            counters.add("unary")
        except (OSError, http.client.HTTPException) as error:
            counters.fail(f"unary: {error!r}")
            connection = None
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def stream_cutter(port, stop, counters):
    """A REST NDJSON stream every second, closed by the client after its first messages."""
    while not stop.wait(1.0):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /v1/nodes:watch?count=100000&intervalMs=5&payloadSize=512 HTTP/1.1\r\n"
                             b"Host: soak\r\nAccept: application/x-ndjson\r\n\r\n")
                received = b""
                while received.count(b"\n{") < 3:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                if b'"sequence"' not in received:
                    counters.fail(f"stream: no message before the cut: {received[:120]!r}")
                counters.add("streams cut")
        except OSError as error:
            counters.fail(f"stream: {error!r}")


def disconnector(port, stop, counters):
    """Clients that go away: mid-head, mid-body, or with the reply unread."""
    kinds = ["mid-head", "mid-body", "unread reply"]
    index = 0
    while not stop.wait(0.5):
        kind = kinds[index % len(kinds)]
        index += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                body = grpc_web_body("gone")
                head = (f"POST {GET_NODE} HTTP/1.1\r\nHost: soak\r\nContent-Type: application/grpc-web+proto\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                if kind == "mid-head":
                    sock.sendall(head[:30])
                elif kind == "mid-body":
                    sock.sendall(head + body[:4])
                else:
                    sock.sendall(head + body)
                time.sleep(0.05)
            counters.add(f"disconnected {kind}")
        except OSError as error:
            counters.fail(f"disconnector: {error!r}")


def commit():
    result = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def process_sample(pid):
    rss = 0
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory of the release ferry and node-service")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=400, help="unary calls per second in all")
    parser.add_argument("--sample-seconds", type=float, default=15)
    parser.add_argument("--report", default=str(ROOT / "bench" / "SOAK.md"))
    args = parser.parse_args()
    # bench/soak builds the binaries just before: the commit now is theirs.
    measured = commit()

    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    descriptors = out / "node.pb"
    subprocess.run(["protoc", f"-I{ROOT / 'Protos'}", "--include_imports", f"--descriptor_set_out={descriptors}",
                    "node/v1/node.proto"], check=True)
    backend_port, port = free_port(), free_port()
    config = out / "soak.yaml"
    # The shipped configuration, as bench/compare runs it: metrics on, the gRPC-Web CORS preset.
    config.write_text(ferry_config(port, backend_port, descriptors))
    bin_dir = pathlib.Path(args.bin)
    backend = subprocess.Popen([bin_dir / "node-service", "--address", f"127.0.0.1:{backend_port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(backend_port)
    with open(out / "soak-ferry.log", "wb") as log:
        ferry = subprocess.Popen([bin_dir / "ferry", "run", "--config", str(config), "--log-level", "warning"],
                                 stdout=subprocess.DEVNULL, stderr=log)
    wait_for_port(port)
    try:
        # One call first, so that the idle baseline has the pooled upstream connection open.
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        warm.request("POST", GET_NODE, body=grpc_web_body("warm"),
                     headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"})
        warm.getresponse().read()
        warm.close()
        time.sleep(1)
        idle_rss, idle_fds = process_sample(ferry.pid)
        counters = Counters()
        stop = threading.Event()
        clients = 4
        threads = [threading.Thread(target=unary_client, args=(port, args.rate / clients, stop, counters)) for _ in range(clients)]
        threads += [threading.Thread(target=stream_cutter, args=(port, stop, counters)),
                    threading.Thread(target=disconnector, args=(port, stop, counters))]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        duration = args.minutes * 60
        warm_up = max(60.0, duration / 10)
        samples = []
        print(f"soak: {args.minutes:g} min, {args.rate} unary calls/s, idle RSS {idle_rss} KiB, {idle_fds} fds", flush=True)
        print(f"{'t (s)':>7} {'RSS KiB':>9} {'fds':>5} {'unary calls':>12} {'failures':>9}", flush=True)
        while (elapsed := time.monotonic() - started) < duration:
            time.sleep(min(args.sample_seconds, max(0.1, duration - elapsed)))
            if ferry.poll() is not None:
                raise RuntimeError(f"ferry exited with {ferry.returncode}")
            rss, fds = process_sample(ferry.pid)
            samples.append((time.monotonic() - started, rss, fds))
            print(f"{samples[-1][0]:7.0f} {rss:9d} {fds:5d} {counters.values.get('unary', 0):12d} {len(counters.failures):9d}", flush=True)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        time.sleep(3)
        end_rss, end_fds = process_sample(ferry.pid)
    finally:
        ferry.terminate()
        backend.terminate()
        ferry.wait(timeout=15)
        backend.wait(timeout=15)

    baseline = next((rss for t, rss, _ in samples if t >= warm_up), samples[0][1])
    final = samples[-1][1]
    growth = (final - baseline) / baseline * 100
    peak_fds = max(fds for _, _, fds in samples)
    passed = growth <= 2 and end_fds <= idle_fds and not counters.failures
    lines = [
        f"# Soak ({args.minutes:g} minutes)",
        "",
        f"Written by `bench/soak --minutes {args.minutes:g}` at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
        f"(binaries of {measured}): one Ferry worker "
        f"in front of node-service, {args.rate} gRPC-Web unary calls/s on 4 keep-alive connections, a REST NDJSON stream "
        "cut by its client every second, a client disconnecting mid-head, mid-body or before its reply every half second.",
        "",
        "| | value |",
        "|---|---|",
        f"| unary calls | {counters.values.get('unary', 0)} |",
        f"| streams cut mid-way | {counters.values.get('streams cut', 0)} |",
        f"| clients that disconnected | {sum(v for k, v in counters.values.items() if k.startswith('disconnected'))} |",
        f"| failed calls | {len(counters.failures)} |",
        f"| RSS idle before the load (after one call) | {idle_rss} KiB |",
        f"| RSS after the warm-up ({warm_up:.0f} s) | {baseline} KiB |",
        f"| RSS at the end | {final} KiB ({growth:+.2f} %) |",
        f"| file descriptors idle / peak / after the load | {idle_fds} / {peak_fds} / {end_fds} |",
        f"| verdict (RSS growth ≤ 2 %, fds back to baseline, no failure) | {'pass' if passed else 'FAIL'} |",
        "",
        "Samples (every %g s): " % args.sample_seconds + ", ".join(f"{t:.0f}s {rss} KiB/{fds} fds" for t, rss, fds in samples),
        "",
    ]
    if counters.failures:
        lines += ["First failures:", ""] + [f"- `{failure}`" for failure in counters.failures[:10]] + [""]
    pathlib.Path(args.report).write_text("\n".join(lines))
    print("\n".join(lines[4:15]))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
