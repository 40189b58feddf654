"""Facts: what was read from each target, gathered once, judged by every check.

Plain dataclasses of JSON types, so a run's facts can be saved (``--dump-facts``) and
replayed in unit tests without a server. Secrets never get here: CONFIG GET and ACL LIST are
read on each host by its reader (redis_server's files/redisops-inspect), which masks passwords
and hashes before anything leaves the host.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from redisops.compliance.server import Server, identify


@dataclass
class RedisFacts:
    target: str  # "redis-1:6379"
    host: str  # inventory name
    instance: str
    address: str
    port: int
    error: str = ""  # could not gather: the reason
    info: dict[str, Any] = field(default_factory=dict)  # INFO all, flattened (keyspace as dbN dicts)
    config: dict[str, str] = field(default_factory=dict)  # CONFIG GET *, secrets masked (on the host)
    acl: list[str] = field(default_factory=list)  # ACL LIST, hashes masked (on the host)
    # Why config and acl were not read ("" when they were): the checks that need them are skipped.
    unread: str = ""
    slowlog: list[dict] = field(default_factory=list)  # the latest entries
    slowlog_len: int = 0
    latency_latest: list[list] = field(default_factory=list)  # [event, time, latest_ms, max_ms]
    latency_doctor: str = ""
    memory_stats: dict[str, Any] = field(default_factory=dict)
    # A random sample of every database with keys: {"scanned", "budget", "complete" (every key of
    # every database), "unread": {db: why}, "keys": [{name, db, type, ttl_ms, bytes, length}]};
    # ttl_ms is PTTL (-1: no TTL), None when PTTL failed (unknown); bytes and length None when unread.
    keys: dict[str, Any] | None = None
    # CLIENT LIST of the normal and pub/sub clients, bounded: {"listed": clients listed, "kept": the
    # ones with the biggest buffers, [{type, id, name, age, idle, qbuf, omem, tot-mem, cmd}]}, never
    # their addresses; None when not read.
    clients: dict[str, Any] | None = None
    # The certificate the server presented (TLS targets): its end, epoch seconds; 0 without TLS.
    tls_cert_not_after: float = 0.0
    gaps: list[str] = field(default_factory=list)  # optional sections that could not be read, and why
    # From the inventory: group, persistent, tls_mode, kit_users {admin, replication, sentinel,
    # monitoring, compliance: user name}.
    expected: dict[str, Any] = field(default_factory=dict)
    # Which server answered, from INFO: {flavor: redis|valkey, version, mode} (redisops.compliance.server).
    server: dict[str, str] = field(default_factory=dict)
    # The cumulative counters (rejected_connections, commandstats calls, slowlog ids, latency
    # spikes) as changes since the previous run, set before the checks judge them
    # (redisops.compliance.counters.compare): {basis, previous_at, interval_s, started_at,
    # counters: {name: change}, reset: [names]}; {} for facts saved before: judged since the start.
    since: dict[str, Any] = field(default_factory=dict)
    # A cluster node (INFO cluster_enabled:1): CLUSTER NODES as the node answered it, CLUSTER INFO,
    # and whether its bus port answered the checking host: {port, open, from (the checking host's
    # address)}; empty outside cluster mode.
    cluster_nodes: str = ""
    cluster_info: dict[str, str] = field(default_factory=dict)
    bus: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        _identify(self)


@dataclass
class SentinelFacts:
    target: str  # "redis-1:26379"
    host: str
    address: str
    port: int
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    acl: list[str] = field(default_factory=list)  # ACL LIST, hashes masked (on the host)
    unread: str = ""  # why acl was not read ("" when it was), as RedisFacts.unread
    gaps: list[str] = field(default_factory=list)  # as RedisFacts.gaps
    masters: dict[str, dict] = field(default_factory=dict)  # group name -> SENTINEL MASTERS fields
    replicas: dict[str, list[dict]] = field(default_factory=dict)
    sentinels: dict[str, list[dict]] = field(default_factory=dict)
    ckquorum: dict[str, str] = field(default_factory=dict)  # group -> "OK ..." or the error text
    tls_cert_not_after: float = 0.0
    # From the inventory: groups, kit_users {admin, peer, monitoring: user name}.
    expected: dict[str, Any] = field(default_factory=dict)
    server: dict[str, str] = field(default_factory=dict)  # as RedisFacts.server

    def __post_init__(self):
        _identify(self)


@dataclass
class HostFacts:
    target: str  # inventory name
    address: str
    error: str = ""
    container: str = ""  # systemd-detect-virt --container, "" on a real machine
    sysctl: dict[str, str] = field(default_factory=dict)
    thp: dict[str, str] = field(default_factory=dict)  # enabled, defrag: the selected value
    mem_total_bytes: int = 0
    processes: list[dict] = field(default_factory=list)  # name, pid, user, nofile, swap_bytes, args
    files: list[dict] = field(default_factory=list)  # path, exists, owner, group, mode
    units: dict[str, dict] = field(default_factory=dict)  # unit -> {active, enabled}
    listening: list[dict] = field(default_factory=list)  # address, port, process
    certificates: list[dict] = field(default_factory=list)  # path, not_after (epoch), error
    # Installed server packages (dpkg-query): {"redis-server": "5:7.0.15-1~deb12u6"}; {} when none
    # or not a dpkg system.
    packages: dict[str, str] = field(default_factory=dict)
    # Each expected Sentinel config file: {path: {"deny-scripts-reconfig": "yes"|"no"|"" (absent)}}
    # or {path: {"error": why}}; only the directives host_probe.SENTINEL_DIRECTIVES leave the host.
    sentinel_conf: dict[str, dict] = field(default_factory=dict)
    now: float = 0.0  # the host's clock when gathered
    # From the inventory: ports, units, files, certs, user, and exporters [{name, kind, port}] (the
    # redis_exporter role's: one per Redis instance, one for Sentinel, node_exporter).
    expected: dict[str, Any] = field(default_factory=dict)


@dataclass
class BackupFacts:
    """What a backup host (group redis_backup) says about the backups it keeps: the series of
    the redis_backup role's metrics file, by Sentinel group."""

    target: str  # inventory name
    address: str
    error: str = ""
    textfile: str = ""  # the metrics file read
    exists: bool = False
    # group -> {"last_success": epoch, "last_run": epoch, "last_run_success": 0/1, ...}
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    now: float = 0.0  # the backup host's clock when read


@dataclass
class ClusterFacts:
    """Everything a run gathered, plus what the inventory says the cluster should be."""

    redis: list[RedisFacts] = field(default_factory=list)
    sentinels: list[SentinelFacts] = field(default_factory=list)
    hosts: list[HostFacts] = field(default_factory=list)
    # The backup hosts' metrics; empty, with backup_facts_gathered False, when hosts were not read.
    backups: list[BackupFacts] = field(default_factory=list)
    backup_facts_gathered: bool = False
    # Sentinel groups from the inventory: name, instance, quorum, sentinels (hosts), servers (hosts)
    groups: list[dict] = field(default_factory=list)
    secret_lengths: dict[str, int] = field(default_factory=dict)  # variable name -> length, never the value
    gathered_at: float = 0.0
    gather_seconds: float = 0.0
    host_facts_gathered: bool = True

    def host(self, name: str) -> HostFacts | None:
        return next((h for h in self.hosts if h.target == name), None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ClusterFacts:
        def build(kind, items):
            names = {f.name for f in fields(kind)}
            return [kind(**{k: v for k, v in item.items() if k in names}) for item in items]

        return cls(
            redis=build(RedisFacts, data.get("redis", [])),
            sentinels=build(SentinelFacts, data.get("sentinels", [])),
            hosts=build(HostFacts, data.get("hosts", [])),
            backups=build(BackupFacts, data.get("backups", [])),
            backup_facts_gathered=bool(data.get("backup_facts_gathered", False)),
            groups=list(data.get("groups", [])),
            secret_lengths=dict(data.get("secret_lengths", {})),
            gathered_at=float(data.get("gathered_at", 0.0)),
            gather_seconds=float(data.get("gather_seconds", 0.0)),
            host_facts_gathered=bool(data.get("host_facts_gathered", True)),
        )


def _identify(facts: RedisFacts | SentinelFacts) -> None:
    """Facts saved before the server was recorded name it from their INFO."""
    if not facts.server and facts.info:
        facts.server = identify(facts.info).to_dict()


# ---- pure helpers the checks share -------------------------------------------------------


def server_of(facts: RedisFacts | SentinelFacts) -> Server:
    """The server a Redis or Sentinel target runs (flavour, version, mode)."""
    return Server.from_dict(facts.server) if facts.server else identify(facts.info)


def acl_users(acl_lines: list[str]) -> dict[str, list[str]]:
    """ACL LIST lines by user name: {"default": ["off", "nopass", ...]}."""
    users = {}
    for line in acl_lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "user":
            users[parts[1]] = parts[2:]
    return users


def is_primary(facts: RedisFacts) -> bool:
    return facts.info.get("role") == "master"


def as_float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def config_yes(facts: RedisFacts, name: str) -> bool:
    return str(facts.config.get(name, "")).lower() == "yes"


def ttl_reading(key: dict) -> int | None:
    """A sampled key's PTTL (-1: no TTL, -2: gone, else ms left), None when it was not read: a
    failed reading is unknown, never 'no TTL'."""
    value = key.get("ttl_ms")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def key_label(name: str) -> str:
    """A key name fit for a message: key names can be secrets (a session id is a login token),
    so keep at most the first two ':'-separated segments and show the rest as '#' + the first
    8 hex digits of the full name's SHA-256: app:session:abc123 -> app:session:#1a2b3c4d,
    cache:x -> cache:#..., a name without ':' -> its first 3 characters + '…#...'."""
    name = str(name)
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    segments = name.split(":")
    if len(segments) == 1:
        return f"{name[:3]}…#{digest}"
    kept = segments[: min(2, len(segments) - 1)]
    return ":".join(kept) + f":#{digest}"
