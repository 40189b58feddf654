"""A failover run's verdict: what a scenario expects, as data, and a pure judgement of what the
run recorded (the client history, the sentinels' events, the keys' final state and the group's
state after the run). No I/O: ``failover.run_once`` records, this judges, and the tests judge
histories they build themselves.

Limits are relative to the group's down-after-milliseconds (an inventory setting), so one
scenario's expectations hold on every inventory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from redisops.core import health, profiles
from redisops.drills import history as H
from redisops.drills.history import Op
from redisops.drills.patterns import PATTERNS, outcomes


@dataclass(frozen=True)
class Expectations:
    """What a scenario promises, as limits."""

    failover: bool = True  # a new primary at the end (True), or the same one (False)
    # Promotion within down-after + the drill's margin (run_once's promote_margin_s) + this;
    # None: the promotion time is not judged (a manual failover does not wait for down-after).
    promote_slack_s: float | None = 0.0
    # The client error window within down-after + this; None: not judged.
    error_window_margin_s: float | None = None
    waited_loss: bool = False  # may WAIT-confirmed writes be lost (never, but in a partition)
    acked_loss: bool = True  # may acknowledged writes not confirmed by WAIT be lost
    lost_majority: bool = False  # CKQUORUM must report the lost majority during the fault
    # The primary, cut off from its replicas but not from the client, stops acknowledging writes
    # within min-replicas-max-lag + FENCE_SLACK_S (judged where the group has that fence).
    fenced: bool = False


# How long after min-replicas-max-lag has run out a cut-off primary may still acknowledge a write
# (named in the criterion; the limit is core.profiles.fence_closes_s).
FENCE_SLACK_S = profiles.FENCE_DELAY_S


@dataclass
class GroupState:
    """The group after the run, as read from it."""

    roles: dict[str, dict]  # each server's INFO replication ({}: it did not answer)
    views: dict[str, str | None]  # each sentinel's primary ("ip:port"; None: no answer)
    settle: list[str]  # why the group was not healthy again (empty: it was)
    digests: dict[str, str]  # each server's digest of the drill's keys


@dataclass
class Recording:
    """Everything one run recorded."""

    ops: list[Op]
    events: list[dict]
    fault_at: float
    down_after_s: float
    group: str  # the Sentinel group's name (its events are about it)
    old_primary: str
    new_primary: str
    keys: object  # workload.Keys: the run's key names
    final: dict  # workload.read_final: what the keys held afterwards
    after: GroupState
    info_before: dict[str, dict] = field(default_factory=dict)
    info_after: dict[str, dict] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # the scenario's (ckquorum_during_fault, ...)
    extra_verify: list[dict] = field(default_factory=list)  # e.g. the site.yml rerun
    # Within how many seconds the old primary's fence closes once it is cut off from its replicas
    # (core.profiles.fence_closes_s of its live settings; None: nothing fences it).
    fence_closes_s: float | None = None
    healed_at: float | None = None  # when the fault was undone (None: not recorded)


def _criterion(name: str, passed: bool, measured, limit, unit: str) -> dict:
    return {"name": name, "passed": bool(passed), "measured": measured, "limit": limit, "unit": unit}


def _brief(result: dict) -> dict:
    return {k: v for k, v in result.items() if not isinstance(v, list) or len(v) <= 20}


def _full_resyncs(before: dict[str, dict], after: dict[str, dict]) -> int:
    return sum(
        # A restarted node counts from 0 again.
        a["sync_full"] - (b["sync_full"] if a["sync_full"] >= b["sync_full"] else 0)
        for addr, a in after.items()
        if (b := before.get(addr)) is not None
    )


def analyse(rec: Recording) -> tuple[dict, dict, set[tuple[str, str]]]:
    """The run's measures, its details (per set, counter, queue and pattern) and the
    acknowledged writes found lost, as (key, value)."""
    ops, final, keys = rec.ops, rec.final, rec.keys
    waited = H.set_loss(ops, final["waited"], key=keys.waited)
    plain = H.set_loss(ops, final["plain"], key=keys.plain)
    counter = H.counter_loss(ops, final["counter"], key=keys.counter)
    board_ops = [replace(op, kind="incr") for op in ops if op.kind == "zincrby"]
    board = H.counter_loss(board_ops, final["board"], key=keys.board)
    queue = H.queue_outcome(ops, final["queue"], key=keys.queue)
    patterns, lost = outcomes(ops, final)
    for key, members in ((keys.waited, final["waited"]), (keys.plain, final["plain"])):
        acked = {op.value for op in ops if op.kind == "sadd" and op.key == key and H.outcome_of(op) == "ok"}
        lost |= {(key, value) for value in acked - members}
    times = H.sentinel_times(rec.events, rec.fault_at, master=rec.group)
    failed_over = rec.new_primary != rec.old_primary
    promote = times.get("time_to_promote")
    promoted_at = rec.fault_at + promote if promote is not None else None
    measures = {
        "time_to_detect_s": times.get("time_to_detect"),
        "time_to_promote_s": promote,
        # Until the first write acknowledged by the primary the group ends with.
        "error_window_s": round(
            H.error_window(ops, since=rec.fault_at, node=rec.new_primary if failed_over else None), 3
        ),
        "longest_gap_s": round(H.longest_gap(ops), 3),
        "acked_lost_waited": waited["lost_waited"] + plain["lost_waited"],
        "acked_lost_plain": waited["lost_plain"] + plain["lost_plain"],
        "indeterminate_survived": waited["indeterminate_survived"] + plain["indeterminate_survived"],
        "counter_lost": counter["lost"] + board["lost"],
        "queue_lost": queue["lost"],
        "queue_duplicated": queue["duplicated"],
        "full_resyncs": _full_resyncs(rec.info_before, rec.info_after),
        # The time both primaries acknowledged writes: from the promotion (or the new primary's
        # first ack, if earlier), the periods in which the old one still did.
        "split_brain_s": round(
            H.split_brain_window(ops, rec.old_primary, rec.new_primary, since=promoted_at), 3
        )
        if failed_over
        else 0.0,
        # How long the old primary kept acknowledging writes after the fault, until the heal (None
        # without a failover): in a partition, min-replicas-max-lag's bound at work.
        "old_primary_acked_s": round(H.acked_after(ops, rec.old_primary, rec.fault_at, rec.healed_at), 3)
        if failed_over
        else None,
        # Writes it acknowledged after the heal, before Sentinel demoted it: seen on the lab in
        # some runs, for a fraction of a second, when it counts a replica as good again.
        "old_primary_acks_after_heal": H.acks_after(ops, rec.old_primary, rec.healed_at)
        if failed_over and rec.healed_at is not None
        else None,
        "ops": len(ops),
        # The use-case patterns: how often their invariants did not hold, in all.
        "pattern_violations": sum(p["violations"] for p in patterns.values()),
        "acked_writes_lost_seen": len(lost),
    }
    details = {
        "sets": {"waited": _brief(waited), "plain": _brief(plain)},
        "counter": counter,
        "leaderboard": board,
        "queue": _brief(queue),
        "patterns": patterns,
        "notes": rec.notes,
        "info_before": rec.info_before,
        "info_after": rec.info_after,
        # What clients were told while it failed: the most frequent errors.
        "errors": [
            {"outcome": k[0], "error": k[1], "count": n}
            for k, n in Counter((op.outcome, op.error[:100]) for op in ops if op.outcome != "ok").most_common(
                5
            )
        ],
    }
    return measures, details, lost


def verification(rec: Recording) -> list[dict]:
    """The group's state after the run, judged: one primary, every sentinel names it, healthy
    again, the same data everywhere and, after a failover, the old primary a linked replica."""
    after, new = rec.after, rec.new_primary
    verify = [
        {
            "name": "exactly one primary",
            "passed": sum(r.get("role") == "master" for r in after.roles.values()) == 1,
            "detail": new,
        },
        {
            "name": "every sentinel names it",
            "passed": set(after.views.values()) == {new},
            "detail": str(after.views),
        },
        {
            "name": "the group is healthy again (replicas linked, CKQUORUM OK)",
            "passed": not after.settle,
            "detail": "; ".join(after.settle) if after.settle else "yes",
        },
        {
            "name": "the same data on every node",
            "passed": len(set(after.digests.values())) == 1,
            "detail": ", ".join(f"{a}: {d}" for a, d in after.digests.items()),
        },
    ]
    if new != rec.old_primary:
        role = after.roles.get(rec.old_primary, {})
        verify.append(
            {
                "name": "the old primary rejoined as a replica",
                "passed": role.get("role") == "slave" and health.link_up(role),
                "detail": f"{rec.old_primary}: {role.get('role', 'unreachable')}",
            }
        )
    return verify + list(rec.extra_verify)


def judge(
    expect: Expectations,
    rec: Recording,
    measures: dict,
    details: dict,
    verify: list[dict],
    promote_margin_s: float = 2.0,
) -> list[dict]:
    """The criteria of a run: each expectation against what was measured, then the verification."""
    down_after = rec.down_after_s
    failed_over = rec.new_primary != rec.old_primary
    criteria = []
    if expect.failover:
        criteria.append(
            _criterion(
                "failed over to another server", failed_over, rec.new_primary, "not " + rec.old_primary, ""
            )
        )
        if expect.promote_slack_s is not None:
            promote = measures["time_to_promote_s"]
            margin = promote_margin_s + expect.promote_slack_s
            limit = round(down_after + margin, 1)
            criteria.append(
                _criterion(
                    f"promoted within down-after + {margin:g} s",
                    promote is not None and promote <= limit,
                    promote,
                    limit,
                    "s",
                )
            )
    else:
        criteria.append(_criterion("no failover", not failed_over, rec.new_primary, rec.old_primary, ""))
    if expect.error_window_margin_s is not None:
        window = measures["error_window_s"]
        limit = round(down_after + expect.error_window_margin_s, 1)
        criteria.append(
            _criterion(
                f"client error window within down-after + {expect.error_window_margin_s:g} s",
                window <= limit,
                window,
                limit,
                "s",
            )
        )
    if expect.lost_majority:
        during = rec.notes.get("ckquorum_during_fault", {})
        reachable = {
            k: v for k, v in during.items() if not v.startswith("ERROR Error") and "Connection" not in v
        }
        criteria.append(
            _criterion(
                "CKQUORUM reports the lost majority",
                bool(reachable) and all("NOQUORUM" in v for v in reachable.values()),
                "; ".join(f"{k}: {v}" for k, v in reachable.items()) or "no sentinel answered",
                "not OK",
                "",
            )
        )
    if expect.fenced and failed_over and rec.fence_closes_s is not None:
        acked = measures["old_primary_acked_s"]
        limit = rec.fence_closes_s
        criteria.append(
            _criterion(
                "the cut-off primary stopped acknowledging within min-replicas-max-lag + "
                f"{FENCE_SLACK_S:g} s",
                acked <= limit,
                acked,
                limit,
                "s",
            )
        )
    confirmed = details["sets"]["waited"].get("acknowledged_waited", 0)
    criteria.append(
        _criterion(
            "writes confirmed by WAIT 1 (so the loss count means something)",
            confirmed > 0,
            confirmed,
            "> 0",
            "writes",
        )
    )
    patterns = details["patterns"]
    unchecked = sorted(name for name, p in patterns.items() if not p["checked"])
    criteria.append(
        _criterion(
            "every use-case pattern checked its invariant on something",
            not unchecked,
            ", ".join(unchecked) or "all",
            "all",
            "",
        )
    )
    if not expect.waited_loss:
        criteria.append(
            _criterion(
                "WAIT-confirmed writes lost",
                measures["acked_lost_waited"] == 0,
                measures["acked_lost_waited"],
                0,
                "writes",
            )
        )
    if not expect.acked_loss:
        criteria.append(
            _criterion(
                "acknowledged writes lost",
                measures["acked_lost_plain"] == 0,
                measures["acked_lost_plain"],
                0,
                "writes",
            )
        )
    for name, p in patterns.items():
        judged_by = PATTERNS[name].loss
        if (judged_by == "waited" and not expect.waited_loss) or (
            judged_by == "acked" and not expect.acked_loss
        ):
            criteria.append(
                _criterion(f"{name}: {p['invariant']}", p["violations"] == 0, p["violations"], 0, "")
            )
    criteria += [_criterion(v["name"], v["passed"], v["detail"], "", "") for v in verify]
    return criteria


def verdict(expect: Expectations, rec: Recording, promote_margin_s: float = 2.0) -> dict:
    """The judged run: {"passed", "criteria", "measures", "details", "verify", "timeline"}, every
    part a function of ``rec`` (the patterns' outcomes are in details["patterns"])."""
    measures, details, lost = analyse(rec)
    verify = verification(rec)
    criteria = judge(expect, rec, measures, details, verify, promote_margin_s)
    return {
        "passed": all(c["passed"] for c in criteria),
        "criteria": criteria,
        "measures": measures,
        "details": details,
        "verify": verify,
        "timeline": H.timeline(H.writes(rec.ops), lost=lost),
    }
