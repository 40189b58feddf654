"""Use-case profiles: what an instance is for decides how it evicts, persists and fails over.

The best-practices guide the kit follows is organised by use case, and each wants a different
server: a cache evicts and needs no persistence, a queue must never evict and must persist,
sessions and rate-limit counters always expire. A profile names one of those uses and carries
the defaults of the settings that follow from it. The role resolves an instance's settings from
its profile (redis_server_profile, or an instance's own ``profile``); a variable set explicitly
still wins, unless the profile forbids the combination (``problems``). The checks judge the live
server against the same table (the profile checks), and docs/profiles.md is written from it.

Standard library only (see this package's __init__).
"""

from __future__ import annotations

from dataclasses import dataclass

STORE, CACHE, SESSION, RATELIMIT, QUEUE, LEADERBOARD, ANALYTICS = (
    "store", "cache", "session", "ratelimit", "queue", "leaderboard", "analytics",
)  # fmt: skip
# store first: the default, the kit's behaviour before profiles existed.
PROFILES = (STORE, CACHE, SESSION, RATELIMIT, QUEUE, LEADERBOARD, ANALYTICS)

# Redis's own save rules (redis.conf's defaults), as the role writes them.
DEFAULT_SAVE = (
    {"seconds": 3600, "changes": 1},
    {"seconds": 300, "changes": 100},
    {"seconds": 60, "changes": 10000},
)
ALLKEYS = ("allkeys-lru", "allkeys-lfu", "allkeys-random")
VOLATILE = ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")

# The settings a profile gives defaults for: role variable redis_server_<name>, instance key <name>.
SETTINGS = (
    "maxmemory_policy",
    "save",
    "appendonly",
    "min_replicas_to_write",
    "min_replicas_max_lag",
    "lazyfree",
    "restart_on_failure",
)


@dataclass(frozen=True)
class Profile:
    name: str
    purpose: str  # the guide's use case, in a line
    maxmemory_policy: str
    save: tuple  # RDB rules, as redis_server_save
    appendonly: bool
    min_replicas_to_write: int
    min_replicas_max_lag: int  # seconds: how long an isolated primary keeps taking writes, at most
    lazyfree: bool  # free evicted, expired and deleted values in a background thread
    # As redis_server_restart_on_failure. 'auto' everywhere: restart only an instance that persists,
    # since an empty primary restarted before Sentinel promotes a replica wipes its replicas too
    # (a cache's as well: all its replicas go cold at once).
    restart_on_failure: bool | str
    policies: tuple  # the eviction policies allowed at all (others are refused before any change)
    must_persist: bool  # refused without RDB snapshots or the AOF
    evicts: bool  # evictions are its normal work (elsewhere an eviction is data lost)
    expires: bool  # every key it holds should carry a TTL
    failover_loss: str  # what a failover may cost it, as documented
    # A primary cut off from its replicas must stop acknowledging writes before Sentinel can
    # promote one of them (min-replicas-max-lag + FENCE_DELAY_S within down-after): no split-brain.
    fenced: bool = False

    def defaults(self) -> dict:
        return {name: getattr(self, name) for name in SETTINGS}


# Once min-replicas-max-lag has run out, a cut-off primary refuses writes within this many
# seconds more: its replicas acknowledge once a second, and it counts its good replicas once a
# second, in whole seconds. The partition drill measured up to 2.3 s on the lab (docs/profiles.md).
FENCE_DELAY_S = 3


def fence_closes_s(min_replicas_to_write: int, min_replicas_max_lag: int) -> int | None:
    """At most how many seconds a primary cut off from all its replicas keeps acknowledging
    writes; None when nothing stops it (min-replicas-to-write or -max-lag 0)."""
    if min_replicas_to_write < 1 or min_replicas_max_lag < 1:
        return None
    return min_replicas_max_lag + FENCE_DELAY_S


_NO_SAVE: tuple = ()
_TABLE = (
    Profile(
        STORE,
        "the primary data store: nothing acknowledged may be lost, nothing evicted",
        "noeviction", DEFAULT_SAVE, True, 1, 2, False, "auto",
        ("noeviction", *VOLATILE), True, False, False,
        "acknowledged writes of an isolated primary until its fence closes (min-replicas-max-lag "
        "+ up to 3 s); WAIT-confirmed writes: none",
        fenced=True,
    ),
    Profile(
        CACHE,
        "cache-aside, write-through and write-behind caches: a miss is cheap, memory is the limit",
        "allkeys-lru", _NO_SAVE, False, 0, 10, True, "auto",
        ("noeviction", *ALLKEYS, *VOLATILE), False, True, False,
        "any: a cold cache refills from the source of truth",
    ),
    Profile(
        SESSION,
        "user sessions: every key expires; losing one logs a user out",
        "volatile-lru", DEFAULT_SAVE, True, 1, 10, True, "auto",
        ("noeviction", *VOLATILE), True, False, True,
        "sessions written in the last seconds before the failover",
    ),
    Profile(
        RATELIMIT,
        "rate limiters (fixed and sliding windows): short-lived counters that always expire",
        "volatile-ttl", _NO_SAVE, False, 0, 10, True, "auto",
        ("noeviction", *VOLATILE), False, False, True,
        "the current windows' counts: a client may exceed its limit once after a failover",
    ),
    Profile(
        QUEUE,
        "job queues (lists, priority queues on sorted sets, streams): never evict, always persist",
        "noeviction", DEFAULT_SAVE, True, 1, 2, False, "auto",
        ("noeviction",), True, False, False,
        "acknowledged pushes of an isolated primary until its fence closes (min-replicas-max-lag "
        "+ up to 3 s); WAIT-confirmed pushes: none",
        fenced=True,
    ),
    Profile(
        LEADERBOARD,
        "leaderboards on sorted sets: rebuilt from the source of truth only at great cost",
        "noeviction", DEFAULT_SAVE, True, 1, 10, False, "auto",
        ("noeviction", *VOLATILE), True, False, False,
        "score updates of the last seconds before the failover",
    ),
    Profile(
        ANALYTICS,
        "real-time analytics (counters, HyperLogLog, hashes): approximate, but kept",
        "noeviction", DEFAULT_SAVE, False, 0, 10, False, "auto",
        ("noeviction", *VOLATILE), True, False, False,
        "the counts since the last RDB snapshot reached the replicas",
    ),
)  # fmt: skip
BY_NAME = {p.name: p for p in _TABLE}


def profile(name: str) -> Profile:
    """The profile called ``name`` (ValueError naming the choices otherwise)."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"{name!r} is not a profile: choose one of {', '.join(PROFILES)}") from None


def persists(save, appendonly) -> bool:
    return bool(save) or bool(appendonly)


def problems(name: str, settings: dict, where: dict) -> list[str]:
    """Why ``settings`` (the resolved maxmemory_policy, save, appendonly) do not fit profile
    ``name``. ``where`` names the variable each setting came from, so the message names both the
    profile's variable (key "profile") and the setting's, and what to change."""
    try:
        p = profile(name)
    except ValueError as exc:
        return [f"{where.get('profile', 'profile')}: {exc}"]
    found = []
    policy = settings.get("maxmemory_policy")
    if policy not in p.policies:
        found.append(
            f"{where.get('profile')} is {name!r} ({p.purpose}), which does not allow "
            f"{where.get('maxmemory_policy')} {policy!r}: use one of {', '.join(p.policies)} "
            f"(or another profile)"
        )
    if p.must_persist and not persists(settings.get("save"), settings.get("appendonly")):
        found.append(
            f"{where.get('profile')} is {name!r} ({p.purpose}), which must persist, but "
            f"{where.get('save')} is empty and {where.get('appendonly')} is false: turn one of them on "
            f"(or another profile)"
        )
    return found


def documentation() -> list[dict]:
    """The table for docs/profiles.md and the role's README: one row per profile."""
    rows = []
    for p in _TABLE:
        rows.append(
            {
                "name": p.name,
                "purpose": p.purpose,
                "maxmemory_policy": p.maxmemory_policy,
                "save": "Redis's rules" if p.save else "off",
                "appendonly": "yes" if p.appendonly else "no",
                "min_replicas_to_write": p.min_replicas_to_write,
                "min_replicas_max_lag": p.min_replicas_max_lag,
                "lazyfree": "yes" if p.lazyfree else "no",
                "restart_on_failure": p.restart_on_failure,
                "policies": ", ".join(p.policies),
                "must_persist": p.must_persist,
                "evicts": p.evicts,
                "expires": p.expires,
                "failover_loss": p.failover_loss,
            }
        )
    return rows
