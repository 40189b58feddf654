"""Thresholds of the checks: every one a setting, with the catalogue's default.

An inventory overrides them with ``redis_compliance_thresholds`` (a dict); an unknown name
is an error that lists the known ones, so a typo never silently keeps the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from redisops.core.topology import MIN_SENTINELS

MB = 1024 * 1024


# The key types a key class may name (TYPE's answers; HyperLogLogs are strings).
KEY_KINDS = ("string", "hash", "list", "set", "zset", "stream")


@dataclass(frozen=True)
class KeyClass:
    """A kind of key the applications write, named by the start of its name: what type its keys
    have, whether each must carry a TTL, and the longest TTL it may have (0: no maximum)."""

    prefix: str
    kinds: tuple[str, ...] = ()  # empty: any type
    ttl_required: bool = False
    ttl_max_s: int = 0

    def to_dict(self) -> dict:
        return {"prefix": self.prefix, "kinds": list(self.kinds), "ttl_required": self.ttl_required,
                "ttl_max_s": self.ttl_max_s}  # fmt: skip


# The guide's own key names: users as hashes, sessions and cached values and rate limits that
# expire, leaderboards on sorted sets, queues on lists, sorted sets or streams.
KEY_CLASSES = (
    KeyClass("user:", ("hash",)),
    KeyClass("session:", ("string", "hash"), True, 7 * 86400),
    KeyClass("cache:", (), True, 86400),
    KeyClass("rate_limit:", ("string", "zset"), True, 86400),
    KeyClass("leaderboard:", ("zset",)),
    KeyClass("queue:", ("list", "zset", "stream")),
)
KEY_CLASSES_VAR = "redis_compliance_key_classes"


def key_classes(value: Any) -> tuple[KeyClass, ...]:
    """The inventory's key classes (a list of {prefix, kinds, ttl_required, ttl_max_s}), each
    checked; ValueError naming the variable and the entry otherwise."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"{KEY_CLASSES_VAR} must be a list of {{prefix, kinds, ttl_required, ttl_max_s}}")
    out = []
    for i, entry in enumerate(value):
        where = f"{KEY_CLASSES_VAR}[{i}]"
        if isinstance(entry, KeyClass):
            out.append(entry)
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a mapping like {{prefix: 'session:', ttl_required: true}}")
        unknown = sorted(set(entry) - {"prefix", "kinds", "ttl_required", "ttl_max_s"})
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: prefix, kinds, "
                             "ttl_required, ttl_max_s)")  # fmt: skip
        prefix = entry.get("prefix")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"{where}.prefix must be the start of the key names, such as 'session:'")
        kinds = entry.get("kinds", [])
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(kinds, list | tuple) or any(k not in KEY_KINDS for k in kinds):
            raise ValueError(f"{where}.kinds {entry.get('kinds')!r}: a list of {', '.join(KEY_KINDS)}")
        required = entry.get("ttl_required", False)
        if not isinstance(required, bool):
            raise ValueError(f"{where}.ttl_required is {required!r}: use true or false")
        ttl_max = entry.get("ttl_max_s", 0)
        if isinstance(ttl_max, bool) or not isinstance(ttl_max, int) or ttl_max < 0:
            raise ValueError(f"{where}.ttl_max_s is {ttl_max!r}: seconds, 0 for no maximum")
        out.append(KeyClass(prefix, tuple(kinds), required, ttl_max))
    prefixes = [c.prefix for c in out]
    twice = sorted({p for p in prefixes if prefixes.count(p) > 1})
    if twice:
        raise ValueError(f"{KEY_CLASSES_VAR} names prefix {', '.join(twice)} twice: one class per prefix")
    return tuple(out)


def key_class(name: str, classes: tuple[KeyClass, ...]) -> KeyClass | None:
    """The class of a key name: the longest prefix its name starts with (app:session:1 belongs to
    app:session:, not to app:); only the start counts."""
    found = [c for c in classes if name.startswith(c.prefix)]
    return max(found, key=lambda c: len(c.prefix)) if found else None


@dataclass(frozen=True)
class Thresholds:
    # Memory
    maxmemory_ram_share_max: float = 0.75  # MEM-02: fork copy-on-write headroom
    memory_used_warn: float = 0.70  # MEM-03
    memory_used_critical: float = 0.90
    rss_ram_share_max: float = 0.90  # MEM-04
    # MEM-05: a volatile-* policy evicts only keys with a TTL: with fewer than this share of them,
    # eviction soon runs out of candidates and writes fail as with noeviction.
    volatile_keys_min_share: float = 0.10
    fragmentation_ratio_max: float = 1.4  # MEM-06 (only when the waste is large too)
    fragmentation_waste_bytes: int = 10 * MB
    client_buffer_avg_bytes: int = 200 * 1024  # MEM-07
    replica_buffer_bytes: int = 10 * MB
    # MEM-11: one normal or pub/sub client's output or query buffer: Redis's own hard limit for a
    # pub/sub client (client-output-buffer-limit pubsub 32mb), which would have dropped it.
    client_buffer_max_bytes: int = 32 * MB
    lua_scripts_max: int = 1000  # MEM-08
    # MEM-12: EVAL scripts evicted from Redis 8's bounded script cache since the previous run; 0: any.
    evicted_scripts_max: int = 0
    # MEM-13: the functions' memory (FUNCTION LOAD libraries and their Lua engine): RedisInsight's
    # bound on the EVAL Lua engine's memory (used_memory_lua above 3,000,000 bytes).
    functions_memory_max_bytes: int = 3_000_000
    # MEM-09: writes refused at maxmemory (errorstat_OOM) since the previous run; 0: any fails.
    oom_errors_max: int = 0
    # Persistence
    last_save_max_age_s: int = 24 * 3600  # PER-03
    # PER-03: the newest off-host backup (redis_backup's metrics); a daily schedule plus slack.
    # 0: off-host backups are not judged (they are taken by other means).
    backup_max_age_s: int = 26 * 3600
    # Connections
    clients_share_warn: float = 0.80  # CON-01
    tcp_keepalive_min_s: int = 1  # CON-03
    tcp_keepalive_max_s: int = 300
    # CON-05: connections opened per second between two runs; a pooled application opens a few at
    # start, monitoring one per scrape: 10 a second (36,000 an hour) is clients connecting per request.
    connections_per_s_max: float = 10.0
    # Performance
    fork_rate_min_gb_s: float = 25.0  # PRF-04 (GB copied per second of fork)
    fork_min_memory_bytes: int = 100 * MB  # smaller forks are too quick to judge
    big_string_bytes: int = 1 * MB  # PRF-05
    big_hash_fields: int = 5000
    big_set_members: int = 100_000
    big_zset_members: int = 100_000
    big_list_items: int = 1000  # queues and logs alike: why a list is long is not in the facts
    big_stream_entries: int = 100_000
    # PRF-09: MEMORY USAGE of one key, whatever its length: ten times the 1 MB a string may hold
    # (PRF-05), so collections within PRF-05's lengths pass unless their members are big values.
    big_key_bytes: int = 10 * MB
    slow_commands: tuple[str, ...] = ("keys", "flushall", "flushdb", "debug", "save", "monitor")  # PRF-03
    # PRF-10: BUSY replies (a script or function ran past busy-reply-threshold) since the previous
    # run; 0: any fails, every client was refused while it ran.
    busy_errors_max: int = 0
    # Key sample (bounded: never KEYS)
    key_sample_budget: int = 1000
    key_scan_count: int = 100
    # Streams of the key sample whose consumer groups are read (XINFO GROUPS), groups kept per stream
    # (the most pending and undelivered first), and consumers kept per group with pending entries
    # (XINFO CONSUMERS, the longest idle first): a bounded number of commands and facts per run.
    stream_sample_max: int = 10
    stream_groups_max: int = 5
    stream_consumers_keep: int = 5
    # CLIENT LIST: the clients with the biggest buffers kept in the facts (the others only counted)
    client_list_keep: int = 20
    # Keys and TTLs
    # TTL-01, TTL-02, KEY-03: the kinds of keys the applications write (redis_compliance_key_classes)
    key_classes: tuple[KeyClass, ...] = KEY_CLASSES
    namespace_pattern: str = r"^[A-Za-z0-9_.-]+(:[^:]+)+$"  # KEY-01: type:id[:field]
    namespace_min_share: float = 0.9
    # KEY-04: entries a consumer group delivered and no consumer acknowledged (its PEL). A healthy
    # group's PEL holds what its consumers work on now, a few times their XREADGROUP COUNT; 1000 is
    # PRF-05's long list (big_list_items): a backlog of that size is a backlog whatever holds it.
    stream_pending_max: int = 1000
    # KEY-05: entries of a stream its group has not been delivered yet (XINFO GROUPS lag): the same
    # 1000 as a list queue's backlog (big_list_items).
    stream_lag_max: int = 1000
    # KEY-06: a consumer that holds pending entries and has not read or claimed for this long: the
    # hour of the min-idle-time in the Redis docs' XCLAIM and XAUTOCLAIM examples (3600000 ms),
    # far beyond the seconds a live worker's XREADGROUP BLOCK loop leaves between reads.
    stream_consumer_idle_max_s: int = 3600
    # KEY-07: items a sampled list may gain between two runs; PRF-05's long list (big_list_items): a
    # queue that gains a whole long list in one interval falls behind faster than it is drained.
    list_growth_max: int = 1000
    # KEY-07: the sampled lists whose lengths the counters state keeps for the next run (the
    # longest), under a digest of database and name: never the name.
    list_growth_lists_max: int = 100
    # Profiles
    # PRO-03: a cache serves at least this share of its lookups, judged once it saw enough of them.
    cache_hit_ratio_min: float = 0.80
    cache_lookups_min: int = 1000
    # PRO-04: this share of an expiring profile's sampled keys (session, ratelimit) may lack a TTL.
    expiring_without_ttl_max_share: float = 0.0
    # Security
    password_min_length: int = 32  # SEC-08
    # SEC-17: ACL denials (errorstat_NOPERM) per minute, since the previous run (else since the
    # start): an operator's odd denied command passes, a client denied on every call does not.
    noperm_errors_per_min_max: float = 1.0
    cert_min_days: int = 30  # SEC-09 (files on the hosts), SEC-12 (certificates the servers present)
    min_version: str = "7.0.0"  # SEC-07, Redis
    min_valkey_version: str = "7.2.5"  # SEC-07, Valkey (its valkey_version, never its redis_version)
    # High availability
    min_sentinels: int = MIN_SENTINELS  # HA-04
    replication_lag_max_s: int = 10  # HA-02 (when min-replicas-max-lag is 0)
    # HA-07: above Redis's own default (1 MB, about a second of a busy primary's writes), which a
    # 1 MB threshold never judged; the kit deploys 64 MB (redis_server_repl_backlog_size).
    repl_backlog_min_bytes: int = 16 * MB
    sentinel_tilt_grace_s: int = 0  # HA-13: a TILT younger than this passes (0: any TILT fails)
    min_promotable_replicas: int = 1  # HA-14: replicas per group Sentinel can promote
    sentinel_down_after_min_ms: int = 1000  # HA-10: shorter turns ordinary pauses into failovers
    # HA-15: writes refused by a replica (errorstat_READONLY) since the previous run; 0: any fails.
    readonly_errors_max: int = 0
    # Redis Cluster
    # CLU-08: a primary's slots may differ from the mean by this share; its memory from the others'
    # by twice it, and by more than the bytes below (an almost empty cluster is not unbalanced).
    cluster_imbalance_max_pct: int = 10
    cluster_imbalance_min_bytes: int = 64 * MB
    cluster_node_timeout_min_ms: int = 1000  # CLU-09
    cluster_node_timeout_max_ms: int = 60_000
    # Monitoring
    # MON-01 for facts without the inventory's exporters (saved by an older redisops); H-07 allows it.
    exporter_port: int = 9121
    # Host
    # H-07: ports besides Redis's and Sentinel's: ssh, and node_exporter on monitored hosts
    expected_extra_ports: tuple[int, ...] = (22, 9100)
    swappiness_max: int = 1  # H-09: 0 or 1 swaps only under real memory pressure


_TUPLES = {f.name for f in fields(Thresholds) if f.type.startswith("tuple") and f.name != "key_classes"}
# Settings that went with a check: named in the error, so an inventory that sets one learns what
# replaced it.
RETIRED = {
    "temporary_prefixes": "redis_compliance_key_classes replaced it: a class per prefix, with "
    "ttl_required: true for temporary keys",
    "queue_prefixes": "KEY-02 is gone: PRF-05 reports every long list, queue or not",
    "queue_max_items": "KEY-02 is gone: PRF-05 reports long lists above big_list_items",
}


def _coerce(value: Any, kind: type) -> Any:
    """A value of the setting's type; templated strings of numbers count, anything else is refused
    (never a silent truncation: 2.5 sentinels is an error, not 2)."""
    if isinstance(value, bool | list | tuple | dict):
        raise TypeError
    if kind is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    number = float(value) if isinstance(value, str) else value
    if not isinstance(number, int | float):
        raise TypeError
    if kind is int:
        if float(number) != int(number):
            raise ValueError
        return int(number)
    return float(number)


def thresholds(overrides: dict[str, Any] | None) -> Thresholds:
    """The defaults with the inventory's overrides, checked by name and type."""
    base = Thresholds()
    if not overrides:
        return base
    if not isinstance(overrides, dict):
        raise ValueError("redis_compliance_thresholds must be a dict of threshold name: value")
    known = {f.name: f for f in fields(Thresholds)}
    retired = sorted(set(overrides) & set(RETIRED))
    if retired:
        raise ValueError(
            "redis_compliance_thresholds: "
            + "; ".join(f"{name} was removed ({RETIRED[name]})" for name in retired)
        )
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(
            f"redis_compliance_thresholds: unknown {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    values = {}
    for name, value in overrides.items():
        default = getattr(base, name)
        if name == "key_classes":
            values[name] = key_classes(value)
            continue
        try:
            if name in _TUPLES:
                if isinstance(value, str | dict) or not hasattr(value, "__iter__"):
                    raise TypeError
                values[name] = tuple(_coerce(v, type(default[0])) if default else v for v in value)
            else:
                values[name] = _coerce(value, type(default))
        except (TypeError, ValueError):
            raise ValueError(
                f"redis_compliance_thresholds.{name}: {value!r} is not a {type(default).__name__}"
                f" (default {default!r})"
            ) from None
    return replace(base, **values)


@dataclass(frozen=True)
class Context:
    """What a check may consult besides its own facts: thresholds and the whole cluster."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    cluster: Any = None  # redisops.compliance.facts.ClusterFacts
