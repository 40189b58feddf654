"""The drill history analysis on synthetic histories: loss, indeterminacy, windows, sentinel timings."""

from __future__ import annotations

import pytest

from redisops.drills.history import (
    Op,
    acked_after,
    counter_loss,
    error_window,
    longest_gap,
    queue_outcome,
    sentinel_times,
    set_loss,
    split_brain_window,
    timeline,
    writes,
)

OLD, NEW = "10.213.7.11:6379", "10.213.7.12:6379"


def sadd(value, invoke, complete, outcome="ok", waited=None, node=OLD, key="s"):
    return Op("sadd", key, str(value), invoke, complete, outcome, waited, node)


# --- writes


def test_writes_are_everything_but_the_reads():
    ops = [
        sadd(1, 0.0, 0.1),
        Op("incr", "c", "", 0.1, 0.2, "ok"),
        Op("setex", "sess:1", "1", 0.2, 0.3, "fail"),
        Op("zincrby", "board", "alice", 0.3, None),
        Op("lpush", "q", "j1", 0.4, 0.5, "info"),
        Op("brpop", "q", "j1", 0.5, 0.6, "ok"),
        Op("get", "cache:1", "3", 0.6, 0.7, "ok"),
        Op("xreadgroup", "stream", "e1", 0.7, 0.8, "ok"),
        Op("xack", "stream", "e1", 0.8, 0.9, "ok"),
    ]
    assert [op.kind for op in writes(ops)] == ["sadd", "incr", "setex", "zincrby", "lpush", "xack"]


# --- set_loss


def test_set_loss_splits_every_kind_of_element():
    ops = [
        sadd(1, 0.0, 0.1, waited=1),  # confirmed by WAIT, survives
        sadd(2, 0.1, 0.2, waited=1),  # confirmed by WAIT, lost
        sadd(3, 0.2, 0.3),  # plain, lost
        sadd(4, 0.3, 0.4, waited=0),  # WAIT used, no replica acked: plain, lost
        sadd(5, 0.4, 1.4, "info"),  # timed out, survived
        sadd(6, 0.5, 1.5, "info"),  # timed out, lost
        sadd(7, 0.6, None, ""),  # still in flight at the end: indeterminate, survived
        sadd(8, 0.7, 0.7, "fail"),  # refused, absent: fine
        sadd(9, 0.8, 0.8, "fail"),  # refused, yet present: misclassified
        sadd(10, 0.9, 1.0),  # plain, survives
        sadd(11, 1.0, 1.1, key="other"),  # another key: ignored with key="s"
    ]
    final = {"1", "5", "7", "9", "10", "99"}  # 99 was never written

    result = set_loss(ops, final, key="s")

    assert {k: v for k, v in result.items() if k != "samples"} == {
        "attempted": 10,
        "acknowledged": 5,
        "acknowledged_waited": 2,
        "indeterminate": 3,
        "failed": 2,
        "final": 6,
        "lost": 3,
        "lost_waited": 1,
        "lost_plain": 2,
        "indeterminate_survived": 2,
        "indeterminate_lost": 1,
        "failed_present": 1,
        "unexpected": 1,
    }
    assert result["samples"] == {
        "lost_waited": ["2"],
        "lost_plain": ["3", "4"],
        "indeterminate_survived": ["5", "7"],
        "indeterminate_lost": ["6"],
        "failed_present": ["9"],
        "unexpected": ["99"],
    }


def test_set_loss_without_a_key_pools_every_set():
    ops = [sadd(1, 0.0, 0.1, key="a"), sadd(2, 0.1, 0.2, key="b")]
    result = set_loss(ops, {"1"})
    assert (result["acknowledged"], result["lost_plain"], result["samples"]["lost_plain"]) == (2, 1, ["2"])


def test_a_retried_element_takes_its_best_outcome():
    # Timed out, then retried and acknowledged with WAIT: acknowledged and confirmed.
    ops = [
        sadd(1, 0.0, 1.0, "info"),
        sadd(1, 1.0, 1.1, waited=1),
        sadd(2, 1.1, 1.2, "fail"),
        sadd(2, 1.2, 3.0, "info"),
    ]
    result = set_loss(ops, set())
    assert (result["acknowledged"], result["lost_waited"], result["lost_plain"]) == (1, 1, 0)
    assert (result["indeterminate"], result["indeterminate_lost"], result["failed"]) == (1, 1, 0)


def test_set_loss_samples_are_capped_and_sorted_as_numbers():
    ops = [sadd(n, n / 100, n / 100 + 0.001) for n in range(1, 31)]
    result = set_loss(ops, set())
    assert result["lost_plain"] == 30
    assert result["samples"]["lost_plain"] == [str(n) for n in range(1, 21)]


def test_set_loss_on_an_empty_history():
    result = set_loss([], set())
    assert all(v == 0 for k, v in result.items() if k != "samples")
    assert all(v == [] for v in result["samples"].values())
    # Anything present was never written.
    assert set_loss([], {"x"})["unexpected"] == 1


# --- counter_loss


def incr(invoke, outcome, key="c"):
    return Op("incr", key, "", invoke, None if outcome == "" else invoke + 0.01, outcome)


def test_counter_with_indeterminate_increments_is_not_lost_when_they_all_applied():
    ops = [incr(i / 10, "ok") for i in range(5)] + [incr(1.0, "info"), incr(1.1, "info"), incr(1.2, "fail")]
    assert counter_loss(ops, 7) == {"ok": 5, "info": 2, "fail": 1, "final": 7, "lost": 0, "unexpected": 0}


@pytest.mark.parametrize(
    ("final", "lost", "unexpected"),
    [
        (3, 2, 0),  # two acknowledged increments are missing
        (5, 0, 0),  # every ack there, both indeterminate ones lost: legitimate
        (6, 0, 0),
        (8, 0, 1),  # one more than ever attempted (the refused one must not count)
        (0, 5, 0),
    ],
)
def test_counter_loss_bounds(final, lost, unexpected):
    ops = [incr(i / 10, "ok") for i in range(5)] + [incr(1.0, "info"), incr(1.1, ""), incr(1.2, "fail")]
    result = counter_loss(ops, final)
    assert (result["ok"], result["info"], result["fail"]) == (5, 2, 1)
    assert (result["lost"], result["unexpected"]) == (lost, unexpected)


def test_counter_loss_filters_by_key_and_handles_an_empty_history():
    ops = [incr(0.0, "ok"), incr(0.1, "ok", key="other")]
    assert counter_loss(ops, 1, key="c")["ok"] == 1
    assert counter_loss(ops, 1)["ok"] == 2
    assert counter_loss([], 0) == {"ok": 0, "info": 0, "fail": 0, "final": 0, "lost": 0, "unexpected": 0}


# --- queue_outcome


def push(item, invoke, outcome="ok"):
    return Op("lpush", "q", item, invoke, invoke + 0.01, outcome)


def pop(item, invoke, outcome="ok"):
    return Op("brpop", "q", item, invoke, invoke + 0.01, outcome)


def test_queue_item_delivered_twice_lost_and_unexpected():
    ops = [
        push("j1", 0.0),
        push("j2", 0.1),
        push("j3", 0.2),
        push("j4", 0.3),
        push("j5", 0.4, "info"),  # never seen again: fine
        push("j6", 0.5, "info"),  # delivered: fine
        push("j7", 0.6, "fail"),
        pop("j1", 1.0),
        pop("j1", 1.1),  # delivered again, after a failover replayed the push
        pop("j2", 1.2),
        pop("j6", 1.3),
        pop("x9", 1.4),  # never pushed
        pop("", 1.5),  # BRPOP timed out empty
        pop("", 1.6, "info"),  # connection lost: may have taken an item
        pop("j3", 1.7, "fail"),  # refused: took nothing
    ]
    result = queue_outcome(ops, remaining=["j2", "j3"])  # j2 delivered and still queued; j4 gone

    assert {k: v for k, v in result.items() if k != "samples"} == {
        "pushed": 4,
        "delivered": 5,
        "remaining": 2,
        "pops_indeterminate": 1,
        "lost": 1,
        "duplicated": 2,
        "unexpected": 1,
        "indeterminate_survived": 1,
        "indeterminate_lost": 1,
        "failed_present": 0,
    }
    assert result["samples"] == {
        "lost": ["j4"],
        "duplicated": ["j1", "j2"],
        "unexpected": ["x9"],
        "indeterminate_survived": ["j6"],
        "indeterminate_lost": ["j5"],
        "failed_present": [],
    }


def test_queue_item_queued_twice_is_duplicated_and_a_failed_push_present_is_flagged():
    ops = [push("a", 0.0), push("b", 0.1, "fail")]
    result = queue_outcome(ops, remaining=["a", "a", "b"])
    assert (result["lost"], result["duplicated"], result["failed_present"], result["unexpected"]) == (
        0,
        1,
        1,
        0,
    )


def test_queue_outcome_filters_by_key_and_handles_an_empty_history():
    ops = [push("a", 0.0), Op("lpush", "other", "z", 0.1, 0.2, "ok")]
    assert queue_outcome(ops, ["a"], key="q")["pushed"] == 1
    assert queue_outcome(ops, ["a"])["lost"] == 1
    empty = queue_outcome([], [])
    assert all(v == 0 for k, v in empty.items() if k != "samples")


# --- error_window and longest_gap


def test_no_errors_no_window():
    ops = [sadd(1, 0.0, 0.1), sadd(2, 0.1, 0.2)]
    assert error_window(ops) == 0.0
    assert error_window([]) == 0.0
    assert longest_gap([]) == 0.0
    assert longest_gap([sadd(1, 0.0, 0.1)]) == 0.0


def test_error_window_runs_from_first_failure_to_first_success_after_it():
    ops = [
        sadd(1, 0.0, 0.1),
        sadd(2, 1.0, 3.0, "info"),  # the primary dies: times out
        sadd(3, 3.0, 3.0, "fail"),
        sadd(4, 3.5, 4.2),  # the new primary answers
        sadd(5, 4.2, 4.3),
        sadd(6, 6.0, 6.1, "fail"),  # a later episode: not counted
        Op("brpop", "q", "", 0.5, 0.6, "fail"),  # not a write
    ]
    assert error_window(ops) == pytest.approx(3.2)
    assert error_window(ops, since=5.0) == pytest.approx(0.1)  # 6.0 to the last completion, 6.1
    assert longest_gap(ops) == pytest.approx(4.1)


def test_error_window_with_completions_out_of_invoke_order():
    # Two clients: the write invoked at 2.5 hangs on the old primary until 9.0; the one invoked
    # at 2.6 reaches the new primary at 2.8. Writes got through again at 2.8.
    ops = [
        sadd(4, 2.6, 2.8, node=NEW),
        sadd(1, 0.0, 0.1),
        sadd(3, 2.5, 9.0),
        sadd(2, 1.0, 2.0, "fail"),
        sadd(5, 2.9, 3.0, node=NEW),
    ]
    assert error_window(ops) == pytest.approx(1.8)
    # Completions 0.1, 2.8, 3.0, 9.0: the longest gap is between completions, not invokes.
    assert longest_gap(ops) == pytest.approx(6.0)


def test_error_window_without_recovery_runs_to_the_last_completion():
    ops = [sadd(1, 0.0, 0.1), sadd(2, 1.0, 2.0, "fail"), sadd(3, 2.0, 5.0, "info"), sadd(4, 5.0, None, "")]
    assert error_window(ops) == pytest.approx(4.0)
    # An ok write invoked before the failure but completed after it is no recovery.
    ops = [sadd(1, 0.0, 4.0), sadd(2, 1.0, 2.0, "fail")]
    assert error_window(ops) == pytest.approx(3.0)


# --- split_brain_window


def test_split_brain_when_the_old_primary_keeps_acknowledging():
    ops = [
        sadd(1, 0.0, 0.1, node=OLD),
        sadd(2, 5.0, 5.2, node=NEW),  # first write the promoted replica acknowledged
        sadd(3, 5.1, 5.9, node=OLD),  # an isolated client still writing to the old primary
        sadd(6, 5.8, 6.5, node=OLD),
        sadd(4, 6.0, 7.0, "fail", node=OLD),  # refused (min-replicas-to-write): not an ack
        sadd(5, 6.6, 6.7, node=NEW),
        Op("brpop", "q", "x", 7.0, 8.0, "ok", node=OLD),  # not a write
    ]
    assert split_brain_window(ops, OLD, NEW) == pytest.approx(1.3)


def test_split_brain_sums_the_periods_the_old_primary_acknowledged_not_the_silence_between():
    """The fence closes 2.0 s after the promotion; when the partition heals (20.0 s) the old
    primary acknowledges a burst for 0.4 s before Sentinel demotes it."""
    fence = [sadd(i, 9.9 + i / 10, 10.0 + i / 10, node=OLD) for i in range(21)]  # 10.0 .. 12.0
    refused = [sadd(100 + i, 12.0 + i, 12.5 + i, "fail", node=OLD) for i in range(8)]
    healed = [sadd(200 + i, 19.9 + i / 10, 20.0 + i / 10, node=OLD) for i in range(5)]  # 20.0 .. 20.4
    new = [sadd(300, 20.5, 20.6, node=NEW)]
    ops = fence + refused + healed + new
    assert split_brain_window(ops, OLD, NEW, since=10.0) == pytest.approx(2.0 + 0.4)
    # A burst alone, long after the promotion, counts from its first ack.
    assert split_brain_window(healed + new, OLD, NEW, since=10.0) == pytest.approx(0.4)
    # Acks 1.5 s apart are two periods of no length (gap 1 s), or one of 1.5 s (gap 2 s).
    two = [sadd(1, 14.9, 15.0, node=OLD), sadd(2, 16.4, 16.5, node=OLD)]
    assert split_brain_window(two, OLD, NEW, since=10.0) == 0.0
    assert split_brain_window(two, OLD, NEW, since=10.0, gap=2.0) == pytest.approx(1.5)


def test_acked_after_is_how_long_the_cut_off_primary_kept_acknowledging():
    ops = [
        sadd(1, 0.0, 0.1, node=OLD),  # before the fault: not counted
        sadd(2, 2.5, 3.4, node=OLD),
        sadd(3, 3.0, 4.2, "fail", node=OLD),  # NOREPLICAS: the fence closed, not an ack
        sadd(4, 4.0, 5.5, "info", node=OLD),  # indeterminate: not an ack
        sadd(5, 6.0, 6.1, node=NEW),  # another node's ack
        Op("brpop", "q", "x", 7.0, 8.0, "ok", node=OLD),  # not a write
    ]
    assert acked_after(ops, OLD, since=2.0) == pytest.approx(1.4)
    assert acked_after(ops, OLD, since=3.5) == 0.0
    assert acked_after(ops, NEW, since=2.0) == pytest.approx(4.1)
    assert acked_after([], OLD, since=0.0) == 0.0


def test_no_split_brain_after_a_clean_failover_or_without_a_new_primary():
    ops = [sadd(1, 0.0, 0.1, node=OLD), sadd(2, 1.0, 4.0, "info", node=OLD), sadd(3, 4.0, 4.1, node=NEW)]
    assert split_brain_window(ops, OLD, NEW) == 0.0
    assert split_brain_window(ops[:2], OLD, NEW) == 0.0
    assert split_brain_window([], OLD, NEW) == 0.0


# --- timeline


def test_timeline_buckets_by_completion_with_empty_buckets():
    ops = [
        sadd(1, 0.0, 0.05),
        sadd(2, 0.05, 0.3, "info"),  # completes exactly on a bucket boundary
        sadd(3, 0.06, 0.31, "fail"),
        sadd(4, 0.3, 0.45),
        sadd(5, 0.4, None, ""),  # in flight: no completion
    ]
    assert timeline(ops) == [
        {"t": 0.0, "ok": 1, "fail": 0, "info": 0, "lost": 0},
        {"t": 0.1, "ok": 0, "fail": 0, "info": 0, "lost": 0},
        {"t": 0.2, "ok": 0, "fail": 0, "info": 0, "lost": 0},
        {"t": 0.3, "ok": 0, "fail": 1, "info": 1, "lost": 0},
        {"t": 0.4, "ok": 1, "fail": 0, "info": 0, "lost": 0},
    ]
    assert timeline(ops, bucket=1.0) == [{"t": 0.0, "ok": 2, "fail": 1, "info": 1, "lost": 0}]


def test_timeline_counts_the_acknowledged_writes_found_lost_within_ok():
    ops = [
        sadd(1, 0.0, 0.05),
        sadd(2, 0.05, 0.08),  # acknowledged, later lost
        sadd(3, 0.1, 0.15, "info"),  # indeterminate and "lost": not an acknowledged write lost
        sadd(4, 0.1, 0.12, key="other"),  # the same value under another key survived
    ]
    lost = {("s", "2"), ("s", "3"), ("other", "2")}
    assert timeline(ops, lost=lost) == [
        {"t": 0.0, "ok": 2, "fail": 0, "info": 0, "lost": 1},
        {"t": 0.1, "ok": 1, "fail": 0, "info": 1, "lost": 0},
    ]


def test_timeline_of_nothing_and_a_bad_bucket():
    assert timeline([]) == []
    assert timeline([sadd(1, 0.0, None, "")]) == []
    with pytest.raises(ValueError):
        timeline([sadd(1, 0.0, 0.1)], bucket=0)


# --- sentinel_times

MASTER = "master redis-main 10.213.7.11 6379"
REPLICA = "slave 10.213.7.12:6379 10.213.7.12 6379 @ redis-main 10.213.7.11 6379"
SENTINEL = "sentinel 3f2a 10.213.7.12 26379 @ redis-main 10.213.7.11 6379"
SWITCH = "redis-main 10.213.7.11 6379 10.213.7.12 6379"


def ev(t, event, detail, sentinel="s1"):
    return {"t": t, "sentinel": sentinel, "event": event, "detail": detail}


def test_a_full_failover():
    events = [
        ev(1.0, "+sdown", MASTER),  # an earlier blip, before the fault: ignored
        ev(10.5, "+sdown", REPLICA),  # a replica going down does not count as detection
        ev(10.6, "+sdown", SENTINEL),
        ev(13.1, "+sdown", MASTER, "s2"),
        ev(13.0, "+sdown", MASTER, "s1"),  # out of order in the list
        ev(13.4, "+odown", MASTER + " #quorum 2/2", "s2"),
        ev(13.5, "+try-failover", MASTER, "s2"),
        ev(13.6, "+elected-leader", MASTER, "s2"),
        ev(13.7, "+selected-slave", REPLICA, "s2"),
        ev(14.5, "+switch-master", SWITCH, "s3"),
        ev(14.4, "+switch-master", SWITCH, "s2"),
        ev(15.0, "+failover-end", MASTER, "s2"),
    ]
    result = sentinel_times(events, fault_at=10.0)
    assert result["time_to_detect"] == pytest.approx(3.4)
    assert result["detected_by"] == "+odown"
    assert result["time_to_promote"] == pytest.approx(4.4)
    assert result["promoted"] == "10.213.7.12:6379"
    assert result["failover_end"] == pytest.approx(5.0)
    assert result["leader"] == "s2"
    assert list(result["seen"]) == [
        "+sdown",
        "+odown",
        "+try-failover",
        "+elected-leader",
        "+selected-slave",
        "+switch-master",
        "+failover-end",
    ]
    assert result["seen"]["+sdown"] == pytest.approx(0.5)  # first of any kind, replica included


def test_detection_falls_back_to_sdown_when_no_odown_was_logged():
    events = [ev(10.2, "+sdown", REPLICA), ev(12.0, "+sdown", MASTER), ev(13.0, "+switch-master", SWITCH)]
    result = sentinel_times(events, fault_at=10.0)
    assert result["time_to_detect"] == pytest.approx(2.0)
    assert result["detected_by"] == "+sdown"
    assert result["time_to_promote"] == pytest.approx(3.0)
    assert result["failover_end"] is None


def test_no_failover_happened():
    # Only one sentinel saw the master down: no quorum, no promotion.
    events = [ev(5.0, "+sdown", MASTER), ev(9.0, "-sdown", MASTER)]
    result = sentinel_times(events, fault_at=4.0)
    assert result["time_to_detect"] == pytest.approx(1.0)
    assert (result["time_to_promote"], result["promoted"], result["failover_end"], result["leader"]) == (
        None,
        None,
        None,
        None,
    )
    assert set(result["seen"]) == {"+sdown", "-sdown"}


def test_nothing_detected_and_other_masters_ignored():
    assert sentinel_times([ev(5.0, "+sdown", REPLICA), ev(5.1, "+sdown", SENTINEL)], fault_at=4.0) == {
        "time_to_detect": None,
        "detected_by": None,
        "time_to_promote": None,
        "promoted": None,
        "failover_end": None,
        "leader": None,
        "seen": {"+sdown": pytest.approx(1.0)},
    }
    other = [ev(5.0, "+odown", "master cache 10.213.7.21 6379 #quorum 2/2"), ev(6.0, "+sdown", MASTER)]
    result = sentinel_times(other, fault_at=4.0, master="redis-main")
    assert (result["time_to_detect"], result["detected_by"]) == (pytest.approx(2.0), "+sdown")
    assert sentinel_times([], fault_at=0.0)["time_to_detect"] is None


def test_the_cli_offers_every_scenario_the_drill_knows():
    from redisops.cli import build_parser
    from redisops.drills.failover import SCENARIOS

    drill = next(
        a
        for a in build_parser()._subparsers._group_actions[0].choices["drill"]._actions
        if a.dest == "drill_command"
    )
    choices = next(a for a in drill.choices["failover"]._actions if a.dest == "scenario").choices
    assert set(choices) == set(SCENARIOS)


def test_split_brain_starts_at_the_promotion_when_clients_stay_with_the_old_primary():
    ops = [
        Op("sadd", "s", "a", invoke=1.0, complete=1.1, outcome="ok", node="old:1"),
        Op("sadd", "s", "b", invoke=6.0, complete=6.8, outcome="ok", node="old:1"),  # after the promotion
        Op("sadd", "s", "b2", invoke=7.0, complete=7.6, outcome="ok", node="old:1"),
        Op("sadd", "s", "c", invoke=12.0, complete=12.1, outcome="ok", node="new:1"),
    ]
    assert split_brain_window(ops, "old:1", "new:1") == 0.0  # by acks alone it looks clean
    assert split_brain_window(ops, "old:1", "new:1", since=6.0) == pytest.approx(1.6)


def test_the_error_window_ends_at_an_ack_of_the_new_primary_only():
    ops = [
        Op("sadd", "s", "a", invoke=1.0, complete=1.2, outcome="fail", node="old:1"),
        Op("sadd", "s", "b", invoke=2.0, complete=2.1, outcome="ok", node="old:1"),
        Op("sadd", "s", "c", invoke=5.0, complete=5.5, outcome="ok", node="new:1"),
    ]
    assert error_window(ops) == pytest.approx(1.1)
    assert error_window(ops, node="new:1") == pytest.approx(4.5)
