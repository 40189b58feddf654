"""``make bench``: the kit's speed targets, measured side by side in one run, as a table.

- the lab: first image build (into a scratch cache), ``lab up`` from cache, ``lab down``;
- deploy: site.yml on 3 fresh lab hosts (cold: 3 servers and 3 sentinels, TLS, ACL) and
  the idempotent rerun;
- rolling: playbooks/rolling_restart.yml under a Sentinel-aware write load: its duration,
  the client error window and acknowledged writes lost, with the switchover timed and, beside
  it in the same run, untimed (the path before);
- switchover: the manual-failover drill (the kit's planned switchover under the drill's
  workload), timed and untimed in turn: client error window, writes paused, full resyncs,
  acknowledged writes lost;
- throughput: redis-benchmark (SET/GET, 50 clients, pipeline 16) against the role's
  config and the distribution's stock config on the same lab host, plain TCP and TLS;
- checks: ``redisops check`` on the deployed lab (CLI, inventory, hosts);
- scale: a check run over 1, 10 and 100 local redis-server processes (127.0.0.1);
- impact: p99 latency of a redis-benchmark against a local server with and without
  check runs in a loop beside it (rounds interleaved);
- drill: kill-primary on the deployed lab, 5 runs in a row (at least): promotion time and
  client error window against down-after, acknowledged writes lost;
- backup: about 1 GB on a local server (127.0.0.1): backup (BGSAVE, copy, redis-check-rdb),
  transfer rate, and the restore path beside redis-server's own load of the same file;
- servers: Redis 7.0 (bookworm), Redis 8.0 and Valkey 8.1 (trixie), a lab each in turn, each
  deployed by site.yml: redis-benchmark against the kit's config and the kill-primary drill,
  printed side by side, a column per server (bench/servers_bench.py). It runs last and
  leaves the lab down.

Medians of several runs, with min and max; nothing here fails a test run. The tables are printed
and written to docs/benchmarks.md (--doc), with the command, the date and the core count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import checks_bench
from bench import doc as bench_doc

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
REDISOPS = str(BIN / "redisops")
DOC = REPO / "docs" / "benchmarks.md"
SECTIONS = (
    "lab",
    "deploy",
    "rolling",
    "switchover",
    "throughput",
    "checks",
    "scale",
    "impact",
    "drill",
    "backup",
    "servers",
)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed


def lab_is_up() -> bool:
    proc = subprocess.run([REDISOPS, "lab", "status", "--format", "json"], capture_output=True, text=True)
    return bool(proc.stdout.strip() and json.loads(proc.stdout)["hosts"])


def bench_lab(runs: int, skip_image: bool) -> list[tuple]:
    rows = []
    if not skip_image:
        scratch = tempfile.mkdtemp(prefix="redisops-bench-cache-")
        try:
            env = {**os.environ, "REDISOPS_LAB_CACHE": scratch}
            build = timed([REDISOPS, "lab", "image", "--image", "bookworm"], env)
            rows.append(("first image build (debootstrap, bookworm)", [build], "s", "once per package list"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    timed([REDISOPS, "lab", "up"])  # warm the real cache: 'lab up' measures booting only
    timed([REDISOPS, "lab", "down"])
    ups, downs = [], []
    for _ in range(runs):
        ups.append(timed([REDISOPS, "lab", "up", "--hosts", "3"]))
        downs.append(timed([REDISOPS, "lab", "down"]))
    rows.append(("lab up, 3 hosts, cached image", ups, "s", "< 30 s"))
    rows.append(("lab down, 3 hosts", downs, "s", "-"))
    return rows


def bench_deploy(runs: int) -> list[tuple]:
    playbook = [str(BIN / "ansible-playbook"), "playbooks/site.yml"]
    # Python caches the roles' compiled plugins at their first import unless the environment
    # says not to (PYTHONDONTWRITEBYTECODE); compile them first so every round measures what a
    # user's second run does, whatever this shell sets.
    timed([sys.executable, "-m", "compileall", "-q", "roles"])
    colds, reruns = [], []
    for _ in range(runs):
        timed([REDISOPS, "lab", "down"])
        timed([REDISOPS, "lab", "up", "--hosts", "3"])
        colds.append(timed(playbook))
        reruns.append(timed(playbook))
    return [
        ("site.yml cold deploy, 3 servers + 3 sentinels + exporters", colds, "s", "<= 25 s"),
        ("site.yml idempotent rerun, full topology (reconciled live)", reruns, "s", "<= 12 s"),
    ]


def bench_rolling(runs: int) -> list[tuple]:
    """Needs a deployed lab. Each run restarts every sentinel and server once under a write load."""
    sys.path.insert(0, str(REPO))
    from redisops.lab import plan as P
    from redisops.lab.workload import SetWriter

    paths = P.LabPaths(P.state_dir_from_env())
    lab = P.plan_from_state(P.load_state(paths))
    pki, secrets = paths.state_dir / "pki", paths.state_dir / "secrets"
    tls = {
        "ssl": True,
        "ssl_ca_certs": str(pki / "ca.crt"),
        "ssl_certfile": str(pki / "clients" / "redisops-control.crt"),
        "ssl_keyfile": str(pki / "clients" / "redisops-control.key"),
    }

    def user(secret: str) -> dict:
        return {"username": "app", "password": (secrets / secret).read_text().strip(), **tls}

    out: dict[bool, dict[str, list]] = {
        mode: {"durations": [], "windows": [], "gaps": [], "lost": []} for mode in (True, False)
    }
    for i in range(runs):
        for mode in (True, False):  # side by side, in turn
            writer = SetWriter(
                [(h.address, 26379) for h in lab.hosts], "redis-main", f"app:bench-rolling-{i}-{int(mode)}",
                sentinel_kwargs=user("sentinel_app"), redis_kwargs=user("redis_app"),
            )  # fmt: skip
            playbook = [str(BIN / "ansible-playbook"), "playbooks/rolling_restart.yml"]
            with writer:
                time.sleep(1)
                took = timed([*playbook, "-e", f"redis_rolling_switchover_timed={str(mode).lower()}"])
                time.sleep(1)
            report = writer.history.summary(writer.members())
            got = out[mode]
            got["durations"].append(took)
            got["windows"].append(report["error_window_s"])
            got["gaps"].append(report["longest_gap_s"])
            got["lost"].append(report["acknowledged_lost"])
    rows = []
    for mode, label in ((True, "timed"), (False, "untimed")):
        got = out[mode]
        rows += [
            (f"rolling restart, 3+3 ({label} switchover)", got["durations"], "s", "<= 30 s" if mode else "-"),
            (f"rolling restart: client error window ({label})", got["windows"], "s", "-"),
            (f"rolling restart: longest gap ({label})", got["gaps"], "s", "-"),
            (f"rolling restart: acked writes lost ({label})", got["lost"], "writes", "0"),
        ]
    return rows


def _fresh_backup() -> None:
    """The drill's preflight wants a fresh off-host backup (PER-03): one now, with the timer off
    so that no scheduled snapshot runs during the measured runs."""
    playbook = str(BIN / "ansible-playbook")
    once = ["playbooks/backup_timer.yml", "-e", "redis_backup_timer_enabled=false"]
    for args in (once, ["playbooks/backup.yml"]):
        proc = subprocess.run([playbook, *args], cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"bench: {args[0]} failed:\n{proc.stdout[-3000:]}")


def _drill_json(scenario: str, runs: int, *extra: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "drill.json"
        cmd = [REDISOPS, "drill", "failover", "--scenario", scenario, "--runs", str(runs), *extra]
        proc = subprocess.run(
            [*cmd, "--no-site-check", "--json", str(out)], cwd=REPO, capture_output=True, text=True
        )
        if proc.returncode not in (0, 1):
            sys.exit(f"bench: the drill did not run:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())


def bench_switchover(runs: int) -> list[tuple]:
    """Needs a deployed lab: the manual-failover drill, timed and untimed in turn, ``runs`` each."""
    _fresh_backup()
    got: dict[bool, list[dict]] = {True: [], False: []}
    for _ in range(runs):
        for timed in (True, False):
            result = _drill_json("manual-failover", 1, *([] if timed else ["--untimed-switchover"]))
            for run in result["runs"]:
                got[timed].append({**run["measures"], **run["details"]["notes"]["switchover"]})
    rows = []
    for timed, label in ((True, "timed"), (False, "untimed")):
        runs_ = got[timed]
        rows += [
            (
                f"switchover: client error window ({label})",
                [r["error_window_s"] for r in runs_],
                "s",
                "median <= 0.5 s, max <= 1 s" if timed else "-",
            ),
            (f"switchover: writes paused ({label})", [r["paused_s"] for r in runs_], "s", "-"),
            (f"switchover: longest gap ({label})", [r["longest_gap_s"] for r in runs_], "s", "-"),
            (f"switchover: full resyncs ({label})", [r["full_resyncs"] for r in runs_], "syncs", "0"),
            (
                f"switchover: acked writes lost ({label})",
                [r["acked_lost_waited"] + r["acked_lost_plain"] for r in runs_],
                "writes",
                "0",
            ),
        ]
    rows.append(
        ("switchover: wait for the moment (timed)", [r["waited_s"] for r in got[True]], "s", "<= 12 s")
    )
    return rows


def bench_throughput(rounds: int) -> list[tuple]:
    """Needs a deployed lab (runs after bench_deploy, or on one left up by 'make demo')."""
    sys.path.insert(0, str(REPO))
    from redisops.lab import plan as P

    flavor = P.lab_flavor(P.load_state(P.LabPaths(P.state_dir_from_env())))
    script = (REPO / "bench" / "throughput.sh").read_text()
    proc = subprocess.run(
        [REDISOPS, "lab", "ssh", "redis-1", f"FLAVOR={flavor} ROUNDS={max(rounds, 5)} sh -s"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"bench: throughput run failed:\n{proc.stderr[-3000:]}")
    samples: dict[tuple[str, str, str], list[float]] = {}
    for line in proc.stdout.splitlines():
        config, transport, test, rps = line.split(",")
        samples.setdefault((config, transport, test), []).append(float(rps))
    rows = []
    for transport in ("plain", "tls"):
        for test in ("SET", "GET"):
            role, stock = samples[("role", transport, test)], samples[("stock", transport, test)]
            rows.append((f"{test} {transport}: role's config", role, "req/s", ""))
            rows.append((f"{test} {transport}: stock config", stock, "req/s", ""))
            ratio = statistics.median(role) / statistics.median(stock)
            target = "(AOF everysec: see below)" if transport == "plain" else "-"
            rows.append((f"{test} {transport}: role / stock (medians)", [ratio], "ratio", target))
            if transport == "plain":
                noaof = samples[("role-noaof", transport, test)]
                rows.append((f"{test} {transport}: role's config, AOF off", noaof, "req/s", ""))
                ratio = statistics.median(noaof) / statistics.median(stock)
                rows.append((f"{test} {transport}: role AOF off / stock", [ratio], "ratio", ">= 0.90"))
    return rows


def bench_drill(runs: int) -> list[tuple]:
    """Needs a deployed lab: kill-primary, ``runs`` times in a row, through the CLI."""
    _fresh_backup()
    result = _drill_json("kill-primary", runs)
    down_after = result["settings"]["down_after_ms"] / 1000
    measures = [r["measures"] for r in result["runs"]]
    promote = [m["time_to_promote_s"] for m in measures if m["time_to_promote_s"] is not None]
    window = [m["error_window_s"] for m in measures]
    return [
        (
            f"kill-primary: time to promote (down-after {down_after:g} s)",
            promote,
            "s",
            f"<= {down_after + 2:g} s",
        ),
        ("kill-primary: promote - down-after", [p - down_after for p in promote], "s", "<= 2 s"),
        ("kill-primary: client error window", window, "s", f"median <= {down_after + 2:g} s"),
        (
            "kill-primary: WAIT-confirmed writes lost",
            [m["acked_lost_waited"] for m in measures],
            "writes",
            "0",
        ),
        (
            "kill-primary: plain acknowledged writes lost",
            [m["acked_lost_plain"] for m in measures],
            "writes",
            "-",
        ),
        (
            "kill-primary: runs passing every criterion",
            [sum(r["passed"] for r in result["runs"])],
            "runs",
            f"{runs}",
        ),
    ]


def print_table(rows: list[tuple]) -> None:
    print(f"\n{'measurement':<46} {'n':>3} {'median':>11} {'min':>11} {'max':>11} {'unit':<6} target")
    print("-" * 104)
    for name, samples, unit, target in rows:
        fmt = "{:>11.2f}" if unit in ("s", "ratio", "ms") else "{:>11.0f}"
        cells = " ".join(fmt.format(x) for x in (statistics.median(samples), min(samples), max(samples)))
        print(f"{name:<46} {len(samples):>3} {cells} {unit:<6} {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--runs", type=int, default=3, help="runs of each timed step (default 3)")
    parser.add_argument(
        "--skip-image", action="store_true", help="skip the cold image build (about a minute)"
    )
    parser.add_argument(
        "--doc", type=Path, default=DOC, help="write the tables here too (default docs/benchmarks.md)"
    )
    if argv is None:
        argv = sys.argv[1:]
    args = parser.parse_args(argv)
    sections = args.only or list(SECTIONS)
    if {"lab", "deploy", "servers"} & set(sections) and lab_is_up():
        sys.exit("bench: a lab is up; the benchmark takes it down and up: run 'redisops lab down' first")
    rows: list[tuple] = []
    if "lab" in sections:
        rows += bench_lab(args.runs, args.skip_image)
    if "deploy" in sections:
        rows += bench_deploy(args.runs)
    if "rolling" in sections:
        rows += bench_rolling(args.runs)
    if "switchover" in sections:
        rows += bench_switchover(max(args.runs, 3))
    if "throughput" in sections:
        rows += bench_throughput(args.runs)
    if "checks" in sections:
        rows += checks_bench.bench_lab_run(max(args.runs, 5), REDISOPS)
    if "scale" in sections:
        rows += checks_bench.bench_scale(args.runs)
    if "impact" in sections:
        rows += checks_bench.bench_impact(args.runs)
    if "drill" in sections:
        rows += bench_drill(max(args.runs, 5))
    if "backup" in sections:
        from bench import backup_bench

        rows += backup_bench.bench_backup(args.runs)
    side_by_side = None
    if "servers" in sections:
        from bench import servers_bench

        side_by_side = servers_bench.bench_servers(REDISOPS, args.runs, max(args.runs, 5), bench_drill)
    if rows:
        print_table(rows)
    if side_by_side:
        servers_bench.print_side_by_side(*side_by_side)
    if rows or side_by_side:
        command = shlex.join(["python", "-m", "bench", *argv])
        earlier = args.doc.read_text() if args.doc.exists() else ""
        text = bench_doc.page(
            command, dt.datetime.now(dt.UTC), os.cpu_count(), rows, side_by_side, earlier=earlier
        )
        bench_doc.write(args.doc, text)
        print(f"\nWritten to {args.doc}.")
    if {"deploy", "rolling", "switchover", "throughput", "checks", "drill"} & set(
        sections
    ) and not side_by_side:
        print("\nThe lab is left deployed; 'redisops lab down' removes it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
