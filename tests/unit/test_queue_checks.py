"""Queues (KEY-04 to KEY-07) without a server: what is gathered of a stream's consumer groups (a fake
pipeline), what the counters state keeps of the sampled lists, and what each check judges on the
captured lab cluster. tests/integration/test_queues_local.py runs them on a real redis-server."""

from __future__ import annotations

import json

import pytest

from redisops.compliance import counters as C
from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, RedisFacts, key_label
from redisops.compliance.gather import describe_streams
from redisops.compliance.model import FAIL, PASS, SKIPPED
from redisops.compliance.settings import Thresholds, thresholds

from .checks_fixtures import apply_edits, base_facts

STREAM = 18  # app:stream:jobs in the captured primary's sample
GROUP = ["redis", 0, "keys", "keys", STREAM, "groups", 0]
T0 = 1_790_000_000.0


# ---- gathering: XINFO GROUPS and CONSUMERS, bounded, never an entry ------------------------------


def _group(name: str, pending: int, lag: int | None, consumers: int = 1) -> list:
    return ["name", name, "consumers", consumers, "pending", pending, "last-delivered-id", "5-0",
            "entries-read", 5, "lag", lag]  # fmt: skip


class FakePipeline:
    """A pipeline that answers XINFO from a table of replies and records what was asked."""

    def __init__(self, client):
        self.client, self.queued = client, []

    def execute_command(self, *args):
        self.queued.append(args)

    def execute(self, raise_on_error=True):
        self.client.asked.append(list(self.queued))
        return [self.client.replies[args] for args in self.queued]


class FakeClient:
    def __init__(self, replies: dict):
        self.replies, self.asked = replies, []

    def pipeline(self, transaction=False):
        return FakePipeline(self)


def test_groups_are_bounded_the_busiest_first_and_consumers_read_only_where_entries_are_pending():
    groups = [_group(f"g{i}", pending=i * 10, lag=i) for i in range(8)]
    consumers = [["name", f"c{i}", "pending", i, "idle", 1000 * i, "inactive", 10 * i] for i in range(4)]
    client = FakeClient({
        ("XINFO", "GROUPS", "app:stream:a"): groups,
        ("XINFO", "GROUPS", "app:stream:b"): [],
        **{("XINFO", "CONSUMERS", "app:stream:a", f"g{i}"): consumers for i in range(8)},
    })  # fmt: skip
    streams = [{"name": "app:stream:a", "type": "stream"}, {"name": "app:stream:b", "type": "stream"}]
    limit = Thresholds(stream_groups_max=3, stream_consumers_keep=2)
    assert describe_streams(client, streams, limit) == []
    a, b = streams
    assert a["groups_total"] == 8 and [g["name"] for g in a["groups"]] == ["g7", "g6", "g5"]
    assert b == {"name": "app:stream:b", "type": "stream", "groups_total": 0, "groups": []}
    # Two pipelines: every stream's groups, then the consumers of the kept groups with pending entries.
    assert [len(batch) for batch in client.asked] == [2, 3]
    kept = a["groups"][0]
    assert kept["consumers_pending"] == 3  # c0 holds nothing
    assert kept["consumers_kept"] == [
        {"name": "c3", "pending": 3, "idle_ms": 3000, "inactive_ms": 30},
        {"name": "c2", "pending": 2, "idle_ms": 2000, "inactive_ms": 20},
    ]
    assert set(kept) == {"name", "consumers", "pending", "last_delivered_id", "entries_read", "lag",
                         "consumers_pending", "consumers_kept"}  # fmt: skip


def test_a_refused_xinfo_is_reported_and_leaves_the_stream_unread():
    refused = Exception("NOPERM this user has no permissions to run the 'xinfo|groups' command")
    client = FakeClient({("XINFO", "GROUPS", "app:stream:a"): refused})
    streams = [{"name": "app:stream:a", "type": "stream"}]
    errors = describe_streams(client, streams, Thresholds())
    assert errors and "NOPERM" in errors[0]
    assert "groups" not in streams[0]


def test_a_group_without_lag_and_a_consumer_without_inactive_are_unknown_not_zero():
    client = FakeClient({
        ("XINFO", "GROUPS", "s"): [_group("g", pending=2, lag=None)],
        ("XINFO", "CONSUMERS", "s", "g"): [["name", "c", "pending", 2, "idle", 5]],  # Redis 7.0: no inactive
    })  # fmt: skip
    streams = [{"name": "s", "type": "stream"}]
    describe_streams(client, streams, Thresholds())
    assert streams[0]["groups"][0]["lag"] is None
    assert streams[0]["groups"][0]["consumers_kept"] == [{"name": "c", "pending": 2, "idle_ms": 5,
                                                          "inactive_ms": None}]  # fmt: skip


# ---- the stream checks on the captured cluster ------------------------------------------------


def _results(check_id: str, edits: list[dict], overrides: dict | None = None):
    cluster = ClusterFacts.from_dict(apply_edits(base_facts(), edits))
    return run_checks(cluster, thresholds(overrides), only=[check_id]).results


def _statuses(results) -> dict[str, tuple[str, str]]:
    return {r.target: (r.status, r.message) for r in results}


def test_the_stream_checks_pass_the_captured_group_and_skip_replicas():
    for check_id in ("KEY-04", "KEY-05", "KEY-06"):
        got = _statuses(_results(check_id, []))
        assert got["redis-1:6379"][0] == PASS, (check_id, got)
        assert got["redis-2:6379"][0] == SKIPPED, (check_id, got)


def test_pending_entries_are_judged_against_the_threshold_and_named_by_label():
    results = _results("KEY-04", [], {"stream_pending_max": 2})
    (message,) = [r.message for r in results if r.status == FAIL]
    assert f"{key_label('app:stream:jobs')} group workers 3 pending (2 consumers)" in message
    assert "app:stream:jobs" not in message
    assert _statuses(_results("KEY-04", [], {"stream_pending_max": 3}))["redis-1:6379"][0] == PASS


def test_a_lag_the_server_cannot_tell_is_not_judged():
    results = _results("KEY-05", [{"path": [*GROUP, "lag"], "set": None}], {"stream_lag_max": 0})
    status, message = _statuses(results)["redis-1:6379"]
    assert status == SKIPPED and "the lag of none of the 1 consumer groups is known" in message


def test_an_idle_consumer_without_pending_entries_is_no_finding():
    gone = [{"path": [*GROUP, "pending"], "set": 0}, {"path": [*GROUP, "consumers_kept"], "set": []}]
    assert _statuses(_results("KEY-06", gone, {"stream_consumer_idle_max_s": 0}))["redis-1:6379"][0] == PASS
    # The same consumer holding its 3 entries, idle 1.2 s: over a threshold of 1 s.
    status, message = _statuses(_results("KEY-06", [], {"stream_consumer_idle_max_s": 1}))["redis-1:6379"]
    assert status == FAIL and "consumer worker-1 3 pending, idle 1 s" in message


def test_streams_whose_groups_could_not_be_read_are_skipped_not_passed():
    unread = [{"path": ["redis", 0, "keys", "keys", STREAM, "groups"], "delete": True}]
    for check_id in ("KEY-04", "KEY-05", "KEY-06"):
        status, message = _statuses(_results(check_id, unread))["redis-1:6379"]
        assert status == SKIPPED and "none of the 1 sampled streams were read" in message, (check_id, message)


# ---- KEY-07: list lengths in the counters state, under a digest ---------------------------------


def _facts(keys: list[dict] | None, run_id: str = "a" * 40) -> RedisFacts:
    return RedisFacts(
        target="redis-1:6379", host="redis-1", instance="main", address="10.0.0.11", port=6379,
        info={"redis_version": "7.0.15", "run_id": run_id, "uptime_in_seconds": 3600, "role": "master"},
        keys=None if keys is None else {"keys": keys, "complete": True, "scanned": len(keys)},
    )  # fmt: skip


def _list(name: str, length: int, db: int = 0) -> dict:
    return {"name": name, "db": db, "type": "list", "ttl_ms": -1, "bytes": 100, "length": length}


def test_the_state_keeps_the_longest_sampled_lists_by_digest_and_never_their_names():
    keys = [_list(f"app:queue:secret-{i}", i) for i in range(10)] + [
        {"name": "app:user:1", "type": "hash", "length": 99},
        {"name": "app:queue:unread", "type": "list", "length": None},
    ]
    now = C.reading(_facts(keys), T0, lists_max=3)
    assert now["lists"] == {C.list_digest(0, f"app:queue:secret-{i}"): i for i in (9, 8, 7)}
    text = C.state_json({"redis-1:6379": now})
    assert "secret" not in text and "app:" not in text
    assert all(len(d) == 16 for d in json.loads(text)["targets"]["redis-1:6379"]["lists"])


def test_the_digest_tells_databases_apart():
    assert C.list_digest(0, "app:queue:jobs") != C.list_digest(1, "app:queue:jobs")
    assert C.list_digest("0", "app:queue:jobs") == C.list_digest(0, "app:queue:jobs")


def test_a_replica_keeps_no_lists_and_the_comparison_holds_only_lists_read_by_both_runs():
    assert "lists" not in C.reading(_facts(None), T0)
    before = C.reading(_facts([_list("app:queue:a", 5), _list("app:queue:b", 7)]), T0)
    now = C.reading(_facts([_list("app:queue:a", 50), _list("app:queue:c", 1)], run_id="b" * 40), T0 + 60)
    since = C.compare(now, before)
    # A restart in between: the counters count from it, the lengths still compare.
    assert since["basis"] == C.RESTART
    assert since["lists"] == {C.list_digest(0, "app:queue:a"): 5}
    assert "lists" not in C.compare(now, None)
    # The state keeps this run's lists only.
    assert C.baseline(now, before)["lists"] == now["lists"]


def _grow(cluster: ClusterFacts, state: dict, length: int, overrides: dict | None = None):
    """One run over the captured cluster with app:queue:jobs at ``length``: KEY-07 on the primary."""
    cluster.redis[0].keys["keys"][3]["length"] = length
    state = C.judge_since(cluster, state)
    results = run_checks(cluster, thresholds(overrides), only=["KEY-07"]).results
    return _statuses(results)["redis-1:6379"], state


def test_key07_judges_the_growth_between_two_runs_and_only_then():
    cluster = ClusterFacts.from_dict(base_facts())
    (status, message), state = _grow(cluster, {}, 10)
    assert status == SKIPPED and "no earlier run to compare the lengths with" in message
    cluster.gathered_at += 900
    (status, message), state = _grow(cluster, state, 1500)
    assert status == FAIL, message
    assert f"{key_label('app:queue:jobs')} 10 -> 1500 items (+1490)" in message
    assert "(15 min earlier)" in message
    cluster.gathered_at += 900
    (status, _), state = _grow(cluster, state, 1600)  # +100 since the run before
    assert status == PASS


def test_key07_says_why_a_list_sampled_only_now_is_not_judged():
    previous = {"basis": "previous run", "previous_at": 1795997339.9, "interval_s": 120.0, "counters": {},
                "reset": [], "lists": {C.list_digest(0, "app:queue:other"): 3}}  # fmt: skip
    results = _results("KEY-07", [{"path": ["redis", 0, "since"], "set": previous}])
    status, message = _statuses(results)["redis-1:6379"]
    assert status == SKIPPED
    assert "none of the 1 sampled lists was sampled by the previous run at" in message
    assert "a list sampled by this run but not the previous one is not judged" in message
    without = {k: v for k, v in previous.items() if k != "lists"}
    status, message = _statuses(_results("KEY-07", [{"path": ["redis", 0, "since"], "set": without}]))[
        "redis-1:6379"
    ]
    assert status == SKIPPED and "kept no list lengths" in message


@pytest.mark.parametrize("db", [0, 3])
def test_key07_finds_a_list_by_its_database_and_name(db):
    since = {"basis": "previous run", "previous_at": 1795997339.9, "interval_s": 120.0, "counters": {},
             "reset": [], "lists": {C.list_digest(db, "app:queue:jobs"): 10}}  # fmt: skip
    edits = [
        {"path": ["redis", 0, "since"], "set": since},
        {"path": ["redis", 0, "keys", "keys", 3, "db"], "set": 0},
        {"path": ["redis", 0, "keys", "keys", 3, "length"], "set": 9000},
    ]
    status, _ = _statuses(_results("KEY-07", edits))["redis-1:6379"]
    assert status == (FAIL if db == 0 else SKIPPED)
