"""A run's verdict, a pure function of what it recorded: judged here on histories and group
states built in the test (no server), each criterion at its boundary."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from redisops.drills.failover import SCENARIOS
from redisops.drills.history import Op
from redisops.drills.verdict import Expectations, GroupState, Recording, verdict
from redisops.drills.workload import Keys

OLD, NEW = "10.213.7.11:6379", "10.213.7.12:6379"
K = Keys("app:drill:", "r1")
KILL = SCENARIOS["kill-primary"].expect


def op(kind, key, value, invoke, complete, outcome="ok", waited=None, node=NEW):
    return Op(kind, key, value, invoke, complete, outcome, waited, node)


def _history() -> list[Op]:
    """A kill-primary run: writes to the old primary, errors from the fault (2.0 s) on, the new
    primary acknowledging from 8.0 s; one op of every pattern."""
    return [
        op("sadd", K.waited, "w1", 1.0, 1.01, waited=1, node=OLD),
        op("sadd", K.plain, "p1", 1.0, 1.01, node=OLD),
        op("sadd", K.plain, "p2", 2.5, 3.5, "fail", node=""),
        op("sadd", K.waited, "w2", 7.9, 8.0, waited=1),
        op("incr", K.counter, "", 8.0, 8.01),
        op("set", K.cache + "0", "1", 8.0, 8.01),
        op("get", K.cache + "0", "1", 8.1, 8.11),
        op("setex", K.sessions + "1", "1", 8.1, 8.11, waited=1),
        op("incr", K.ratelimit + "0:8", "1", 8.1, 8.11),
        op("expire", K.ratelimit + "0:8", "", 8.12, 8.13),
        op("zadd", K.window + "0", "r1:8100", 8.1, 8.11),
        op("zincrby", K.board, "player0", 8.1, 8.11),
        op("pfadd", K.hll, "u1", 8.1, 8.11),
        op("lpush", K.queue, "job1", 8.1, 8.11),
        op("brpop", K.queue, "job1", 8.2, 8.21),
        op("xadd", K.stream, "e1", 8.1, 8.11),
        op("xreadgroup", K.stream, "e1", 8.2, 8.21),
        op("xack", K.stream, "e1", 8.22, 8.23),
    ]


def _final() -> dict:
    return {
        "waited": {"w1", "w2"},
        "plain": {"p1"},
        "counter": 1,
        "board": 1,
        "queue": [],
        "cache-aside": {K.cache + "0": "1"},
        "sessions": {"1": 590},
        "rate-limit-incr": {"prefix": K.ratelimit, "counters": {K.ratelimit + "0:8": (1, 590)}},
        "sliding-window": {K.window + "0": ["r1:8100"]},
        "leaderboard": {"player0": 1.0},
        "hyperloglog": {"count": 1},
        "list-queue": {"items": []},
        "stream-group": {"items": ["e1"], "pending": 0},
    }


def _events(promote_at: float = 8.0) -> list[dict]:
    return [
        {"t": 7.0, "sentinel": "s1", "event": "+odown",
         "detail": "master redis-main 10.213.7.11 6379 #quorum 2/2"},
        {"t": promote_at, "sentinel": "s1", "event": "+switch-master",
         "detail": "redis-main 10.213.7.11 6379 10.213.7.12 6379"},
    ]  # fmt: skip


def _after() -> GroupState:
    return GroupState(
        roles={OLD: {"role": "slave", "master_link_status": "up"}, NEW: {"role": "master"}},
        views={"s1": NEW, "s2": NEW},
        settle=[],
        digests={OLD: "4 keys, sha256 ab", NEW: "4 keys, sha256 ab"},
    )


def _rec(**changes) -> Recording:
    rec = Recording(
        ops=_history(), events=_events(), fault_at=2.0, down_after_s=5.0, group="redis-main",
        old_primary=OLD, new_primary=NEW, keys=K, final=_final(), after=_after(),
    )  # fmt: skip
    return replace(rec, **changes)


def _criteria(result: dict) -> dict[str, dict]:
    return {c["name"]: c for c in result["criteria"]}


def _failed(result: dict) -> list[str]:
    return [c["name"] for c in result["criteria"] if not c["passed"]]


def test_a_run_within_its_limits_passes_with_every_criterion_named():
    result = verdict(KILL, _rec())
    assert result["passed"], _failed(result)
    names = list(_criteria(result))
    assert names[:3] == [
        "failed over to another server",
        "promoted within down-after + 2 s",
        "client error window within down-after + 4 s",
    ]
    assert "WAIT-confirmed writes lost" in names and "sessions: no WAIT-confirmed session lost" in names
    assert "the old primary rejoined as a replica" in names
    # The existing report fields are all there.
    assert {"time_to_promote_s", "error_window_s", "acked_lost_waited", "acked_lost_plain", "counter_lost",
            "queue_lost", "queue_duplicated", "split_brain_s", "old_primary_acked_s",
            "old_primary_acks_after_heal", "ops"} <= set(result["measures"])  # fmt: skip
    assert set(result["details"]) >= {"sets", "counter", "leaderboard", "queue", "patterns", "errors"}
    assert result["measures"]["error_window_s"] == 5.5 and result["measures"]["time_to_promote_s"] == 6.0


def test_a_lost_wait_confirmed_write_fails_the_run_and_shows_on_the_timeline():
    final = _final()
    final["waited"] = {"w2"}  # w1, confirmed by WAIT 1, did not survive
    result = verdict(KILL, _rec(final=final))
    assert not result["passed"] and _failed(result) == ["WAIT-confirmed writes lost"]
    assert _criteria(result)["WAIT-confirmed writes lost"]["measured"] == 1
    lost = [b for b in result["timeline"] if b["lost"]]
    assert [(b["t"], b["lost"]) for b in lost] == [(1.0, 1)]
    # Where the scenario allows it (a partition with the client on the old primary): judged, not failed.
    partition = SCENARIOS["partition-primary"].expect
    assert verdict(partition, _rec(final=final))["passed"]


def test_a_lost_wait_confirmed_session_fails_the_run():
    final = _final()
    final["sessions"] = {}
    result = verdict(KILL, _rec(final=final))
    assert _failed(result) == ["sessions: no WAIT-confirmed session lost"]


@pytest.mark.parametrize(("promote_at", "passed"), [(9.0, True), (9.001, False), (None, False)])
def test_promotion_time_at_its_limit(promote_at, passed):
    """Fault at 2.0 s, down-after 5 s, margin 2 s: the limit is 7.0 s after the fault."""
    events = _events(promote_at) if promote_at is not None else _events()[:1]
    result = verdict(KILL, _rec(events=events))
    criterion = _criteria(result)["promoted within down-after + 2 s"]
    assert criterion["passed"] is passed and criterion["limit"] == 7.0
    # A scenario whose fault takes effect over a moment has 3 s more.
    slow = verdict(SCENARIOS["hang-primary"].expect, _rec(events=events))
    assert _criteria(slow)["promoted within down-after + 5 s"]["passed"] is (promote_at is not None)


@pytest.mark.parametrize(("recovered", "passed"), [(11.5, True), (11.51, False)])
def test_error_window_at_its_limit(recovered, passed):
    """First failed write invoked at 2.5 s: down-after 5 s + 4 s puts the limit at 9 s, the first
    acknowledgement from the new primary at 11.5 s."""
    late = recovered - 8.0  # every acknowledgement of the new primary that much later
    ops = [
        replace(o, invoke=o.invoke + late, complete=o.complete + late) if o.invoke >= 7.9 else o
        for o in _history()
    ]
    result = verdict(KILL, _rec(ops=ops))
    criterion = _criteria(result)["client error window within down-after + 4 s"]
    assert criterion["passed"] is passed and criterion["limit"] == 9.0
    assert not any(
        c.startswith("client error window") for c in _criteria(verdict(Expectations(), _rec(ops=ops)))
    )


def test_acknowledged_losses_fail_only_where_the_scenario_allows_none():
    final = _final()
    final["plain"] = set()  # p1 lost
    final["list-queue"] = {"items": []}
    ops = [*_history(), op("lpush", K.queue, "job2", 8.3, 8.31)]  # acknowledged, never seen again
    manual = SCENARIOS["manual-failover"].expect
    assert verdict(KILL, _rec(final=final, ops=ops))["passed"]
    result = verdict(manual, _rec(final=final, ops=ops))
    assert set(_failed(result)) == {
        "acknowledged writes lost",
        "list-queue: no acknowledged push neither popped nor in the list",
    }
    assert not any(c.startswith("promoted within") for c in _criteria(result))  # not judged there


def test_a_lost_item_an_indeterminate_pop_may_have_taken_is_no_violation():
    ops = [*_history(), op("lpush", K.queue, "job2", 8.3, 8.31), op("brpop", K.queue, "", 8.4, 9.4, "info")]
    manual = SCENARIOS["manual-failover"].expect
    result = verdict(manual, _rec(ops=ops))
    assert result["passed"], _failed(result)
    assert result["details"]["patterns"]["list-queue"]["lost"] == 1


def test_no_failover_expected():
    majority = SCENARIOS["sentinel-majority-loss"].expect
    notes = {
        "ckquorum_during_fault": {"s1": "NOQUORUM 1 usable Sentinels", "s2": "ERROR Error 111 connecting"}
    }
    stayed = _rec(new_primary=OLD, notes=notes, events=[], after=replace(_after(), views={"s1": OLD}))
    stayed.after.roles = {OLD: {"role": "master"}, NEW: {"role": "slave", "master_link_status": "up"}}
    assert verdict(majority, stayed)["passed"], _failed(verdict(majority, stayed))
    moved = replace(stayed, new_primary=NEW, after=_after())
    assert _failed(verdict(majority, moved)) == ["no failover"]
    said_ok = replace(stayed, notes={"ckquorum_during_fault": {"s1": "OK 2 usable Sentinels"}})
    assert _failed(verdict(majority, said_ok)) == ["CKQUORUM reports the lost majority"]
    nobody = replace(stayed, notes={})
    assert _failed(verdict(majority, nobody)) == ["CKQUORUM reports the lost majority"]


def test_a_run_without_wait_confirmed_writes_or_an_unchecked_pattern_proves_nothing():
    ops = [o for o in _history() if o.kind not in ("sadd", "pfadd")]
    result = verdict(KILL, _rec(ops=ops))
    assert set(_failed(result)) == {
        "writes confirmed by WAIT 1 (so the loss count means something)",
        "every use-case pattern checked its invariant on something",
    }
    assert (
        _criteria(result)["every use-case pattern checked its invariant on something"]["measured"]
        == "hyperloglog"
    )


def test_the_group_state_is_judged_too():
    after = _after()
    after.roles[OLD] = {"role": "master"}  # the old primary still thinks it is one
    after.digests[OLD] = "3 keys, sha256 cd"
    after.views["s2"] = OLD
    result = verdict(KILL, _rec(after=after))
    assert set(_failed(result)) == {
        "exactly one primary",
        "every sentinel names it",
        "the same data on every node",
        "the old primary rejoined as a replica",
    }
    extra = {"name": "site.yml rerun changes nothing", "passed": False, "detail": "exit 2"}
    assert _failed(verdict(KILL, _rec(extra_verify=[extra]))) == ["site.yml rerun changes nothing"]


def test_the_verdict_is_pure():
    rec = _rec()
    before = copy.deepcopy(rec)
    assert verdict(KILL, rec) == verdict(KILL, rec)
    assert rec == before


def test_every_scenario_carries_its_expectations_as_data():
    for name, scenario in SCENARIOS.items():
        assert isinstance(scenario.expect, Expectations), name
    assert SCENARIOS["partition-primary"].expect.waited_loss
    assert not any(s.expect.waited_loss for n, s in SCENARIOS.items() if n != "partition-primary")
    assert SCENARIOS["manual-failover"].expect.promote_slack_s is None


PARTITION = SCENARIOS["partition-primary"].expect
FENCE = "the cut-off primary stopped acknowledging within min-replicas-max-lag + 3 s"


@pytest.mark.parametrize(("last_ack", "passed"), [(6.9, True), (7.0, True), (7.1, False)])
def test_a_partitioned_primary_is_judged_by_its_fence(last_ack, passed):
    """Fault at 2.0 s, min-replicas-max-lag 2: the old primary's acks must stop by 2 + 2 + 3 s."""
    ops = [*_history(), op("sadd", K.plain, "late", last_ack - 0.1, last_ack, node=OLD)]
    final = {**_final(), "plain": {"p1", "late"}}
    result = verdict(PARTITION, _rec(ops=ops, final=final, fence_closes_s=5.0))
    fence = _criteria(result)[FENCE]
    assert fence["passed"] is passed
    assert fence["measured"] == pytest.approx(last_ack - 2.0) and fence["limit"] == 5.0


def test_no_fence_criterion_without_the_fence_or_outside_a_partition():
    assert FENCE not in _criteria(verdict(PARTITION, _rec(fence_closes_s=None)))  # min-replicas-to-write 0
    assert FENCE not in _criteria(verdict(KILL, _rec(fence_closes_s=5.0)))
    assert verdict(KILL, _rec())["measures"]["old_primary_acked_s"] == 0.0
    no_failover = SCENARIOS["replica-loss"].expect
    assert verdict(no_failover, _rec(new_primary=OLD))["measures"]["old_primary_acked_s"] is None
