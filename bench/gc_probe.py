"""What CPython's collector does inside a server under test: every full (generation 2) collection
timed, and on demand a census of the objects it walks, from a module the server imports.

``SOURCE`` goes in the server's settings module (``bench claims`` writes it beside its settings).
Every full collection appends a line to ``BENCH_GC_OUT``: its pause in wall time and in the thread's
CPU time (the CPU figure is the one a busy machine does not inflate), what it freed, and the
process's RSS. ``SIGUSR1`` appends a census: the objects the collector tracks outside the frozen
start-up heap (``gc.freeze()`` in ``mission_control/asgi.py``), by type, after a collection.
"""

import json
import os
import signal
import statistics
import time
from pathlib import Path

SOURCE = """
import collections, gc, json, os, signal, time

_OUT = os.environ["BENCH_GC_OUT"]
_began = [0.0, 0.0]


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _write(record):
    with open(_OUT, "a") as f:
        f.write(json.dumps(record) + "\\n")


def _timed(phase, info):
    if info["generation"] != 2:
        return
    if phase == "start":
        _began[:] = time.perf_counter(), time.thread_time()
        return
    _write({
        "at": time.time(),
        "pause_ms": (time.perf_counter() - _began[0]) * 1000,
        "cpu_ms": (time.thread_time() - _began[1]) * 1000,
        "collected": info["collected"],
        "rss_kib": _rss_kib(),
    })


def _census(signum, frame):
    gc.collect()
    objects = gc.get_objects()
    by_type = collections.Counter(type(o).__qualname__ for o in objects)
    _write({
        "at": time.time(),
        "census": len(objects),
        "rss_kib": _rss_kib(),
        "top": by_type.most_common(60),
        "collections": [generation["collections"] for generation in gc.get_stats()],
        "threshold": gc.get_threshold(),
    })


gc.callbacks.append(_timed)
signal.signal(signal.SIGUSR1, _census)
"""


def census(pid: int, out: Path, timeout_s: float = 30) -> dict:
    """Ask the server for a census and return it."""
    seen = len(read(out))
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        records = read(out)[seen:]
        for record in records:
            if "census" in record:
                return record
        time.sleep(0.2)
    raise TimeoutError("the server wrote no census")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_s(pid: int) -> float:
    """CPU seconds the process has used (user and system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def full_collections(out: Path, since: float, until: float) -> list[dict]:
    return [r for r in read(out) if "pause_ms" in r and since <= r["at"] <= until]


def summary(collections: list[dict], seconds: float) -> str:
    if not collections:
        return f"no full collection in {seconds:.0f} s"
    pauses = [r["pause_ms"] for r in collections]
    cpu = [r["cpu_ms"] for r in collections]
    return (
        f"{len(collections)} full collections in {seconds:.0f} s: pause median {statistics.median(pauses):.0f} ms,"
        f" max {max(pauses):.0f} ms (CPU median {statistics.median(cpu):.0f} ms, max {max(cpu):.0f} ms)"
    )
