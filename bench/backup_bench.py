"""Backup and restore of about 1 GB, on 127.0.0.1, with the kit's own code path.

A local redis-server holds about 1 GB (1,000,000 keys of 1000 random bytes: incompressible). Each run:

- backup: BGSAVE waited for (``take.snapshot``), the send command's frame read into the store
  (``take.receive``, the same code the backup host runs; SSH left out: it is the network), and
  ``redis-check-rdb`` on the copy;
- the floor: a bare redis-server started on the same file, until it answers with its data loaded;
- restore: ``scratch.scratch_restore`` (checksum against the manifest, private copy, load), side
  by side with the floor in the same run.

The servers listen on 127.0.0.1 only and are stopped at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from redisops.backup import store as S
from redisops.backup import take
from redisops.backup.scratch import scratch_restore

REPO = Path(__file__).resolve().parents[1]
SEND = REPO / "roles/redis_backup/files/redisops-backup-send"
KEYS, VALUE_BYTES = 1_000_000, 1000


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(conn: redis.Redis, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench: redis-server exited {proc.returncode}")
        try:
            if conn.ping() and not int(conn.info("persistence")["loading"]):
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.01)
    sys.exit("bench: redis-server did not become ready")


def _server(work: Path, dbfile: str = "dump.rdb") -> tuple[subprocess.Popen, redis.Redis]:
    port = _port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work),
         "--dbfilename", dbfile, "--save", "", "--appendonly", "no", "--logfile", "",
         "--enable-debug-command", "local"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    conn = redis.Redis(port=port, socket_timeout=600)
    return proc, conn


def _fill(conn: redis.Redis, batch: int = 1000) -> None:
    """Random values: RDB compresses DEBUG POPULATE's padded ones to almost nothing."""
    for start in range(0, KEYS, batch):
        pipe = conn.pipeline(transaction=False)
        for i in range(start, min(start + batch, KEYS)):
            pipe.set(f"bench:key:{i}", os.urandom(VALUE_BYTES))
        pipe.execute()


def bench_backup(runs: int) -> list[tuple]:
    if not shutil.which("redis-server") or not shutil.which("redis-check-rdb"):
        sys.exit("bench: redis-server and redis-tools are needed (apt-get install redis-server redis-tools)")
    work = Path(tempfile.mkdtemp(prefix="redisops-bench-backup-"))
    procs = []
    rows = {k: [] for k in ("backup", "snapshot", "transfer", "rate", "check", "floor", "restore", "ratio")}
    size = 0
    try:
        (work / "source").mkdir()
        source_proc, source = _server(work / "source")
        procs.append(source_proc)
        _ready(source, source_proc)
        _fill(source)
        for run in range(runs):
            store = work / "store"
            shutil.rmtree(store, ignore_errors=True)
            (store / "bench").mkdir(parents=True)
            t0 = time.monotonic()
            snap = take.snapshot(source, "source", timeout_s=600)
            t1 = time.monotonic()
            sources = work / "sources.json"
            sources.write_text(json.dumps({"main": str(work / "source/dump.rdb")}))
            sender = subprocess.Popen(
                [sys.executable, str(SEND), str(sources)], stdout=subprocess.PIPE,
                env={**os.environ, "SSH_ORIGINAL_COMMAND": "send main"},
            )  # fmt: skip
            name = f"{S.stamp(snap['saved_at'])}-source"
            got = take.receive(sender.stdout, store / "bench" / f"{name}.rdb")
            sender.wait()
            t2 = time.monotonic()
            verdict = S.check_rdb(store / "bench" / f"{name}.rdb")
            t3 = time.monotonic()
            assert verdict["ok"] and verdict["keys"] == KEYS, verdict
            manifest = {
                "taken_at": snap["saved_at"],
                "size": got["size"],
                "sha256": got["sha256"],
                "keys": KEYS,
            }
            (store / "bench" / f"{name}.json").write_text(json.dumps(manifest))
            size = got["size"]
            # The floor: redis-server's own load of the same file.
            (work / f"floor{run}").mkdir()
            os.link(store / "bench" / f"{name}.rdb", work / f"floor{run}" / "dump.rdb")
            t4 = time.monotonic()
            floor_proc, floor = _server(work / f"floor{run}")
            _ready(floor, floor_proc)
            floor_s = time.monotonic() - t4
            floor_proc.terminate()
            floor_proc.wait(60)
            shutil.rmtree(work / f"floor{run}")
            restored = scratch_restore(store, "bench", "latest", "nomatch:*", work)
            rows["backup"].append(t3 - t0)
            rows["snapshot"].append(t1 - t0)
            rows["transfer"].append(t2 - t1)
            rows["rate"].append(size / (t2 - t1) / 1e6)
            rows["check"].append(t3 - t2)
            rows["floor"].append(floor_s)
            rows["restore"].append(restored["rto_s"])
            rows["ratio"].append(restored["rto_s"] / floor_s)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    gb = f"{size / 1e9:.2f} GB"
    return [
        (f"backup of {gb}: BGSAVE, copy, redis-check-rdb", rows["backup"], "s", "-"),
        ("  of which the snapshot (BGSAVE)", rows["snapshot"], "s", "-"),
        ("  of which the copy (send and receive)", rows["transfer"], "s", "-"),
        ("  transfer rate (local, no network)", rows["rate"], "MB/s", "-"),
        ("  of which redis-check-rdb", rows["check"], "s", "-"),
        (f"floor: redis-server loads the {gb} file", rows["floor"], "s", "-"),
        ("restore: checksum, copy, load (scratch server)", rows["restore"], "s", "-"),
        ("restore / floor (side by side, per run)", rows["ratio"], "ratio", "<= 1.5"),
    ]
