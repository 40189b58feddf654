"""``make bench --only servers``: Redis 7.0, Redis 8.0 and Valkey 8.1 with the kit's config.

One lab per machine, so the three servers get a lab each, in turn, in one run: bookworm
with Redis 7.0, trixie with Redis 8.0, trixie with Valkey 8.1. Each is deployed with
site.yml (3 servers, 3 sentinels, TLS only, ACL), then measured the same way:

- throughput: redis-benchmark (SET/GET, 50 clients, pipeline 16) against a throwaway copy of
  the deployed instance's config on the primary (bench/server_copy.sh), plain TCP and TLS.
  The client is this machine's redis-benchmark for every server, so only the server changes.
  Every round also measures a reference server on 127.0.0.1 (this machine's redis-server,
  no persistence): the ratio to it, taken in the same rounds, shows how much of a difference
  between labs is the machine drifting rather than the server.
- drill: kill-primary, ``runs`` times in a row (the drill CLI, as in the drill section).
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVERS = (("bookworm", "redis"), ("trixie", "redis"), ("trixie", "valkey"))
REFERENCE_PORT = 17990
REQUESTS = 500_000


def _run(cmd: list[str], input: str | None = None, timeout: float = 1800) -> str:
    proc = subprocess.run(
        cmd, cwd=REPO, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:4])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


@contextlib.contextmanager
def reference_server():
    """This machine's redis-server on 127.0.0.1, no persistence: the same in every round."""
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is needed (apt-get install redis-server redis-tools)")
    workdir = tempfile.mkdtemp(prefix="redisops-bench-ref-")
    proc = subprocess.Popen(
        [
            "redis-server", "--port", str(REFERENCE_PORT), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir, "--logfile", "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            ping = subprocess.run(
                ["redis-cli", "-p", str(REFERENCE_PORT), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        else:
            sys.exit("bench: the reference redis-server on 127.0.0.1 did not start")
        yield REFERENCE_PORT
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def redis_benchmark(args: list[str]) -> dict[str, float]:
    """requests per second by test (SET, GET), from redis-benchmark's CSV."""
    out = _run(
        ["redis-benchmark", *args, "-c", "50", "-P", "16", "-t", "set,get", "-n", str(REQUESTS), "--csv"]
    )
    rps = {}
    for line in out.splitlines()[1:]:
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) > 1:
            rps[cells[0]] = float(cells[1])
    if set(rps) != {"SET", "GET"}:
        sys.exit(f"bench: redis-benchmark printed no SET/GET rates:\n{out[-2000:]}")
    return rps


def throughput(redisops: str, flavor: str, rounds: int, reference: int) -> tuple[str, dict]:
    """(server version, samples by (transport, test)) for the lab's primary, redis-1."""
    sys.path.insert(0, str(REPO))
    from redisops.lab import plan as P

    paths = P.LabPaths(P.state_dir_from_env())
    lab = P.plan_from_state(P.load_state(paths))
    host = next(h for h in lab.hosts if h.name == "redis-1")
    pki = paths.state_dir / "pki"
    script = (REPO / "bench" / "server_copy.sh").read_text()
    started = _run([redisops, "lab", "ssh", host.name, f"sh -s start {flavor} {host.address}"], input=script)
    # No password: the copy's only user is a PING/SET/GET-only default user (server_copy.sh).
    version = next((w[2:] for w in started.split() if w.startswith("v=")), "?")
    tls = [
        "--tls", "--cacert", str(pki / "ca.crt"),
        "--cert", str(pki / "clients" / "redisops-control.crt"),
        "--key", str(pki / "clients" / "redisops-control.key"),
    ]  # fmt: skip
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(rounds):
            measured = {
                "plain": redis_benchmark(["-h", host.address, "-p", "7100"]),
                "reference": redis_benchmark(["-h", "127.0.0.1", "-p", str(reference)]),
                "tls": redis_benchmark(["-h", host.address, "-p", "7101", *tls]),
            }
            for transport, rps in measured.items():
                for test, value in rps.items():
                    samples.setdefault((transport, test), []).append(value)
    finally:
        _run([redisops, "lab", "ssh", host.name, "sh -s stop"], input=script)
    return version, samples


def bench_servers(
    redisops: str, rounds: int, drill_runs: int, drill: Callable[[int], list[tuple]]
) -> tuple[list[str], list[tuple]]:
    """(column titles, rows of (name, [samples per server], unit, note)), side by side."""
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    titles: list[str] = []
    by_name: dict[str, list] = {}
    units: dict[str, tuple[str, str]] = {}

    def add(name: str, samples: list[float], unit: str, note: str = "") -> None:
        by_name.setdefault(name, []).append(samples)
        units.setdefault(name, (unit, note))

    with reference_server() as reference:
        for image, flavor in SERVERS:
            _run([redisops, "lab", "down"])
            _run([redisops, "lab", "up", "--hosts", "3", "--image", image, "--flavor", flavor])
            _run([playbook, "playbooks/site.yml"])
            version, samples = throughput(redisops, flavor, rounds, reference)
            titles.append(f"{flavor.capitalize()} {version} ({image})")
            for test in ("SET", "GET"):
                for transport in ("plain", "tls"):
                    add(f"{test} {transport}, kit's config", samples[(transport, test)], "req/s")
                plain, ref = samples[("plain", test)], samples[("reference", test)]
                ratios = [p / r for p, r in zip(plain, ref, strict=True)]
                add(f"{test} plain / reference, same rounds", ratios, "ratio", "drift check")
            for name, values, unit, _target in drill(drill_runs):
                add(name, values, unit)
        _run([redisops, "lab", "down"])
    rows = []
    for name, columns in by_name.items():
        unit, note = units[name]
        rows.append((name, columns, unit, note))
        if unit == "req/s":  # each server's median over the first column's (Redis 7.0)
            base = statistics.median(columns[0])
            ratios = [[statistics.median(c) / base] for c in columns]
            rows.append((f"{name}: ratio to the first", ratios, "ratio", "medians"))
    return titles, rows


def print_side_by_side(titles: list[str], rows: list[tuple]) -> None:
    """A column per server: median, and [min-max] when there are several samples."""
    width = 26
    print(f"\n{'measurement':<48} {'n':>3} " + " ".join(f"{t:>{width}}" for t in titles) + "  unit")
    print("-" * (48 + 5 + (width + 1) * len(titles) + 7))
    for name, columns, unit, note in rows:
        fmt = "{:.2f}" if unit in ("s", "ratio") else "{:.0f}"
        cells = []
        for samples in columns:
            cell = fmt.format(statistics.median(samples))
            if len(samples) > 1:
                cell += f" [{fmt.format(min(samples))}-{fmt.format(max(samples))}]"
            cells.append(f"{cell:>{width}}")
        n = max(len(s) for s in columns)
        print(f"{name:<48} {n:>3} " + " ".join(cells) + f"  {unit}" + (f" ({note})" if note else ""))
