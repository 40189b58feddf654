"""Checks: connections (client headroom, refusals, keepalive, open-file limit)."""

from __future__ import annotations

import re

from redisops.compliance.counters import change, has_baseline
from redisops.compliance.facts import RedisFacts, as_float
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context

_RESERVED_FDS = 32  # Redis keeps this many descriptors for itself (CONFIG_MIN_RESERVED_FDS)
_SERVER_PROCESSES = ("redis-server", "valkey-server")


def _maxclients(facts: RedisFacts) -> float:
    return as_float(facts.config.get("maxclients", facts.info.get("maxclients")))


@check(
    "CON-01",
    area="connections",
    scope="redis",
    severity=Severity.MEDIUM,
    title="connections stay below 80% of maxclients",
    rationale="At maxclients Redis refuses every new connection (ERR max number of clients reached), "
    "failovers included: clients reconnecting to a new primary all at once need the headroom. A count "
    "close to the limit usually means missing connection pooling or leaked connections.",
    bad="connected_clients:9200  maxclients:10000",
    good="connected_clients:350  maxclients:10000",
    remediation="Find who holds the connections (CLIENT LIST: addr, name, age, idle), pool or close them; "
    "or raise redis_server_maxclients (the unit's LimitNOFILE follows) and rerun site.yml.",
    source="redis-mixin and awesome-prometheus-alerts (RedisTooManyConnections); Redis docs, client "
    "handling (maxclients)",
)
def clients_share(facts: RedisFacts, ctx: Context):
    limit = _maxclients(facts)
    if limit <= 0:
        raise Skip("maxclients is unknown")
    # Replicas are clients too: maxclients counts every connection.
    clients = as_float(facts.info.get("connected_clients")) + as_float(facts.info.get("connected_slaves"))
    share = clients / limit
    if share > ctx.thresholds.clients_share_warn:
        yield Fail(
            f"{clients:.0f} connections are {share:.0%} of maxclients {limit:.0f} "
            f"(above {ctx.thresholds.clients_share_warn:.0%})"
        )


@check(
    "CON-02",
    area="connections",
    scope="redis",
    severity=Severity.HIGH,
    title="no connection was rejected since the previous run (rejected_connections did not rise)",
    rationale="Redis rejects a connection when maxclients is reached: that client got an error instead "
    "of service. The counter only grows until a restart or CONFIG RESETSTAT, so its rise since the "
    "previous run is judged (the scheduled run keeps the counters); with no earlier run, its value since "
    "the server started.",
    bad="rejected_connections:1542  # 1530 at the previous run",
    good="rejected_connections:12  # 12 at the previous run too",
    remediation="Find why clients piled up (CLIENT LIST; CON-01), fix pooling or raise "
    "redis_server_maxclients. The next run passes once no more are rejected; a run with no earlier run "
    "to compare with judges the count since the start, which CONFIG RESETSTAT sets back to 0.",
    source="awesome-prometheus-alerts (RedisRejectedConnections); Redis docs, client handling (at "
    "maxclients new clients are refused)",
)
def rejected_connections(facts: RedisFacts, ctx: Context):
    if "rejected_connections" not in facts.info:
        raise Skip("INFO has no rejected_connections")
    rejected = change(facts, ["rejected_connections"], ctx)
    if rejected.amount > 0:
        total = int(as_float(facts.info.get("rejected_connections")))
        # INFO's maxclients: the judgement needs no configuration, so its message needs none either.
        limit = f", maxclients {facts.info['maxclients']}" if "maxclients" in facts.info else ""
        yield Fail(
            f"{rejected.amount} connection{'s' if rejected.amount != 1 else ''} rejected {rejected.since}: "
            f"rejected_connections {total}{limit}"
        )


@check(
    "CON-03",
    area="connections",
    scope="redis",
    severity=Severity.LOW,
    title="TCP keepalive is on (tcp-keepalive between 1 and 300 s)",
    rationale="Keepalive probes detect peers that vanished without closing (a crashed client, a dropped "
    "NAT or firewall state) and free their connections; 0 disables it, and very long intervals let "
    "dead connections count against maxclients for hours.",
    bad="tcp-keepalive 0",
    good="tcp-keepalive 300",
    remediation="Set redis_server_tcp_keepalive: 300 and rerun site.yml; live: CONFIG SET tcp-keepalive 300, "
    "then CONFIG REWRITE.",
    source="Redis default redis.conf (tcp-keepalive); Redis docs, clients",
)
def tcp_keepalive(facts: RedisFacts, ctx: Context):
    if "tcp-keepalive" not in facts.config:
        raise Skip("tcp-keepalive was not gathered")
    value = as_float(facts.config.get("tcp-keepalive"), -1)
    t = ctx.thresholds
    if value <= 0:
        yield Fail(f"tcp-keepalive {facts.config['tcp-keepalive']}: dead peers are never detected")
    elif not t.tcp_keepalive_min_s <= value <= t.tcp_keepalive_max_s:
        yield Fail(
            f"tcp-keepalive {value:.0f} s is outside {t.tcp_keepalive_min_s}-{t.tcp_keepalive_max_s} s"
        )


def _server_process(facts: RedisFacts, processes: list[dict]) -> dict | None:
    """The redis-server or valkey-server process of this instance: its title carries ':<port>'."""
    ports = {facts.port} | {
        int(as_float(facts.config.get(name)))
        for name in ("port", "tls-port")
        if as_float(facts.config.get(name)) > 0
    }
    for proc in processes:
        command = f"{proc.get('name', '')} {proc.get('args', '')}"
        if not any(name in command for name in _SERVER_PROCESSES):
            continue
        args = str(proc.get("args", ""))
        if "[sentinel]" in args:
            continue
        if any(re.search(rf":{port}(?!\d)", args) for port in ports):
            return proc
    return None


@check(
    "CON-04",
    area="connections",
    scope="redis",
    severity=Severity.MEDIUM,
    title="maxclients fits the server process's open-file limit",
    rationale="Every client is a file descriptor and Redis keeps 32 more for itself (files, replication, "
    "listeners). When the process's nofile limit is lower than maxclients + 32, connections fail with "
    "'Too many open files' long before maxclients is reached.",
    bad="maxclients 10000  # /proc/PID/limits: Max open files 4096",
    good="maxclients 10000  # LimitNOFILE=65535",
    remediation="The kit's unit sets LimitNOFILE to max(65535, maxclients + 32): rerun site.yml and restart "
    "the instance, and remove drop-ins or container limits that lower it; or lower redis_server_maxclients.",
    source="Redis docs, client handling (maxclients is lowered to what the open-file limit allows); "
    "Redis's startup warning (maxclients has been reduced to compensate for low ulimit)",
)
def maxclients_fit_nofile(facts: RedisFacts, ctx: Context):
    host = ctx.cluster.host(facts.host) if ctx.cluster is not None else None
    if host is None or host.error:
        raise Skip(f"no host facts for {facts.host}")
    proc = _server_process(facts, host.processes)
    if proc is None:
        raise Skip(
            f"no redis-server or valkey-server process for port {facts.port} among {facts.host}'s processes"
        )
    name = proc.get("name") or "the server"
    nofile = int(as_float(proc.get("nofile")))
    if nofile <= 0:
        raise Skip(f"the open-file limit of {name} (pid {proc.get('pid')}) was not read")
    need = int(_maxclients(facts)) + _RESERVED_FDS
    if need > nofile:
        yield Fail(
            f"maxclients {need - _RESERVED_FDS} + {_RESERVED_FDS} needs {need} descriptors but "
            f"{name} (pid {proc.get('pid')}) may open {nofile}"
        )


@check(
    "CON-05",
    area="connections",
    scope="redis",
    severity=Severity.MEDIUM,
    title="clients reuse their connections (at most 10 new connections a second between runs)",
    rationale="Every new connection costs the server an accept, a client structure, an AUTH (an ACL "
    "password check) and with TLS a handshake, on the thread that serves commands; the clients pay a round "
    "trip or more each time. An application with a connection pool opens its connections once; one that "
    "connects per request opens thousands a minute while connected_clients stays flat, and it often "
    "leaves sockets in TIME_WAIT on the hosts. The rise of total_connections_received between two runs is "
    "judged as a rate when it is also more than the clients connected now (the connections were replaced, "
    "not added). It needs a previous run: without one it is skipped.",
    bad="total_connections_received:+54000 in 15 min  connected_clients:12  # 60 a second",
    good="total_connections_received:+40 in 15 min  connected_clients:60  # pooled, monitoring scrapes",
    remediation="Use the client library's connection pool (one per process, shared by its threads) or a "
    "long-lived multiplexed client, and stop creating a client per request; CLIENT LIST (age, name) shows "
    "who keeps reconnecting. Adjust connections_per_s_max in redis_compliance_thresholds.",
    source="Redis docs, connection pools and multiplexing (opening and closing connections often is "
    "inefficient: make as few separate connections as possible, through a pool or a multiplexed client)",
)
def connection_churn(facts: RedisFacts, ctx: Context):
    if "total_connections_received" not in facts.info:
        raise Skip("INFO has no total_connections_received")
    interval = as_float((facts.since or {}).get("interval_s"))
    if not has_baseline(facts) or interval <= 0:
        raise Skip("no previous run of this server to compare with: a connection rate needs two readings")
    opened = change(facts, ["total_connections_received"], ctx)
    rate, most = opened.amount / interval, ctx.thresholds.connections_per_s_max
    clients = int(as_float(facts.info.get("connected_clients")))
    if rate > most and opened.amount > clients:
        yield Fail(
            f"{opened.amount} connections opened {opened.since}: {rate:.1f} a second (above {most:g}) while "
            f"{clients} are connected: clients connect per request instead of reusing pooled connections"
        )
