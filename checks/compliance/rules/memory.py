"""Checks: memory (maxmemory, headroom, use, fragmentation, buffers, scripts)."""

from __future__ import annotations

from redisops.compliance.counters import change, error_replies, keeps_errorstats
from redisops.compliance.facts import RedisFacts, as_float, server_of, ttl_reading
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context
from redisops.core.sizes import human as _size
from redisops.core.sizes import parse as _bytes


@check(
    "MEM-01",
    area="memory",
    scope="redis",
    severity=Severity.HIGH,
    title="maxmemory is set",
    rationale="Without maxmemory Redis grows until the kernel's OOM killer ends it, or the host swaps "
    "and every command slows down. A limit makes Redis refuse writes (noeviction) or evict (caches) "
    "in a way the application sees and handles.",
    bad="maxmemory 0",
    good="maxmemory 4gb  # 10-20% of RAM left free, less with persistence (MEM-02)",
    remediation="Set redis_server_maxmemory (bytes, units or a share of RAM like '50%') and rerun site.yml; "
    "live: CONFIG SET maxmemory 4gb, then CONFIG REWRITE.",
    source="Redis docs, admin (set an explicit maxmemory); Linuxfabrik redis-status (warns on maxmemory 0)",
)
def maxmemory_set(facts: RedisFacts, ctx: Context):
    if as_float(facts.config.get("maxmemory")) <= 0:
        yield Fail("maxmemory is 0: no memory limit, the OOM killer decides instead")


# ---- helpers private to the memory checks ---------------------------------------------------


def _persists(facts: RedisFacts) -> list[str]:
    """What forks to write to disk: RDB save rules and/or AOF (its rewrites fork)."""
    what = []
    if str(facts.config.get("save", "")).strip():
        what.append("RDB snapshots")
    if str(facts.config.get("appendonly", "")).lower() == "yes":
        what.append("AOF")
    return what


def _ram_bytes(facts: RedisFacts, ctx: Context) -> float:
    """The host's RAM as Redis sees it (INFO total_system_memory), else as the host probe saw it."""
    ram = as_float(facts.info.get("total_system_memory"))
    if ram <= 0 and ctx.cluster is not None:
        host = ctx.cluster.host(facts.host)
        ram = as_float(host.mem_total_bytes) if host and not host.error else 0.0
    return ram


def _same_host(facts: RedisFacts, ctx: Context) -> list[RedisFacts]:
    """Every gathered Redis instance on this instance's host (itself included): they share the RAM."""
    if ctx.cluster is None:
        return [facts]
    found = [r for r in ctx.cluster.redis if r.host == facts.host and not r.error]
    return found or [facts]


def _on_host(items: list[RedisFacts], facts: RedisFacts, what: str) -> str:
    if len(items) == 1:
        return what
    return f"{what} of the {len(items)} instances on {facts.host} together"


@check(
    "MEM-02",
    area="memory",
    scope="redis",
    severity=Severity.HIGH,
    title="maxmemory leaves RAM for a fork's copy-on-write when persistence is on",
    rationale="BGSAVE and AOF rewrites fork Redis; every page written while the child runs is copied, "
    "up to the whole dataset again under heavy writes. With maxmemory close to the host's RAM a "
    "snapshot can push the host into swap or the OOM killer. The limit counts every instance on the host.",
    bad="maxmemory 14gb  # on a 16 GB host, save 3600 1, appendonly yes",
    good="maxmemory 8gb  # at most ~75% of RAM, about half under heavy writes",
    remediation="Lower redis_server_maxmemory (the kit's default '50%' of RAM is split across the host's "
    "instances) and rerun site.yml; live: CONFIG SET maxmemory 8gb, then CONFIG REWRITE.",
    source="Redis docs, admin and persistence (fork and copy-on-write); Redis FAQ (memory for BGSAVE)",
)
def fork_headroom(facts: RedisFacts, ctx: Context):
    persists = _persists(facts)
    if not persists:
        return
    if as_float(facts.config.get("maxmemory")) <= 0:
        raise Skip("maxmemory is 0 (no limit): MEM-01 reports it")
    ram = _ram_bytes(facts, ctx)
    if ram <= 0:
        raise Skip("the host's RAM is unknown (no INFO total_system_memory, no host facts)")
    peers = _same_host(facts, ctx)
    limits = [as_float(r.config.get("maxmemory")) for r in peers]
    if any(limit <= 0 for limit in limits):
        raise Skip("an instance on this host has no maxmemory: MEM-01 reports it")
    total = sum(limits)
    share = total / ram
    if share > ctx.thresholds.maxmemory_ram_share_max:
        yield Fail(
            f"{_on_host(peers, facts, 'maxmemory')} {_size(total)} is {share:.0%} of the host's "
            f"{_size(ram)} RAM (above {ctx.thresholds.maxmemory_ram_share_max:.0%}) with "
            f"{' and '.join(persists)} on: a fork's copy-on-write has no room left"
        )


@check(
    "MEM-03",
    area="memory",
    scope="redis",
    severity=Severity.HIGH,
    title="used memory stays well below maxmemory",
    rationale="Near maxmemory a noeviction store starts refusing writes (OOM command not allowed) and a "
    "volatile-* policy runs out of keys to evict. Warning at 70% leaves time to grow the limit or shard. "
    "Caches with an allkeys-* policy are meant to fill up and evict, so they are not judged.",
    bad="used_memory:966367641  maxmemory:1073741824  # 90%",
    good="used_memory:536870912  maxmemory:1073741824  # 50%",
    remediation="Raise redis_server_maxmemory within MEM-02's fork headroom, remove or expire data, or "
    "split the dataset; live: CONFIG SET maxmemory <bytes>, then CONFIG REWRITE. For a cache, set "
    "redis_server_maxmemory_policy: allkeys-lru.",
    source="awesome-prometheus-alerts (RedisOutOfConfiguredMaxmemory: above 90% of maxmemory); "
    "Linuxfabrik redis-status (memory usage against maxmemory, warning at 90%)",
)
def memory_used(facts: RedisFacts, ctx: Context):
    limit = as_float(facts.config.get("maxmemory", facts.info.get("maxmemory")))
    if limit <= 0:
        raise Skip("maxmemory is 0 (no limit): MEM-01 reports it")
    policy = str(facts.config.get("maxmemory-policy", facts.info.get("maxmemory_policy", ""))).lower()
    if policy.startswith("allkeys-"):
        return  # a cache evicting at its limit works as designed
    used = as_float(facts.info.get("used_memory"))
    share = used / limit
    t = ctx.thresholds
    if share > t.memory_used_critical:
        level, severity = t.memory_used_critical, None
    elif share > t.memory_used_warn:
        level, severity = t.memory_used_warn, Severity.MEDIUM
    else:
        return
    yield Fail(
        f"used_memory {_size(used)} is {share:.0%} of maxmemory {_size(limit)} (above {level:.0%}, "
        f"policy {policy or 'unknown'})",
        severity=severity,
    )


@check(
    "MEM-04",
    area="memory",
    scope="redis",
    severity=Severity.HIGH,
    title="Redis's resident memory stays below 90% of the host's RAM",
    rationale="RSS is what the kernel actually gives Redis: data, fragmentation, buffers and allocator "
    "overhead. Close to the host's RAM the next fork, client burst or replica sync ends in swap or the "
    "OOM killer. The resident memory of every instance on the host counts.",
    bad="used_memory_rss:15032385536  total_system_memory:16106127360  # 93%",
    good="used_memory_rss:8589934592  total_system_memory:16106127360  # 53%",
    remediation="Lower redis_server_maxmemory, reclaim fragmentation (MEM-06: activedefrag yes or a "
    "restart after failover), or move instances to a larger host; live: MEMORY PURGE.",
    source="awesome-prometheus-alerts (RedisOutOfSystemMemory) and redis-mixin (RedisOutOfMemory): used "
    "memory above 90% of total_system_memory (this check counts RSS)",
)
def rss_share(facts: RedisFacts, ctx: Context):
    ram = _ram_bytes(facts, ctx)
    if ram <= 0:
        raise Skip("the host's RAM is unknown (no INFO total_system_memory, no host facts)")
    peers = _same_host(facts, ctx)
    rss = sum(as_float(r.info.get("used_memory_rss")) for r in peers)
    share = rss / ram
    if share > ctx.thresholds.rss_ram_share_max:
        yield Fail(
            f"{_on_host(peers, facts, 'used_memory_rss')} {_size(rss)} is {share:.0%} of the host's "
            f"{_size(ram)} RAM (above {ctx.thresholds.rss_ram_share_max:.0%})"
        )


def _keyspace(facts: RedisFacts) -> tuple[int, int]:
    """Keys and keys with a TTL, over every logical database (INFO keyspace dbN)."""
    keys = expires = 0
    for name, value in facts.info.items():
        if name.startswith("db") and name[2:].isdigit() and isinstance(value, dict):
            keys += int(as_float(value.get("keys")))
            expires += int(as_float(value.get("expires")))
    return keys, expires


@check(
    "MEM-05",
    area="memory",
    scope="redis",
    severity=Severity.MEDIUM,
    title="the eviction policy can evict: a volatile-* policy has enough keys that expire",
    rationale="volatile-lru/lfu/random/ttl evict only keys with a TTL; once those are gone, Redis at "
    "maxmemory behaves like noeviction and refuses writes, which the policy's owner did not intend. One "
    "expiring key among thousands is as good as none, so the share of keys with a TTL is judged (at "
    "least 10%): on the primary's key sample (keys whose TTL could not be read left out), elsewhere on "
    "INFO keyspace. Whether the data is a cache (allkeys-*) or a store (noeviction) is the owner's "
    "choice the facts cannot tell.",
    bad="maxmemory-policy volatile-lru  # db0:keys=120000,expires=40",
    good="maxmemory-policy allkeys-lru  # a cache; noeviction for a store\nmaxmemory-policy volatile-lru  "
    "# db0:keys=120000,expires=90000",
    remediation="Set redis_server_maxmemory_policy to allkeys-lru or allkeys-lfu for a cache, noeviction "
    "for a store, or give evictable keys a TTL; live: CONFIG SET maxmemory-policy allkeys-lru, then "
    "CONFIG REWRITE. Adjust volatile_keys_min_share in redis_compliance_thresholds.",
    source="Redis docs, key eviction (the volatile-* policies behave like noeviction when no key matches)",
)
def eviction_policy(facts: RedisFacts, ctx: Context):
    policy = str(facts.config.get("maxmemory-policy", facts.info.get("maxmemory_policy", ""))).lower()
    if not policy.startswith("volatile-"):
        return
    sampled = [k for k in (facts.keys or {}).get("keys") or [] if isinstance(k, dict)]
    if sampled:
        readings = [t for t in (ttl_reading(k) for k in sampled) if t is not None and t != -2]
        if not readings:
            raise Skip(f"the TTL of none of the {len(sampled)} sampled keys could be read (PTTL)")
        keys, expires = len(readings), sum(1 for t in readings if t >= 0)
        basis = "keys in the whole keyspace" if facts.keys.get("complete") else "sampled keys"
    else:
        keys, expires = _keyspace(facts)
        basis = "keys (INFO keyspace)"
    if keys == 0:
        return
    share, least = expires / keys, ctx.thresholds.volatile_keys_min_share
    if share < least:
        yield Fail(
            f"maxmemory-policy {policy} evicts only keys with a TTL, and {expires} of {keys} {basis} "
            f"({share:.0%}, below {least:.0%}) have one: once they are evicted, writes fail at maxmemory "
            "as with noeviction"
        )


_SMALL_INSTANCE = 5 * 1024 * 1024  # MEMORY DOCTOR: "empty or using very little memory" below this


@check(
    "MEM-06",
    area="memory",
    scope="redis",
    severity=Severity.MEDIUM,
    title="memory fragmentation is low (ratio at most 1.4, or under 10 MB wasted)",
    rationale="A high RSS-to-allocated ratio means the host pays for memory the dataset does not use. "
    "Like Redis's MEMORY DOCTOR, it matters only when the waste is large too, and instances with under "
    "5 MB allocated are not judged: their ratio is dominated by fixed overhead.",
    bad="fragmentation 2.3  fragmentation.bytes 3221225472  # MEMORY STATS",
    good="fragmentation 1.1  fragmentation.bytes 104857600",
    remediation="Enable active defragmentation (CONFIG SET activedefrag yes, jemalloc builds) or restart "
    "the instance after a failover so it reloads compactly; after a past peak, MEMORY PURGE.",
    source="Redis MEMORY DOCTOR (src/object.c: total_frag > 1.4 and > 10 MB); Redis docs, memory",
)
def fragmentation(facts: RedisFacts, ctx: Context):
    stats, info = facts.memory_stats, facts.info
    if not stats and "mem_fragmentation_ratio" not in info:
        raise Skip("no MEMORY STATS and no INFO fragmentation figures")
    allocated = as_float(stats.get("total.allocated", info.get("used_memory")))
    if allocated < _SMALL_INSTANCE:
        return  # MEMORY DOCTOR ignores (almost) empty instances
    ratio = as_float(stats.get("fragmentation", info.get("mem_fragmentation_ratio")))
    waste = as_float(stats.get("fragmentation.bytes", info.get("mem_fragmentation_bytes")))
    t = ctx.thresholds
    if ratio > t.fragmentation_ratio_max and waste > t.fragmentation_waste_bytes:
        peak = as_float(stats.get("peak.allocated", info.get("used_memory_peak")))
        why = (
            f"; the peak {_size(peak)} was over 150% of today's use, which explains most of it (MEMORY PURGE)"
            if peak > 1.5 * allocated
            else ""
        )
        yield Fail(
            f"fragmentation ratio {ratio:.2f} (above {t.fragmentation_ratio_max}) wastes {_size(waste)} "
            f"for {_size(allocated)} allocated{why}"
        )


@check(
    "MEM-07",
    area="memory",
    scope="redis",
    severity=Severity.MEDIUM,
    title="client and replica output buffers are small",
    rationale="Big output buffers mean clients that read slowly or ask for huge replies (KEYS, large "
    "HGETALL, pub/sub backlogs), or replicas that cannot keep up; that memory counts against maxmemory "
    "and can make Redis evict or refuse writes. MEMORY DOCTOR flags 200 KB per client and 10 MB per replica.",
    bad="mem_clients_normal:524288000  connected_clients:100  # 5 MB per client",
    good="mem_clients_normal:2097152  connected_clients:100  # 20 KB per client",
    remediation="Find the clients with CLIENT LIST (omem, tot-mem, cmd) and fix their reads or commands; "
    "bound them with client-output-buffer-limit normal/pubsub; for replicas check the network and "
    "INFO replication lag.",
    source="Redis MEMORY DOCTOR (src/object.c: client and replica buffers)",
)
def client_buffers(facts: RedisFacts, ctx: Context):
    info, t = facts.info, ctx.thresholds
    if "mem_clients_normal" not in info and "mem_clients_slaves" not in info:
        raise Skip("INFO has no mem_clients_normal or mem_clients_slaves")
    clients = as_float(info.get("connected_clients"))
    normal = as_float(info.get("mem_clients_normal"))
    if clients > 0 and normal / clients > t.client_buffer_avg_bytes:
        yield Fail(
            f"clients use {_size(normal / clients)} each on average ({_size(normal)} for {clients:.0f} "
            f"clients, above {_size(t.client_buffer_avg_bytes)})"
        )
    replicas = as_float(info.get("connected_slaves"))
    buffers = as_float(info.get("mem_clients_slaves"))
    if replicas > 0 and buffers / replicas > t.replica_buffer_bytes:
        yield Fail(
            f"replica output buffers use {_size(buffers / replicas)} each on average ({_size(buffers)} for "
            f"{replicas:.0f} replicas, above {_size(t.replica_buffer_bytes)})"
        )


@check(
    "MEM-08",
    area="memory",
    scope="redis",
    severity=Severity.LOW,
    title="the Lua script cache stays small (at most 1000 scripts)",
    rationale="Every distinct script sent with EVAL stays cached until SCRIPT FLUSH or a restart. "
    "Thousands of them mean an application builds scripts with values inlined instead of passing "
    "KEYS/ARGV, and the cache grows without bound.",
    bad="number_of_cached_scripts:25000",
    good="number_of_cached_scripts:12  # fixed scripts, values passed as KEYS and ARGV",
    remediation="Make the application load fixed scripts (SCRIPT LOAD + EVALSHA, or FUNCTION LOAD) and pass "
    "values as arguments; live: SCRIPT FLUSH ASYNC empties the cache.",
    source="Redis MEMORY DOCTOR (src/object.c: more than 1000 cached scripts)",
)
def script_cache(facts: RedisFacts, ctx: Context):
    scripts = int(as_float(facts.info.get("number_of_cached_scripts")))
    if scripts > ctx.thresholds.lua_scripts_max:
        lua = as_float(facts.info.get("used_memory_scripts", facts.info.get("used_memory_lua")))
        yield Fail(
            f"{scripts} Lua scripts are cached (above {ctx.thresholds.lua_scripts_max}), using {_size(lua)}"
        )


@check(
    "MEM-09",
    area="memory",
    scope="redis",
    severity=Severity.HIGH,
    title="no write was refused at maxmemory since the previous run (errorstat_OOM did not rise)",
    rationale="At maxmemory, with noeviction or a volatile-* policy that found nothing to evict, Redis "
    "answers every command that may add memory with an OOM error: the application lost writes. MEM-03 "
    "warns while there is headroom left; this check says the limit was actually hit. INFO errorstats "
    "counts the OOM replies until a restart or CONFIG RESETSTAT: the rise since the previous run is "
    "judged; with no earlier run, the count since the server started.",
    bad="errorstat_OOM:count=1250  # 0 at the previous run",
    good="errorstat_OOM:count=0  # or no errorstat_OOM line at all",
    remediation="Raise redis_server_maxmemory within MEM-02's headroom, expire or remove data, or set "
    "redis_server_maxmemory_policy to allkeys-lru for a cache, and rerun site.yml; live: CONFIG SET "
    "maxmemory <bytes>, then CONFIG REWRITE. Adjust oom_errors_max in redis_compliance_thresholds.",
    source="Redis docs, key eviction (noeviction: writes return an error once maxmemory is reached; the "
    "volatile-* policies behave like noeviction without keys to evict) and INFO (errorstats: "
    "errorstat_<prefix>:count, reset by CONFIG RESETSTAT)",
)
def oom_errors(facts: RedisFacts, ctx: Context):
    if not keeps_errorstats(facts):
        raise Skip("INFO has no errorstats (total_error_replies): before Redis 6.2")
    oom = error_replies(facts, "OOM", ctx)
    if oom.amount > ctx.thresholds.oom_errors_max:
        limit = _size(as_float(facts.info.get("maxmemory")))
        policy = facts.info.get("maxmemory_policy", "unknown")
        yield Fail(
            f"{oom.amount} command{'s' if oom.amount != 1 else ''} refused with OOM {oom.since} (above "
            f"{ctx.thresholds.oom_errors_max}): writes failed at maxmemory {limit}, policy {policy}"
        )


def output_buffer_limits(value: str) -> dict[str, tuple[int, int, int]]:
    """client-output-buffer-limit as CONFIG GET answers it ('normal 0 0 0 slave 268435456 67108864 60
    pubsub ...'): class -> (hard bytes, soft bytes, soft seconds); 'slave' is read as 'replica'. A class
    whose figures are not sizes is left out."""
    words, out = str(value).split(), {}
    for i in range(0, len(words) - 3, 4):
        name, hard, soft, seconds = words[i].lower(), *(_bytes(w) for w in words[i + 1 : i + 4])
        if None not in (hard, soft, seconds):
            out["replica" if name == "slave" else name] = (hard, soft, seconds)
    return out


@check(
    "MEM-10",
    area="memory",
    scope="redis",
    severity=Severity.MEDIUM,
    title="replica and pub/sub output buffers are bounded (client-output-buffer-limit not 0 0)",
    rationale="A replica that cannot keep up, or a subscriber that reads slower than messages are "
    "published, makes Redis queue the replies in its output buffer. With hard and soft limit 0 the buffer "
    "grows without bound, outside maxmemory's control, until the host swaps or the OOM killer ends Redis; "
    "with a limit, Redis drops that one client (a replica resyncs) and the others go on. Normal clients "
    "are unlimited by default because they only get the replies they asked for; MEM-07 and MEM-11 judge "
    "their buffers.",
    bad="client-output-buffer-limit normal 0 0 0 replica 0 0 0 pubsub 0 0 0",
    good="client-output-buffer-limit normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60  # defaults",
    remediation="The kit leaves Redis's defaults (replica 256mb 64mb 60, pubsub 32mb 8mb 60): remove the "
    "client-output-buffer-limit line that lifts them from the configuration; live: CONFIG SET "
    "client-output-buffer-limit 'replica 256mb 64mb 60 pubsub 32mb 8mb 60', then CONFIG REWRITE. Raise the "
    "replica limit rather than removing it when full syncs of a large dataset hit it.",
    source="Redis docs, client handling (output buffer limits: hard and soft limit per class, 0 disables "
    "them; defaults for replica and pubsub clients) and redis.conf (client-output-buffer-limit)",
)
def bounded_output_buffers(facts: RedisFacts, ctx: Context):
    if "client-output-buffer-limit" not in facts.config:
        raise Skip("client-output-buffer-limit was not gathered")
    limits = output_buffer_limits(facts.config["client-output-buffer-limit"])
    unknown = [name for name in ("replica", "pubsub") if name not in limits]
    if unknown:
        raise Skip(f"client-output-buffer-limit names no {' or '.join(unknown)} class")
    unbounded = [name for name in ("replica", "pubsub") if limits[name][:2] == (0, 0)]
    if unbounded:
        yield Fail(
            f"client-output-buffer-limit {' and '.join(f'{n} 0 0' for n in unbounded)}: the output buffer of "
            f"a slow {' or '.join(unbounded)} client grows without bound, outside maxmemory"
        )


def _client_words(entry: dict) -> str:
    """Who a client is, to find it in CLIENT LIST: id, name, last command, age and idle time."""
    name = f" name={entry['name']}" if entry.get("name") else " (no name)"
    return (
        f"{entry.get('type', 'normal')} client id={entry.get('id', '?')}{name} cmd={entry.get('cmd', '?')}, "
        f"connected {as_float(entry.get('age')):.0f} s, idle {as_float(entry.get('idle')):.0f} s"
    )


@check(
    "MEM-11",
    area="memory",
    scope="redis",
    severity=Severity.MEDIUM,
    title="no single client holds more than 32 MB of output or query buffer",
    rationale="MEM-07 judges the average over every client, and one client with a huge buffer among "
    "hundreds of idle ones passes it. That one client is a reply it cannot read fast enough (a big "
    "HGETALL, LRANGE 0 -1 or KEYS, a subscriber falling behind) or a request it sends faster than Redis "
    "parses it (a giant MSET or pipeline); its buffer counts against maxmemory and can make Redis evict or "
    "refuse writes. The biggest normal or pub/sub client's output buffer (CLIENT LIST omem) and query "
    "buffer (qbuf) are judged against 32 MB, the hard limit Redis itself puts on a pub/sub client; "
    "replicas are MEM-07's.",
    bad="id=4711 name=report-job omem=268435456 qbuf=0 cmd=hgetall  # 256 MB of replies not read",
    good="id=4711 name=report-job omem=0 qbuf=0 cmd=hscan  # reads in pages",
    remediation="Find the client in CLIENT LIST (id, name, cmd) and fix its reads (HSCAN, SSCAN, ZSCAN, "
    "LRANGE in pages) or its writes (smaller pipelines); CLIENT KILL ID <id> frees the memory now. Bound "
    "normal clients with client-output-buffer-limit normal (CONFIG SET, then CONFIG REWRITE). Adjust "
    "client_buffer_max_bytes in redis_compliance_thresholds.",
    source="Redis docs, CLIENT LIST (omem, qbuf, tot-mem) and client handling (output buffer limits; pubsub "
    "hard limit 32mb by default); Redis MEMORY DOCTOR (src/object.c: big client buffers)",
)
def worst_client_buffer(facts: RedisFacts, ctx: Context):
    if facts.clients is None:
        raise Skip("CLIENT LIST was not read")
    most = ctx.thresholds.client_buffer_max_bytes
    kept = [c for c in facts.clients.get("kept") or [] if isinstance(c, dict)]
    for what, field in (("output", "omem"), ("query", "qbuf")):
        worst = max(kept, key=lambda c: as_float(c.get(field)), default=None)
        size = as_float((worst or {}).get(field))
        if size > most:
            yield Fail(
                f"one client holds {_size(size)} of {what} buffer ({field}, above {_size(most)}): "
                f"{_client_words(worst)}"
            )


@check(
    "MEM-12",
    area="memory",
    scope="redis",
    severity=Severity.LOW,
    title="no EVAL script was evicted from the script cache since the previous run",
    rationale="Since Redis 8.0 the scripts sent with EVAL are kept in a bounded cache and the least "
    "recently used are evicted (INFO evicted_scripts counts them). Evictions mean an application sends "
    "hundreds of distinct scripts, values built into their text instead of passed as KEYS and ARGV: each "
    "one is compiled again, and an EVALSHA of an evicted script fails with NOSCRIPT. The counter grows "
    "until a restart or CONFIG RESETSTAT: the rise since the previous run is judged; with no earlier run, "
    "the count since the server started. Servers that do not report it are skipped.",
    bad="evicted_scripts:5200  # 4800 at the previous run",
    good="evicted_scripts:0  # a few fixed scripts, values passed as KEYS and ARGV",
    remediation="Make the application send fixed scripts (SCRIPT LOAD + EVALSHA, or FUNCTION LOAD + FCALL) "
    "with the values as arguments; SCRIPT FLUSH ASYNC empties the cache meanwhile. Adjust "
    "evicted_scripts_max in redis_compliance_thresholds.",
    source="Redis docs, EVAL (from Redis 8.0, scripts loaded with EVAL or EVAL_RO are evicted in least "
    "recently used order; INFO evicted_scripts counts them)",
    applies_to="servers whose INFO reports evicted_scripts (Redis 8.0 and later)",
)
def evicted_scripts(facts: RedisFacts, ctx: Context):
    if "evicted_scripts" not in facts.info:
        raise Skip(f"INFO of {server_of(facts)} has no evicted_scripts (Redis 8.0 and later report it)")
    evicted = change(facts, ["evicted_scripts"], ctx)
    if evicted.amount > ctx.thresholds.evicted_scripts_max:
        cached = int(as_float(facts.info.get("number_of_cached_scripts")))
        yield Fail(
            f"{evicted.amount} EVAL script{'s' if evicted.amount != 1 else ''} evicted from the script cache "
            f"{evicted.since} (above {ctx.thresholds.evicted_scripts_max}; {cached} cached now): the "
            "application sends scripts with values built in"
        )


# The functions' memory in INFO: the libraries' own structures and their Lua engine; a server reports
# either or both (Redis 7 and Valkey report both).
_FUNCTIONS_MEMORY = ("used_memory_functions", "used_memory_vm_functions")


@check(
    "MEM-13",
    area="memory",
    scope="redis",
    severity=Severity.LOW,
    title="the loaded functions use little memory (at most 3,000,000 bytes)",
    rationale="Libraries loaded with FUNCTION LOAD stay in memory, in every replica and in every RDB and "
    "AOF file, until FUNCTION DELETE or FLUSH; their Lua engine grows with the code loaded. Megabytes of "
    "functions mean libraries generated per tenant or per use, or loaded again under new names, and the "
    "memory does not come back by itself. Judged: INFO used_memory_functions plus "
    "used_memory_vm_functions, whichever the server reports, against the 3,000,000 bytes RedisInsight "
    "allows the EVAL Lua engine.",
    bad="used_memory_vm_functions:52428800  number_of_libraries:4000",
    good="used_memory_vm_functions:65536  number_of_libraries:3",
    remediation="List the libraries (FUNCTION LIST, number_of_libraries) and delete the ones no "
    "application calls (FUNCTION DELETE); load one library per purpose, replaced in place with FUNCTION "
    "LOAD REPLACE. Adjust functions_memory_max_bytes in redis_compliance_thresholds.",
    source="Redis docs, functions (libraries are persisted and replicated with the dataset) and INFO "
    "(used_memory_functions, used_memory_vm_functions); RedisInsight recommendations (avoid dynamic Lua "
    "scripts: used_memory_lua above 3,000,000 bytes)",
    applies_to="servers with functions (Redis 7.0 and later, Valkey)",
)
def functions_memory(facts: RedisFacts, ctx: Context):
    reported = [name for name in _FUNCTIONS_MEMORY if name in facts.info]
    if not reported:
        raise Skip(f"INFO of {server_of(facts)} reports no functions memory (functions came with Redis 7.0)")
    used, most = (
        sum(as_float(facts.info[name]) for name in reported),
        ctx.thresholds.functions_memory_max_bytes,
    )
    if used > most:
        libraries = facts.info.get("number_of_libraries", "?")
        yield Fail(
            f"functions use {_size(used)} ({' + '.join(reported)}; above {_size(most)}) for {libraries} "
            "libraries loaded"
        )
