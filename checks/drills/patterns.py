"""The guide's use-case patterns in the drill's workload, each judged by its own invariant.

Pure functions, no I/O: each pattern's outcome compares the recorded client history (`Op`s) with
the state its keys were found in after healing (`workload.read_final`). Every outcome carries:

- ``checked``: how many things the invariant was checked on (non-zero, or it proved nothing);
- ``violations``: how often it did not hold;
- its own counts and samples (at most 20, sorted).

``lost_writes`` names the acknowledged writes the outcomes found lost, so the timeline can
show them in their own colour. The registry ``PATTERNS`` says, per pattern, which workers
write it, what it promises, and what class of loss a violation is: "waited" (a WAIT-confirmed
write: never allowed where the scenario keeps WAIT-confirmed writes), "acked" (an
acknowledged write: allowed only where the scenario allows acknowledged writes to be lost),
or "report" (the pattern's own weakness, counted and never judged).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from redisops.drills.history import Op, _by_value, _sample, counter_loss, outcome_of, queue_outcome

CACHE_KEYS = 20  # the cache-aside pattern's keys: cache:0 .. cache:19
RATE_CLIENTS = 3  # the limiters' clients (one counter or window each)
RATE_WINDOW_S = 1.0  # the INCR limiter starts a new counter every second
SLIDING_WINDOW_MS = 5000  # the sliding window: requests of the last 5 s
# HyperLogLog's standard error is 1.04 / sqrt(16384 registers) = 0.81 %; three of them.
HLL_ERROR = 3 * 1.04 / math.sqrt(16384)
_MEMBER = re.compile(r"^r\d+:(\d+)$")


def _acked(ops: Iterable[Op], kind: str) -> list[Op]:
    return [op for op in ops if op.kind == kind and outcome_of(op) == "ok"]


# ---- cache-aside --------------------------------------------------------------------------


def cache_aside(ops: list[Op], final: dict) -> dict:
    """No stale value served: every read ("get", value the version read, "" for a miss) must
    return at least the version of the last write of that key ("set") acknowledged before the
    read was invoked. A miss is no stale value (the application loads from its database) but is
    counted. Versions only grow per key, so an older version is one a lost write left behind."""
    writes: dict[str, list[tuple[float, int]]] = {}
    for op in _acked(ops, "set"):
        writes.setdefault(op.key, []).append((op.complete, int(op.value)))
    reads = [op for op in _acked(ops, "get")]
    stale, misses = [], 0
    for read in reads:
        before = [v for done, v in writes.get(read.key, []) if done is not None and done <= read.invoke]
        if not before:
            continue
        if read.value == "":
            misses += 1
        elif int(read.value) < max(before):
            stale.append(f"{read.key.rsplit(':', 1)[-1]}@{read.invoke:.2f}: v{read.value} < v{max(before)}")
    return {
        "checked": len(reads),
        "violations": len(stale),
        "reads": len(reads),
        "writes": sum(len(v) for v in writes.values()),
        "stale": len(stale),
        "misses_after_write": misses,
        "keys_final": sum(1 for v in final.values() if v is not None),
        "samples": {"stale": stale[:20]},
    }


# ---- sessions -----------------------------------------------------------------------------


def sessions(ops: list[Op], final: dict) -> dict:
    """Sessions (SETEX, then WAIT 1): none lost that was WAIT-confirmed. ``final`` maps each
    session id found to its TTL in seconds (-1: none)."""
    setex = [op for op in ops if op.kind == "setex"]
    acknowledged, waited, indeterminate, _ = _by_value(setex)
    present = set(final)
    lost_waited, lost_plain = waited - present, acknowledged - waited - present
    no_ttl = {k for k, ttl in final.items() if ttl is not None and ttl < 0}
    return {
        "checked": len(waited),
        "violations": len(lost_waited),
        "acknowledged": len(acknowledged),
        "acknowledged_waited": len(waited),
        "lost_waited": len(lost_waited),
        "lost_plain": len(lost_plain),
        "indeterminate_survived": len(indeterminate & present),
        "without_ttl": len(no_ttl),
        "final": len(present),
        "samples": {"lost_waited": _sample(lost_waited), "lost_plain": _sample(lost_plain)},
        "_lost": {(op.key, op.value) for op in setex if op.value in lost_waited | lost_plain},
    }


# ---- the INCR + EXPIRE rate limiter (the guide's non-atomic form) -------------------------


def rate_limit_incr(ops: list[Op], final: dict) -> dict:
    """Counters left without a TTL: the non-atomic INCR-then-EXPIRE has a race (the INCR that
    made the key applied, its EXPIRE not: a client error between the two, or an EXPIRE lost in
    a failover) and such a counter never resets. ``final`` is {"prefix": the counters' key
    prefix, "counters": {key: (value, ttl)}}; the increments lost are the acknowledged INCRs
    missing per counter."""
    prefix, counters = final.get("prefix") or "", final.get("counters") or {}
    incrs = [op for op in ops if op.kind == "incr" and prefix and op.key.startswith(prefix)]
    keys = sorted({op.key for op in incrs} | set(counters))
    lost = sum(counter_loss(incrs, int(counters[k][0]) if k in counters else 0, key=k)["lost"] for k in keys)
    no_ttl = sorted(k for k, (_, ttl) in counters.items() if ttl is not None and ttl < 0)
    # An INCR that answered 1 made the counter: its EXPIRE must follow.
    made = {op.key for op in _acked(incrs, "incr") if op.value == "1"}
    expired = {op.key for op in _acked(ops, "expire") if op.key.startswith(prefix)}
    return {
        "checked": len(counters),
        "violations": len(no_ttl),
        "counters": len(counters),
        "increments": len(_acked(incrs, "incr")),
        "without_ttl": len(no_ttl),
        "expire_not_acknowledged": len(made - expired),
        "increments_lost": lost,
        "samples": {"without_ttl": [k[len(prefix) :] for k in no_ttl][:20]},
    }


# ---- the sliding-window limiter on a sorted set ---------------------------------------------


def _score(member: str) -> int | None:
    found = _MEMBER.match(member)
    return int(found.group(1)) if found else None


def sliding_window(ops: list[Op], final: dict) -> dict:
    """Every acknowledged request still inside its window is in the sorted set: a request
    ("zadd", member "r<n>:<ms>") trims what is older than its time minus the window, so after
    the last request that may have applied (acknowledged or indeterminate) the members from its
    cutoff on must all be there. ``final`` maps each window key to its members."""
    attempted = [op for op in ops if op.kind == "zadd" and outcome_of(op) != "fail"]
    cutoff: dict[str, int] = {}
    for op in attempted:
        score = _score(op.value)
        if score is not None:
            cutoff[op.key] = max(cutoff.get(op.key, score), score - SLIDING_WINDOW_MS)
    due = {
        (op.key, op.value)
        for op in _acked(ops, "zadd")
        if (s := _score(op.value)) is not None and s >= cutoff.get(op.key, s)
    }
    present = {(k, m) for k, members in final.items() for m in members}
    lost = due - present
    tried = {(op.key, op.value) for op in ops if op.kind == "zadd"}
    return {
        "checked": len(due),
        "violations": len(lost),
        "requests": len(_acked(ops, "zadd")),
        "in_window": len(due),
        "lost": len(lost),
        "unexpected": len(present - tried),
        "samples": {"lost": _sample(m for _, m in lost)},
        "_lost": lost,
    }


# ---- the leaderboard ----------------------------------------------------------------------


def leaderboard(ops: list[Op], final: dict) -> dict:
    """Each member's final score equals its acknowledged ZINCRBY increments, or the difference
    is counted: lost (fewer than acknowledged) and unexpected (more than were attempted).
    ``final`` maps each member to its score. Whether the ranks are those the acknowledged
    increments make is counted too (a lost increment can reorder players)."""
    incrs = [op for op in ops if op.kind == "zincrby"]
    members = sorted({op.value for op in incrs} | set(final))
    short, over, lost, unexpected = [], [], 0, 0
    acked = Counter(op.value for op in incrs if outcome_of(op) == "ok")
    maybe = Counter(op.value for op in incrs if outcome_of(op) == "info")
    for m in members:
        score = int(final.get(m, 0))
        if score < acked[m]:
            lost += acked[m] - score
            short.append(f"{m}: {score} < {acked[m]}")
        elif score > acked[m] + maybe[m]:
            unexpected += score - acked[m] - maybe[m]
            over.append(f"{m}: {score} > {acked[m] + maybe[m]}")

    def ranks(scores) -> list[str]:
        return [m for m, _ in sorted(((m, scores.get(m, 0)) for m in members), key=lambda p: (-p[1], p[0]))]

    return {
        "checked": len(members),
        "violations": lost,
        "members": len(members),
        "increments": sum(acked.values()),
        "lost": lost,
        "unexpected": unexpected,
        "ranks_as_acknowledged": ranks({m: int(s) for m, s in final.items()}) == ranks(acked)
        if not maybe
        else None,
        "samples": {"short": short[:20], "over": over[:20]},
    }


# ---- HyperLogLog ----------------------------------------------------------------------------


def hyperloglog(ops: list[Op], final: dict) -> dict:
    """PFCOUNT after the run against the distinct elements whose PFADD was acknowledged: within
    HyperLogLog's error (3 standard errors, below by the acknowledged adds, above by the adds
    that may have applied). ``final`` is {"count": PFCOUNT}."""
    acknowledged, _, indeterminate, _ = _by_value(op for op in ops if op.kind == "pfadd")
    count = int(final.get("count") or 0)
    floor = math.floor(len(acknowledged) * (1 - HLL_ERROR))
    ceiling = math.ceil((len(acknowledged) + len(indeterminate)) * (1 + HLL_ERROR))
    below = max(0, floor - count)
    return {
        "checked": len(acknowledged),
        "violations": below + max(0, count - ceiling),
        "acknowledged": len(acknowledged),
        "indeterminate": len(indeterminate),
        "count": count,
        "missing": max(0, len(acknowledged) - count),
        "lowest_expected": floor,
        "highest_expected": ceiling,
    }


# ---- the list queue ---------------------------------------------------------------------------


def list_queue(ops: list[Op], final: dict) -> dict:
    """LPUSH / BRPOP: items acknowledged pushed but never popped and not in the list are lost.
    A pop whose reply was lost took an item nobody recorded: the violations are the items lost
    beyond the indeterminate pops. ``final`` is {"items": the list}."""
    out = queue_outcome(ops, list(final.get("items") or []))
    remaining = Counter(final.get("items") or [])
    delivered = {op.value for op in ops if op.kind == "brpop" and outcome_of(op) == "ok" and op.value}
    lost = {
        (op.key, op.value)
        for op in _acked(ops, "lpush")
        if op.value not in delivered and op.value not in remaining
    }
    return {
        "checked": out["pushed"],
        "violations": max(0, out["lost"] - out["pops_indeterminate"]),
        **out,
        "_lost": lost,
    }


# ---- the stream consumer group ------------------------------------------------------------------


def stream_group(ops: list[Op], final: dict) -> dict:
    """XADD / XREADGROUP / XACK, at least once: every acknowledged entry was delivered to the
    consumer or is still in the stream (nothing lost); entries delivered more than once are
    counted (duplicates are what at-least-once allows). ``final`` is {"items": the entries'
    items in the stream, "pending": entries delivered and not yet XACKed}."""
    acknowledged, _, indeterminate, failed = _by_value(op for op in ops if op.kind == "xadd")
    delivered = Counter(
        op.value for op in ops if op.kind == "xreadgroup" and outcome_of(op) == "ok" and op.value
    )
    in_stream = set(final.get("items") or [])
    seen = set(delivered) | in_stream
    lost = acknowledged - seen
    duplicated = {item for item, n in delivered.items() if n > 1}
    return {
        "checked": len(acknowledged),
        "violations": len(lost),
        "added": len(acknowledged),
        "delivered": sum(delivered.values()),
        "acked_by_consumer": len({op.value for op in _acked(ops, "xack")}),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "indeterminate_survived": len(indeterminate & seen),
        "unexpected": len(seen - acknowledged - indeterminate - failed),
        "pending": int(final.get("pending") or 0),
        "samples": {"lost": _sample(lost), "duplicated": _sample(duplicated)},
        "_lost": {(op.key, op.value) for op in ops if op.kind == "xadd" and op.value in lost},
    }


# ---- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    name: str
    invariant: str  # what it promises, for people (reports, docs)
    loss: str  # "waited", "acked" or "report": which rule of the scenario judges a violation
    outcome: Callable[[list[Op], dict], dict]


PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern(
            "cache-aside", "no stale value read after a newer write was acknowledged", "acked", cache_aside
        ),
        Pattern("sessions", "no WAIT-confirmed session lost", "waited", sessions),
        Pattern(
            "rate-limit-incr",
            "counters left without a TTL (INCR then EXPIRE is not atomic: the race is reported)",
            "report",
            rate_limit_incr,
        ),
        Pattern(
            "sliding-window",
            "every acknowledged request still in its window is counted",
            "acked",
            sliding_window,
        ),
        Pattern("leaderboard", "final scores equal the acknowledged increments", "acked", leaderboard),
        Pattern(
            "hyperloglog", "PFCOUNT within HyperLogLog's error of the acknowledged adds", "acked", hyperloglog
        ),
        Pattern("list-queue", "no acknowledged push neither popped nor in the list", "acked", list_queue),
        Pattern(
            "stream-group",
            "at least once: no acknowledged entry lost; duplicates counted",
            "acked",
            stream_group,
        ),
    )
}


def outcomes(ops: list[Op], final: dict) -> tuple[dict[str, dict], set[tuple[str, str]]]:
    """Every pattern's outcome (``final``: the patterns' final states by name, from
    ``workload.read_final``) and the acknowledged writes they found lost, as (key, value)."""
    results, lost = {}, set()
    for name, pattern in PATTERNS.items():
        result = pattern.outcome(ops, final.get(name) or {})
        lost |= result.pop("_lost", set())
        results[name] = {"invariant": pattern.invariant, "judged_as": pattern.loss, **result}
    return results, lost
