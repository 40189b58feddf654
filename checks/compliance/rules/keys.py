"""Checks: keys and TTLs (naming, temporary data that never expires), and queues (streams' consumer
groups that fall behind or hold entries nobody acknowledges, lists that grow between runs). Long
lists and other big keys are PRF-05's (performance)."""

from __future__ import annotations

import re

from redisops.compliance.counters import LISTS, list_digest, previous_run, span
from redisops.compliance.facts import RedisFacts, key_label, ttl_reading
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context, KeyClass, key_class

EXAMPLES = 3


def _sample(facts: RedisFacts) -> list[dict]:
    if facts.keys is None:
        raise Skip("no key sample on a replica")
    return list(facts.keys.get("keys") or [])


def without_hash_tag(name: str) -> str:
    """The name with its cluster hash tag's braces removed: {user:1}:profile -> user:1:profile. As in
    the Redis Cluster spec, the tag is what lies between the first '{' and the first '}' after it,
    when that is not empty; other braces stay."""
    start = name.find("{")
    end = name.find("}", start + 1) if start >= 0 else -1
    if start < 0 or end <= start + 1:
        return name
    return name[:start] + name[start + 1 : end] + name[end + 1 :]


def _examples(names: list[str]) -> str:
    """A few key names, labelled (never the full name: key names can be secrets)."""
    shown = ", ".join(key_label(str(n)) for n in names[:EXAMPLES])
    return shown + (", ..." if len(names) > EXAMPLES else "")


def _scope(facts: RedisFacts) -> str:
    keys = facts.keys or {}
    return "whole keyspace scanned" if keys.get("complete") else f"sample of {keys.get('scanned', '?')} keys"


@check(
    "KEY-01",
    area="keys",
    scope="redis",
    severity=Severity.LOW,
    title="Key names follow the namespace convention",
    rationale="Names like type:id:field (user:1000:profile) let operators find, count, expire and delete a "
    "kind of data with SCAN MATCH, ACL key patterns (~app:*) and memory reports; unstructured names hide "
    "what fills the memory. A cluster hash tag is part of the convention: {user:1000}:profile is judged "
    "as user:1000:profile (the braces only pick the hash slot).",
    bad="1000, tmp_x, userprofile1000",
    good="user:1000:profile, session:8f3a, cache:page:/home, {user:1000}:profile",
    remediation="Have applications prefix every key with its kind (and the application, e.g. app:user:1000); "
    "rename existing keys with RENAME during a migration. Adjust namespace_pattern in "
    "redis_compliance_thresholds if your convention differs.",
    source="Redis docs, keys and values (key names: stick with a schema such as object-type:id, user:1000); "
    "Redis Cluster specification (hash tags)",
)
def namespaced_names(facts: RedisFacts, ctx: Context):
    keys = _sample(facts)
    if not keys:
        return
    pattern = re.compile(ctx.thresholds.namespace_pattern)
    offenders = [
        name
        for name in (str(k.get("name", "")) for k in keys)
        if not (pattern.search(name) or pattern.search(without_hash_tag(name)))
    ]
    share = 1 - len(offenders) / len(keys)
    if share < ctx.thresholds.namespace_min_share:
        yield Fail(
            f"{len(keys) - len(offenders)} of {len(keys)} sampled key names ({share:.0%}) follow the "
            f"namespace convention, below {ctx.thresholds.namespace_min_share:.0%}; "
            f"e.g. {_examples(offenders)}"
        )


def _classed(facts: RedisFacts, ctx: Context, pick) -> list[tuple[dict, KeyClass]]:
    """The sampled keys with the key class each belongs to, for the classes ``pick`` selects."""
    classes = tuple(c for c in ctx.thresholds.key_classes if pick(c))
    out = []
    for k in _sample(facts):
        found = key_class(str(k.get("name", "")), ctx.thresholds.key_classes)
        if found is not None and found in classes:
            out.append((k, found))
    return out


def _prefixes(classes) -> str:
    return ", ".join(sorted({c.prefix for c in classes}))


@check(
    "TTL-01",
    area="keys",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Temporary data (the key classes that require a TTL: sessions, caches, rate limits) expires",
    rationale="Sessions, cache entries and rate-limit counters without a TTL are never removed: memory "
    "grows until maxmemory, and then noeviction refuses writes or eviction drops real data. A key "
    "belongs to the key class (redis_compliance_key_classes) whose prefix its name starts with, the "
    "longest one when several do.",
    bad="SET session:8f3a ...  # TTL -1",
    good="SET session:8f3a ... EX 3600",
    remediation="Have applications set a TTL when they write temporary keys (SET ... EX, EXPIRE); expire "
    "existing ones with a SCAN MATCH 'session:*' + EXPIRE script. Describe your key names in "
    "redis_compliance_key_classes ({prefix: 'app:session:', ttl_required: true}): a prefix matches at "
    "the start of a name only.",
    source="Redis docs, EXPIRE (keys with a timeout); Redis docs, key eviction (under noeviction, keys "
    "that never expire fill maxmemory and writes fail)",
)
def temporary_keys_expire(facts: RedisFacts, ctx: Context):
    temporary = _classed(facts, ctx, lambda c: c.ttl_required)
    prefixes = _prefixes(c for _, c in temporary) or _prefixes(c for c in ctx.thresholds.key_classes
                                                               if c.ttl_required)  # fmt: skip
    # PTTL: -1 no TTL, -2 gone, a count of ms; anything else (a failed or missing reading) is
    # unknown and not judged.
    read = [k for k, _ in temporary if ttl_reading(k) is not None and ttl_reading(k) != -2]
    unread = len(temporary) - len([k for k, _ in temporary if ttl_reading(k) is not None])
    if temporary and not read:
        raise Skip(f"the TTL of none of the {len(temporary)} sampled temporary keys could be read (PTTL)")
    forever = [k.get("name", "") for k in read if ttl_reading(k) == -1]
    if forever:
        not_judged = f"; {unread} more not judged (PTTL not read)" if unread else ""
        yield Fail(
            f"{len(forever)} of {len(read)} temporary keys ({prefixes}) have no TTL "
            f"({_scope(facts)}{not_judged}); e.g. {_examples(forever)}"
        )


@check(
    "TTL-02",
    area="keys",
    scope="redis",
    severity=Severity.LOW,
    title="Temporary keys expire within their class's longest TTL",
    rationale="A session that lives for a month or a cached value kept for a year is temporary in name "
    "only: it outlives the data it stands for (a logged-out user, a changed record) and holds memory "
    "long after anyone reads it. A key class may say how long its keys may live (ttl_max_s).",
    bad="SET session:8f3a ... EX 2592000  # 30 days, class session: allows 7",
    good="SET session:8f3a ... EX 1800",
    remediation="Shorten the TTL the application sets (and EXPIRE the existing keys), or raise ttl_max_s of "
    "the class in redis_compliance_key_classes if the longer life is intended.",
    source="Redis docs, EXPIRE (timeouts, refreshing a TTL on each access); OWASP Session Management Cheat "
    "Sheet (idle and absolute session timeouts)",
)
def temporary_keys_expire_in_time(facts: RedisFacts, ctx: Context):
    bounded = _classed(facts, ctx, lambda c: c.ttl_max_s > 0)
    if not bounded:
        raise Skip("no sampled key belongs to a key class with ttl_max_s")
    late = [(k, c) for k, c in bounded if (ttl := ttl_reading(k)) is not None and ttl > c.ttl_max_s * 1000]
    if late:
        worst = max(ttl_reading(k) for k, _ in late) / 1000
        classes = _prefixes(c for _, c in late)
        yield Fail(
            f"{len(late)} of {len(bounded)} keys of classes with a longest TTL ({classes}) live longer "
            f"(up to {worst:.0f} s; {_scope(facts)}); e.g. {_examples([k.get('name', '') for k, _ in late])}"
        )


@check(
    "KEY-03",
    area="keys",
    scope="redis",
    severity=Severity.LOW,
    title="Keys have the type their key class says",
    rationale="A key class names the data structure its keys use (a leaderboard is a sorted set, a queue a "
    "list or a stream). A key of another type under that prefix is a collision between two applications "
    "or a bug that writes the wrong structure: the commands for the right type fail with WRONGTYPE.",
    bad="SET leaderboard:weekly 12  # class leaderboard: holds sorted sets",
    good="ZADD leaderboard:weekly 12 player:7",
    remediation="Find the writer of the odd key (CLIENT LIST, MONITOR briefly on a replica is not enough: "
    "check the applications) and rename or delete it; or correct kinds of the class in "
    "redis_compliance_key_classes.",
    source="Redis docs, data types (which structure fits which use: sorted sets for leaderboards, lists and "
    "streams for queues); Redis docs, keys and values (WRONGTYPE)",
)
def keys_have_their_class_type(facts: RedisFacts, ctx: Context):
    typed = [(k, c) for k, c in _classed(facts, ctx, lambda c: bool(c.kinds)) if k.get("type")]
    if not typed:
        raise Skip("no sampled key belongs to a key class that names its types")
    odd = [(k, c) for k, c in typed if str(k.get("type")) not in c.kinds]
    if odd:
        shown = "; ".join(
            f"{key_label(str(k.get('name', '')))} is a {k.get('type')}, class {c.prefix} holds "
            f"{' or '.join(c.kinds)}"
            for k, c in odd[:EXAMPLES]
        )
        yield Fail(
            f"{len(odd)} of {len(typed)} keys of typed classes have another type ({_scope(facts)}): {shown}"
        )


# ---- queues: streams' consumer groups, lists that grow ---------------------------------------


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _groups(facts: RedisFacts) -> list[tuple[dict, dict]]:
    """The consumer groups read of the sampled streams, as (stream, group); Skip when there is
    nothing to judge, saying why."""
    streams = [k for k in _sample(facts) if k.get("type") == "stream"]
    if not streams:
        raise Skip("no stream in the key sample")
    read = [k for k in streams if isinstance(k.get("groups"), list)]
    if not read:
        raise Skip(
            f"the consumer groups of none of the {len(streams)} sampled streams were read (XINFO GROUPS)"
        )
    groups = [(k, g) for k in read for g in k["groups"] if isinstance(g, dict)]
    if not groups:
        raise Skip(f"none of the {len(read)} sampled streams has a consumer group")
    return groups


def _group_name(stream: dict, group: dict) -> str:
    return f"{key_label(str(stream.get('name', '')))} group {group.get('name', '?')}"


def _unread_groups(facts: RedisFacts) -> str:
    """What the stream facts leave out, for a message: streams and groups beyond the bounds."""
    streams = [k for k in (facts.keys or {}).get("keys") or [] if k.get("type") == "stream"]
    unread = len([k for k in streams if not isinstance(k.get("groups"), list)])
    beyond = sum(max(0, int(k.get("groups_total") or 0) - len(k.get("groups") or [])) for k in streams)
    parts = [f"{unread} more sampled streams not read"] if unread else []
    parts += [f"{beyond} more groups not read"] if beyond else []
    return f"; {', '.join(parts)}" if parts else ""


@check(
    "KEY-04",
    area="keys",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Stream consumer groups acknowledge what they were delivered (pending entries under 1000)",
    rationale="A consumer group remembers every entry it delivered until a consumer acknowledges it (XACK): "
    "its pending entries list (PEL). A healthy group's PEL holds what its consumers are working on now; "
    "one that keeps growing holds work that failed, crashed or is never acknowledged. Those entries are "
    "not delivered again to XREADGROUP >, so nobody processes them unless claimed, and the PEL costs "
    "memory and makes XPENDING and XAUTOCLAIM scans longer. Judged on the groups of the streams of the "
    "primary's bounded key sample (XINFO GROUPS pending).",
    bad="XINFO GROUPS app:stream:jobs  # name workers, pending 48210",
    good="XINFO GROUPS app:stream:jobs  # name workers, pending 12  (XACK after each entry is processed)",
    remediation="Make consumers XACK each entry once processed (or XREADGROUP ... NOACK where losing one is "
    "acceptable); have a recovery loop XAUTOCLAIM entries idle too long to a live consumer, and move "
    "entries delivered too many times (XPENDING's delivery count) to a dead-letter stream and XACK them. "
    "Adjust stream_pending_max in redis_compliance_thresholds.",
    source="Redis docs, XINFO GROUPS (pending: the length of the group's pending entries list) and XPENDING; "
    "Redis docs, streams introduction (consumer groups, the pending entries list, recovering from permanent "
    "failures with XAUTOCLAIM); redis_exporter stream metrics (redis_stream_group_messages_pending)",
)
def stream_groups_acknowledge(facts: RedisFacts, ctx: Context):
    groups = _groups(facts)
    most = ctx.thresholds.stream_pending_max
    over = sorted(
        ((s, g) for s, g in groups if (_count(g.get("pending")) or 0) > most),
        key=lambda sg: -sg[1]["pending"],
    )
    if over:
        shown = ", ".join(
            f"{_group_name(s, g)} {g['pending']} pending ({_count(g.get('consumers')) or 0} consumers)"
            for s, g in over[:EXAMPLES]
        )
        more = f" and {len(over) - EXAMPLES} more" if len(over) > EXAMPLES else ""
        yield Fail(
            f"{len(over)} of {len(groups)} consumer groups hold more than {most} entries delivered and "
            f"never acknowledged ({_scope(facts)}{_unread_groups(facts)}): {shown}{more}"
        )


@check(
    "KEY-05",
    area="keys",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Stream consumer groups keep up with their stream (lag under 1000 entries)",
    rationale="A consumer group's lag is the number of entries added to the stream that it has not "
    "delivered to any consumer yet: the backlog of a stream used as a queue. It grows when consumers are "
    "too few, too slow, or stopped, and the entries wait (or are trimmed away by XTRIM MAXLEN before "
    "anyone reads them). Judged on the groups of the streams of the primary's bounded key sample "
    "(XINFO GROUPS lag); a group whose lag the server cannot tell (after XDEL or trimming of undelivered "
    "entries) is not judged.",
    bad="XINFO GROUPS app:stream:jobs  # name workers, entries-read 1200, lag 250000",
    good="XINFO GROUPS app:stream:jobs  # name workers, entries-read 251190, lag 10",
    remediation="Find why the consumers fall behind: are they running (XINFO CONSUMERS idle), are there "
    "enough of them, does each entry take too long? Add consumers to the group or speed them up; a group "
    "nobody reads any more is deleted with XGROUP DESTROY. Adjust stream_lag_max in "
    "redis_compliance_thresholds.",
    source="Redis docs, XINFO GROUPS (entries-read and lag: the entries still waiting to be delivered to "
    "the group's consumers, Redis 7.0 and later); redis_exporter stream metrics (redis_stream_group_lag)",
    applies_to="servers whose XINFO GROUPS reports lag (Redis 7.0 and later, Valkey); earlier servers are "
    "skipped",
)
def stream_groups_keep_up(facts: RedisFacts, ctx: Context):
    groups = _groups(facts)
    known = [(s, g) for s, g in groups if _count(g.get("lag")) is not None]
    if not known:
        raise Skip(
            f"the lag of none of the {len(groups)} consumer groups is known (XINFO GROUPS reports it from "
            "Redis 7.0 on, and not after undelivered entries were deleted or trimmed)"
        )
    most = ctx.thresholds.stream_lag_max
    over = sorted(((s, g) for s, g in known if g["lag"] > most), key=lambda sg: -sg[1]["lag"])
    if over:
        shown = ", ".join(f"{_group_name(s, g)} lag {g['lag']}" for s, g in over[:EXAMPLES])
        more = f" and {len(over) - EXAMPLES} more" if len(over) > EXAMPLES else ""
        unknown = len(groups) - len(known)
        not_judged = f"; {unknown} more not judged (lag unknown)" if unknown else ""
        yield Fail(
            f"{len(over)} of {len(known)} consumer groups have more than {most} entries not yet delivered "
            f"({_scope(facts)}{_unread_groups(facts)}{not_judged}): {shown}{more}"
        )


@check(
    "KEY-06",
    area="keys",
    scope="redis",
    severity=Severity.MEDIUM,
    title="No stream consumer holds pending entries while idle for over an hour",
    rationale="Entries delivered to a consumer stay its own until it acknowledges them. A consumer that "
    "stopped (a crashed or scaled-down worker, a renamed pod) keeps them: they are never delivered to "
    "another consumer and nobody processes them until a live consumer claims them (XCLAIM, XAUTOCLAIM). "
    "A consumer's idle time is how long since it last tried to read or claim; a live worker's XREADGROUP "
    "loop keeps it to seconds. Judged on the consumers holding entries of the groups of the primary's "
    "bounded key sample's streams (XINFO CONSUMERS pending and idle).",
    bad="XINFO CONSUMERS app:stream:jobs workers  # name worker-7, pending 312, idle 86400000",
    good="XINFO CONSUMERS app:stream:jobs workers  # name worker-7, pending 3, idle 850",
    remediation="Have a live consumer take over the entries: XAUTOCLAIM app:stream:jobs workers worker-1 "
    "3600000 0-0 COUNT 100, in a recovery loop of the workers; then remove the dead consumer with XGROUP "
    "DELCONSUMER (it deletes its pending entries too: claim them first). Give workers stable names so a "
    "restarted one resumes its own. Adjust stream_consumer_idle_max_s in redis_compliance_thresholds.",
    source="Redis docs, XINFO CONSUMERS (pending, idle; inactive from Redis 7.2); Redis docs, XAUTOCLAIM and "
    "XCLAIM (claiming entries idle for an hour, 3600000 ms, from a consumer that failed) and streams "
    "introduction (recovering from permanent failures); redis_exporter stream metrics "
    "(redis_stream_group_consumer_idle_seconds, redis_stream_group_consumer_messages_pending)",
)
def stream_consumers_alive(facts: RedisFacts, ctx: Context):
    groups = [(s, g) for s, g in _groups(facts) if (_count(g.get("pending")) or 0) > 0]
    if not groups:
        return  # every entry delivered was acknowledged: no consumer holds any
    read = [(s, g) for s, g in groups if isinstance(g.get("consumers_kept"), list)]
    if not read:
        raise Skip(
            f"the consumers of none of the {len(groups)} consumer groups with pending entries were read "
            "(XINFO CONSUMERS)"
        )
    most_ms = ctx.thresholds.stream_consumer_idle_max_s * 1000
    idle = sorted(
        (
            (s, g, c)
            for s, g in read
            for c in g["consumers_kept"]
            if isinstance(c, dict)
            and (_count(c.get("pending")) or 0) > 0
            and (_count(c.get("idle_ms")) or 0) > most_ms
        ),
        key=lambda sgc: -sgc[2]["idle_ms"],
    )
    if idle:
        shown = ", ".join(
            f"{_group_name(s, g)} consumer {c.get('name', '?')} {c['pending']} pending, idle "
            f"{span(c['idle_ms'] / 1000)}"
            for s, g, c in idle[:EXAMPLES]
        )
        more = f" and {len(idle) - EXAMPLES} more" if len(idle) > EXAMPLES else ""
        entries = sum(c["pending"] for _, _, c in idle)
        yield Fail(
            f"{len(idle)} consumers hold {entries} pending entries and have not read or claimed for over "
            f"{span(most_ms / 1000)} ({_scope(facts)}{_unread_groups(facts)}): {shown}{more}; nobody "
            "processes their entries until a live consumer claims them (XAUTOCLAIM)"
        )


@check(
    "KEY-07",
    area="keys",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Lists do not grow by more than 1000 items between two runs",
    rationale="A list used as a queue stays short while its consumers keep up with its producers; one that "
    "gains thousands of items between two runs is being filled faster than it is drained, and will be "
    "long (PRF-05) and hold memory until its consumers catch up. PRF-05 says how long a list is; this says "
    "how fast it grows. The lengths of the primary's sampled lists are kept in the counters state "
    "(redisops check --state, or --history) under a digest of their database and name, never the name, "
    "and compared at the next run. The sample is random: only lists sampled by both runs are judged.",
    bad="LLEN app:queue:jobs  # 1200 at the previous run, 48000 now",
    good="LLEN app:queue:jobs  # 1200 at the previous run, 90 now",
    remediation="Check that the list's consumers run (BLPOP/BLMOVE clients in CLIENT LIST) and keep up; "
    "add consumers, or slow the producers. A list that only grows is a log: trim it (LTRIM) or move it "
    "to a stream with XADD MAXLEN. Adjust list_growth_max in redis_compliance_thresholds.",
    source="Redis docs, lists (lists as queues: producers LPUSH, consumers BRPOP/BLMOVE, LLEN) and LLEN; "
    "redis_exporter key metrics (redis_key_size with --check-keys, to watch a queue's length over time)",
)
def lists_do_not_grow(facts: RedisFacts, ctx: Context):
    lists = [k for k in _sample(facts) if k.get("type") == "list" and _count(k.get("length")) is not None]
    if not lists:
        raise Skip("no list in the key sample")
    when = previous_run(facts)
    if not when:
        raise Skip("no earlier run to compare the lengths with (redisops check --state keeps them)")
    previous = facts.since.get(LISTS)
    if not isinstance(previous, dict):
        raise Skip(f"{when} kept no list lengths (it sampled no keys of this server)")
    judged = [
        (k, previous[d])
        for k in lists
        if (d := list_digest(k.get("db", 0), str(k.get("name", "")))) in previous
    ]
    if not judged:
        raise Skip(
            f"none of the {len(lists)} sampled lists was sampled by {when}: a list sampled by this run but "
            "not the previous one is not judged"
        )
    most = ctx.thresholds.list_growth_max
    grown = sorted(
        ((k, before) for k, before in judged if k["length"] - before > most),
        key=lambda kb: kb[1] - kb[0]["length"],
    )
    if grown:
        shown = ", ".join(
            f"{key_label(str(k.get('name', '')))} {before} -> {k['length']} items (+{k['length'] - before})"
            for k, before in grown[:EXAMPLES]
        )
        more = f" and {len(grown) - EXAMPLES} more" if len(grown) > EXAMPLES else ""
        unjudged = len(lists) - len(judged)
        not_judged = f"; {unjudged} more sampled lists not judged (not sampled then)" if unjudged else ""
        yield Fail(
            f"{len(grown)} of {len(judged)} lists sampled by both runs grew by more than {most} items since "
            f"{when}{not_judged}: {shown}{more}"
        )
