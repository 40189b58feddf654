"""Checks: high availability (replication links and lag, write safety, Sentinel topology,
quorum, agreement on the primary, backlog, Sentinel's view and timers)."""

from __future__ import annotations

import re

from redisops.compliance.counters import change, error_replies, has_baseline, keeps_errorstats
from redisops.compliance.facts import ClusterFacts, RedisFacts, SentinelFacts, as_float, is_primary, server_of
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.server import REDIS, VALKEY, Server, loads_rdb, newest_known, rdb_format
from redisops.compliance.settings import Context
from redisops.core import health, rdb, topology
from redisops.core.sizes import human as _size


def _int(value, default: int = 0) -> int:
    return int(as_float(value, default))


def _replica_links(info: dict) -> list[dict]:
    """INFO's slaveN lines in order, as dicts (redis-py parses them; plain text is parsed here)."""
    keys = sorted((k for k in info if re.fullmatch(r"slave\d+", k)), key=lambda k: int(k[5:]))
    links = []
    for key in keys:
        value = info[key]
        if isinstance(value, str):
            value = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
        if isinstance(value, dict):
            links.append(value)
    return links


def _link_name(link: dict) -> str:
    return f"{link.get('ip', '?')}:{link.get('port', '?')}"


def _config(facts: RedisFacts, name: str, legacy: str) -> str | None:
    """A CONFIG GET value under its current name or the pre-5.0 slave-* alias."""
    value = facts.config.get(name, facts.config.get(legacy))
    return None if value is None else str(value)


def _groups(ctx: Context) -> dict[str, dict]:
    cluster = ctx.cluster
    return {g["name"]: g for g in (cluster.groups if cluster else []) if g.get("name")}


def _in_group(facts: RedisFacts, group: dict) -> bool:
    if facts.expected.get("group"):
        return facts.expected["group"] == group.get("name")
    return facts.host in group.get("servers", []) and facts.instance == group.get("instance", facts.instance)


def _group_of(facts: RedisFacts, ctx: Context) -> dict | None:
    return next((g for g in _groups(ctx).values() if _in_group(facts, g)), None)


def _known_as(facts: RedisFacts) -> set[str]:
    """Every ip:port this server can be named by: its address (or announced one) and its ports."""
    hosts = {facts.address, facts.host}
    if facts.config.get("replica-announce-ip"):
        hosts.add(facts.config["replica-announce-ip"])
    ports = {str(facts.port)}
    for name in ("port", "tls-port", "replica-announce-port"):
        if _int(facts.config.get(name)) > 0:
            ports.add(str(_int(facts.config[name])))
    return {f"{h}:{p}" for h in hosts if h for p in ports}


def _host_address(cluster: ClusterFacts, name: str) -> str:
    """An inventory host's address, from whichever facts know it (the name when none does)."""
    for host in cluster.hosts:
        if host.target == name and host.address:
            return host.address
    for facts in (*cluster.sentinels, *cluster.redis):
        if facts.host == name and facts.address:
            return facts.address
    return name


# ---- replication ---------------------------------------------------------------------------


@check(
    "HA-01",
    area="high-availability",
    scope="redis",
    severity=Severity.CRITICAL,
    title="Every replica's link to the primary is up",
    rationale="A replica whose link is down serves stale data and cannot take over with the latest writes; "
    "a primary with fewer online replicas than the group has loses its failover candidates and, with "
    "min-replicas-to-write, its writes.",
    bad="master_link_status:down\nmaster_link_down_since_seconds:420\nslave0:ip=10.0.0.12,port=6379,state=wait_bgsave",
    good="master_link_status:up\nslave0:ip=10.0.0.12,port=6379,state=online,offset=34228,lag=0",
    remediation="Read the replica's log (auth as redis_server_replication_user, TLS, firewall, repl-timeout, "
    "a full sync that keeps failing for lack of memory or disk); fix the cause and it reconnects by itself. "
    "A replica that stays off: rerun site.yml, which points it at the primary (REPLICAOF host port).",
    source="Redis docs, replication (INFO replication: master_link_status); awesome-prometheus-alerts "
    "(RedisDisconnectedSlaves, RedisReplicationBroken)",
)
def replication_links_up(facts: RedisFacts, ctx: Context):
    role = facts.info.get("role")
    if role == "slave":
        if health.link_up(facts.info):
            return
        status = facts.info.get("master_link_status", "")
        primary = f"{facts.info.get('master_host', '?')}:{facts.info.get('master_port', '?')}"
        since = _int(facts.info.get("master_link_down_since_seconds"), -1)
        down = f"down for {since} s" if since >= 0 else "not up since the server started"
        syncing = "; a full sync is in progress" if _int(facts.info.get("master_sync_in_progress")) else ""
        yield Fail(f"master_link_status {status or 'missing'} to the primary {primary}: {down}{syncing}")
    elif role == "master":
        links = _replica_links(facts.info)
        for link in links:
            if link.get("state") != "online":
                yield Fail(f"replica {_link_name(link)} is in state {link.get('state', '?')}, not online")
        group = _group_of(facts, ctx)
        if group:
            want = len(set(group.get("servers", []))) - 1
            if len(links) < want:
                seen = ", ".join(_link_name(link) for link in links) or "none"
                yield Fail(
                    f"{len(links)} of the {want} replicas of group {group['name']} are connected "
                    f"(connected: {seen})"
                )
    else:
        raise Skip(f"role {role!r} is neither master nor slave")


@check(
    "HA-02",
    area="high-availability",
    scope="redis",
    severity=Severity.HIGH,
    title="Replication lag is within min-replicas-max-lag",
    rationale="A lagging replica is behind by the writes a failover to it would lose; with "
    "min-replicas-to-write the primary also stops taking writes once too few replicas keep up.",
    bad="min-replicas-max-lag 10\nslave0:ip=10.0.0.12,port=6379,state=online,offset=1200,lag=25",
    good="slave0:ip=10.0.0.12,port=6379,state=online,offset=34228,lag=0",
    remediation="Find why the replica falls behind: network bandwidth or latency to it, a slow replica "
    "host (disk for AOF, CPU), or big writes (INFO commandstats). Keep redis_server_min_replicas_max_lag "
    "(10) as the bound.",
    source="Redis docs, replication (allow writes only with N attached replicas: the lag in seconds); "
    "redis.conf (min-replicas-max-lag)",
)
def replication_lag(facts: RedisFacts, ctx: Context):
    if not is_primary(facts):
        raise Skip("replication lag is read on the primary (INFO slaveN)")
    links = [link for link in _replica_links(facts.info) if link.get("state") == "online"]
    if not links:
        raise Skip("no online replica to measure (HA-01 reports replicas that are missing or syncing)")
    configured = _int(_config(facts, "min-replicas-max-lag", "min-slaves-max-lag"))
    if configured > 0:
        limit, bound = configured, f"min-replicas-max-lag {configured} s"
    else:
        limit = ctx.thresholds.replication_lag_max_s
        bound = f"replication_lag_max_s {limit} s (min-replicas-max-lag is 0)"
    head = _int(facts.info.get("master_repl_offset"))
    for link in links:
        lag = _int(link.get("lag"), -1)
        offset = _int(link.get("offset"))
        if lag > limit:
            yield Fail(
                f"replica {_link_name(link)} lags {lag} s, above {bound}; "
                f"it is {_size(max(0, head - offset))} behind (offset {offset} of {head})"
            )


@check(
    "HA-03",
    area="high-availability",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Writes need a live replica (min-replicas-to-write >= 1, min-replicas-max-lag <= 10 s)",
    rationale="A primary cut off by a partition keeps accepting writes until Sentinel promotes another "
    "node; those writes are discarded when it rejoins as a replica. min-replicas-to-write makes it refuse "
    "writes after min-replicas-max-lag seconds without a replica, bounding the loss. Every node needs it: "
    "any replica becomes the primary after a failover.",
    bad="min-replicas-to-write 0",
    good="min-replicas-to-write 1\nmin-replicas-max-lag 2",
    remediation="Set redis_server_min_replicas_to_write (1) and redis_server_min_replicas_max_lag (the "
    "profile's: 2 s for store and queue, whose fence must close before a promotion, PRO-05; 10 s for the "
    "others) and rerun site.yml; live: CONFIG SET min-replicas-to-write 1, CONFIG SET min-replicas-max-lag "
    "<the profile's>, then CONFIG REWRITE.",
    source="Redis docs, replication (allow writes only with N attached replicas); Sentinel docs (example 2)",
)
def min_replicas(facts: RedisFacts, ctx: Context):
    if facts.expected.get("cluster") or facts.cluster_nodes:
        # A cluster node: a primary cut off in a minority stops taking writes after the node
        # timeout (CLU-09), and with one replica per shard min-replicas-to-write would refuse every
        # write from a failover until the old primary rejoins (redis_server's cluster default, 0).
        raise Skip("a cluster node: the node timeout bounds a cut-off primary's writes (CLU-09)")
    to_write_text = _config(facts, "min-replicas-to-write", "min-slaves-to-write")
    max_lag_text = _config(facts, "min-replicas-max-lag", "min-slaves-max-lag")
    if to_write_text is None or max_lag_text is None:
        raise Skip("CONFIG GET returned no min-replicas-to-write / min-replicas-max-lag")
    to_write, max_lag = _int(to_write_text), _int(max_lag_text)
    bound = ctx.thresholds.replication_lag_max_s
    if to_write < 1:
        yield Fail(
            f"min-replicas-to-write {to_write}: a primary cut off from its replicas keeps taking writes "
            "that the failover then discards"
        )
    elif max_lag <= 0:
        yield Fail(f"min-replicas-max-lag {max_lag} turns min-replicas-to-write {to_write} off")
    elif max_lag > bound:
        yield Fail(
            f"min-replicas-max-lag {max_lag} s is above {bound} s: a partitioned primary takes writes for "
            f"{max_lag} s that a failover discards"
        )
    group = _group_of(facts, ctx)
    if group:
        replicas = len(set(group.get("servers", []))) - 1
        if to_write > replicas:
            yield Fail(
                f"min-replicas-to-write {to_write} exceeds the {replicas} replicas of group {group['name']}: "
                "as primary this node refuses every write"
            )


# ---- Sentinel topology ---------------------------------------------------------------------


def _majority_reason(count: int) -> str:
    if count == 2:
        return (
            "exactly 2 sentinels: a failover needs a majority (2), so losing either host or a partition "
            "between them leaves no majority to authorise it"
        )
    return "fewer sentinels than the minimum: one more loss leaves no majority to authorise a failover"


@check(
    "HA-04",
    area="high-availability",
    scope="cluster",
    severity=Severity.CRITICAL,
    title="At least 3 Sentinels on distinct hosts, never 2",
    rationale="A failover needs a majority of all sentinels to authorise it. Three sentinels on three hosts "
    "survive the loss of one host; two (or three on two hosts) do not, and a partition then leaves "
    "no side able to fail over.",
    bad="sentinel hosts: redis-1, redis-2  # or 3 sentinels, 2 of them on one host",
    good="sentinel hosts: redis-1, redis-2, redis-3  # each reports num-other-sentinels 2",
    remediation="Put at least 3 hosts (an odd number) in the inventory group 'sentinel', each on its own "
    "machine (redis_sentinel_allow_fewer_than_three stays false), and rerun site.yml.",
    source="Redis docs, Sentinel (fundamental things to know, example 1: two sentinels, don't do this)",
)
def sentinel_count(cluster: ClusterFacts, ctx: Context):
    if not cluster.groups:
        raise Skip("the inventory defines no Sentinel group")
    need = ctx.thresholds.min_sentinels
    for group in cluster.groups:
        name = group["name"]
        hosts = list(dict.fromkeys(group.get("sentinels", [])))
        address = {h: _host_address(cluster, h) for h in hosts}
        distinct = len(set(address.values()))
        if distinct < need or distinct == 2:
            shared = (
                "" if distinct == len(hosts) else f" ({len(hosts)} sentinels, {distinct} distinct addresses)"
            )
            yield Fail(
                f"group {name} has {distinct} sentinel hosts in the inventory{shared}, {need} needed: "
                + _majority_reason(distinct),
                target=f"group:{name}",
            )
            continue
        # Of those gathered: which answer and monitor the group.
        silent = [
            s.target for s in cluster.sentinels if s.host in hosts and (s.error or name not in s.masters)
        ]
        silent_addresses = {s.address for s in cluster.sentinels if s.target in silent}
        live = len(set(address.values()) - silent_addresses)
        if silent and (live < need or live == 2):
            yield Fail(
                f"only {live} of the {distinct} sentinels of group {name} answer and monitor it "
                f"(not: {', '.join(silent)}): " + _majority_reason(live),
                target=f"group:{name}",
            )
        # What each sentinel knows: itself and its peers.
        for s in cluster.sentinels:
            if s.error or name not in s.masters:
                continue
            peers = s.sentinels.get(name, [])
            reported = _int(s.masters[name].get("num-other-sentinels"), len(peers)) + 1
            peer_hosts = {s.address} | {str(p.get("ip", "")) for p in peers if p.get("ip")}
            known = min(reported, len(peer_hosts))
            if known < need or known == 2:
                yield Fail(
                    f"knows {reported} sentinels of group {name} (itself and num-other-sentinels "
                    f"{reported - 1}) on {len(peer_hosts)} distinct hosts, {need} needed: "
                    + _majority_reason(known),
                    target=s.target,
                )


@check(
    "HA-05",
    area="high-availability",
    scope="sentinel",
    severity=Severity.CRITICAL,
    title="SENTINEL CKQUORUM is OK for every monitored group",
    rationale="CKQUORUM asks the sentinel whether, right now, enough sentinels are reachable to reach the "
    "quorum and to authorise a failover (a majority). When it is not OK a failure of the primary is "
    "not repaired.",
    bad="SENTINEL CKQUORUM redis-main\n"
    "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the majority and authorize "
    "a failover",
    good="SENTINEL CKQUORUM redis-main\n"
    "OK 3 usable Sentinels. Quorum and failover authorization can be reached",
    remediation="Bring the missing sentinels back (systemctl status redis-sentinel@main, "
    "valkey-sentinel@main on Valkey; the firewall to port redis_sentinel_port, the sentinel-peer user's "
    "password); a sentinel that does not monitor the group: "
    "rerun site.yml (redis_sentinel_groups).",
    source="Redis docs, Sentinel API (SENTINEL CKQUORUM)",
)
def ckquorum_ok(facts: SentinelFacts, ctx: Context):
    wanted = {name for name, g in _groups(ctx).items() if facts.host in g.get("sentinels", [])}
    names = sorted(set(facts.ckquorum) | set(facts.masters) | wanted)
    if not names:
        raise Skip("this sentinel monitors no group")
    for name in names:
        answer = facts.ckquorum.get(name)
        if name not in facts.masters and name in wanted:
            yield Fail(
                f"does not monitor group {name}, though the inventory lists this host among its sentinels"
            )
        elif answer is None:
            yield Fail(f"SENTINEL CKQUORUM {name} was not answered")
        elif not health.quorum_ok(answer):
            yield Fail(f"SENTINEL CKQUORUM {name}: {str(answer)[:200]}")


def _servers_of(cluster: ClusterFacts, group: dict) -> list[RedisFacts]:
    return [f for f in cluster.redis if _in_group(f, group)]


def _one_primary(cluster: ClusterFacts, group: dict):
    name = group["name"]
    at_group = f"group:{name}"
    servers = _servers_of(cluster, group)
    read = [f for f in servers if not f.error]
    unread = sorted(set(group.get("servers", [])) - {f.host for f in read})
    # What the sentinels say.
    views = {
        s.target: f"{s.masters[name].get('ip', '?')}:{s.masters[name].get('port', '?')}"
        for s in cluster.sentinels
        if not s.error and name in s.masters
    }
    named = None
    agreed = topology.agreement(views)
    if views:
        if agreed.majority:
            named, count = agreed.majority
            for target, addr in agreed.dissent(named).items():
                yield Fail(
                    f"names {addr} as the primary of {name}; {count} of {len(views)} sentinels name {named}",
                    target=target,
                )
        else:
            said = "; ".join(f"{t} names {a}" for t, a in sorted(views.items()))
            yield Fail(f"the sentinels of {name} disagree on its primary: {said}", target=at_group)
    named_server = next((f for f in read if named in _known_as(f)), None) if named else None
    if named and named_server is None and not unread:
        listed = ", ".join(f"{f.target} ({f.address})" for f in read)
        yield Fail(
            f"the sentinels name {named} as primary of {name}: none of its servers ({listed})",
            target=at_group,
        )
    if named_server is not None and not is_primary(named_server):
        yield Fail(
            f"the sentinels name it ({named}) primary of {name}, but it reports role "
            f"{named_server.info.get('role', '?')}",
            target=named_server.target,
        )
    # What the servers say.
    primaries = [f for f in read if is_primary(f)]
    if len(primaries) > 1:
        if named_server in primaries:
            for f in primaries:
                if f is not named_server:
                    yield Fail(
                        f"reports role master beside {named_server.target}, the primary of {name} "
                        "the sentinels name: split brain, writes taken here are lost",
                        target=f.target,
                    )
        else:
            listed = ", ".join(f.target for f in primaries)
            yield Fail(f"{len(primaries)} servers of {name} report role master: {listed}", target=at_group)
    elif not primaries and read and not unread:
        listed = ", ".join(f"{f.target} ({f.info.get('role', '?')})" for f in read)
        yield Fail(f"no server of {name} reports role master: {listed}", target=at_group)
    # Whom the replicas follow.
    if named_server in primaries:
        primary = named_server
    elif len(primaries) == 1 and named_server is None:
        primary = primaries[0]
    else:
        primary = None
    if primary is None:
        return
    for f in read:
        if f is primary or f.info.get("role") != "slave":
            continue
        follows = f"{f.info.get('master_host', '?')}:{f.info.get('master_port', '?')}"
        if follows not in _known_as(primary):
            yield Fail(
                f"follows {follows}, not the primary of {name} {primary.target} "
                f"({primary.address}:{primary.port})",
                target=f.target,
            )


@check(
    "HA-06",
    area="high-availability",
    scope="cluster",
    severity=Severity.CRITICAL,
    title="Exactly one primary per group, named by every sentinel and followed by every replica",
    rationale="Two primaries (split brain) take writes that one of them loses; sentinels that disagree "
    "send clients to different nodes; a replica that follows the wrong node serves stale data and is "
    "no failover candidate.",
    bad="redis-1: role:master; redis-2: role:master\nsentinel on redis-3: SENTINEL MASTERS ip 10.0.0.12",
    good="redis-1: role:master; redis-2, redis-3: role:slave, master_host 10.0.0.11\nevery sentinel: ip "
    "10.0.0.11",
    remediation="Let Sentinel decide: SENTINEL RESET on sentinels with a stale view; a node wrongly "
    "master: REPLICAOF <primary> <port> (or rerun site.yml, which follows redis_server_known_primaries "
    "from the live sentinels); a persistent disagreement: SENTINEL FAILOVER <group> from one sentinel.",
    source="Redis docs, Sentinel (consistency under partitions); awesome-prometheus-alerts "
    "(RedisMissingMaster, RedisTooManyMasters)",
)
def one_primary(cluster: ClusterFacts, ctx: Context):
    if not cluster.groups:
        raise Skip("the inventory defines no Sentinel group")
    for group in cluster.groups:
        yield from _one_primary(cluster, group)


@check(
    "HA-07",
    area="high-availability",
    scope="redis",
    severity=Severity.MEDIUM,
    title="The replication backlog is large enough for partial resyncs",
    rationale="After a short disconnection a replica resumes from the primary's backlog (PSYNC). When the "
    "writes during the outage outgrow the backlog, the replica needs a full resync: a fork and an RDB "
    "transfer, and no failover candidate meanwhile. Redis's default backlog, 1 MB, holds about a second "
    "of a busy primary's writes; the check wants at least 16 MB (repl_backlog_min_bytes). Refused "
    "resumes (sync_partial_err) count against the backlog only once it has filled up "
    "(repl_backlog_histlen at its size): before that they come from replicas with an unknown replication "
    "ID, such as a killed primary that restarted and rejoined, which no backlog size avoids.",
    bad="repl-backlog-size 1048576  # Redis's default\nsync_partial_err:4",
    good="repl-backlog-size 67108864  # minutes of writes\nsync_partial_err:0",
    remediation="Raise redis_server_repl_backlog_size (64mb by default: the write rate times the longest "
    "disconnection to ride out) and rerun site.yml; live: CONFIG SET repl-backlog-size 64mb, then "
    "CONFIG REWRITE.",
    source="Redis docs, replication (partial resynchronization); redis.conf repl-backlog-size",
)
def replication_backlog(facts: RedisFacts, ctx: Context):
    size_text = facts.config.get("repl-backlog-size")
    if size_text is None:
        raise Skip("CONFIG GET returned no repl-backlog-size")
    size = _int(size_text)
    least = ctx.thresholds.repl_backlog_min_bytes
    if size < least:
        yield Fail(
            f"repl-backlog-size {_size(size)} is below {_size(least)}: a replica cut off briefly needs "
            "a full resync"
        )
    if is_primary(facts):
        # A counter since the server started: judged by its rise since the previous run. A primary
        # refuses a resume for two reasons: the replica's offset fell out of the backlog, or the
        # replica asks with a replication ID the primary does not know (a server that restarted
        # without its replication state, after a kill or a failover: normal). Only the first is
        # the backlog's fault, and it needs a backlog that has filled up and dropped old writes.
        errors = change(facts, ["sync_partial_err"], ctx)
        held = _int(facts.info.get("repl_backlog_histlen", -1))
        if errors.amount > 0 and 0 <= held < size:
            return  # the backlog still holds every write since it was created: not its size
        if errors.amount > 0:
            yield Fail(
                f"{errors.amount} partial resync{'s' if errors.amount != 1 else ''} refused {errors.since} "
                f"(sync_partial_err {_int(facts.info.get('sync_partial_err'))}, sync_partial_ok "
                f"{_int(facts.info.get('sync_partial_ok'))}, sync_full {_int(facts.info.get('sync_full'))}): "
                "replicas asking to resume got a full resync; "
                f"the backlog ({_size(size)}) did not cover their outage or the replication ID changed"
            )


# ---- Sentinel's view -----------------------------------------------------------------------


@check(
    "HA-08",
    area="high-availability",
    scope="sentinel",
    severity=Severity.HIGH,
    title="Each sentinel sees the expected peers and replicas, none of them down",
    rationale="A sentinel that misses peers cannot gather a majority; stale peers or replicas it never "
    "forgets (removed hosts) raise the majority it needs and make it pick gone replicas; a primary "
    "flagged s_down or o_down is about to be failed over.",
    bad="num-other-sentinels 4  # two removed hosts still counted\nreplica flags: slave,s_down,disconnected",
    good="num-other-sentinels 2\nnum-slaves 2\nflags master; replicas: slave",
    remediation="Missing peers: check redis_sentinel_announce_ip, the firewall to redis_sentinel_port "
    "and the "
    "sentinel-peer password. Stale peers or replicas: SENTINEL RESET <group> on each sentinel, one at a time "
    "(rerun site.yml does it). A down replica: see HA-01.",
    source="Redis docs, Sentinel (adding or removing sentinels, removing old replicas)",
)
def sentinel_sees_group(facts: SentinelFacts, ctx: Context):
    groups = _groups(ctx)
    names = [n for n in facts.masters if n in groups]
    if not names:
        raise Skip("monitors no group of the inventory")
    for name in names:
        master, group = facts.masters[name], groups[name]
        want_peers = len(set(group.get("sentinels", []))) - 1
        want_replicas = len(set(group.get("servers", []))) - 1
        peers = _int(master.get("num-other-sentinels"), -1)
        if "num-other-sentinels" in master and peers != want_peers:
            why = "stale entries raise the majority it needs" if peers > want_peers else "it misses peers"
            yield Fail(
                f"{name}: num-other-sentinels {peers}, the inventory has {want_peers} other sentinels ({why})"
            )
        replicas = _int(master.get("num-slaves"), -1)
        if "num-slaves" in master and replicas != want_replicas:
            why = "stale replicas it would consider" if replicas > want_replicas else "it misses replicas"
            yield Fail(f"{name}: num-slaves {replicas}, the inventory has {want_replicas} replicas ({why})")
        down = sorted(health.flags(master.get("flags")) & set(health.DOWN_FLAGS))
        if down:
            yield Fail(
                f"{name}: the primary {master.get('ip', '?')}:{master.get('port', '?')} is flagged "
                f"{','.join(down)} (last ok ping {master.get('last-ok-ping-reply', '?')} ms ago)"
            )
        for kind, items in (
            ("replica", facts.replicas.get(name, [])),
            ("sentinel", facts.sentinels.get(name, [])),
        ):
            for item in items:
                down = sorted(health.flags(item.get("flags")) & set(health.DOWN_FLAGS))
                if down:
                    yield Fail(
                        f"{name}: {kind} {item.get('ip', '?')}:{item.get('port', '?')} is flagged "
                        f"{','.join(down)} (last ok ping {item.get('last-ok-ping-reply', '?')} ms ago)"
                    )


@check(
    "HA-09",
    area="high-availability",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Replicas are read-only (replica-read-only yes)",
    rationale="Writes to a writable replica diverge from the primary and vanish at the next resync; "
    "clients that write to the wrong node get an error instead of losing data. It is checked on the "
    "primary too: it becomes a replica after a failover.",
    bad="replica-read-only no",
    good="replica-read-only yes",
    remediation="Remove any override of replica-read-only (the kit keeps Redis's default yes) and rerun "
    "site.yml; live: CONFIG SET replica-read-only yes, then CONFIG REWRITE.",
    source="Redis docs, replication (read-only replica); redis.conf replica-read-only",
)
def replica_read_only(facts: RedisFacts, ctx: Context):
    value = _config(facts, "replica-read-only", "slave-read-only")
    if value is None:
        raise Skip("CONFIG GET returned no replica-read-only")
    if value.lower() != "yes":
        if is_primary(facts):
            yield Fail(
                f"replica-read-only {value}: once demoted by a failover this node takes writes it then loses"
            )
        else:
            yield Fail(f"replica-read-only {value}: this replica takes writes that the next resync discards")


@check(
    "HA-10",
    area="high-availability",
    scope="sentinel",
    severity=Severity.MEDIUM,
    title="Sentinel's timers are sane and its quorum is the inventory's majority",
    rationale="down-after-milliseconds below a second turns ordinary pauses (fork, network hiccup) into "
    "failovers; a failover-timeout not above it retries before detection settles. A quorum that differs "
    "from the inventory is drift; a quorum of a minority lets a minority flag the primary down.",
    bad="down-after-milliseconds 500\nfailover-timeout 400\nquorum 1  # of 3 sentinels",
    good="down-after-milliseconds 5000\nfailover-timeout 60000\nquorum 2  # of 3 sentinels",
    remediation="Set redis_sentinel_quorum (a majority), redis_sentinel_down_after_milliseconds (5000) and "
    "redis_sentinel_failover_timeout (60000), or per group in redis_sentinel_groups, and rerun site.yml; "
    "live: SENTINEL SET <group> quorum 2 (on every sentinel).",
    source="Redis docs, Sentinel (configuration, quorum)",
)
def sentinel_timers(facts: SentinelFacts, ctx: Context):
    if not facts.masters:
        raise Skip("this sentinel monitors no group")
    groups = _groups(ctx)
    least = ctx.thresholds.sentinel_down_after_min_ms
    for name, master in sorted(facts.masters.items()):
        down_after = _int(master.get("down-after-milliseconds"))
        failover = _int(master.get("failover-timeout"))
        quorum = _int(master.get("quorum"))
        if down_after < least:
            yield Fail(
                f"{name}: down-after-milliseconds {down_after} is below {least}: pauses become failovers"
            )
        if failover <= down_after:
            yield Fail(
                f"{name}: failover-timeout {failover} ms is not above down-after-milliseconds {down_after}"
            )
        group = groups.get(name)
        if not group:
            continue
        for key, field, value in (
            ("quorum", "quorum", quorum),
            ("down_after_milliseconds", "down-after-milliseconds", down_after),
            ("failover_timeout", "failover-timeout", failover),
        ):
            if group.get(key) not in (None, "") and value != _int(group[key]):
                yield Fail(f"{name}: {field} {value}, the inventory says {_int(group[key])}")
        count = len(set(group.get("sentinels", [])))
        if count and quorum < topology.majority(count):
            yield Fail(f"{name}: quorum {quorum} of {count} sentinels is no majority")
        elif count and quorum > count:
            yield Fail(
                f"{name}: quorum {quorum} exceeds the {count} sentinels: the primary is never flagged o_down"
            )


# ---- servers and versions within a group ----------------------------------------------------


def _upstream(replica: RedisFacts, servers: list[RedisFacts]) -> RedisFacts | None:
    """The server of the group this replica syncs from (None when it follows none of them)."""
    follows = f"{replica.info.get('master_host', '')}:{replica.info.get('master_port', '')}"
    return next((f for f in servers if f is not replica and follows in _known_as(f)), None)


def _promotable(facts: RedisFacts) -> bool:
    """Sentinel never promotes a replica whose replica-priority is 0."""
    priority = _config(facts, "replica-priority", "slave-priority")
    return priority is None or _int(priority, 100) != 0


def _cannot_load(server: Server, fmt: int) -> str:
    """Why a server cannot load a snapshot of format ``fmt``, in words."""
    return f"{server} {rdb.refusal(server.flavor, server.version, fmt)}"


def _described(f: RedisFacts) -> str:
    server = server_of(f)
    fmt = rdb_format(server)
    return f"{f.target} ({server}{f', RDB format {fmt}' if fmt is not None else ''})"


@check(
    "HA-11",
    area="high-availability",
    scope="cluster",
    severity=Severity.HIGH,
    title="Every replica can load the snapshots of the primary it syncs from (RDB format)",
    rationale="A full resync sends the primary's snapshot in the RDB format its server writes, and a server "
    "loads formats up to its own only: Redis 7.0 writes and loads 10; Redis 7.2 and every Valkey 7.2 and 8.x "
    "11; Redis 7.4 to 8.4 write 12, which no Valkey loads. A replica on an older format than its primary "
    "(a Redis 7.0 replica of a Valkey 8 primary) fails every full sync: it holds no copy and is no failover "
    "candidate. While a group moves from one server to another its replicas run the newer server first, "
    "which is fine; a failover to one of them would then cut the older nodes off, reported as low.",
    bad="redis-1 (primary): valkey 8.1.1, RDB format 11\n"
    "redis-2 (replica): redis 7.0.15, loads format 10 at most",
    good="redis-1 (primary): redis 7.0.15, RDB format 10\nredis-2, redis-3 (replicas): redis 7.0.15, or "
    "valkey 8.1.1 while the group moves to Valkey",
    remediation="Run a server on the replica that loads the primary's format (the primary's own or a newer "
    "one: a migration replaces the replicas first); playbooks/migrate_flavor.yml does it one host at a time "
    "and resumes where it stopped. Until the older nodes are replaced, avoid a failover to a newer server "
    "(they cannot resync from it).",
    source="redis/librdb src/redisver.h (RDB format of each Redis release); valkey-io/valkey src/rdb.h "
    "(format 11 for Valkey 7.x and 8.x, 12-79 reserved for Redis's formats)",
    applies_to="groups whose servers differ in flavour or version: RDB format 10 (Redis 7.0), 11 (Redis 7.2, "
    "Valkey 7.2 to 8.x), 12 (Redis 7.4 to 8.4), 13 (Redis 8.6), 80 and 81 (Valkey 9.0, 9.2); later "
    "releases are skipped until the kit knows their format",
)
def replicas_load_primary_format(cluster: ClusterFacts, ctx: Context):
    if not cluster.groups:
        raise Skip("the inventory defines no Sentinel group")
    judged, unknown = 0, []
    for group in cluster.groups:
        servers = [f for f in _servers_of(cluster, group) if not f.error]
        formats = {f.target: rdb_format(server_of(f)) for f in servers}
        unknown += [_described(f) for f in servers if formats[f.target] is None]
        for f in servers:
            upstream = _upstream(f, servers) if f.info.get("role") == "slave" else None
            if upstream is None or None in (formats[f.target], formats[upstream.target]):
                continue
            judged += 1
            fmt = formats[upstream.target]
            if not loads_rdb(server_of(f), fmt):
                yield Fail(
                    f"replicates from {_described(upstream)}, but {_cannot_load(server_of(f), fmt)}: every "
                    "full sync fails (only a partial resync from the backlog still works)",
                    target=f.target,
                )
        # A failover to a replica on a newer format leaves the older nodes unable to resync.
        for candidate in servers:
            fmt = formats[candidate.target]
            if candidate.info.get("role") != "slave" or fmt is None or not _promotable(candidate):
                continue
            cut = [
                o.target
                for o in servers
                if o is not candidate and formats[o.target] is not None and not loads_rdb(server_of(o), fmt)
            ]
            if cut:
                yield Fail(
                    f"group {group['name']} runs mixed servers: if Sentinel promotes "
                    f"{_described(candidate)}, {', '.join(cut)} cannot resync from it until they run a "
                    f"server that loads format {fmt} (expected while the group moves to the newer server: "
                    "finish the move)",
                    severity=Severity.LOW,
                    target=candidate.target,
                )
    if not judged:
        if unknown:
            raise Skip(f"the kit does not know the RDB format of {', '.join(sorted(set(unknown)))}")
        raise Skip("no replica was read that follows a server of its group")


@check(
    "HA-12",
    area="high-availability",
    scope="cluster",
    severity=Severity.INFO,
    title="Each group's primary writes snapshots Valkey can load, so the group can move to Valkey",
    rationale="A group moves from Redis to Valkey by replication (playbooks/migrate_flavor.yml): Valkey "
    "replicas sync from the Redis primary, then one takes over. Redis 7.2 and older write RDB format 11 or "
    "less, which Valkey 7.2 and 8.x load. Redis 7.4 and 8 write format 12, which no Valkey loads (Valkey "
    "reserves 12-79 for Redis's own formats), and neither do DUMP payloads or backups taken from them: "
    "such a group has no way to Valkey but a copy key by key with ordinary commands. For information: it "
    "matters only to a group meant to move to Valkey (waive it for the others).",
    bad="redis_version:8.0.2  # primary of group redis-main: RDB format 12",
    good="redis_version:7.0.15  # RDB format 10 (or 7.2.x: 11); or already server_name:valkey",
    remediation="Keep such a group on Redis (redis_server_flavor: redis). To move it anyway, copy the data "
    "with a tool that reads every key and writes it with ordinary commands into a new Valkey group, with "
    "writes stopped, then point the clients at the new group; replication, DUMP/RESTORE and restoring a "
    "backup all fail on the format.",
    source="redis/librdb src/redisver.h (Redis 7.4 to 8.4 write RDB 12); valkey-io/valkey src/rdb.h (RDB 11 "
    "for Valkey 7.x and 8.x, 12-79 reserved for Redis)",
    applies_to="groups whose primary runs Redis 7.4 or later (RDB format 12 and up); Redis 7.2 and older "
    "and Valkey primaries pass",
)
def group_can_move_to_valkey(cluster: ClusterFacts, ctx: Context):
    if not cluster.groups:
        raise Skip("the inventory defines no Sentinel group")
    judged, unknown = 0, []
    valkey = newest_known(VALKEY)
    for group in cluster.groups:
        primaries = [f for f in _servers_of(cluster, group) if not f.error and is_primary(f)]
        if len(primaries) != 1:
            continue  # HA-06 reports a group without exactly one primary
        primary = primaries[0]
        server = server_of(primary)
        fmt = rdb_format(server)
        if fmt is None:
            unknown.append(_described(primary))
            continue
        judged += 1
        if server.flavor == REDIS and not loads_rdb(valkey, fmt):
            yield Fail(
                f"group {group['name']}: its primary {primary.target} runs {server}, which writes RDB format "
                f"{fmt}; no Valkey loads a Redis format above 11, so the group cannot move to Valkey by "
                "replication, DUMP/RESTORE or its backups (Redis 7.2 and older to Valkey is the supported "
                "path)",
                target=f"group:{group['name']}",
            )
    if not judged:
        if unknown:
            raise Skip(f"the kit does not know the RDB format of {', '.join(unknown)}")
        raise Skip("no group has exactly one primary that was read")


# ---- Sentinel's own state ------------------------------------------------------------------


@check(
    "HA-13",
    area="high-availability",
    scope="sentinel",
    severity=Severity.HIGH,
    title="Sentinel is not in TILT mode",
    rationale="Sentinel enters TILT when its timer sees time jump (the process was blocked, the machine "
    "paused, or the system clock changed): it then keeps watching but takes no action, so a primary "
    "failing during TILT is not failed over. It leaves TILT after 30 s of normal timing; a sentinel "
    "found in TILT is either still paused again and again or was just hit by a jump worth finding.",
    bad="sentinel_tilt:1\nsentinel_tilt_since_seconds:12",
    good="sentinel_tilt:0\nsentinel_tilt_since_seconds:-1",
    remediation="Find what pauses the sentinel process or moves the clock: the sentinel's log (+tilt and "
    "-tilt events), a VM being migrated or starved of CPU, an NTP step instead of a slew (use chrony or "
    "systemd-timesyncd, which slew). Threshold: sentinel_tilt_grace_s (a TILT younger than this passes).",
    source="Redis docs, Sentinel (TILT mode: entered when the timer sees time jump, no action is taken while "
    "in TILT, left after 30 s); INFO of a sentinel (sentinel_tilt, sentinel_tilt_since_seconds, Redis 7.0)",
)
def sentinel_not_in_tilt(facts: SentinelFacts, ctx: Context):
    if "sentinel_tilt" not in facts.info:
        raise Skip("the sentinel's INFO has no sentinel_tilt")
    if _int(facts.info.get("sentinel_tilt")) != 1:
        return
    since = _int(facts.info.get("sentinel_tilt_since_seconds"), -1)
    if 0 <= since < ctx.thresholds.sentinel_tilt_grace_s:
        return
    how_long = f" for {since} s" if since >= 0 else ""
    yield Fail(
        f"the sentinel is in TILT mode{how_long}: it takes no action, a failing primary is not failed over"
    )


def _promotable_why_not(replica: dict) -> str:
    """Why Sentinel would not promote this replica as SENTINEL REPLICAS shows it ('' when it would)."""
    flags = set(str(replica.get("flags", "")).split(","))
    down = sorted(flags & {"s_down", "o_down", "disconnected"})
    if down:
        return ",".join(down)
    if str(replica.get("master-link-status", "")).lower() != "ok":
        return f"master-link-status {replica.get('master-link-status', '?')}"
    priority = replica.get("replica-priority", replica.get("slave-priority"))
    if priority is not None and _int(priority, 100) == 0:
        return "replica-priority 0"
    return ""


@check(
    "HA-14",
    area="high-availability",
    scope="sentinel",
    severity=Severity.CRITICAL,
    title="Every monitored group has a replica Sentinel can promote",
    rationale="A failover promotes one replica: Sentinel skips replicas it sees down or disconnected, "
    "whose link to the primary is down (their data is stale), and those with replica-priority 0. With "
    "none left, the primary's failure ends in -failover-abort-no-good-slave: the group has no primary "
    "until one comes back by hand.",
    bad="SENTINEL REPLICAS redis-main\n  flags s_down,slave ...\n  flags slave, slave-priority 0 ...",
    good="SENTINEL REPLICAS redis-main\n  flags slave, master-link-status ok, slave-priority 100",
    remediation="Bring the replicas back (systemctl status redis-server@main, HA-01 for their links); give "
    "at least one a non-zero priority (redis_server_replica_priority, CONFIG SET replica-priority 100). "
    "Threshold: min_promotable_replicas.",
    source="Redis docs, Sentinel (replica selection: replicas disconnected, in SDOWN, with a stale link or "
    "replica-priority 0 are not promoted); Redis docs, SENTINEL REPLICAS",
)
def promotable_replica(facts: SentinelFacts, ctx: Context):
    if not facts.masters:
        raise Skip("this sentinel monitors no group")
    need = ctx.thresholds.min_promotable_replicas
    for name in sorted(facts.masters):
        replicas = facts.replicas.get(name, [])
        reasons = {
            str(r.get("name") or f"{r.get('ip')}:{r.get('port')}"): _promotable_why_not(r) for r in replicas
        }
        good = [n for n, why in reasons.items() if not why]
        if len(good) >= need:
            continue
        seen = "; ".join(f"{n} {why}" for n, why in sorted(reasons.items()) if why) or "no replica at all"
        yield Fail(
            f"group {name} has {len(good)} promotable replica(s), below {need}: {seen}; a failover aborts"
        )


@check(
    "HA-15",
    area="high-availability",
    scope="redis",
    severity=Severity.HIGH,
    title="no client wrote to a replica since the previous run (errorstat_READONLY did not rise)",
    rationale="A replica (replica-read-only yes) answers writes with READONLY. Clients that get it write "
    "to the wrong node: an address of a server that a failover demoted, kept in a connection pool or a "
    "configuration file, instead of asking Sentinel for the primary. After every failover they lose "
    "writes until they are restarted. INFO errorstats counts the READONLY replies until a restart or "
    "CONFIG RESETSTAT: the rise since the previous run is judged, and only while the server kept its "
    "role (a failover turns away the writes in flight once, which is expected); without a previous run "
    "the check is skipped.",
    bad="role:slave  errorstat_READONLY:count=4200  # 0 at the previous run",
    good="role:slave  errorstat_READONLY:count=0  # clients ask Sentinel for the primary",
    remediation="Make the applications discover the primary through Sentinel (SENTINEL "
    "GET-MASTER-ADDR-BY-NAME, a Sentinel-aware client) and reconnect when a READONLY error or a failover "
    "tells them the role changed (docs/clients.md); CLIENT LIST on the replica names the writers (addr, "
    "name). Adjust readonly_errors_max in redis_compliance_thresholds.",
    source="Redis docs, replication (read-only replicas reject writes) and Sentinel client guidelines "
    "(clients ask Sentinel for the primary and reconnect after a failover); INFO (errorstats)",
)
def readonly_errors(facts: RedisFacts, ctx: Context):
    if not keeps_errorstats(facts):
        raise Skip("INFO has no errorstats (total_error_replies): before Redis 6.2")
    refused = error_replies(facts, "READONLY", ctx)
    if refused.amount > ctx.thresholds.readonly_errors_max:
        # Every failover turns away the writes of clients still on the demoted primary until they
        # reconnect: a burst that says nothing about the clients. What counts is READONLY while
        # the server kept its role, which needs a previous run to compare with.
        if not has_baseline(facts):
            raise Skip(
                f"{refused.amount} READONLY replies {refused.since}: without a previous run of this "
                "server they cannot be told from those a failover turns away (clients still on the demoted "
                "primary); judged from the next run with --state on"
            )
        if facts.since.get("role_changed"):
            raise Skip(
                f"{refused.amount} READONLY replies {refused.since}, when the server changed role "
                "(a failover): "
                "clients still on the demoted primary were turned away until they reconnected"
            )
        now = " (the primary now: a replica when they were refused)" if is_primary(facts) else ""
        yield Fail(
            f"{refused.amount} write{'s' if refused.amount != 1 else ''} refused with READONLY "
            f"{refused.since} (above {ctx.thresholds.readonly_errors_max}){now}: clients write to a node "
            "that is not the primary"
        )
