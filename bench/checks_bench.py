"""Benchmarks of ``redisops check``: the lab run, the scale run over local servers, and the
check's impact on a busy server's latency.

Local servers listen on 127.0.0.1 only (ports 17000 and up), run with no persistence and
are stopped at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE_PORT = 17000


@contextlib.contextmanager
def local_servers(count: int, keys: int):
    """``count`` redis-server processes on 127.0.0.1, each with ``keys`` keys."""
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(
                f"bench: {tool} is needed for the check benchmarks (apt-get install redis-server redis-tools)"
            )
    workdir = Path(tempfile.mkdtemp(prefix="redisops-bench-redis-"))
    procs = []
    try:
        for i in range(count):
            port = BASE_PORT + i
            procs.append(
                subprocess.Popen(
                    [
                        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(workdir), "--logfile", "",
                        "--enable-debug-command", "local", "--maxmemory", "256mb",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        for i in range(count):
            port = str(BASE_PORT + i)
            for _ in range(100):
                if (
                    subprocess.run(
                        ["redis-cli", "-p", port, "ping"], capture_output=True, text=True
                    ).stdout.strip()
                    == "PONG"
                ):
                    break
                time.sleep(0.05)
            subprocess.run(
                ["redis-cli", "-p", port, "debug", "populate", str(keys), "app:item"],
                capture_output=True,
                check=True,
            )
        yield [BASE_PORT + i for i in range(count)]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def _targets(ports: list[int]):
    sys.path.insert(0, str(REPO))
    from redisops.inventory import Endpoint, Targets

    return Targets(
        endpoints=[
            Endpoint(
                kind="redis", target=f"local:{p}", host="local", address="127.0.0.1", port=p, instance="main"
            )
            for p in ports
        ]
    )


def one_run(ports: list[int]) -> float:
    from redisops.compliance.engine import run_checks
    from redisops.compliance.gather import gather
    from redisops.compliance.settings import Thresholds

    started = time.monotonic()
    report = run_checks(gather(_targets(ports), Thresholds(), hosts=False))
    elapsed = time.monotonic() - started
    if report.errors():
        sys.exit(f"bench: a local server could not be checked: {report.errors()[0].message}")
    return elapsed


def bench_lab_run(runs: int, redisops: str) -> list[tuple]:
    """Needs a deployed lab: the whole CLI, inventory reading and host facts included."""
    times = []
    for _ in range(runs):
        started = time.monotonic()
        proc = subprocess.run(
            [redisops, "check", "--format", "json"], cwd=REPO, capture_output=True, text=True
        )
        times.append(time.monotonic() - started)
        if proc.returncode == 2:
            sys.exit(f"bench: the lab could not be checked:\n{proc.stderr[-2000:]}")
    return [("check run on the lab (CLI, 3 hosts, 9 targets)", times, "s", "< 5 s")]


def bench_scale(runs: int) -> list[tuple]:
    rows = []
    with local_servers(100, 2000) as ports:
        for n in (1, 10, 100):
            rows.append(
                (
                    f"check run, {n} local servers (2000 keys each)",
                    [one_run(ports[:n]) for _ in range(runs)],
                    "s",
                    "< 15 s" if n == 100 else "-",
                )
            )
    return rows


def _p99(port: int, requests: int) -> float:
    cmd = ["redis-benchmark", "-p", str(port), "-t", "get", "-n", str(requests), "-c", "20", "-r", "100000"]
    out = subprocess.run([*cmd, "--csv"], capture_output=True, text=True, check=True).stdout
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["test"].startswith("GET"))
    return float(row["p99_latency_ms"])


def _p99_beside_checks(port: int, pause: float | None) -> float:
    """p99 while check runs repeat with ``pause`` seconds between them (None: no checks)."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            one_run([port])
            stop.wait(pause)

    thread = threading.Thread(target=loop) if pause is not None else None
    if thread:
        thread.start()
    try:
        return _p99(port, 200_000)
    finally:
        stop.set()
        if thread:
            thread.join()


def bench_impact(rounds: int) -> list[tuple]:
    """p99 of a redis-benchmark against a server with 100k keys: without checks, with a check
    run every second (far more often than any schedule), and with runs back to back (on this
    2-core machine that mostly measures three processes sharing two cores). Interleaved."""
    modes = {"no check running": None, "a check run every second": 1.0, "check runs back to back": 0.0}
    samples: dict[str, list[float]] = {m: [] for m in modes}
    with local_servers(1, 100_000) as ports:
        _p99(ports[0], 50_000)  # warm up
        for _ in range(max(rounds, 5)):
            for mode, pause in modes.items():
                samples[mode].append(_p99_beside_checks(ports[0], pause))
    base = statistics.median(samples["no check running"])
    rows = [(f"GET p99, busy server, {mode}", values, "ms", "-") for mode, values in samples.items()]
    rows.append(
        (
            "p99 impact, a check run every second",
            [statistics.median(samples["a check run every second"]) - base],
            "ms",
            "< 1 ms",
        )
    )
    rows.append(
        (
            "p99 impact, check runs back to back",
            [statistics.median(samples["check runs back to back"]) - base],
            "ms",
            "-",
        )
    )
    return rows
