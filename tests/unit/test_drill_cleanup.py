"""A drill leaves no keys behind: they are deleted in a ``finally``, on the primary, also when the
drill fails or is interrupted, and the cleanup never raises over the error that ended it."""

from __future__ import annotations

from typing import ClassVar

import pytest
import redis

from redisops.drills import backup as B
from redisops.drills import failover as F
from redisops.drills.targets import DrillTargets, Node
from redisops.drills.workload import Keys

R1, R2 = Node("r1", "192.0.2.11", 6379), Node("r2", "192.0.2.12", 6379)


def _targets(**extra) -> DrillTargets:
    return DrillTargets(
        inventory="inv", group="redis-main", instance="main", unit="redis-server@main.service",
        quorum=2, down_after_ms=5000, failover_timeout_ms=60000, min_replicas_max_lag=10,
        servers=[R1, R2], sentinels=[Node("s1", "192.0.2.13", 26379)], **extra,
    )  # fmt: skip


class FakeServer:
    def __init__(self, role: str, keys: list[bytes], fail: Exception | None = None):
        self.role, self.keys, self.fail, self.closed = role, list(keys), fail, False

    def info(self, section: str) -> dict:
        if self.fail:
            raise self.fail
        return {"role": self.role}

    def scan_iter(self, match: str, count: int):
        prefix = match.rstrip("*").encode()
        return iter([k for k in self.keys if k.startswith(prefix)])

    def unlink(self, *keys: bytes) -> int:
        if self.role != "master":
            raise redis.ReadOnlyError("READONLY You can't write against a read only replica.")
        self.keys = [k for k in self.keys if k not in keys]
        return len(keys)

    def close(self) -> None:
        self.closed = True


def _servers(monkeypatch, **by_addr: FakeServer) -> None:
    monkeypatch.setattr(F, "admin", lambda t, node, timeout=3.0: by_addr[node.host])


def test_remove_keys_deletes_the_pattern_on_the_primary(monkeypatch):
    keys = [b"app:drill:run1:set:waited", b"app:drill:run1:counter", b"app:other"]
    primary, replica = FakeServer("master", keys), FakeServer("slave", keys)
    _servers(monkeypatch, r1=replica, r2=primary)
    said = []
    assert F.remove_keys(_targets(), "app:drill:run1:*", said.append) == []
    assert primary.keys == [b"app:other"] and replica.keys == keys  # the replica follows the primary
    assert primary.closed and replica.closed and not said


def test_remove_keys_never_raises_and_says_what_may_be_left(monkeypatch):
    primary = FakeServer("master", [b"app:drill:run1:x"], fail=redis.ConnectionError("Connection refused"))
    _servers(monkeypatch, r1=primary, r2=FakeServer("slave", []))
    said = []
    problems = F.remove_keys(_targets(), "app:drill:run1:*", said.append)
    assert problems == ["192.0.2.11:6379: ConnectionError: Connection refused"]
    assert "app:drill:run1:*" in said[0] and "UNLINK" in said[0]


def test_remove_keys_survives_any_exception_and_a_failing_say(monkeypatch):
    def boom(line):
        raise ValueError("say broke")

    _servers(monkeypatch, r1=FakeServer("master", [], fail=RuntimeError("odd")), r2=FakeServer("slave", []))
    assert F.remove_keys(_targets(), "p:*", boom) == ["192.0.2.11:6379: RuntimeError: odd"]
    _servers(monkeypatch, r1=FakeServer("slave", []), r2=FakeServer("slave", []))
    assert F.remove_keys(_targets(), "p:*") == ["no server answered as primary"]


# ---- run_once: the keys go also when the run fails or is interrupted ------------------------


class FakeObserver:
    def __init__(self, t, clock):
        self.stopped = False

    def start(self):
        return self

    def stop(self):
        self.stopped = True
        return []

    def seen(self, event, since=0.0):
        return None


class FakeWorkload:
    made: ClassVar[list[FakeWorkload]] = []

    def __init__(self, t, run_id, clock):
        self.keys = Keys("app:drill:", run_id)
        self.stopped = False
        FakeWorkload.made.append(self)

    def start(self):
        return self

    def stop(self):
        self.stopped = True
        return []


@pytest.fixture
def one_run(monkeypatch):
    removed = []
    monkeypatch.setattr(F, "healthy", lambda t: [])
    monkeypatch.setattr(F, "agreed_primary", lambda t: R1.addr)
    monkeypatch.setattr(F, "node_servers", lambda t: [])
    monkeypatch.setattr(F, "Hosts", lambda inventory: None)
    monkeypatch.setattr(F, "EventObserver", FakeObserver)
    monkeypatch.setattr(F, "Workload", FakeWorkload)
    monkeypatch.setattr(F, "_node_info", lambda t: {})
    monkeypatch.setattr(F, "WARMUP_S", 0.0)
    monkeypatch.setattr(F.time, "sleep", lambda s: None)
    monkeypatch.setattr(F, "remove_keys", lambda t, pattern, say=None: removed.append(pattern))
    FakeWorkload.made.clear()

    def run(inject):
        scenario = F.Scenario("test", "a test fault", F.Expectations(), inject)
        return F.run_once(_targets(), scenario, 1, lambda line: None, preflight_checks=False)

    return run, removed


def test_an_interrupted_run_heals_and_deletes_its_keys(one_run):
    run, removed = one_run
    healed = []

    def inject(r):
        r.heal = lambda: healed.append(True)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(inject)
    (workload,) = FakeWorkload.made
    assert healed and workload.stopped
    assert removed == [workload.keys.pattern] and workload.keys.pattern.startswith("app:drill:")


def test_a_run_whose_heal_fails_still_deletes_its_keys(one_run):
    run, removed = one_run

    def heal():
        raise RuntimeError("ssh: connection refused")

    def inject(r):
        r.heal = heal
        raise RuntimeError("the fault failed half-way")

    with pytest.raises(F.HealFailed):
        run(inject)
    assert removed == [FakeWorkload.made[0].keys.pattern]


# ---- the backup drill -----------------------------------------------------------------------


class FakeHosts:
    def __init__(self, inventory):
        pass

    def run(self, host, command, check=True):
        if command.startswith("for p in "):  # the prerequisites: all there
            return "runtime yes\nunit yes\nstore yes\n"
        return "[]" if " list " in command else ""


@pytest.mark.parametrize("error", [KeyboardInterrupt(), redis.ConnectionError("lost the primary")])
def test_the_backup_drill_deletes_its_seeded_keys_when_it_stops_half_way(monkeypatch, error):
    removed = []
    monkeypatch.setattr(B, "Hosts", FakeHosts)
    monkeypatch.setattr(B, "agreed_primary", lambda t: R1.addr)
    monkeypatch.setattr(B.redis, "Redis", lambda **kwargs: FakeServer("master", []))

    def seed(conn, prefix, keys):
        raise error

    monkeypatch.setattr(B, "seed", seed)
    monkeypatch.setattr(B, "remove_keys", lambda t, pattern, say=None: removed.append(pattern))
    with pytest.raises(type(error)):
        B.backup_drill(_targets(backup_hosts=["b1"]), 10, lambda line: None)
    (pattern,) = removed
    assert pattern.startswith("drill:backup:") and pattern.endswith(":*")


def test_the_preflight_judges_the_group_as_the_kit_does(monkeypatch):
    t = _targets()
    sentinels = {"192.0.2.13:26379": R1.addr}
    quorum = {"192.0.2.13:26379": "OK 1 usable Sentinels"}
    roles = {
        R1.addr: {"role": "master", "master_repl_offset": 5_000_000},
        R2.addr: {"role": "slave", "master_host": R1.address, "master_port": R1.port,
                  "master_link_status": "up", "slave_repl_offset": 4_500_000},
    }  # fmt: skip
    monkeypatch.setattr(F, "sentinel_views", lambda t: dict(sentinels))
    monkeypatch.setattr(F, "ckquorum", lambda t: dict(quorum))
    monkeypatch.setattr(F, "server_roles", lambda t: {a: dict(r) for a, r in roles.items()})
    assert F.healthy(t) == [] and F.agreed_primary(t) == R1.addr
    roles[R2.addr]["slave_repl_offset"] = 3_000_000
    assert F.healthy(t) == [f"replica {R2.addr} is 2000000 bytes behind"]
    quorum["192.0.2.13:26379"] = "ERROR Connection refused"
    sentinels["192.0.2.13:26379"] = None
    assert F.healthy(t) == [
        "sentinel on 192.0.2.13:26379: CKQUORUM redis-main: ERROR Connection refused",
        "no sentinel names a primary of group redis-main",
    ]
