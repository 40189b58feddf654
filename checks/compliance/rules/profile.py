"""Checks: the instance serves its use-case profile (redis_server_profile, core/profiles.py).

A cache evicts and may lose everything; a queue must never evict; sessions and rate-limit counters
always expire. The role refuses an inventory whose settings contradict the profile; these checks
judge the live server and its traffic against the profile the inventory names.
"""

from __future__ import annotations

from redisops.compliance.counters import change
from redisops.compliance.facts import RedisFacts, as_float, ttl_reading
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.rules.keys import _examples, _sample, _scope
from redisops.compliance.settings import Context
from redisops.core import profiles

PROFILE_SOURCE = "Redis docs, key eviction (policies and when to use each)"


def _profile(facts: RedisFacts) -> profiles.Profile:
    name = facts.expected.get("profile")
    if not name:
        raise Skip("the inventory names no profile for this instance (facts saved by an older redisops)")
    try:
        return profiles.profile(name)
    except ValueError as exc:
        raise Skip(str(exc)) from None


@check(
    "PRO-01",
    area="profile",
    scope="redis",
    severity=Severity.HIGH,
    title="The eviction policy is one the instance's profile allows",
    rationale="An eviction policy decides what Redis deletes when memory runs out. On a cache that is its "
    "job; on a queue an allkeys-* policy silently drops jobs, on a store it drops data nobody can rebuild, "
    "and on sessions or rate limits it drops keys that have not expired yet. The role refuses such an "
    "inventory; this check catches the running server changed by hand (CONFIG SET) or by another tool.",
    bad="maxmemory-policy allkeys-lru  # on an instance with profile queue",
    good="maxmemory-policy noeviction  # queue, store; allkeys-lru or allkeys-lfu on a cache",
    remediation="Rerun site.yml to restore the profile's policy (docs/profiles.md lists each profile's), or "
    "give the instance the profile it really serves (redis_server_profile, or the instance's profile).",
    source="Redis docs, key eviction (allkeys-* for caches; noeviction when data must not be lost; "
    "volatile-* evicts only keys with an expire set)",
)
def policy_fits_profile(facts: RedisFacts, ctx: Context):
    p = _profile(facts)
    if facts.unread or "maxmemory-policy" not in facts.config:
        raise Skip(f"CONFIG GET was not read{': ' + facts.unread if facts.unread else ''}")
    policy = str(facts.config["maxmemory-policy"])
    if policy not in p.policies:
        yield Fail(
            f"maxmemory-policy {policy} on a {p.name} instance ({p.purpose}): the profile allows "
            f"{', '.join(p.policies)}"
        )


@check(
    "PRO-02",
    area="profile",
    scope="redis",
    severity=Severity.HIGH,
    title="No key was evicted since the previous run, unless the instance is a cache",
    rationale="Every eviction deletes a key the application wrote and did not delete. A cache expects it; "
    "anywhere else (a store, a queue, sessions, leaderboards) it is data lost without an error, because "
    "the write that triggered it succeeded. Judged as evicted_keys' change since the previous run.",
    bad="evicted_keys rose by 1200 on a store instance (volatile-lru at maxmemory)",
    good="evicted_keys unchanged on a store; rising on a cache",
    remediation="Give the instance more memory (redis_server_maxmemory) or fewer keys, and find what grew "
    "(MEM-03, PRF-05, the key sample); if the data is really a cache, use the cache profile.",
    source="Redis docs, key eviction (evicted_keys in INFO stats counts keys removed by the policy); "
    "awesome-prometheus-alerts (RedisTooManyEvictions)",
)
def no_evictions_outside_a_cache(facts: RedisFacts, ctx: Context):
    p = _profile(facts)
    if "evicted_keys" not in facts.info:
        raise Skip("INFO has no evicted_keys")
    if p.evicts:
        raise Skip(f"a {p.name} instance evicts by design")
    evicted = change(facts, ["evicted_keys"], ctx)
    if evicted.amount > 0:
        yield Fail(
            f"{evicted.amount} key{'s' if evicted.amount != 1 else ''} evicted {evicted.since} on a {p.name} "
            f"instance (maxmemory-policy {facts.config.get('maxmemory-policy', '?')}): data lost without "
            "an error"
        )


@check(
    "PRO-03",
    area="profile",
    scope="redis",
    severity=Severity.MEDIUM,
    title="A cache serves most lookups from memory (hit ratio)",
    rationale="A cache that misses most lookups costs a round trip and memory and saves little load on the "
    "source of truth: its keys expire or are evicted before they are read again (too little memory, TTLs too "
    "short), or the application caches what it never reads. Judged over the lookups since the previous run, "
    "once there are enough of them.",
    bad="keyspace_hits 1200, keyspace_misses 8800 since the previous run (12%)",
    good="keyspace_hits 9500, keyspace_misses 500 (95%)",
    remediation="Give the cache more memory (redis_server_maxmemory), lengthen its TTLs, try allkeys-lfu, or "
    "stop caching what is never read twice. Set cache_hit_ratio_min in redis_compliance_thresholds if "
    "this cache's ratio is known to be lower.",
    source="Redis docs, INFO (keyspace_hits, keyspace_misses); RedisInsight and redis_exporter dashboards "
    "(cache hit ratio = hits / (hits + misses))",
)
def cache_hit_ratio(facts: RedisFacts, ctx: Context):
    p = _profile(facts)
    if p.name != profiles.CACHE:
        raise Skip(f"not a cache (profile {p.name})")
    if facts.info.get("role") != "master":
        raise Skip("a replica serves no lookups of its own here")
    if "keyspace_hits" not in facts.info:
        raise Skip("INFO has no keyspace_hits")
    hits = change(facts, ["keyspace_hits"], ctx)
    misses = change(facts, ["keyspace_misses"], ctx)
    lookups = hits.amount + misses.amount
    limit = ctx.thresholds
    if lookups < limit.cache_lookups_min:
        raise Skip(
            f"{lookups} lookups {hits.since}: too few to judge (cache_lookups_min {limit.cache_lookups_min})"
        )
    ratio = hits.amount / lookups
    if ratio < limit.cache_hit_ratio_min:
        yield Fail(
            f"hit ratio {ratio:.0%} {hits.since} ({hits.amount} hits, {misses.amount} misses), "
            f"below {limit.cache_hit_ratio_min:.0%}"
        )


@check(
    "PRO-04",
    area="profile",
    scope="redis",
    severity=Severity.HIGH,
    title="Every key of a session or rate-limit instance expires",
    rationale="Sessions and rate-limit counters are temporary by definition: one written without a TTL "
    "stays forever, keeps a session valid after logout or a client limited after its window, and fills "
    "the memory until the volatile-* policy these profiles use has nothing left to evict and writes fail. "
    "The classic cause is INCR then EXPIRE as two commands: a crash between them leaves a counter for ever.",
    bad="INCR rate_limit:42 then EXPIRE rate_limit:42 60  # two round trips: the EXPIRE can be lost",
    good="SET session:8f3a <data> EX 1800; a MULTI/EXEC or Lua script doing INCR and EXPIRE together",
    remediation="Give every write a TTL in the same command (SET ... EX, or INCR and EXPIRE in MULTI/EXEC or "
    "a script); expire the existing keys (SCAN, then EXPIRE). Set expiring_without_ttl_max_share in "
    "redis_compliance_thresholds to tolerate a share of permanent keys.",
    source="Redis docs, EXPIRE (pattern: rate limiter; INCR and EXPIRE in one MULTI/EXEC); Redis docs, key "
    "eviction (volatile-* policies evict only keys with an expire set)",
)
def expiring_profile_keys_expire(facts: RedisFacts, ctx: Context):
    p = _profile(facts)
    if not p.expires:
        raise Skip(f"a {p.name} instance may hold keys without a TTL")
    keys = _sample(facts)
    read = [k for k in keys if ttl_reading(k) is not None and ttl_reading(k) != -2]
    if not read:
        raise Skip("no key sampled whose TTL could be read")
    forever = [k.get("name", "") for k in read if ttl_reading(k) == -1]
    share = len(forever) / len(read)
    if forever and share > as_float(ctx.thresholds.expiring_without_ttl_max_share):
        yield Fail(
            f"{len(forever)} of {len(read)} keys of this {p.name} instance have no TTL ({_scope(facts)}); "
            f"e.g. {_examples(forever)}"
        )


def _whole(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@check(
    "PRO-05",
    area="profile",
    scope="redis",
    severity=Severity.MEDIUM,
    title="A store or queue primary cut off from its replicas refuses writes before a promotion",
    rationale="A partition that cuts the primary off from its replicas and sentinels, but not from some "
    "clients, leaves it acknowledging writes until min-replicas-max-lag runs out (its replicas ping once a "
    "second, and it counts them once a second, in whole seconds: up to 3 s later). Sentinel may promote a "
    "replica once down-after-milliseconds has passed. If the fence closes later than that, both primaries "
    "take writes (split-brain) and the old one's are discarded when it rejoins as a replica. Profiles that "
    "must not lose acknowledged writes (store, queue) keep the fence inside down-after; the others accept "
    "the loss for fewer refused writes when both replicas are briefly silent.",
    bad="min-replicas-max-lag 10  # with down-after-milliseconds 5000: up to 8 s of split-brain",
    good="min-replicas-max-lag 2  # refuses writes 5 s after the cut at the latest, down-after 5000",
    remediation="Lower min_replicas_max_lag (redis_server_min_replicas_max_lag, or the instance's key) to at "
    "most down-after-milliseconds / 1000 - 3, or raise the group's down_after_milliseconds, and rerun "
    "site.yml. The store and queue profiles' own default (2 s) fits the role's down-after of 5000 ms; "
    "docs/profiles.md shows what the partition drill measured.",
    source="Redis docs, replication (min-replicas-max-lag: counted from the replica's last ping, usually "
    "sent every second); Redis docs, Sentinel (down-after-milliseconds; 'Example 2': min-replicas-to-write "
    "and min-replicas-max-lag bound the writes a partitioned master takes)",
)
def fence_before_promotion(facts: RedisFacts, ctx: Context):
    p = _profile(facts)
    if not p.fenced:
        raise Skip(
            f"a {p.name} instance accepts the writes a cut-off primary takes until min-replicas-max-lag"
        )
    group = facts.expected.get("group")
    if not group:
        raise Skip("in no Sentinel group: nothing promotes another primary")
    to_write = _whole(facts.config.get("min-replicas-to-write", facts.config.get("min-slaves-to-write")))
    lag = _whole(facts.config.get("min-replicas-max-lag", facts.config.get("min-slaves-max-lag")))
    if to_write is None or lag is None:
        raise Skip("CONFIG GET returned no min-replicas-to-write / min-replicas-max-lag")
    closes = profiles.fence_closes_s(to_write, lag)
    # The live sentinels' setting; the shortest counts (any of them may start the failover).
    read = [
        _whole(s.masters[group].get("down-after-milliseconds"))
        for s in (ctx.cluster.sentinels if ctx.cluster else [])
        if group in s.masters
    ]
    down_after_ms = min((ms for ms in read if ms is not None), default=None)
    if down_after_ms is None:
        raise Skip(f"no sentinel answered for group {group}: its down-after-milliseconds is not known")
    if closes is None:
        yield Fail(
            f"min-replicas-to-write {to_write}, min-replicas-max-lag {lag}: cut off from its replicas, this "
            f"{p.name} primary takes writes until it rejoins, and a failover discards them"
        )
    elif closes * 1000 > down_after_ms:
        fits = down_after_ms // 1000 - profiles.FENCE_DELAY_S
        fix = (
            f"at most {fits} s fits"
            if fits >= 1
            else "no lag fits: raise down-after-milliseconds to "
            f"{(lag + profiles.FENCE_DELAY_S) * 1000} or more"
        )
        yield Fail(
            f"min-replicas-max-lag {lag} s: cut off from its replicas, this {p.name} primary acknowledges "
            f"writes for up to {closes} s, past group {group}'s down-after-milliseconds {down_after_ms}, "
            f"after which a replica may be promoted: {fix}"
        )
