"""Where a gateway's time goes, per call: callgrind's instructions and allocations, strace's
system calls, and how a multi-worker gateway's CPU time splits over its threads (issue 19)."""
import re
import signal
import subprocess
import time
from pathlib import Path

# What allocates on the C heap; Swift's allocations (swift_slowAlloc) end in malloc.
ALLOCATORS = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}


def callgrind_counts(dump):
    """(instructions, allocations) in a callgrind dump: the total event count, and the calls
    to the C allocators (`cfn=` lines name the callee of the `calls=` line after them; names are
    compressed to `(id)` after their first use)."""
    names, callee, instructions, allocations = {}, None, 0, 0
    for line in Path(dump).read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            instructions = int(line.split()[1])
        elif line.startswith("calls="):
            if callee in ALLOCATORS:
                allocations += int(line[6:].split()[0])
            callee = None
        elif line.startswith(("fn=", "cfn=")):
            key, rest = line.split("=", 1)
            match = re.match(r"\((\d+)\)(?: (.*))?$", rest)
            if match and match.group(2):
                names[match.group(1)] = match.group(2)
            name = names.get(match.group(1)) if match else rest
            if key == "cfn":
                callee = name
    return instructions, allocations


def syscalls(pid, load):
    """System calls of process `pid` (every thread) while `load()` runs, by `strace -c -f`:
    (total, {name: count})."""
    out = Path(f"/tmp/ferry-bench-strace-{pid}.txt")
    tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # attached to every thread
        load()
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    text = out.read_text()
    out.unlink()
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3])
    return sum(counts.values()), counts


def thread_cpu_seconds(pid, hz):
    """utime+stime of each thread of `pid`, by thread id."""
    seconds = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[task.name] = (int(fields[11]) + int(fields[12])) / hz
    return seconds
