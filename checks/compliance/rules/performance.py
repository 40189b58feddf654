"""Checks: performance (slowlog, latency monitor, costly commands, fork cost, big keys, databases)."""

from __future__ import annotations

import re

from redisops.compliance.counters import (
    LATENCY,
    SLOWLOG,
    change,
    changed,
    error_replies,
    has_baseline,
    keeps_errorstats,
    since_words,
)
from redisops.compliance.facts import RedisFacts, as_float, key_label, server_of
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.server import REDIS, VALKEY
from redisops.compliance.settings import Context
from redisops.core.sizes import human as _size

GB = 1024**3


def _ms(usec: float) -> str:
    return f"{usec / 1000:.1f} ms"


def _command_name(command: object) -> str:
    """Only the command's name (and a container's subcommand): arguments may hold data."""
    text = str(command)
    if text.startswith(("b'", 'b"')):
        text = text[2:]
    words = text.split()
    if not words:
        return "(unknown)"
    name = words[0].upper()
    if (
        name in ("CONFIG", "CLIENT", "ACL", "CLUSTER", "MEMORY", "SCRIPT", "FUNCTION", "DEBUG", "OBJECT")
        and len(words) > 1
    ):
        name += " " + words[1].upper()
    return name


# Sentinel's command link to a server ("sentinel-<its id>-cmd") and the kit's planned switchover
# ("redisops-switchover") reconfigure servers in a failover: REPLICAOF, CONFIG REWRITE (an fsync of
# redis.conf), CLIENT KILL, in MULTI/EXEC. Slow there is the operation's cost, not a slow command
# of the applications', and every planned switchover would otherwise leave a finding behind.
OPERATION_CLIENTS = re.compile(r"^(sentinel-[0-9a-f]{1,8}-cmd|redisops-switchover)$")


def _by_operation(entry: dict) -> bool:
    return bool(OPERATION_CLIENTS.match(str(entry.get("client_name") or "")))


@check(
    "PRF-01",
    area="performance",
    scope="redis",
    severity=Severity.MEDIUM,
    title="the slowlog records slow commands, and logged none since the previous run",
    rationale="Redis runs commands one at a time: one slow command delays every client. The slowlog "
    "names them, if slowlog-log-slower-than is positive (negative disables it, 0 logs every command "
    "and buries the slow ones) and slowlog-max-len keeps entries. Entries logged since the previous run "
    "are reported (low); with no earlier run, every entry the slowlog holds. Entries of Sentinel's and "
    "the kit's reconfiguration in a failover (their client names) are not counted.",
    bad="slowlog-log-slower-than -1\nslowlog-max-len 0",
    good="slowlog-log-slower-than 10000  # 10 ms\nslowlog-max-len 1024",
    remediation="Set redis_server_slowlog_log_slower_than (µs) and redis_server_slowlog_max_len and rerun "
    "site.yml; live: CONFIG SET slowlog-log-slower-than 10000. Review entries with SLOWLOG GET 20 and fix "
    "the commands (SLOWLOG RESET empties the log for a run with no earlier run to compare with).",
    source="Redis docs, SLOWLOG GET and latency diagnosis; redis.conf (slowlog-log-slower-than, "
    "slowlog-max-len)",
)
def slowlog(facts: RedisFacts, ctx: Context):
    cfg = facts.config
    if "slowlog-log-slower-than" not in cfg and "slowlog-max-len" not in cfg:
        raise Skip("slowlog settings were not gathered")
    slower = as_float(cfg.get("slowlog-log-slower-than"), -1)
    length = as_float(cfg.get("slowlog-max-len"))
    if slower <= 0 or length <= 0:
        what = "disabled" if slower < 0 or length <= 0 else "logging every command"
        yield Fail(
            f"slowlog {what}: slowlog-log-slower-than {cfg.get('slowlog-log-slower-than')}, "
            f"slowlog-max-len {cfg.get('slowlog-max-len')}"
        )
        return
    entries = [e for e in facts.slowlog if isinstance(e, dict)]
    if not entries:
        return
    logged = change(facts, [SLOWLOG], ctx)
    if has_baseline(facts):
        # Entry ids count up from 0: the new ones are the last ``logged.amount`` ids.
        first = max(int(as_float(e.get("id"))) for e in entries) + 1 - logged.amount
        entries = [e for e in entries if int(as_float(e.get("id"))) >= first]
        amount = logged.amount - sum(1 for e in entries if _by_operation(e))
        entries = [e for e in entries if not _by_operation(e)]
        if amount <= 0:
            return
        noun = "entry" if amount == 1 else "entries"
        what = f"the slowlog logged {amount} {noun} over {_ms(slower)} {logged.since}"
    else:
        operations = sum(1 for e in entries if _by_operation(e))
        entries = [e for e in entries if not _by_operation(e)]
        held = max(facts.slowlog_len - operations, len(entries))
        if held <= 0:
            return
        what = f"slowlog holds {held} entr{'y' if held == 1 else 'ies'} over {_ms(slower)} {logged.since}"
    if not entries:  # more than were read, and those read were a failover's reconfiguration
        yield Fail(
            f"{what}; the latest {len(facts.slowlog)} were a failover's reconfiguration: "
            "read the others with SLOWLOG GET",
            severity=Severity.LOW,
        )
        return
    worst = max(entries, key=lambda e: as_float(e.get("duration_us", e.get("duration"))))
    took = as_float(worst.get("duration_us", worst.get("duration")))
    when = ""
    now = ctx.cluster.gathered_at if ctx.cluster is not None else 0.0
    if now > 0 and as_float(worst.get("start_time")) > 0:
        when = f", {max(0.0, now - as_float(worst['start_time'])) / 3600:.1f} h ago"
    yield Fail(
        f"{what}; the slowest of the latest {len(entries)}: {_command_name(worst.get('command', ''))} "
        f"took {_ms(took)}{when}",
        severity=Severity.LOW,
    )


@check(
    "PRF-02",
    area="performance",
    scope="redis",
    severity=Severity.MEDIUM,
    title="the latency monitor is on, and recorded no latency spike since the previous run",
    rationale="With latency-monitor-threshold 0 Redis does not record latency events (slow commands, "
    "forks, AOF fsync, expiry cycles) and LATENCY DOCTOR has nothing to analyse. Events with a spike "
    "since the previous run are reported (low): each is a stall every client felt; with no earlier run, "
    "every event LATENCY LATEST holds.",
    bad="latency-monitor-threshold 0",
    good="latency-monitor-threshold 100  # ms; no new spike in LATENCY LATEST",
    remediation="Set redis_server_latency_monitor_threshold (ms) and rerun site.yml; live: CONFIG SET "
    "latency-monitor-threshold 100. For events, read LATENCY DOCTOR and LATENCY HISTORY <event> (LATENCY "
    "RESET clears them for a run with no earlier run to compare with).",
    source="Redis docs, latency monitoring (LATENCY LATEST, LATENCY DOCTOR)",
)
def latency_monitor(facts: RedisFacts, ctx: Context):
    if "latency-monitor-threshold" not in facts.config:
        raise Skip("latency-monitor-threshold was not gathered")
    threshold = as_float(facts.config.get("latency-monitor-threshold"))
    if threshold <= 0:
        yield Fail(
            f"latency-monitor-threshold {facts.config['latency-monitor-threshold']}: "
            "latency events are not recorded"
        )
        return
    events = [e for e in facts.latency_latest if isinstance(e, (list, tuple)) and len(e) >= 4]
    if has_baseline(facts):
        # An event's time is its latest spike's: a later time than at the previous run is a new spike.
        spiked = changed(facts, LATENCY)
        events = [e for e in events if str(e[0]) in spiked]
    if not events:
        return
    since = since_words(facts, [LATENCY + str(e[0]) for e in events], ctx)
    events.sort(key=lambda e: as_float(e[3]), reverse=True)
    noun = "event" if len(events) == 1 else "events"
    if has_baseline(facts):
        # The max is since the start (or LATENCY RESET): only the latest spike is new.
        shown = ", ".join(f"{e[0]} {as_float(e[2]):.0f} ms" for e in events[:5])
        what = f"{len(events)} latency {noun} spiked over {threshold:.0f} ms {since}"
    else:
        shown = ", ".join(f"{e[0]} {as_float(e[2]):.0f} ms (max {as_float(e[3]):.0f} ms)" for e in events[:5])
        what = f"LATENCY LATEST has {len(events)} {noun} over {threshold:.0f} ms {since}"
    yield Fail(f"{what}: {shown}", severity=Severity.LOW)


@check(
    "PRF-03",
    area="performance",
    scope="redis",
    severity=Severity.MEDIUM,
    title="no KEYS, FLUSHALL, FLUSHDB, DEBUG, SAVE or MONITOR in the traffic",
    rationale="KEYS walks the whole keyspace and FLUSHALL/FLUSHDB/SAVE block the single thread for as "
    "long as the dataset is big; MONITOR halves throughput; DEBUG can crash or stall the server. "
    "INFO commandstats counts their calls until a restart or CONFIG RESETSTAT: calls since the previous "
    "run are judged; with no earlier run, every call since the server started.",
    bad="cmdstat_keys:calls=1520,usec=98000000",
    good="cmdstat_scan:calls=1520  # SCAN with COUNT instead of KEYS",
    remediation="Replace KEYS with SCAN, SAVE with BGSAVE, FLUSHALL/FLUSHDB with UNLINK or the ASYNC "
    "variants; deny them to applications (redis_server_app_default_commands keeps -@dangerous, or "
    "redis_server_rename_commands). The next run passes once no more calls are made (CONFIG RESETSTAT "
    "clears the counts for a run with no earlier run to compare with).",
    source="Redis docs, KEYS (use in production with extreme care), MONITOR (one client can halve the "
    "throughput) and latency diagnosis (slow commands block every client)",
)
def costly_commands(facts: RedisFacts, ctx: Context):
    seen, counted = [], []
    for command in ctx.thresholds.slow_commands:
        name = command.lower()
        names = [
            key
            for key, stats in facts.info.items()
            if isinstance(stats, dict) and (key == f"cmdstat_{name}" or key.startswith(f"cmdstat_{name}|"))
        ]
        calls = change(facts, names, ctx).amount
        if calls > 0:
            seen.append(f"{name.upper()} {calls} time{'s' if calls != 1 else ''}")
            counted += names
    if seen:
        yield Fail(f"INFO commandstats: {', '.join(seen)} {since_words(facts, counted, ctx)}")


@check(
    "PRF-04",
    area="performance",
    scope="redis",
    severity=Severity.LOW,
    title="forking is fast (at least 25 GB of used memory per second)",
    rationale="BGSAVE, AOF rewrites and full replica syncs fork, and the fork copies the page tables while "
    "Redis serves nobody. Healthy hosts fork 25+ GB per second; slow forks point at some virtualisation "
    "layers or transparent huge pages. Instances under 100 MB fork too quickly to judge.",
    bad="latest_fork_usec:400000  used_memory:4294967296  # 10 GB/s: a 400 ms stall",
    good="latest_fork_usec:40000  used_memory:4294967296  # 100 GB/s",
    remediation="Keep transparent huge pages off (redis_server_tune_kernel), run on bare metal or a "
    "hypervisor with fast fork (HVM), keep instances smaller, and prefer diskless replication.",
    source="Redis docs, latency diagnosis (latency generated by fork); Redis LATENCY DOCTOR",
)
def fork_cost(facts: RedisFacts, ctx: Context):
    used = as_float(facts.info.get("used_memory"))
    fork_usec = as_float(facts.info.get("latest_fork_usec"))
    if "latest_fork_usec" not in facts.info:
        raise Skip(f"INFO of {server_of(facts)} has no latest_fork_usec")
    if used < ctx.thresholds.fork_min_memory_bytes:
        raise Skip(f"used_memory {_size(used)} is under {_size(ctx.thresholds.fork_min_memory_bytes)}")
    if fork_usec <= 0:
        raise Skip("no fork since the start (latest_fork_usec 0)")
    rate = (used / GB) / (fork_usec / 1e6)
    if rate < ctx.thresholds.fork_rate_min_gb_s:
        yield Fail(
            f"the latest fork took {_ms(fork_usec)} for {_size(used)} used: {rate:.1f} GB/s "
            f"(below {ctx.thresholds.fork_rate_min_gb_s:g} GB/s)"
        )


_LIMITS = {  # type -> (threshold name, what "length" counts)
    "string": ("big_string_bytes", "bytes"),
    "hash": ("big_hash_fields", "fields"),
    "set": ("big_set_members", "members"),
    "zset": ("big_zset_members", "members"),
    "list": ("big_list_items", "items"),
    "stream": ("big_stream_entries", "entries"),
}


@check(
    "PRF-05",
    area="performance",
    scope="redis",
    severity=Severity.MEDIUM,
    title="no big keys (strings up to 1 MB, hashes 5000 fields, sets 100k members, lists 1000 items)",
    rationale="A big key is read, written, migrated and deleted in one go: HGETALL, SMEMBERS, LRANGE or DEL "
    "of it blocks every client, its replies fill output buffers, and it cannot be spread across shards. "
    "A long list is reported here, once, whatever it is for: a queue its consumers fall behind on, a log "
    "nobody trims, or a list long by design; the finding says how long it is, not why. Judged on the "
    "primary's bounded random key sample of every database (never KEYS).",
    bad="user:all  hash  2500000 fields",
    good="user:1042  hash  12 fields  # one key per object",
    remediation="Split big keys by id or time (bucketing), trim lists and streams (LTRIM, XTRIM MAXLEN), "
    "and delete big keys with UNLINK; find them with redis-cli --bigkeys or --memkeys. A long queue: see "
    "whether its consumers run and keep up with its producers. Raise big_list_items (or the type's "
    "threshold) in redis_compliance_thresholds for keys that are big by design.",
    source="Redis docs, memory optimization and latency diagnosis; RedisInsight recommendations (hashes "
    "over 5,000 fields, big strings, big sets, long lists)",
)
def big_keys(facts: RedisFacts, ctx: Context):
    if facts.keys is None:
        raise Skip("no key sample: only the primary samples keys")
    sample = [k for k in facts.keys.get("keys", []) if isinstance(k, dict)]
    found = []
    for key in sample:
        limit = _LIMITS.get(str(key.get("type", "")))
        if limit is None:
            continue
        name, unit = limit
        length = as_float(key.get("length"))
        threshold = getattr(ctx.thresholds, name)
        if length > threshold:
            size = _size(length) if unit == "bytes" else f"{length:.0f} {unit}"
            found.append(
                (
                    length / threshold,
                    f"{key_label(str(key.get('name', '')))} ({key['type']}, {size})",
                    key["type"],
                )
            )
    if found:
        found.sort(reverse=True)
        partial = "" if facts.keys.get("complete") else ", an incomplete sample"
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        # Why a list is long is not in the facts: say what it may be, blame nobody.
        why = (
            "; a long list may be a queue its consumers fall behind on, a log nobody trims, or long by design"
            if any(kind == "list" for *_, kind in found)
            else ""
        )
        yield Fail(
            f"{len(found)} of {len(sample)} sampled keys are big{partial}: "
            f"{', '.join(text for _, text, _ in found[:5])}{more}{why}"
        )


def _reported_by_prf05(key: dict, ctx: Context) -> bool:
    """Whether PRF-05 reports the key already: its length is above its type's threshold."""
    limit = _LIMITS.get(str(key.get("type", "")))
    return limit is not None and as_float(key.get("length")) > getattr(ctx.thresholds, limit[0])


@check(
    "PRF-09",
    area="performance",
    scope="redis",
    severity=Severity.MEDIUM,
    title="no key uses more than 10 MB of memory (MEMORY USAGE), whatever its length",
    rationale="PRF-05 judges how long a key is; a key can be short and still huge: a hash of 10 fields "
    "holding 5 MB documents each passes PRF-05's 5000 fields and weighs 50 MB. Reading, deleting, "
    "expiring, migrating or replicating it moves all of it in one go and blocks every other client "
    "meanwhile, and one reply of it fills an output buffer. Here the memory of each key of the primary's "
    "bounded random sample (MEMORY USAGE) is judged; the keys PRF-05 already reports for their length are "
    "not reported again.",
    bad="app:profile:42  hash  10 fields  MEMORY USAGE 52428980  # 50 MB",
    good="app:profile:42  hash  10 fields  MEMORY USAGE 2048  # documents kept small, or one key each",
    remediation="Split the big values (one key per document, chunks of a few hundred KB, bucketing by id), "
    "compress them in the application, or keep blobs out of Redis; delete big keys with UNLINK. "
    "redis-cli --memkeys finds them all. Adjust big_key_bytes in redis_compliance_thresholds.",
    source="Redis docs, MEMORY USAGE and latency diagnosis (deleting or reading a large object blocks the "
    "server; UNLINK frees it in the background); RedisInsight recommendations (big strings: over 5 MB of "
    "memory)",
)
def big_keys_by_memory(facts: RedisFacts, ctx: Context):
    if facts.keys is None:
        raise Skip("no key sample: only the primary samples keys")
    sample = [k for k in facts.keys.get("keys", []) if isinstance(k, dict)]
    weighed = [k for k in sample if isinstance(k.get("bytes"), int) and not isinstance(k.get("bytes"), bool)]
    if sample and not weighed:
        raise Skip(f"MEMORY USAGE could be read for none of the {len(sample)} sampled keys")
    most = ctx.thresholds.big_key_bytes
    found = sorted(
        (k for k in weighed if k["bytes"] > most and not _reported_by_prf05(k, ctx)),
        key=lambda k: k["bytes"],
        reverse=True,
    )
    if found:
        partial = "" if facts.keys.get("complete") else ", an incomplete sample"
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        shown = ", ".join(
            f"{key_label(str(k.get('name', '')))} ({k.get('type', 'unknown')}, length "
            f"{as_float(k.get('length')):.0f}, {_size(k['bytes'])})"
            for k in found[:5]
        )
        yield Fail(
            f"{len(found)} of {len(weighed)} sampled keys use more than {_size(most)} each{partial}: "
            f"{shown}{more}"
        )


@check(
    "PRF-06",
    area="performance",
    scope="redis",
    severity=Severity.LOW,
    title="a single logical database holds the keys",
    rationale="Numbered databases share one thread, one maxmemory and one persistence setting, so they "
    "isolate nothing; Redis Cluster supports only db 0, and tools and clients often assume it. "
    "Separate instances or key prefixes isolate data properly.",
    bad="db0:keys=1200,expires=0\ndb3:keys=80,expires=80",
    good="db0:keys=1280,expires=80  # prefixes such as session: and cache:",
    remediation="Move the other databases' keys into db 0 under their own prefixes (or into their own "
    "instance), and point clients at db 0.",
    source="Redis docs, SELECT (logical databases); RedisInsight recommendations (avoid using logical "
    "databases)",
)
def single_database(facts: RedisFacts, ctx: Context):
    used = sorted(
        (int(name[2:]), int(as_float(value.get("keys"))))
        for name, value in facts.info.items()
        if re.fullmatch(r"db\d+", name) and isinstance(value, dict) and as_float(value.get("keys")) > 0
    )
    if len(used) > 1:
        yield Fail(f"{len(used)} databases hold keys: {', '.join(f'db{n} {keys} keys' for n, keys in used)}")


@check(
    "PRF-07",
    area="performance",
    scope="redis",
    severity=Severity.LOW,
    title="No setting that the server's version deprecates or is about to drop",
    rationale="A deprecated setting no longer does what its line in the config says, or stops doing it at "
    "the next upgrade. io-threads-do-reads: from Redis 8.0 and Valkey 8.0 on, the I/O threads read and "
    "parse requests whenever io-threads is above 1; Valkey 8.0 made yes the default, where 'no' only keeps "
    "the reads on the main thread, and later releases of both ignore it. extended-redis-compatibility yes "
    "(Valkey 8): a temporary switch that makes Valkey answer as Redis (HELLO, the LOADING and BUSY errors, "
    "INFO redis_mode), scheduled to have no effect in Valkey 9.0 and to go in 10.0. The kit knows no "
    "deprecated setting of Redis 7 and Valkey 7.2.",
    bad="io-threads 4\nio-threads-do-reads no  # on Redis 8.0 or Valkey 8\n"
    "extended-redis-compatibility yes  # on Valkey 8",
    good="io-threads 4  # and no io-threads-do-reads line\nextended-redis-compatibility no",
    remediation="Remove io-threads-do-reads from the config file (it cannot change at runtime: restart with "
    "playbooks/rolling_restart.yml). Fix the clients and tools that need Redis's replies from Valkey, then "
    "CONFIG SET extended-redis-compatibility no and CONFIG REWRITE, before the upgrade to Valkey 9.",
    source="valkey-io/valkey #1116 and #1138 (io-threads-do-reads made harmless), redis/redis #13695 and "
    "#13987 (io-threads-do-reads deprecated by Redis 8.0's asynchronous I/O threads), valkey-io/valkey #306 "
    "(extended-redis-compatibility)",
    applies_to="io-threads-do-reads: Redis 8.0 and later, Valkey 8.0 and later; "
    "extended-redis-compatibility: Valkey 8.0 and later",
)
def deprecated_settings(facts: RedisFacts, ctx: Context):
    server = server_of(facts)
    if server.flavor not in (REDIS, VALKEY):
        raise Skip("INFO names neither Redis (redis_version) nor Valkey (server_name valkey)")
    if not server.numbers:
        raise Skip(f"INFO has no {server.flavor}_version")
    config = facts.config
    threads = int(as_float(config.get("io-threads"), 1))
    if str(config.get("io-threads-do-reads", "")).lower() == "no" and threads > 1:
        if server.at_least(REDIS, "8.0"):
            yield Fail(
                f"io-threads-do-reads no on {server} is ignored: since Redis 8.0 the I/O threads read and "
                f"parse requests whenever io-threads is above 1 (io-threads {threads} here); remove the line"
            )
        elif server.at_least(VALKEY, "8.0"):
            yield Fail(
                f"io-threads-do-reads no on {server}: deprecated since Valkey 8.0 (default yes); where it "
                f"still takes effect it keeps the {threads - 1} I/O threads from reading requests, and later "
                "releases ignore it: remove the line"
            )
    compatibility = str(config.get("extended-redis-compatibility", "")).lower()
    if server.at_least(VALKEY, "8.0") and compatibility == "yes":
        yield Fail(
            f"extended-redis-compatibility yes on {server}: a temporary switch (Valkey 8.0) that makes "
            "Valkey answer as Redis, scheduled to have no effect in Valkey 9.0: the clients or tools that "
            "need it break on that upgrade"
        )


# LATENCY DOCTOR's report (src/latency.c): the sentences that say which kind of answer it is.
_DOCTOR_OFF = "latency monitoring is disabled"
_DOCTOR_CLEAN = "no latency spike was observed"
_DOCTOR_SPIKES = "i have observed latency spikes"
_DOCTOR_NO_FIX = "not able to suggest any easy fix"
_DOCTOR_ADVICE = re.compile(r"I have a few advices? for you:", re.I)
_DOCTOR_EVENT = re.compile(r"^\d+\. ([\w.-]+): (\d+) latency spikes", re.M)


def doctor_report(text: str) -> dict | None:
    """What a LATENCY DOCTOR answer says: {off, clean, events {name: spikes}, advice [first sentence]};
    None when the text is none of the answers the doctor writes."""
    lower = text.lower()
    events = {name: int(n) for name, n in _DOCTOR_EVENT.findall(text)}
    advice_at = _DOCTOR_ADVICE.search(text)
    advice = []
    if advice_at:
        for line in text[advice_at.end() :].splitlines():
            if line.startswith("- "):
                advice.append(re.split(r"(?<=\.)\s", line[2:].strip(), maxsplit=1)[0])
    known = (_DOCTOR_OFF, _DOCTOR_CLEAN, _DOCTOR_SPIKES, _DOCTOR_NO_FIX)
    if not advice_at and not events and not any(sentence in lower for sentence in known):
        return None
    return {"off": _DOCTOR_OFF in lower, "clean": _DOCTOR_CLEAN in lower, "events": events, "advice": advice}


@check(
    "PRF-08",
    area="performance",
    scope="redis",
    severity=Severity.MEDIUM,
    title="LATENCY DOCTOR has no advice",
    rationale="LATENCY DOCTOR reads the latency monitor's events (forks, AOF fsync, slow commands, expiry "
    "cycles) and the host (transparent huge pages in use) and says what to change: a slow fork on a VM, "
    "fsync contention, commands to move out of the hot path. PRF-02 counts the spikes; this reports the "
    "doctor's advice. Its events count from the start or LATENCY RESET: with a previous run, advice is "
    "reported while an event spiked since then, or when it needs no event (huge pages).",
    bad="Dave, I have observed latency spikes in this Redis instance. ...\n1. fork: 3 latency spikes ...\n"
    "I have a few advices for you:\n- If you are using a virtual machine, consider upgrading it ...",
    good="Dave, no latency spike was observed during the lifetime of this Redis instance, not in the "
    "slightest bit. ...",
    remediation="Read redis-cli LATENCY DOCTOR on the instance and follow its advice (e.g. "
    "no-appendfsync-on-rewrite, local disks, THP off: H-02); then LATENCY RESET so the next run judges "
    "new events only. Latency monitoring needs redis_server_latency_monitor_threshold above 0 (PRF-02).",
    source="Redis docs, latency monitoring (LATENCY DOCTOR: human-readable analysis and advice); Redis "
    "src/latency.c (the report's sentences: 'no latency spike was observed', 'I have observed latency "
    "spikes', 'I have a few advices for you')",
)
def latency_doctor(facts: RedisFacts, ctx: Context):
    if not facts.latency_doctor.strip():
        raise Skip("LATENCY DOCTOR was not read")
    report = doctor_report(facts.latency_doctor)
    if report is None:
        raise Skip("LATENCY DOCTOR answered a report this check does not know")
    if report["off"]:
        raise Skip("latency monitoring is off: the doctor has nothing to analyse (PRF-02)")
    if report["clean"] or not report["advice"]:
        return  # no spike, or spikes without an easy fix (PRF-02 reports them)
    events = report["events"]
    if has_baseline(facts) and events:
        spiked = changed(facts, LATENCY)
        if not set(events) & set(spiked):
            return  # its advice is about spikes already reported by an earlier run
    seen = ", ".join(f"{name} {n} spikes" for name, n in sorted(events.items())) or "no event"
    advice = "; ".join(a[:120] for a in report["advice"][:3])
    more = f" (+{len(report['advice']) - 3} more)" if len(report["advice"]) > 3 else ""
    yield Fail(f"LATENCY DOCTOR ({seen}) advises: {advice}{more}")


@check(
    "PRF-10",
    area="performance",
    scope="redis",
    severity=Severity.HIGH,
    title="no script or function blocked the server since the previous run (errorstat_BUSY did not rise)",
    rationale="A Lua script or function runs on the single thread to its end. Past busy-reply-threshold "
    "(lua-time-limit before Redis 7; 5 s by default) Redis answers every other client BUSY until the "
    "script ends or is killed: for that time the server served nobody, and Sentinel may see it as down. "
    "INFO errorstats counts the BUSY replies until a restart or CONFIG RESETSTAT: the rise since the "
    "previous run is judged; with no earlier run, the count since the server started.",
    bad="errorstat_BUSY:count=310  # 0 at the previous run",
    good="errorstat_BUSY:count=0  # scripts that touch few keys and end in milliseconds",
    remediation="Find the script in SLOWLOG GET (EVAL, EVALSHA, FCALL) and make it do less per call (bounded "
    "loops, SCAN-like batches driven by the client); stop a running one with SCRIPT KILL or FUNCTION KILL "
    "(SHUTDOWN NOSAVE if it already wrote). Adjust busy_errors_max in redis_compliance_thresholds.",
    source="Redis docs, scripting (busy-reply-threshold, BUSY replies, SCRIPT KILL and FUNCTION KILL) and "
    "INFO (errorstats: errorstat_<prefix>:count, reset by CONFIG RESETSTAT)",
)
def busy_errors(facts: RedisFacts, ctx: Context):
    if not keeps_errorstats(facts):
        raise Skip("INFO has no errorstats (total_error_replies): before Redis 6.2")
    busy = error_replies(facts, "BUSY", ctx)
    if busy.amount > ctx.thresholds.busy_errors_max:
        yield Fail(
            f"{busy.amount} command{'s' if busy.amount != 1 else ''} refused with BUSY {busy.since} (above "
            f"{ctx.thresholds.busy_errors_max}): a script or function blocked the server past "
            "busy-reply-threshold"
        )
