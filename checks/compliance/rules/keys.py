"""Checks: keys and TTLs (naming, temporary data that never expires). Long lists and other big keys
are PRF-05's (performance)."""

from __future__ import annotations

import re

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
