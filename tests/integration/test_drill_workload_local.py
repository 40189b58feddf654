"""The drill's workload against real servers on 127.0.0.1 (no lab, no failover): a primary, a
replica (so WAIT 1 confirms) and a sentinel that names the primary. Each use-case pattern's
bookkeeping holds on a quiet run and checks something; then one thing per pattern is broken by
hand on the server and that pattern reports it. The application user has exactly the rights
the role gives application users by default (roles/redis_server/defaults/main.yml)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml

from redisops.drills.patterns import PATTERNS, outcomes
from redisops.drills.targets import DrillTargets, Node
from redisops.drills.workload import Workload, read_final

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-secret-0123456789abcdefghij"
APP_PASSWORD = "app-secret-0123456789abcdefghijklm"

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def _app_commands() -> str:
    """The command rules redis_server gives an application user that sets none."""
    defaults = yaml.safe_load((REPO / "roles/redis_server/defaults/main.yml").read_text())
    return " ".join(defaults["redis_server_app_default_commands"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(conf: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(["redis-server", str(conf), *args], stdout=subprocess.DEVNULL)


def _wait(check, what: str) -> None:
    for _ in range(200):
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up")


@pytest.fixture
def group(tmp_path):
    """A primary, its replica and one sentinel; the drill's targets for them."""
    procs = []
    ports = {name: _free_port() for name in ("primary", "replica", "sentinel")}
    users = (
        "user default off resetchannels -@all\n"
        f"user admin on >{ADMIN_PASSWORD} ~* &* +@all\n"
        f"user app on >{APP_PASSWORD} resetchannels ~app:* &app:* {_app_commands()}\n"
    )
    for name in ("primary", "replica"):
        work = tmp_path / name
        work.mkdir()
        conf = work / "redis.conf"
        conf.write_text(
            f'port {ports[name]}\nbind 127.0.0.1\ndir {work}\nsave ""\nappendonly no\nlogfile ""\n'
            f"masteruser admin\nmasterauth {ADMIN_PASSWORD}\n" + users
            + (f"replicaof 127.0.0.1 {ports['primary']}\n" if name == "replica" else "")
        )  # fmt: skip
        conf.chmod(0o600)
        procs.append(_start(conf))
    admin = redis.Redis(
        port=ports["primary"], username="admin", password=ADMIN_PASSWORD, decode_responses=True
    )
    replica = redis.Redis(
        port=ports["replica"], username="admin", password=ADMIN_PASSWORD, decode_responses=True
    )
    _wait(lambda: replica.info("replication")["master_link_status"] == "up", "the replica's link")
    sentinel_conf = tmp_path / "sentinel.conf"
    sentinel_conf.write_text(
        f'port {ports["sentinel"]}\nbind 127.0.0.1\ndir {tmp_path}\nlogfile ""\n'
        f"sentinel monitor local 127.0.0.1 {ports['primary']} 1\n"
        f"sentinel auth-user local admin\nsentinel auth-pass local {ADMIN_PASSWORD}\n"
    )
    procs.append(_start(sentinel_conf, "--sentinel"))
    sentinel = redis.Redis(port=ports["sentinel"], decode_responses=True)
    _wait(lambda: sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "local"), "the sentinel")
    targets = DrillTargets(
        inventory="local", group="local", instance="main", unit="-", quorum=1, down_after_ms=5000,
        failover_timeout_ms=60000, min_replicas_max_lag=10,
        servers=[Node(name, "127.0.0.1", ports[name]) for name in ("primary", "replica")],
        sentinels=[Node("sentinel", "127.0.0.1", ports["sentinel"])],
        admin=("admin", ADMIN_PASSWORD), app=("app", APP_PASSWORD), key_prefix="app:drill:",
    )  # fmt: skip
    yield targets, admin
    for client in (admin, replica, sentinel):
        client.close()
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def _run(targets, run_id: str, seconds: float, during=None):
    started = time.monotonic()
    workload = Workload(targets, run_id, lambda: time.monotonic() - started).start()
    try:
        time.sleep(seconds / 2)
        if during is not None:
            during(workload.keys)
        time.sleep(seconds / 2)
    finally:
        ops = workload.stop()
    return workload.keys, ops


def test_every_pattern_keeps_its_invariant_on_a_quiet_run_and_reports_what_is_broken(group):
    targets, admin = group
    keys, ops = _run(targets, "quiet", 3.0)
    assert not [op.error for op in ops if "NOPERM" in op.error]  # the default rights suffice
    found, lost = outcomes(ops, read_final(admin, keys))
    assert set(found) == set(PATTERNS)
    for name, result in found.items():
        assert result["checked"] > 0 and result["violations"] == 0, (name, result)
    assert not lost
    assert found["sessions"]["acknowledged_waited"] > 0  # WAIT 1 confirmed by the replica
    assert found["rate-limit-incr"]["counters"] >= 3 and found["rate-limit-incr"]["without_ttl"] == 0
    assert found["stream-group"]["delivered"] > 0 and found["list-queue"]["delivered"] > 0
    assert found["hyperloglog"]["count"] > 0 and found["leaderboard"]["increments"] > 0
    # Everything the run wrote is under its prefix, so the drill's cleanup finds it all.
    assert admin.keys("app:drill:quiet:*") and not [
        k for k in admin.keys("*") if not k.startswith("app:drill:")
    ]

    stolen = {}

    def break_while_running(k):
        # An older version in every cache entry: the next read of each serves a stale value.
        for i in range(20):
            admin.set(f"{k.cache}{i}", "0")
        # A consumer the history does not know takes a queue item and a stream entry for good.
        stolen["job"] = admin.brpop([k.queue], timeout=5)[1]
        entry = admin.xreadgroup(k.stream_group, "thief", {k.stream: ">"}, count=1, block=5000)[0][1][0]
        admin.xack(k.stream, k.stream_group, entry[0])
        admin.xdel(k.stream, entry[0])
        stolen["entry"] = entry[1]["item"]

    keys, ops = _run(targets, "broken", 3.0, during=break_while_running)
    # And after the run: a confirmed session deleted, a counter without its TTL, a request
    # inside its window removed, a leaderboard increment taken back, the HyperLogLog emptied.
    session = next(op for op in ops if op.kind == "setex" and op.outcome == "ok" and op.waited)
    admin.delete(session.key)
    counter = next(iter(admin.scan_iter(match=keys.ratelimit + "*")))
    admin.persist(counter)
    window = next(iter(admin.scan_iter(match=keys.window + "*")))
    newest = admin.zrange(window, -1, -1)[0]
    admin.zrem(window, newest)
    admin.zincrby(keys.board, -1, "player0")
    admin.delete(keys.hll)
    found, lost = outcomes(ops, read_final(admin, keys))

    assert found["cache-aside"]["stale"] >= 1 and found["cache-aside"]["violations"] >= 1
    assert found["list-queue"]["lost"] == 1 and found["list-queue"]["samples"]["lost"] == [stolen["job"]]
    assert found["stream-group"]["lost"] == 1 and found["stream-group"]["samples"]["lost"] == [
        stolen["entry"]
    ]
    assert found["sessions"]["lost_waited"] == 1 and found["sessions"]["samples"]["lost_waited"] == [
        session.value
    ]
    assert found["rate-limit-incr"]["without_ttl"] == 1
    assert found["sliding-window"]["lost"] == 1 and found["sliding-window"]["samples"]["lost"] == [newest]
    assert found["leaderboard"]["lost"] == 1 and found["leaderboard"]["samples"]["short"][0].startswith(
        "player0:"
    )
    assert found["hyperloglog"]["count"] == 0 and found["hyperloglog"]["violations"] > 0
    # The lost writes the timeline marks: the job, the entry, the session and the request.
    assert {(keys.queue, stolen["job"]), (keys.stream, stolen["entry"]), (session.key, session.value),
            (window, newest)} <= lost  # fmt: skip
