"""Each use-case pattern's invariant on histories built in the test (no server), at its edges."""

from __future__ import annotations

import pytest

from redisops.drills import patterns as P
from redisops.drills.history import Op


def op(kind, key, value, invoke, complete, outcome="ok", waited=None):
    return Op(kind, key, value, invoke, complete, outcome, waited, "n1")


def test_cache_aside_counts_a_read_older_than_the_last_acknowledged_write_as_stale():
    ops = [
        op("set", "c:1", "1", 0.0, 0.1),
        op("set", "c:1", "2", 0.2, 0.3),
        op("get", "c:1", "2", 0.3, 0.31),  # invoked as the write completed: must see it
        op("get", "c:1", "1", 0.4, 0.41),  # stale: v2 was acknowledged before
        op("get", "c:1", "", 0.5, 0.51),  # a miss: the application reads its database
        op("set", "c:1", "3", 0.6, 0.9),
        op("get", "c:1", "2", 0.7, 0.71),  # v3 not acknowledged yet: not stale
        op("get", "c:2", "7", 0.7, 0.71),  # no write acknowledged before: nothing to compare
        op("get", "c:1", "1", 1.0, 1.1, "fail"),  # failed reads served nothing
    ]
    out = P.cache_aside(ops, {"c:1": "3", "c:2": None})
    assert (out["stale"], out["violations"], out["misses_after_write"], out["checked"]) == (1, 1, 1, 5)
    assert out["samples"]["stale"] == ["1@0.40: v1 < v2"] and out["keys_final"] == 1


def test_sessions_lost_when_wait_confirmed_is_a_violation_and_plain_is_counted():
    ops = [
        op("setex", "s:1", "1", 0.0, 0.1, waited=1),
        op("setex", "s:2", "2", 0.0, 0.1, waited=0),
        op("setex", "s:3", "3", 0.0, 0.1, waited=1),
        op("setex", "s:4", "4", 0.0, 0.1, "info"),
    ]
    out = P.sessions(ops, {"3": 500, "4": -1})
    assert (out["violations"], out["lost_waited"], out["lost_plain"]) == (1, 1, 1)
    assert out["indeterminate_survived"] == 1 and out["without_ttl"] == 1
    assert out["_lost"] == {("s:1", "1"), ("s:2", "2")}


def test_the_incr_limiter_reports_counters_without_a_ttl_and_missing_expires():
    ops = [
        op("incr", "rl:0:1", "1", 0.0, 0.1),
        op("expire", "rl:0:1", "", 0.1, 0.2),
        op("incr", "rl:1:1", "1", 0.0, 0.1),
        op("expire", "rl:1:1", "", 0.1, 0.2, "info"),  # the race: the client never knew
        op("incr", "rl:1:1", "2", 0.3, 0.4),
        op("incr", "counter", "", 0.0, 0.1),  # another pattern's counter
    ]
    final = {"prefix": "rl:", "counters": {"rl:0:1": (1, 590), "rl:1:1": (1, -1)}}
    out = P.rate_limit_incr(ops, final)
    assert (out["counters"], out["without_ttl"], out["violations"]) == (2, 1, 1)
    assert out["expire_not_acknowledged"] == 1 and out["increments_lost"] == 1 and out["increments"] == 3
    assert out["samples"]["without_ttl"] == ["1:1"]


def test_the_sliding_window_needs_every_acknowledged_request_from_the_last_cutoff_on():
    window = P.SLIDING_WINDOW_MS
    ops = [
        op("zadd", "w:0", "r1:1000", 1.0, 1.1),  # trimmed by the last request: fine
        op("zadd", "w:0", f"r2:{1000 + window}", 2.0, 2.1),  # exactly at the cutoff: must be there
        op("zadd", "w:0", f"r3:{2000 + window}", 3.0, 3.1),  # lost
        op("zadd", "w:0", f"r4:{1000 + 2 * window}", 4.0, 4.1, "info"),  # may have applied: cutoff
    ]
    final = {"w:0": [f"r2:{1000 + window}", "r9:1"]}
    out = P.sliding_window(ops, final)
    assert (out["in_window"], out["lost"], out["unexpected"]) == (2, 1, 1)
    assert out["_lost"] == {("w:0", f"r3:{2000 + window}")}
    final["w:0"].remove(f"r2:{1000 + window}")
    assert P.sliding_window(ops, final)["lost"] == 2


def test_leaderboard_scores_per_member():
    ops = [op("zincrby", "b", m, 0.0, 0.1, o) for m, o in
           [("a", "ok"), ("a", "ok"), ("b", "ok"), ("b", "info"), ("c", "fail")]]  # fmt: skip
    out = P.leaderboard(ops, {"a": 2.0, "b": 2.0, "c": 0.0})
    assert (out["lost"], out["unexpected"], out["violations"]) == (0, 0, 0)
    out = P.leaderboard(ops, {"a": 1.0, "b": 3.0, "c": 1.0})
    assert (out["lost"], out["unexpected"]) == (1, 2)
    assert out["samples"] == {"short": ["a: 1 < 2"], "over": ["b: 3 > 2", "c: 1 > 0"]}


@pytest.mark.parametrize(("count", "violations"), [(975, 0), (974, 1), (1025, 0), (1026, 1)])
def test_hyperloglog_within_its_error(count, violations):
    """1000 acknowledged adds, none indeterminate: 3 standard errors is 2.44 %."""
    ops = [op("pfadd", "h", f"u{i}", 0.0, 0.1) for i in range(1000)]
    out = P.hyperloglog(ops, {"count": count})
    assert (out["lowest_expected"], out["highest_expected"]) == (975, 1025)
    assert out["violations"] == violations


def test_the_list_queue_forgives_as_many_lost_items_as_pops_went_unanswered():
    ops = [op("lpush", "q", f"j{i}", 0.0, 0.1) for i in range(3)] + [op("brpop", "q", "j0", 0.2, 0.3)]
    assert P.list_queue(ops, {"items": ["j1"]})["violations"] == 1
    ops.append(op("brpop", "q", "", 0.4, 1.4, "info"))
    out = P.list_queue(ops, {"items": ["j1"]})
    assert (out["lost"], out["violations"]) == (1, 0) and out["_lost"] == {("q", "j2")}


def test_the_stream_group_is_at_least_once():
    ops = [op("xadd", "s", f"e{i}", 0.0, 0.1) for i in range(4)] + [
        op("xreadgroup", "s", "e0", 0.2, 0.3),
        op("xack", "s", "e0", 0.3, 0.31, "info"),
        op("xreadgroup", "s", "e0", 0.4, 0.5),  # re-read from the pending list: a duplicate
        op("xreadgroup", "s", "e1", 0.4, 0.5),
        op("xreadgroup", "s", "e9", 0.4, 0.5),  # never added
    ]
    out = P.stream_group(ops, {"items": ["e0", "e1", "e2"], "pending": 1})
    assert (out["lost"], out["duplicated"], out["unexpected"], out["violations"]) == (1, 1, 1, 1)
    assert out["samples"]["lost"] == ["e3"] and out["pending"] == 1 and out["delivered"] == 4


def test_every_pattern_is_registered_with_its_rule():
    assert set(P.PATTERNS) == {
        "cache-aside", "sessions", "rate-limit-incr", "sliding-window", "leaderboard", "hyperloglog",
        "list-queue", "stream-group",
    }  # fmt: skip
    assert {p.loss for p in P.PATTERNS.values()} == {"waited", "acked", "report"}
    assert P.PATTERNS["rate-limit-incr"].loss == "report" and P.PATTERNS["sessions"].loss == "waited"
