"""The client history of a drill and its analysis: pure functions, no I/O.

A drill records every client operation as an `Op` (Jepsen style): when it was invoked, when it
completed, and its outcome. "ok" means the server acknowledged it, "fail" that it was certainly
not applied, and "info" that nobody knows (a timeout, a connection lost after sending). An op
still in flight when the run ended counts as "info" too: it may or may not have been applied.

Each write carries a unique value, so after healing the final state can be compared with the
history: acknowledged writes that are missing were lost, indeterminate ones may go either way,
and anything present that no client ever attempted should not be there at all.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

WRITE_KINDS = frozenset(
    {"sadd", "incr", "setex", "zincrby", "lpush", "set", "expire", "zadd", "pfadd", "xadd", "xack"}
)
# Ops that read or take what others wrote: a consumer's BRPOP or XREADGROUP, a cache's GET.
READ_KINDS = frozenset({"brpop", "get", "xreadgroup"})
SAMPLE_SIZE = 20


@dataclass
class Op:
    kind: str  # a write (WRITE_KINDS) or a read (READ_KINDS: "brpop" and "xreadgroup" took an item)
    key: str
    value: str  # the unique element / item / member written or taken ("" for incr)
    invoke: float  # seconds since the run started (monotonic)
    complete: float | None = None  # None while in flight
    outcome: str = ""  # "ok", "fail" (certainly not applied) or "info" (indeterminate)
    waited: int | None = None  # replicas that acknowledged WAIT 1 after this write (None: no WAIT)
    node: str = ""  # "ip:port" of the server that answered
    error: str = ""


def outcome_of(op: Op) -> str:
    """ "ok", "fail" or "info": anything neither acknowledged nor certainly refused (an op still in
    flight, a blank outcome) is indeterminate."""
    return op.outcome if op.outcome in ("ok", "fail") else "info"


def writes(ops: Iterable[Op]) -> list[Op]:
    """The ops that change data: every kind but the reads (READ_KINDS), whatever their outcome, in
    history order."""
    return [op for op in ops if op.kind not in READ_KINDS]


def _natural(value: str) -> tuple:
    # Values are usually numbers written as strings: "2" sorts before "10".
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", value)))


def _sample(values: Iterable[str]) -> list[str]:
    return sorted(values, key=_natural)[:SAMPLE_SIZE]


def _by_value(ops: Iterable[Op]) -> tuple[set[str], set[str], set[str], set[str]]:
    """Split the values of `ops` by their best outcome: a value retried until one attempt was
    acknowledged is acknowledged; one with no ok but some indeterminate attempt is indeterminate.
    Returns (acknowledged, acknowledged with WAIT >= 1, indeterminate, failed)."""
    acknowledged, waited, indeterminate, attempted = set(), set(), set(), set()
    for op in ops:
        attempted.add(op.value)
        outcome = outcome_of(op)
        if outcome == "ok":
            acknowledged.add(op.value)
            if op.waited is not None and op.waited >= 1:
                waited.add(op.value)
        elif outcome == "info":
            indeterminate.add(op.value)
    indeterminate -= acknowledged
    failed = attempted - acknowledged - indeterminate
    return acknowledged, waited, indeterminate, failed


def set_loss(ops: Iterable[Op], final: set[str], key: str | None = None) -> dict:
    """Compare the "sadd" ops (of `key`, or of every key when None, then `final` must be the union)
    with the elements found in the set after healing.

    Counts, each with a sorted sample of at most 20 elements under "samples":
    - lost_waited: acknowledged elements missing from `final` whose ack was confirmed by WAIT
      (waited >= 1); these must never be lost in kill and hang drills.
    - lost_plain: acknowledged elements missing whose ack was not confirmed (no WAIT, or 0 replicas).
    - indeterminate_survived / indeterminate_lost: elements never acknowledged but with an
      indeterminate attempt, found / not found in `final`. Both are legitimate.
    - failed_present: elements whose every attempt "fail"ed yet are in `final`: the client's
      failure classification was wrong.
    - unexpected: elements in `final` that no sadd op ever attempted.
    Plus the totals attempted, acknowledged, acknowledged_waited, indeterminate, failed, lost and final.
    """
    sadds = [op for op in ops if op.kind == "sadd" and (key is None or op.key == key)]
    acknowledged, waited, indeterminate, failed = _by_value(sadds)
    groups = {
        "lost_waited": waited - final,
        "lost_plain": acknowledged - waited - final,
        "indeterminate_survived": indeterminate & final,
        "indeterminate_lost": indeterminate - final,
        "failed_present": failed & final,
        "unexpected": final - acknowledged - indeterminate - failed,
    }
    return {
        "attempted": len(acknowledged | indeterminate | failed),
        "acknowledged": len(acknowledged),
        "acknowledged_waited": len(waited),
        "indeterminate": len(indeterminate),
        "failed": len(failed),
        "final": len(final),
        "lost": len(groups["lost_waited"]) + len(groups["lost_plain"]),
        **{name: len(values) for name, values in groups.items()},
        "samples": {name: _sample(values) for name, values in groups.items()},
    }


def counter_loss(ops: Iterable[Op], final_value: int, key: str | None = None) -> dict:
    """Compare the "incr" ops (of `key`, or of every key when None) with the counter after healing.

    - ok / info / fail: how many increments were acknowledged, indeterminate, refused.
    - lost = max(0, ok - final_value): acknowledged increments that are missing. A lower bound:
      an applied indeterminate increment can hide a lost acknowledged one, a counter cannot tell.
    - unexpected = max(0, final_value - ok - info): more increments than were ever attempted
      (refused ones excluded).
    """
    counts = Counter(outcome_of(op) for op in ops if op.kind == "incr" and (key is None or op.key == key))
    ok, info = counts["ok"], counts["info"]
    return {
        "ok": ok,
        "info": info,
        "fail": counts["fail"],
        "final": final_value,
        "lost": max(0, ok - final_value),
        "unexpected": max(0, final_value - ok - info),
    }


def queue_outcome(ops: Iterable[Op], remaining: list[str], key: str | None = None) -> dict:
    """Compare "lpush" ops with what consumers took ("brpop" ops that are ok and carry a value; an
    ok brpop with an empty value timed out empty) and the items still in the queue after healing.

    Counts, each with a sorted sample of at most 20 items under "samples":
    - lost: acknowledged pushes neither delivered nor remaining.
    - duplicated: items seen more than once across deliveries and the queue (delivered twice,
      delivered and still queued, or queued twice).
    - unexpected: delivered or remaining items that no lpush op ever attempted.
    - indeterminate_survived / indeterminate_lost: unacknowledged pushes with an indeterminate
      attempt that were / were not delivered or remaining.
    - failed_present: pushes that only ever "fail"ed, yet were delivered or remain.
    Plus pushed (acknowledged), delivered, remaining, and pops_indeterminate: brpop ops whose
    outcome is unknown. A pop that reached the server but whose reply was lost takes an item
    nobody records, so up to that many "lost" items may have been consumed rather than lost.
    """
    ops = [op for op in ops if key is None or op.key == key]
    acknowledged, _, indeterminate, failed = _by_value(op for op in ops if op.kind == "lpush")
    delivered = [op.value for op in ops if op.kind == "brpop" and outcome_of(op) == "ok" and op.value]
    seen = Counter(delivered) + Counter(remaining)
    groups = {
        "lost": acknowledged - seen.keys(),
        "duplicated": {item for item, n in seen.items() if n > 1},
        "unexpected": seen.keys() - acknowledged - indeterminate - failed,
        "indeterminate_survived": indeterminate & seen.keys(),
        "indeterminate_lost": indeterminate - seen.keys(),
        "failed_present": failed & seen.keys(),
    }
    return {
        "pushed": len(acknowledged),
        "delivered": len(delivered),
        "remaining": len(remaining),
        "pops_indeterminate": sum(1 for op in ops if op.kind == "brpop" and outcome_of(op) == "info"),
        **{name: len(values) for name, values in groups.items()},
        "samples": {name: _sample(values) for name, values in groups.items()},
    }


def error_window(ops: Iterable[Op], since: float = 0.0, node: str | None = None) -> float:
    """Seconds clients could not write, for the first episode of errors.

    Among write ops invoked at or after `since`, in invoke order, take the first one that did not
    succeed (fail or info); the window runs from its invoke to the earliest completion of an ok
    write invoked strictly after it, the first moment a client got a write through again. With
    concurrent clients that need not be the next ok write in invoke order. If no write succeeded
    afterwards, the window runs to the last completion (or invoke, if none completed) of any write.
    0.0 when every write succeeded. Later episodes are not counted: see `longest_gap`. With
    `node`, only writes that server acknowledged end the window (the new primary: an ack from
    the old one during a partition is not a recovery).
    """
    ordered = sorted((op for op in writes(ops) if op.invoke >= since), key=lambda op: op.invoke)
    first_bad = next((op for op in ordered if outcome_of(op) != "ok"), None)
    if first_bad is None:
        return 0.0
    recovered = [
        op.complete
        for op in ordered
        if op.invoke > first_bad.invoke
        and outcome_of(op) == "ok"
        and op.complete is not None
        and (node is None or op.node == node)
    ]
    if recovered:
        end = min(recovered)
    else:
        end = max(op.complete if op.complete is not None else op.invoke for op in ordered)
    return max(0.0, end - first_bad.invoke)


def longest_gap(ops: Iterable[Op]) -> float:
    """The longest time between two consecutive completions of ok writes (by completion time),
    or from the last ok write to the last write when the history ends in errors: how long no
    write got through. 0.0 with fewer than two ok writes and no failures after them."""
    done = sorted(op.complete for op in writes(ops) if outcome_of(op) == "ok" and op.complete is not None)
    gaps = [b - a for a, b in itertools.pairwise(done)]
    # A history that ends in errors: the gap runs from the last ok write to the last write.
    ended = [op.complete for op in writes(ops) if op.complete is not None]
    if done and ended and max(ended) > done[-1]:
        gaps.append(max(ended) - done[-1])
    return max(gaps, default=0.0)


# The workload writes many times a second: an old primary that acknowledged nothing for this long
# was refusing writes (or unreachable) in between, and its acks on either side are two periods.
SPLIT_BRAIN_GAP_S = 1.0


def split_brain_window(
    ops: Iterable[Op],
    old_primary: str,
    new_primary: str,
    since: float | None = None,
    gap: float = SPLIT_BRAIN_GAP_S,
) -> float:
    """Seconds during which both primaries acknowledged writes. From the moment the new primary
    exists (its promotion `since`, or its first ack if earlier), the periods in which the old
    primary still acknowledged writes (ok writes, by completion; acks less than `gap` apart form
    one period, each from its first ack to its last) are summed. A period under way when the new
    primary appears counts from that moment. So a fence that closes late and a moment of acks
    when a partition heals each count for what they lasted, not the silence between them. 0.0 if
    the old primary acknowledged nothing afterwards or there is no new primary. Nodes are
    "ip:port"."""
    ops = list(ops)  # read twice below
    old = sorted(op.complete for op in _acked_by(ops, old_primary))
    new = [op.complete for op in _acked_by(ops, new_primary)]
    starts = [*new, *([since] if since is not None else [])]
    if not old or not starts:
        return 0.0
    start = min(starts)
    after = [t for t in old if t > start]
    if not after:
        return 0.0
    total = 0.0
    begin = last = start if after[0] - start <= gap else after[0]
    for t in after:
        if t - last > gap:
            total += last - begin
            begin = t
        last = t
    return total + (last - begin)


def acked_after(ops: Iterable[Op], node: str, since: float, until: float | None = None) -> float:
    """Seconds from `since` (the fault) to the last completion of an ok write answered by `node`
    before `until` (the heal; None: ever): how long a primary cut off from its replicas kept
    acknowledging writes, which min-replicas-max-lag bounds. 0.0 if it acknowledged none."""
    done = [
        op.complete
        for op in _acked_by(ops, node)
        if op.complete > since and (until is None or op.complete <= until)
    ]
    return max(done) - since if done else 0.0


def acks_after(ops: Iterable[Op], node: str, since: float) -> int:
    """How many writes `node` acknowledged after `since` (the heal of a partition)."""
    return sum(1 for op in _acked_by(ops, node) if op.complete > since)


def _acked_by(ops: Iterable[Op], node: str) -> list[Op]:
    return [
        op for op in writes(ops) if op.node == node and outcome_of(op) == "ok" and op.complete is not None
    ]


def timeline(ops: Iterable[Op], bucket: float = 0.1, lost: set[tuple[str, str]] | None = None) -> list[dict]:
    """Completed ops per `bucket` seconds of completion time, from 0 to the bucket holding the last
    completion, empty buckets included: [{"t": bucket start, "ok": n, "fail": n, "info": n,
    "lost": n}, ...]. Every op given is counted (pass `writes(ops)` for writes only); ops still
    in flight are not. "lost" is the part of "ok" found lost afterwards: acknowledged ops whose
    (key, value) is in `lost`.
    """
    if bucket <= 0:
        raise ValueError(f"bucket must be positive, got {bucket}")
    lost = lost or set()
    counts: Counter = Counter()
    for op in ops:
        if op.complete is None:
            continue
        # The epsilon keeps 0.3 in the bucket starting at 0.3, which plain float division would miss.
        index, outcome = max(0, math.floor(op.complete / bucket + 1e-9)), outcome_of(op)
        counts[index, outcome] += 1
        if outcome == "ok" and (op.key, op.value) in lost:
            counts[index, "lost"] += 1
    if not counts:
        return []
    last = max(index for index, _ in counts)
    return [
        {
            "t": round(i * bucket, 9),
            **{outcome: counts[i, outcome] for outcome in ("ok", "fail", "info", "lost")},
        }
        for i in range(last + 1)
    ]


def sentinel_times(events: Iterable[dict], fault_at: float, master: str | None = None) -> dict:
    """Failover timings from sentinel events ({"t", "sentinel", "event", "detail"}) at or after
    `fault_at`, in seconds after it, over all sentinels (the first one to see something counts):

    - time_to_detect: the first master-level +odown, or, if no sentinel logged one, the first
      master-level +sdown; "detected_by" says which ("+odown", "+sdown"). Replica and sentinel
      +sdown events ("slave ... @ ...", "sentinel ... @ ...") do not count.
    - time_to_promote: the first +switch-master; "promoted" is its new address "ip:port".
    - failover_end: the first +failover-end.
    - leader: the sentinel of the first +elected-leader.
    - seen: every event name seen (any master, any level), with its first time.
    Anything that did not happen is None. `master` limits the events above to one master name.
    """
    relevant = sorted((e for e in events if e["t"] >= fault_at), key=lambda e: e["t"])

    def about_master(event: dict) -> bool:
        words = event.get("detail", "").split()
        if event["event"] == "+switch-master":  # "<name> <old ip> <old port> <new ip> <new port>"
            return bool(words) and (master is None or words[0] == master)
        # Master-level events read "master <name> <ip> <port> ..."; others have "@ <master>" in them.
        return len(words) >= 2 and words[0] == "master" and (master is None or words[1] == master)

    def first(name: str) -> dict | None:
        return next((e for e in relevant if e["event"] == name and about_master(e)), None)

    def after_fault(event: dict | None) -> float | None:
        return None if event is None else event["t"] - fault_at

    detected = first("+odown") or first("+sdown")
    switched = first("+switch-master")
    switch_words = switched["detail"].split() if switched else []
    leader = first("+elected-leader")
    seen: dict[str, float] = {}
    for event in relevant:
        seen.setdefault(event["event"], event["t"] - fault_at)
    return {
        "time_to_detect": after_fault(detected),
        "detected_by": detected["event"] if detected else None,
        "time_to_promote": after_fault(switched),
        "promoted": ":".join(switch_words[3:5]) if len(switch_words) >= 5 else None,
        "failover_end": after_fault(first("+failover-end")),
        "leader": leader["sentinel"] if leader else None,
        "seen": seen,
    }
