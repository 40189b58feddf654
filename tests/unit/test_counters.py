"""Cumulative counters judged as changes since the previous run (redisops.compliance.counters):
the pure comparison, the state kept between runs, and each check that judges a counter, on the
captured lab cluster. No server needed."""

from __future__ import annotations

import json
import time

import pytest

from redisops.compliance import counters as C
from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, RedisFacts
from redisops.compliance.model import FAIL, PASS, SKIPPED, Severity

from .checks_fixtures import apply_edits, base_facts

T0 = 1_790_000_000.0  # the previous run
T1 = T0 + 900.0  # this run, 15 minutes later
RUN_A, RUN_B = "a" * 40, "b" * 40


def facts(run_id=RUN_A, uptime=3600, slowlog=(), latency=(), **info) -> RedisFacts:
    return RedisFacts(
        target="redis-1:6379", host="redis-1", instance="main", address="10.0.0.11", port=6379,
        info={"redis_version": "7.0.15", "run_id": run_id, "uptime_in_seconds": uptime, **info},
        slowlog=[{"id": i, "start_time": T0, "duration_us": 20000, "command": "KEYS *"} for i in slowlog],
        latency_latest=[list(e) for e in latency],
    )  # fmt: skip


def utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))


def reading(at=T1, **kw) -> dict:
    return C.reading(facts(**kw), at)


# ---- what is read -------------------------------------------------------------------------------


def test_read_takes_the_stats_commandstats_slowlog_and_latency_counters():
    f = facts(
        slowlog=(41, 40, 39),
        latency=(("command", T0 - 60, 250, 900), ("fork", T0 - 30, 120, 120)),
        rejected_connections=3, sync_partial_err=1, sync_partial_ok=4, sync_full=2,
        total_net_input_bytes=99,  # not a counter any check judges
        cmdstat_keys={"calls": 5, "usec": 10}, **{"cmdstat_config|get": {"calls": 2}},
    )  # fmt: skip
    assert C.read(f) == {
        "rejected_connections": 3, "sync_partial_err": 1, "sync_partial_ok": 4, "sync_full": 2,
        "cmdstat_keys": 5, "cmdstat_config|get": 2,
        "slowlog_entries": 42,  # ids count from 0: the newest is the 42nd slow command
        "latency:command": int(T0 - 60), "latency:fork": int(T0 - 30),
    }  # fmt: skip


def test_an_empty_slowlog_has_no_position_and_the_first_entry_counts_one():
    assert "slowlog_entries" not in C.read(facts())
    assert C.read(facts(slowlog=(0,)))["slowlog_entries"] == 1


def test_a_reading_names_the_server_run_and_when():
    assert reading(rejected_connections=2) == {
        "run_id": RUN_A, "uptime_s": 3600, "role": "", "at": T1, "counters": {"rejected_connections": 2},
    }  # fmt: skip


def test_a_role_change_between_runs_is_noted():
    before = {**reading(rejected_connections=1), "role": "master"}
    now = {**reading(rejected_connections=1), "role": "slave"}
    assert C.compare(now, before)["role_changed"] is True
    assert C.compare({**now, "role": "master"}, before)["role_changed"] is False
    assert C.compare({**now, "role": ""}, before)["role_changed"] is False  # facts saved before: unknown


# ---- the comparison -----------------------------------------------------------------------------


def test_without_a_baseline_the_counters_count_since_the_server_started():
    since = C.compare(reading(rejected_connections=5), None)
    assert since["basis"] == C.START
    assert since["counters"] == {"rejected_connections": 5}
    assert since["started_at"] == T1 - 3600
    assert since["interval_s"] == since["previous_at"] == 0.0


def test_a_server_started_this_second_is_dated_and_an_unknown_uptime_is_not():
    assert C.compare(reading(uptime=0), None)["started_at"] == T1
    unknown = C.reading(RedisFacts(target="t", host="h", instance="i", address="a", port=1), T1)
    assert unknown["uptime_s"] == -1 and C.compare(unknown, None)["started_at"] == 0.0


def test_with_a_baseline_of_the_same_server_run_the_change_is_judged_with_the_interval():
    before = reading(at=T0, uptime=2700, rejected_connections=5, cmdstat_keys={"calls": 7})
    now = reading(rejected_connections=8, cmdstat_keys={"calls": 7})
    since = C.compare(now, before)
    assert since["basis"] == C.RUN
    assert since["counters"] == {"rejected_connections": 3, "cmdstat_keys": 0}
    assert (since["previous_at"], since["interval_s"], since["reset"]) == (T0, 900.0, [])


def test_a_new_run_id_is_a_restart_the_counters_count_since_it():
    before = reading(at=T0, uptime=50_000, rejected_connections=500)
    now = reading(run_id=RUN_B, uptime=300, rejected_connections=2)
    since = C.compare(now, before)
    assert since["basis"] == C.RESTART
    assert since["counters"] == {"rejected_connections": 2}
    assert since["started_at"] == T1 - 300 and since["interval_s"] == 900.0


def test_a_restart_is_seen_even_when_the_counters_grew_past_the_old_values():
    before = reading(at=T0, rejected_connections=1)
    since = C.compare(reading(run_id=RUN_B, rejected_connections=4), before)
    assert since["basis"] == C.RESTART and since["counters"] == {"rejected_connections": 4}


def test_without_run_ids_a_shorter_uptime_is_a_restart():
    before = reading(at=T0, run_id="", uptime=10_000, rejected_connections=9)
    assert C.compare(reading(run_id="", uptime=100, rejected_connections=1), before)["basis"] == C.RESTART
    assert C.compare(reading(run_id="", uptime=10_900, rejected_connections=9), before)["basis"] == C.RUN


def test_a_counter_that_went_down_was_reset_and_counts_from_its_reset():
    """CONFIG RESETSTAT in the same server run: INFO stats restart from 0, the slowlog does not."""
    before = reading(at=T0, rejected_connections=40, slowlog=(9,))
    since = C.compare(reading(rejected_connections=2, slowlog=(9,)), before)
    assert since["basis"] == C.RUN
    assert since["counters"] == {"rejected_connections": 2, "slowlog_entries": 0}
    assert since["reset"] == ["rejected_connections"]


def test_config_resetstat_resets_every_info_counter_at_once():
    """A busy server's KEYS calls can pass their old count after a reset: the run's own commands
    (total_commands_processed) show the reset, and every INFO counter then counts from it."""
    before = reading(
        at=T0, total_commands_processed=90_000, cmdstat_keys={"calls": 3}, rejected_connections=1
    )
    now = reading(
        total_commands_processed=400, cmdstat_keys={"calls": 5}, rejected_connections=1, slowlog=(7,)
    )
    since = C.compare(now, before)
    assert since["counters"] == {
        "total_commands_processed": 400, "cmdstat_keys": 5, "rejected_connections": 1, "slowlog_entries": 8,
    }  # fmt: skip
    assert since["reset"] == ["cmdstat_keys", "rejected_connections", "total_commands_processed"]
    # A command gone from commandstats tells the same.
    gone = C.compare(
        reading(rejected_connections=2), reading(at=T0, cmdstat_keys={"calls": 3}, rejected_connections=1)
    )
    assert gone["counters"] == {"rejected_connections": 2} and gone["reset"] == ["rejected_connections"]


def test_errorstats_are_counters_that_config_resetstat_resets_with_the_others():
    assert C.read(facts(errorstat_OOM={"count": 4}, errorstat_NOPERM={"count": 9})) == {
        "errorstat_OOM": 4, "errorstat_NOPERM": 9,
    }  # fmt: skip
    before = reading(at=T0, errorstat_OOM={"count": 4}, rejected_connections=1)
    rose = C.compare(reading(errorstat_OOM={"count": 6}, rejected_connections=1), before)
    assert rose["counters"] == {"errorstat_OOM": 2, "rejected_connections": 0} and rose["reset"] == []
    # CONFIG RESETSTAT empties errorstats: an error gone from it resets every INFO counter.
    gone = C.compare(reading(rejected_connections=1, errorstat_NOPERM={"count": 1}), before)
    assert gone["counters"] == {"rejected_connections": 1, "errorstat_NOPERM": 1}
    assert gone["reset"] == ["errorstat_NOPERM", "rejected_connections"]


def test_a_rate_counts_over_the_time_since_the_previous_run_else_since_the_start():
    since = C.compare(reading(errorstat_NOPERM={"count": 40}), reading(at=T0, errorstat_NOPERM={"count": 10}))
    judged_now = facts(errorstat_NOPERM={"count": 40})
    judged_now.since = since
    assert C.per_minute(judged_now, 30) == pytest.approx(2.0)  # 30 in 15 minutes
    assert C.per_minute(facts(uptime=7200), 60) == pytest.approx(0.5)  # no baseline: 60 in 2 hours
    assert C.per_minute(facts(uptime=5), 3) == pytest.approx(3.0)  # counted over a minute at least


def test_a_counter_first_seen_in_the_same_server_run_counts_from_zero():
    before = reading(at=T0, rejected_connections=0)
    now = reading(rejected_connections=0, cmdstat_keys={"calls": 2}, latency=(("fork", T1 - 10, 150, 150),))
    assert C.compare(now, before)["counters"] == {
        "rejected_connections": 0, "cmdstat_keys": 2, "latency:fork": int(T1 - 10),
    }  # fmt: skip


def test_a_latency_event_changes_only_with_a_later_spike():
    before = reading(at=T0, latency=(("command", T0 - 60, 250, 900),))
    same = C.compare(reading(latency=(("command", T0 - 60, 250, 900),)), before)
    later = C.compare(reading(latency=(("command", T0 + 60, 130, 900),)), before)
    assert same["counters"] == {"latency:command": 0}
    assert later["counters"] == {"latency:command": 120}


# ---- the state between runs ----------------------------------------------------------------------


def cluster_of(*redis: RedisFacts, at=T1) -> ClusterFacts:
    return ClusterFacts(redis=list(redis), gathered_at=at)


def test_judge_since_sets_since_on_each_target_read_and_returns_the_new_state():
    f = facts(rejected_connections=6)
    state = C.judge_since(cluster_of(f), {"redis-1:6379": reading(at=T0, rejected_connections=4)})
    assert f.since["basis"] == C.RUN and f.since["counters"] == {"rejected_connections": 2}
    assert state == {"redis-1:6379": reading(rejected_connections=6)}


def test_a_new_target_is_judged_since_its_start_and_joins_the_state():
    other = facts(rejected_connections=1)
    other.target = "redis-9:6379"
    state = C.judge_since(cluster_of(other), {"redis-1:6379": reading(at=T0)})
    assert other.since["basis"] == C.START and other.since["counters"] == {"rejected_connections": 1}
    assert set(state) == {"redis-1:6379", "redis-9:6379"}  # the target not in this run keeps its own
    assert state["redis-1:6379"] == reading(at=T0)


def test_a_target_that_could_not_be_read_keeps_its_old_baseline():
    down = RedisFacts(target="redis-1:6379", host="redis-1", instance="main", address="a", port=6379,
                      error="connection refused")  # fmt: skip
    old = {"redis-1:6379": reading(at=T0, rejected_connections=4)}
    assert C.judge_since(cluster_of(down), old) == old
    assert down.since == {}


def test_the_baseline_keeps_the_slowlog_and_latency_not_shown_this_time_in_the_same_server_run():
    """An emptied slowlog (SLOWLOG RESET) keeps its position: a later entry is counted from it. A
    command gone from commandstats was reset (CONFIG RESETSTAT): it counts from 0 again."""
    before = reading(at=T0, slowlog=(41,), latency=(("fork", T0 - 5, 150, 150),), cmdstat_keys={"calls": 3})
    state = C.judge_since(cluster_of(facts()), {"redis-1:6379": before})
    assert state["redis-1:6379"]["counters"] == {"slowlog_entries": 42, "latency:fork": int(T0 - 5)}
    later = facts(slowlog=(43,))
    C.judge_since(cluster_of(later, at=T1 + 900), state)
    assert later.since["counters"]["slowlog_entries"] == 2
    # After a restart nothing is carried over.
    restarted = C.judge_since(cluster_of(facts(run_id=RUN_B)), {"redis-1:6379": before})
    assert restarted["redis-1:6379"]["counters"] == {}


def test_the_state_file_round_trips_and_holds_no_secret_nor_key_name(tmp_path):
    data = apply_edits(base_facts(), [])
    cluster = ClusterFacts.from_dict(data)
    state = C.judge_since(cluster, {})
    path = tmp_path / "counters.json"
    path.write_text(C.state_json(state))
    assert C.load_state(path) == state
    text = path.read_text()
    assert json.loads(text)["kind"] == C.STATE_KIND
    names = [k["name"] for f in data["redis"] if f.get("keys") for k in f["keys"]["keys"]]
    assert names and not any(name in text for name in names)
    assert "password" not in text and "masterauth" not in text


def test_no_state_file_is_no_baseline_and_a_foreign_file_is_refused(tmp_path):
    assert C.load_state(tmp_path / "missing.json") == {}
    for text in ("not json", '{"endpoints": []}', '{"kind": "redisops-check-counters", "targets": []}'):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ValueError, match=r"bad\.json"):
            C.load_state(tmp_path / "bad.json")


# ---- the words of the messages -------------------------------------------------------------------


def since_of(now: dict, before: dict | None) -> RedisFacts:
    f = facts()
    f.since = C.compare(now, before)
    return f


def test_the_words_say_since_when():
    before = reading(at=T0, rejected_connections=1)
    run = C.since_words(since_of(reading(rejected_connections=2), before), ["rejected_connections"])
    assert run == f"since the previous run at {utc(T0)} UTC (15 min earlier)"
    restart = C.since_words(since_of(reading(run_id=RUN_B, uptime=120), before), ["rejected_connections"])
    assert restart.startswith("since the server restarted at ") and ", after the previous run at " in restart
    reset = C.since_words(since_of(reading(rejected_connections=0), reading(at=T0, rejected_connections=9)),
                          ["rejected_connections"])  # fmt: skip
    assert reset.startswith("since the counters were reset (CONFIG RESETSTAT) after the previous run at ")
    start = C.since_words(since_of(reading(), None), ["rejected_connections"])
    assert start == (
        f"since the server started at {utc(T1 - 3600)} UTC or the last CONFIG RESETSTAT "
        "(no earlier run to compare with)"
    )
    assert C.since_words(since_of(reading(), None), ["slowlog_entries"]).endswith(
        " or the last SLOWLOG RESET (no earlier run to compare with)"
    )


def test_facts_saved_before_counters_were_compared_are_judged_since_the_start():
    f = facts(rejected_connections=3)
    assert f.since == {}
    assert C.change(f, ["rejected_connections"]) == C.Change(
        3, "since the server started 60 min ago or the last CONFIG RESETSTAT (no earlier run to compare with)"
    )
    words = C.since_words(f, ["rejected_connections"], run_checks_context(T1))
    assert words.startswith(f"since the server started at {utc(T1 - 3600)} UTC or the last CONFIG RESETSTAT")


def run_checks_context(at: float):
    from redisops.compliance.settings import Context, Thresholds

    return Context(thresholds=Thresholds(), cluster=ClusterFacts(gathered_at=at))


# ---- each check that judges a counter, over two runs ---------------------------------------------

# The captured cluster's primary, with each counter risen before the previous run.
EARLIER = {
    "CON-02": [{"path": ["redis", 0, "info", "rejected_connections"], "set": 5}],
    "PRF-01": [
        {
            "path": ["redis", 0, "slowlog"],
            "set": [{"id": 7, "start_time": T0 - 600, "duration_us": 25000, "command": "KEYS *"}],
        },
        {"path": ["redis", 0, "slowlog_len"], "set": 1},
    ],
    "PRF-02": [{"path": ["redis", 0, "latency_latest"], "set": [["command", int(T0 - 600), 250, 900]]}],
    "PRF-03": [{"path": ["redis", 0, "info", "cmdstat_keys"], "set": {"calls": 3, "usec": 900}}],
    "MEM-09": [{"path": ["redis", 0, "info", "errorstat_OOM"], "set": {"count": 12}}],
    "PRF-10": [{"path": ["redis", 0, "info", "errorstat_BUSY"], "set": {"count": 2}}],
    "HA-15": [{"path": ["redis", 0, "info", "errorstat_READONLY"], "set": {"count": 30}}],
    "SEC-17": [{"path": ["redis", 0, "info", "errorstat_NOPERM"], "set": {"count": 400}}],
    "MEM-12": [{"path": ["redis", 0, "info", "evicted_scripts"], "set": 4800}],
}
# ... and risen once more after it.
SINCE = {
    "CON-02": [{"path": ["redis", 0, "info", "rejected_connections"], "set": 6}],
    "PRF-01": [
        {
            "path": ["redis", 0, "slowlog"],
            "set": [
                {"id": 8, "start_time": T1 - 60, "duration_us": 40000, "command": "FLUSHALL"},
                {"id": 7, "start_time": T0 - 600, "duration_us": 95000, "command": "KEYS *"},
            ],
        },
        {"path": ["redis", 0, "slowlog_len"], "set": 2},
    ],
    "PRF-02": [{"path": ["redis", 0, "latency_latest"], "set": [["command", int(T1 - 60), 180, 900]]}],
    "PRF-03": [{"path": ["redis", 0, "info", "cmdstat_keys"], "set": {"calls": 5, "usec": 1500}}],
    "MEM-09": [{"path": ["redis", 0, "info", "errorstat_OOM"], "set": {"count": 15}}],
    "PRF-10": [{"path": ["redis", 0, "info", "errorstat_BUSY"], "set": {"count": 3}}],
    "HA-15": [{"path": ["redis", 0, "info", "errorstat_READONLY"], "set": {"count": 31}}],
    # 300 more in the 15 minutes between the runs: 20 a minute.
    "SEC-17": [{"path": ["redis", 0, "info", "errorstat_NOPERM"], "set": {"count": 700}}],
    "MEM-12": [{"path": ["redis", 0, "info", "evicted_scripts"], "set": 5200}],
}
MESSAGES = {
    "CON-02": ("1 connection rejected since the previous run at ", "rejected_connections 6"),
    "PRF-01": ("the slowlog logged 1 entry over 10.0 ms since the previous run at ", "FLUSHALL took 40.0 ms"),
    "PRF-02": ("1 latency event spiked over 100 ms since the previous run at ", "command 180 ms"),
    "PRF-03": ("INFO commandstats: KEYS 2 times since the previous run at ",),
    "MEM-09": ("3 commands refused with OOM since the previous run at ",),
    "PRF-10": ("1 command refused with BUSY since the previous run at ",),
    "HA-15": ("1 write refused with READONLY since the previous run at ",),
    "SEC-17": ("300 commands denied with NOPERM since the previous run at ", "20.0 a minute (above 1)"),
    "MEM-12": ("400 EVAL scripts evicted from the script cache since the previous run at ",),
}


def judged(check_id: str, edits: list[dict], state: dict, at: float) -> tuple[list, dict]:
    data = apply_edits(base_facts(), edits)
    data["gathered_at"] = at
    cluster = ClusterFacts.from_dict(data)
    new = C.judge_since(cluster, state)
    results = [r for r in run_checks(cluster, only=[check_id]).results if r.target == "redis-1:6379"]
    return results, new


# HA-15 needs a baseline of the same server run: a failover's READONLY burst (the writes in flight
# on the demoted primary) cannot be told apart without one (test_check_judgements).
BASELINE_ONLY = {"HA-15"}


@pytest.mark.parametrize("check_id", sorted(set(EARLIER) - BASELINE_ONLY))
def test_a_counter_that_rose_before_the_previous_run_fails_only_without_a_baseline(check_id):
    (first,), state = judged(check_id, EARLIER[check_id], {}, T0)
    assert first.status == FAIL and first.severity <= Severity.HIGH, first
    assert "since the server started at " in first.message, first.message
    assert "(no earlier run to compare with)" in first.message, first.message
    (second,), _ = judged(check_id, EARLIER[check_id], state, T1)
    assert second.status == PASS, second.message


@pytest.mark.parametrize("check_id", sorted(EARLIER))
def test_a_counter_that_rose_since_the_previous_run_fails(check_id):
    _, state = judged(check_id, EARLIER[check_id], {}, T0)
    (result,), _ = judged(check_id, SINCE[check_id], state, T1)
    assert result.status == FAIL, result
    for part in MESSAGES[check_id]:
        assert part in result.message, result.message
    assert "(15 min earlier)" in result.message


@pytest.mark.parametrize("check_id", sorted(BASELINE_ONLY))
def test_a_baseline_only_counter_is_not_judged_since_a_start_or_a_restart(check_id):
    (first,), state = judged(check_id, EARLIER[check_id], {}, T0)
    assert first.status == SKIPPED and "without a previous run" in first.message, first.message
    restart = [*EARLIER[check_id], {"path": ["redis", 0, "info", "run_id"], "set": RUN_B}]
    (result,), _ = judged(check_id, restart, state, T1)
    assert result.status == SKIPPED and "since the server restarted" in result.message, result.message


@pytest.mark.parametrize("check_id", sorted(set(EARLIER) - BASELINE_ONLY))
def test_after_a_restart_the_counters_are_judged_since_it(check_id):
    _, state = judged(check_id, SINCE[check_id], {}, T0)
    restart = [*EARLIER[check_id], {"path": ["redis", 0, "info", "run_id"], "set": RUN_B}]
    (result,), new = judged(check_id, restart, state, T1)
    assert result.status == FAIL and "since the server restarted at " in result.message, result.message
    assert new["redis-1:6379"]["run_id"] == RUN_B


def test_con02_judges_without_the_configuration():
    """A run without the hosts' reader has no CONFIG GET: INFO has all CON-02 needs."""
    edits = [*SINCE["CON-02"], {"path": ["redis", 0, "unread"], "set": "no reader"}]
    (result,), _ = judged("CON-02", edits, {}, T1)
    assert result.status == FAIL and result.message.endswith("rejected_connections 6, maxclients 10000")


# ---- the run: where the counters are kept ---------------------------------------------------------


@pytest.fixture
def run(tmp_path, monkeypatch):
    """`redisops check --targets ...` over the captured cluster with edits, gathered at a time:
    returns (exit code, the JSON report)."""
    from redisops.cli import main
    from redisops.compliance import gather
    from redisops.inventory import Targets, write_targets

    targets = tmp_path / "targets.json"
    write_targets(Targets(), targets)

    def run_at(at: float, edits: list[dict], *args: str):
        data = apply_edits(base_facts(), edits)
        data["gathered_at"] = at
        monkeypatch.setattr(gather, "gather", lambda *a, **kw: ClusterFacts.from_dict(data))
        report = tmp_path / "report.json"
        code = main(["check", "--targets", str(targets), "--format", "json", "--output", str(report), *args])
        return code, json.loads(report.read_text()) if report.exists() else {}

    return run_at


def con02(report: dict) -> dict:
    (found,) = [r for r in report["results"] if r["check"] == "CON-02" and r["target"] == "redis-1:6379"]
    return found


REJECTED = [{"path": ["redis", 0, "info", "rejected_connections"], "set": 5}]
ONE_MORE = [{"path": ["redis", 0, "info", "rejected_connections"], "set": 6}]


def test_state_keeps_the_counters_between_runs(run, tmp_path):
    state = tmp_path / "state" / "counters.json"
    _, first = run(T0, REJECTED, "--state", str(state))
    assert con02(first)["status"] == FAIL and "(no earlier run to compare with)" in con02(first)["message"]
    kept = json.loads(state.read_text())
    assert kept["kind"] == C.STATE_KIND and "redisops_version" in kept
    assert set(kept["targets"]) == {"redis-1:6379", "redis-2:6379", "redis-3:6379"}
    assert kept["targets"]["redis-1:6379"]["counters"]["rejected_connections"] == 5
    _, second = run(T1, REJECTED, "--state", str(state))
    assert con02(second)["status"] == PASS
    _, third = run(T1 + 900, ONE_MORE, "--state", str(state))
    assert con02(third)["status"] == FAIL
    assert con02(third)["message"].startswith("1 connection rejected since the previous run at ")


def test_history_keeps_the_counters_beside_the_reports(run, tmp_path):
    history = tmp_path / "history"
    run(T0, REJECTED, "--history", str(history))
    assert (history / "counters.json").exists()
    _, second = run(T1, REJECTED, "--history", str(history), "--history-days", "1")
    assert con02(second)["status"] == PASS
    # Pruning the reports never takes the counters.
    assert len(list(history.glob("check-*.json"))) == 2 and (history / "counters.json").exists()


def test_without_state_or_history_the_counters_count_since_the_start(run, tmp_path):
    run(T0, REJECTED)
    _, again = run(T1, REJECTED)
    assert con02(again)["status"] == FAIL and "(no earlier run to compare with)" in con02(again)["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "targets.json"]


def test_a_target_that_could_not_be_read_keeps_its_baseline(run, tmp_path):
    state = tmp_path / "counters.json"
    run(T0, REJECTED, "--state", str(state))
    before = json.loads(state.read_text())["targets"]
    code, _ = run(T1, [{"path": ["redis", 0, "error"], "set": "connection refused"}], "--state", str(state))
    assert code == 2
    after = json.loads(state.read_text())["targets"]
    assert after["redis-1:6379"] == before["redis-1:6379"]
    assert after["redis-2:6379"]["at"] == T1
    # Back again with no new rejection: judged against the run before the outage.
    _, back = run(T1 + 900, REJECTED, "--state", str(state))
    assert con02(back)["status"] == PASS


def test_a_file_that_is_not_a_counters_file_is_refused_and_kept(run, tmp_path, capsys):
    state = tmp_path / "targets-copy.json"
    state.write_text('{"endpoints": []}')
    code, _ = run(T0, REJECTED, "--state", str(state))
    assert code == 2 and "is not a counters file of redisops check" in capsys.readouterr().err
    assert state.read_text() == '{"endpoints": []}'


def test_saved_facts_keep_their_changes_and_touch_no_counters_file(run, tmp_path, capsys):
    from redisops.cli import main

    state, saved = tmp_path / "counters.json", tmp_path / "facts.json"
    run(T0, REJECTED, "--state", str(state))
    run(T1, ONE_MORE, "--state", str(state), "--dump-facts", str(saved))
    assert json.loads(saved.read_text())["redis"][0]["since"]["counters"]["rejected_connections"] == 1
    kept = state.read_text()
    history = tmp_path / "history"
    assert main(["check", "--facts", str(saved), "--format", "json", "--history", str(history)]) == 1
    (finding,) = [r for r in json.loads(capsys.readouterr().out)["results"] if r["check"] == "CON-02"
                  and r["status"] == FAIL]  # fmt: skip
    assert finding["message"].startswith("1 connection rejected since the previous run at ")
    assert not (history / "counters.json").exists() and state.read_text() == kept
    assert main(["check", "--facts", str(saved), "--state", str(state)]) == 64


def test_a_failovers_reconfiguration_in_the_slowlog_is_the_operations_cost_not_a_finding():
    """Sentinel's command link and the kit's switchover rewrite redis.conf (an fsync) on every
    replica in a failover; an application's slow command beside them is still reported."""
    _, state = judged("PRF-01", EARLIER["PRF-01"], {}, T0)

    def since(*entries) -> list[dict]:
        return [
            {"path": ["redis", 0, "slowlog"], "set": [*entries, EARLIER["PRF-01"][0]["set"][0]]},
            {"path": ["redis", 0, "slowlog_len"], "set": 1 + len(entries)},
        ]

    rewrite = {"id": 8, "start_time": T1 - 60, "duration_us": 31000, "command": "CONFIG REWRITE",
               "client_name": "sentinel-1f2e3d4c-cmd"}  # fmt: skip
    ours = {"id": 9, "start_time": T1 - 59, "duration_us": 12000, "command": "CONFIG REWRITE",
            "client_name": "redisops-switchover"}  # fmt: skip
    (result,), _ = judged("PRF-01", since(ours, rewrite), state, T1)
    assert result.status == PASS, result.message
    app = {"id": 10, "start_time": T1 - 30, "duration_us": 40000, "command": "FLUSHALL", "client_name": "app"}
    (result,), _ = judged("PRF-01", since(app, ours, rewrite), state, T1)
    assert result.status == FAIL and "logged 1 entry" in result.message and "FLUSHALL" in result.message
    # More new entries than were read, those read all reconfiguration: the rest are reported.
    more = [{"path": ["redis", 0, "slowlog"], "set": [{**rewrite, "id": 20}, {**ours, "id": 19}]},
            {"path": ["redis", 0, "slowlog_len"], "set": 13}]  # fmt: skip
    (result,), _ = judged("PRF-01", more, state, T1)
    assert result.status == FAIL and "logged 11 entries" in result.message, result.message
    assert "the latest 2 were a failover's reconfiguration" in result.message
    # A client merely calling itself sentinel-something is not Sentinel's command link.
    posing = {**rewrite, "client_name": "sentinel-monitor"}
    (result,), _ = judged("PRF-01", since(posing), state, T1)
    assert result.status == FAIL, result.message
