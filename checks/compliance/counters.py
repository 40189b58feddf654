"""Cumulative counters, judged as changes since the previous run rather than since the start.

INFO's rejected_connections and sync_partial_err, INFO commandstats calls, INFO errorstats counts
(errorstat_OOM, errorstat_NOPERM, ...), the slowlog's entry ids
and LATENCY LATEST's spike times only grow while a server runs: judged as they stand, one refused
client fails CON-02 until the next restart. So each run keeps every target's counters in a small
JSON file (``redisops check --state FILE``, or ``counters.json`` in the ``--history`` directory),
and the next run judges what changed since then:

- ``read`` takes the counters out of one target's facts, ``reading`` adds what says which server
  run they belong to (INFO run_id, uptime) and when they were read.
- ``compare`` is the whole rule, pure: this run's reading of a target against the previous one
  gives the ``since`` mapping the checks judge (``RedisFacts.since``). A new run_id (a restart)
  starts again from the server's start; a counter lower than before counts from its reset (CONFIG
  RESETSTAT resets INFO stats, commandstats and errorstats together: one of them lower, or a command
  gone from commandstats or an error gone from errorstats, resets them all); a target never read
  before is judged since the server started, and says so.
- ``judge_since`` sets ``since`` on every target that was read and returns the state to save:
  a target that could not be read keeps its old baseline.
- ``change`` and ``changed`` are what a check calls: the amount to judge and the words that say
  since when.

The file holds counters, run ids and times only: no secret, no key name. Command, error and
latency event names are Redis's own. The one reading of keys it keeps is the length of the lists
of the primary's key sample (KEY-07 judges how much they grew), a bounded number of them, each
under a digest of its database and name (``list_digest``), never the name.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redisops.compliance.facts import ClusterFacts, RedisFacts, as_float

# INFO stats counters the checks judge (CON-02; replication: sync_partial_err and its context), and
# two that grow with every run's own commands and connection: lower than before, they tell that
# CONFIG RESETSTAT set every INFO stats and commandstats counter back to 0.
STATS = (
    "rejected_connections",
    "sync_partial_err",
    "sync_partial_ok",
    "sync_full",
    "total_connections_received",
    "total_commands_processed",
    # The profile checks: evictions (PRO-02) and a cache's hits and misses (PRO-03).
    "evicted_keys",
    "keyspace_hits",
    "keyspace_misses",
    "evicted_scripts",  # MEM-12: EVAL scripts evicted from the script cache (Redis 8)
)
CMDSTAT = "cmdstat_"  # + command (and |subcommand): its calls, INFO commandstats
ERRORSTAT = "errorstat_"  # + error prefix (OOM, NOPERM, ...): the errors replied, INFO errorstats
SLOWLOG = "slowlog_entries"  # the newest slowlog entry's id + 1: slow commands logged since the start
LATENCY = "latency:"  # + event: the time of the event's latest spike, LATENCY LATEST (server clock)
# What a ``since`` mapping's basis says the changes are counted from.
RUN = "previous run"  # the previous run that read this server
RESTART = "restart"  # the server restarted after the previous run: since its start
START = "server start"  # no earlier run to compare with: since the server started

STATE_KIND = "redisops-check-counters"
STATE_FILE = "counters.json"  # in the --history directory


def read(facts: RedisFacts) -> dict[str, int]:
    """The cumulative counters in one Redis target's facts, by name."""
    info = facts.info
    out = {name: int(as_float(info[name])) for name in STATS if name in info}
    for key, value in info.items():
        if key.startswith(CMDSTAT) and isinstance(value, dict):
            out[key] = int(as_float(value.get("calls")))
        elif key.startswith(ERRORSTAT) and isinstance(value, dict):
            out[key] = int(as_float(value.get("count")))
    ids = [int(as_float(e.get("id"), -1)) for e in facts.slowlog if isinstance(e, dict)]
    if ids and max(ids) >= 0:
        out[SLOWLOG] = max(ids) + 1  # ids count from 0 and SLOWLOG RESET does not reset them
    for event in facts.latency_latest:
        if isinstance(event, (list, tuple)) and len(event) >= 4:
            out[LATENCY + str(event[0])] = int(as_float(event[1]))
    return out


LISTS = "lists"  # in a reading: list_digest -> length of the sampled lists (KEY-07)
LISTS_MAX = 100  # the sampled lists a reading keeps, by default (Thresholds.list_growth_lists_max)


def list_digest(db: object, name: str) -> str:
    """What the state keeps a sampled list under: the first 16 hex digits of the SHA-256 of its
    database and name, so its length can be compared at the next run without the state holding
    the name."""
    text = f"{int(as_float(db))}\n{name}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _length(key: dict) -> int | None:
    value = key.get("length")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def sampled_lists(facts: RedisFacts, most: int = LISTS_MAX) -> dict[str, int] | None:
    """The lengths of the lists of the target's key sample by digest, the ``most`` longest ones;
    None when the target sampled no keys (a replica, a sample that failed)."""
    if facts.keys is None:
        return None
    lists = [
        (list_digest(k.get("db", 0), str(k.get("name", ""))), length)
        for k in facts.keys.get("keys") or []
        if isinstance(k, dict) and k.get("type") == "list" and (length := _length(k)) is not None
    ]
    lists.sort(key=lambda item: (-item[1], item[0]))
    return dict(lists[: max(0, most)])


def reading(facts: RedisFacts, at: float, lists_max: int = LISTS_MAX) -> dict[str, Any]:
    """One target's counters as the state keeps them: with the server run they belong to, and the
    lengths of its sampled lists when it sampled keys."""
    out = {
        "run_id": str(facts.info.get("run_id", "")),
        "uptime_s": int(as_float(facts.info.get("uptime_in_seconds"), -1)),  # -1: unknown
        "role": str(facts.info.get("role", "")),  # a failover in between changes it (HA-15)
        "at": float(at),
        "counters": read(facts),
    }
    lists = sampled_lists(facts, lists_max)
    if lists is not None:
        out[LISTS] = lists
    return out


def resettable(name: str) -> bool:
    """Whether CONFIG RESETSTAT sets the counter back to 0 (the slowlog and the latency monitor
    keep theirs: SLOWLOG RESET and LATENCY RESET empty them, and their ids and times go on)."""
    return name in STATS or name.startswith((CMDSTAT, ERRORSTAT))


def restarted(now: dict, before: dict) -> bool:
    """Another server run than the one read before: a new run_id, or (without run ids) a
    shorter uptime."""
    if now.get("run_id") and before.get("run_id"):
        return now["run_id"] != before["run_id"]
    uptime, earlier = int(now.get("uptime_s", -1)), int(before.get("uptime_s", -1))
    return 0 <= uptime < earlier


def compare(now: dict, before: dict | None) -> dict[str, Any]:
    """The ``since`` mapping of one target: this run's reading against the previous run's.

    ``counters`` holds, for every counter read now, the amount to judge: the rise since the
    previous run; its value when it was reset (listed in ``reset``); its value since the
    server started when there is nothing to compare with (basis ``START``) or the server
    restarted after the previous run (basis ``RESTART``). ``interval_s`` is the time since the
    previous run (0 without one), ``started_at`` when the server started (0 when unknown).
    """
    at, uptime = float(now.get("at", 0.0)), int(now.get("uptime_s", -1))
    current: dict[str, int] = dict(now.get("counters", {}))
    since: dict[str, Any] = {
        "basis": START,
        "previous_at": 0.0,
        "interval_s": 0.0,
        "started_at": at - uptime if at > 0 and uptime >= 0 else 0.0,
        "counters": current,
        "reset": [],
    }
    if not before:
        return since
    since["previous_at"] = float(before.get("at", 0.0))
    since["interval_s"] = max(0.0, at - since["previous_at"]) if since["previous_at"] else 0.0
    # The previous lengths of the lists sampled by both runs (KEY-07), whatever happened in between:
    # a length is no counter, a restart does not reset it. Absent when either run sampled no keys.
    if isinstance(now.get(LISTS), dict) and isinstance(before.get(LISTS), dict):
        previous = before[LISTS]
        since[LISTS] = {d: int(previous[d]) for d in now[LISTS] if isinstance(previous.get(d), int)}
    if restarted(now, before):
        since["basis"] = RESTART
        return since
    since["basis"] = RUN
    # Promoted or demoted since the previous run: the replies of that switch are expected.
    since["role_changed"] = bool(now.get("role") and before.get("role") and now["role"] != before["role"])
    old = {name: int(value) for name, value in before.get("counters", {}).items()}
    stats_reset = any(resettable(n) and (n not in current or current[n] < v) for n, v in old.items())
    changes, reset = {}, []
    for name, value in current.items():
        previous = old.get(name, 0)
        if value < previous or (stats_reset and resettable(name)):
            reset.append(name)
            changes[name] = value
        else:
            changes[name] = value - previous
    since["counters"], since["reset"] = changes, sorted(reset)
    return since


def baseline(now: dict, before: dict | None) -> dict[str, Any]:
    """What the state keeps of a target read now: its reading, plus the slowlog position and
    latency spikes it did not show this time but did before in the same server run (SLOWLOG
    RESET, LATENCY RESET, a section that could not be read), so they still count from the last
    value seen. INFO counters are always read: one missing was reset, and counts from 0."""
    if not before or restarted(now, before):
        return now
    kept = {n: v for n, v in before.get("counters", {}).items() if not resettable(n)}
    return {**now, "counters": {**kept, **now.get("counters", {})}}


def judge_since(cluster: ClusterFacts, state: dict[str, dict], lists_max: int = LISTS_MAX) -> dict[str, dict]:
    """Set ``since`` on every Redis target that was read, against ``state`` (target ->
    reading of the previous run), and return the state to keep: the new readings of the targets
    read now, and the old ones of the targets that were not (unreachable, or not in this run).
    Of the sampled lists, the state keeps the ``lists_max`` longest of this run only."""
    new = dict(state)
    for facts in cluster.redis:
        if facts.error or not facts.info:
            continue
        now = reading(facts, cluster.gathered_at or time.time(), lists_max)
        before = state.get(facts.target)
        facts.since = compare(now, before)
        new[facts.target] = baseline(now, before)
    return new


# ---- the state file ------------------------------------------------------------------------


def load_state(path: Path) -> dict[str, dict]:
    """The previous run's readings by target; {} when there is no file yet. A file that is not
    what this module writes is an error (``ValueError``): it is never silently replaced."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"counters file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or (data.get("kind"), type(data.get("targets"))) != (STATE_KIND, dict):
        raise ValueError(f"{path} is not a counters file of redisops check (kind {STATE_KIND})")
    return {
        str(target): entry
        for target, entry in data["targets"].items()
        if isinstance(entry, dict) and isinstance(entry.get("counters"), dict)
    }


def state_json(state: dict[str, dict]) -> str:
    from redisops.output import to_json

    return to_json({"kind": STATE_KIND, "targets": dict(sorted(state.items()))}, indent=1)


# ---- what the checks call ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    amount: int  # what the check judges: the rise since the previous run, or the value
    since: str  # "since the previous run at ... (15 min earlier)", ...


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def span(seconds: float) -> str:
    """A duration in words: 45 s, 12 min, 3.5 h, 2.0 days."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _since(facts: RedisFacts) -> dict[str, Any]:
    """The target's ``since``; facts saved before counters were compared are judged since the
    server started."""
    return facts.since or {"basis": START, "counters": read(facts), "reset": [], "started_at": 0.0}


def _reset_by(names: Iterable[str]) -> str:
    """The command that also sets these counters back to 0, besides a restart."""
    names = list(names)
    if any(resettable(name) for name in names):
        return "CONFIG RESETSTAT"
    if SLOWLOG in names:
        return "SLOWLOG RESET"
    return "LATENCY RESET" if any(name.startswith(LATENCY) for name in names) else ""


def _gathered_at(ctx) -> float:
    cluster = getattr(ctx, "cluster", None)
    return float(cluster.gathered_at) if cluster is not None else 0.0


def since_words(facts: RedisFacts, names: Iterable[str] = (), ctx=None) -> str:
    """Since when the changes of ``names`` count, in words for a message. Facts that carry no
    server start date it from INFO uptime_in_seconds and the run's time (``ctx.cluster``)."""
    names = list(names)
    since = _since(facts)
    basis, started = since.get("basis", START), float(since.get("started_at", 0.0))
    uptime, now = as_float(facts.info.get("uptime_in_seconds"), -1), _gathered_at(ctx)
    if not started and now > 0 and uptime >= 0:
        started = now - uptime
    start = f" at {_utc(started)}" if started > 0 else f" {span(uptime)} ago" if uptime >= 0 else ""
    previous = float(since.get("previous_at", 0.0))
    run = f"the previous run at {_utc(previous)} ({span(float(since.get('interval_s', 0.0)))} earlier)"
    reset_by = _reset_by(names)
    if basis == RUN:
        if set(names) & set(since.get("reset", [])):
            return f"since the counters were reset ({reset_by}) after {run}"
        return f"since {run}"
    if basis == RESTART:
        return f"since the server restarted{start}, after {run}"
    or_reset = f" or the last {reset_by}" if reset_by else ""
    return f"since the server started{start}{or_reset} (no earlier run to compare with)"


def change(facts: RedisFacts, names: Iterable[str], ctx=None) -> Change:
    """The summed change of the counters ``names`` and since when it counts."""
    names = list(names)
    counters = _since(facts)["counters"]
    return Change(sum(int(counters.get(n, 0)) for n in names), since_words(facts, names, ctx))


def changed(facts: RedisFacts, prefix: str) -> dict[str, int]:
    """The counters under ``prefix`` that changed (rose, or were reset and are above 0), by
    name without the prefix: e.g. the latency events with a spike since the previous run."""
    counters = _since(facts)["counters"]
    return {
        name[len(prefix) :]: int(value)
        for name, value in counters.items()
        if name.startswith(prefix) and int(value) > 0
    }


def previous_run(facts: RedisFacts) -> str:
    """When the previous run read the target, in words ("" when no earlier run did)."""
    since = _since(facts)
    previous = float(since.get("previous_at", 0.0))
    if since.get("basis") == START or previous <= 0:
        return ""
    return f"the previous run at {_utc(previous)} ({span(float(since.get('interval_s', 0.0)))} earlier)"


def has_baseline(facts: RedisFacts) -> bool:
    """Whether the changes count from the previous run (not from a server start)."""
    return _since(facts).get("basis") == RUN


def keeps_errorstats(facts: RedisFacts) -> bool:
    """Whether the server counts its error replies by prefix (INFO errorstats, Redis 6.2 and Valkey
    on): it then always reports total_error_replies, and an error absent from errorstats never
    happened (or was reset)."""
    return "total_error_replies" in facts.info


def error_replies(facts: RedisFacts, prefix: str, ctx=None) -> Change:
    """The error replies starting with ``prefix`` (OOM, NOPERM, ...) and since when they count."""
    return change(facts, [ERRORSTAT + prefix], ctx)


def per_minute(facts: RedisFacts, amount: int) -> float:
    """A change as a rate: over the time since the previous run, else since the server started
    (INFO uptime); at least a minute, so one event just after a start is not a burst."""
    since = _since(facts)
    if since.get("basis") == RUN:
        seconds = float(since.get("interval_s", 0.0))
    else:
        seconds = as_float(facts.info.get("uptime_in_seconds"))
    return amount / (max(seconds, 60.0) / 60.0)
