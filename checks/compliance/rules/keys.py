"""Checks: keys and TTLs (naming, temporary data that never expires). Long lists and other big keys
are PRF-05's (performance)."""

from __future__ import annotations

import re

from redisops.compliance.facts import RedisFacts, key_label, ttl_reading
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context

EXAMPLES = 3


def _sample(facts: RedisFacts) -> list[dict]:
    if facts.keys is None:
        raise Skip("no key sample on a replica")
    return list(facts.keys.get("keys") or [])


def _under(name: str, prefixes: tuple[str, ...]) -> str:
    """The prefix a key name starts with ("" for none). Only the start counts: with "cache:",
    app:cache:1 is not temporary, nor is user:7:cache:settings (a user's stored settings);
    name the application's prefix ("app:cache:") to cover its keys."""
    return next((p for p in prefixes if name.startswith(p)), "")


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


@check(
    "TTL-01",
    area="keys",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Temporary data (sessions, caches, rate limits) expires",
    rationale="Sessions, cache entries and rate-limit counters without a TTL are never removed: memory "
    "grows until maxmemory, and then noeviction refuses writes or eviction drops real data.",
    bad="SET session:8f3a ...  # TTL -1",
    good="SET session:8f3a ... EX 3600",
    remediation="Have applications set a TTL when they write temporary keys (SET ... EX, EXPIRE); expire "
    "existing ones with a SCAN MATCH 'session:*' + EXPIRE script. Set temporary_prefixes in "
    "redis_compliance_thresholds to the prefixes your key names start with (app:session:, not session: "
    "for app:session:8f3a): a prefix matches at the start of a name only.",
    source="Redis docs, EXPIRE (keys with a timeout); Redis docs, key eviction (under noeviction, keys "
    "that never expire fill maxmemory and writes fail)",
)
def temporary_keys_expire(facts: RedisFacts, ctx: Context):
    prefixes = ctx.thresholds.temporary_prefixes
    temporary = [k for k in _sample(facts) if _under(str(k.get("name", "")), prefixes)]
    # PTTL: -1 no TTL, -2 gone, a count of ms; anything else (a failed or missing reading) is
    # unknown and not judged.
    read = [k for k in temporary if ttl_reading(k) is not None and ttl_reading(k) != -2]
    unread = len(temporary) - len([k for k in temporary if ttl_reading(k) is not None])
    if temporary and not read:
        raise Skip(f"the TTL of none of the {len(temporary)} sampled temporary keys could be read (PTTL)")
    forever = [k.get("name", "") for k in read if ttl_reading(k) == -1]
    if forever:
        not_judged = f"; {unread} more not judged (PTTL not read)" if unread else ""
        yield Fail(
            f"{len(forever)} of {len(read)} temporary keys ({', '.join(prefixes)}) have no TTL "
            f"({_scope(facts)}{not_judged}); e.g. {_examples(forever)}"
        )
