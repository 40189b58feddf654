"""Checks: monitoring (exporter, monitoring users)."""

from __future__ import annotations

from redisops.compliance.facts import HostFacts, RedisFacts, SentinelFacts, acl_users, as_float
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.rules.security import acl_allows, dangerous_allowed, enabled, kit_users
from redisops.compliance.settings import Context

# Representative writes with their ACL categories: any of them allowed means the user can write.
WRITES = {
    "set": ("write", "string", "slow"),
    "del": ("keyspace", "write", "slow"),
    "expire": ("keyspace", "write", "fast"),
    "hset": ("write", "hash", "fast"),
    "lpush": ("write", "list", "fast"),
    "zadd": ("write", "sortedset", "fast"),
}


def _redis_host(facts: HostFacts, ctx: Context) -> bool:
    cluster = ctx.cluster
    if cluster is not None and cluster.redis:
        return any(r.host == facts.target for r in cluster.redis)
    return any(str(u).startswith(("redis-server", "valkey-server")) for u in facts.expected.get("units", []))


def _watched(exporter: dict) -> str:
    """What an exporter watches, for a message: Redis instance main, Sentinel, the host."""
    kind, name = str(exporter.get("kind", "")), str(exporter.get("name", ""))
    if kind == "redis":
        return f"Redis instance {name.removeprefix('redis-')}" if name.startswith("redis-") else "Redis"
    return {"sentinel": "Sentinel", "node": "the host"}.get(kind, name or "it")


@check(
    "MON-01",
    area="monitoring",
    scope="host",
    severity=Severity.CRITICAL,
    title="Every exporter the inventory deploys on a host listens",
    rationale="Without an exporter nobody sees memory filling up, replication breaking or a failover "
    "happening until clients fail. Alerts need metrics first: the redis_exporter role runs one exporter "
    "per Redis instance, one for Sentinel and node_exporter on each host, and each one missing is a blind "
    "spot (a second instance, the Sentinel view, the host's disk and memory).",
    bad="ss -tln: 9121 only, on a host with two instances, a Sentinel and node_exporter expected",
    good="ss -tln: 9121, 9122 (redis_exporter), 9355 (Sentinel's), 9100 (node_exporter)",
    remediation="Run playbooks/monitoring.yml (site.yml includes it): role redis_exporter runs one exporter "
    "per instance from redis_exporter_port_base (9121) up, logging in as the monitoring ACL user "
    "(redis_server_monitoring_user), Sentinel's on redis_exporter_sentinel_port (9355) and node_exporter "
    "on redis_exporter_node_port (9100); 'systemctl status' the one that does not listen. Facts without "
    "the inventory's exporters are judged on the exporter_port threshold alone.",
    source="oliver006/redis_exporter (one exporter per Redis instance, and for Sentinel); Prometheus "
    "node_exporter; awesome-prometheus-alerts and redis-mixin (RedisDown: redis_up == 0, from the exporter)",
)
def exporter_listens(facts: HostFacts, ctx: Context):
    listening = {int(as_float(sock.get("port"), -1)) for sock in facts.listening}
    expected = facts.expected.get("exporters")
    if expected is None:  # facts from before the inventory named them: the Redis exporter's port
        if not _redis_host(facts, ctx):
            raise Skip("no Redis server on this host")
        expected = [{"name": "redis_exporter", "kind": "redis", "port": ctx.thresholds.exporter_port}]
    if not expected:
        raise Skip("the inventory deploys no exporter on this host")
    for exporter in expected:
        port = int(as_float(exporter.get("port"), -1))
        if port not in listening:
            yield Fail(
                f"nothing listens on port {port} ({exporter.get('name', 'exporter')}): {_watched(exporter)} "
                f"on {facts.target} is not monitored"
            )


@check(
    "MON-02",
    area="monitoring",
    scope="redis",
    severity=Severity.MEDIUM,
    title="The monitoring user exists, has a password and can only read",
    rationale="Monitoring tools should log in as a dedicated user whose password, stored on more machines "
    "than any other, cannot write, flush or reconfigure anything if it leaks.",
    bad="user monitor on nopass ~* +@all",
    good="user monitor on #<sha256> %R~* -@all +info +ping +slowlog|get +latency|latest ...",
    remediation="Set redis_server_monitoring_password (Ansible Vault) and rerun site.yml: the role creates "
    "the read-only monitoring user (redis_server_monitoring_user). Live: ACL SETUSER monitor on >S3cret... "
    "-@all +info +ping +slowlog|get +latency|latest, then ACL SAVE.",
    source="redis_exporter (ACL for the exporter); Redis docs, ACL",
)
def monitoring_user(facts: RedisFacts, ctx: Context):
    user = kit_users(facts)["monitoring"]
    rules = acl_users(facts.acl).get(user)
    if rules is None:
        yield Fail(f"no {user} user: monitoring must log in as an admin or not at all")
        return
    if not enabled(rules):
        yield Fail(f"user {user} is off: monitoring cannot log in")
    if "nopass" in rules or not any(r.startswith(("#", ">")) for r in rules):
        yield Fail(f"user {user} has no password")
    writes = [c.upper() for c, cats in WRITES.items() if acl_allows(rules, c, cats)]
    if writes:
        yield Fail(f"user {user} may write: {', '.join(writes)}")
    dangerous = dangerous_allowed(rules, read_only_ok=True)
    if dangerous:
        yield Fail(f"user {user} may run {', '.join(dangerous)}")


@check(
    "MON-03",
    area="monitoring",
    scope="sentinel",
    severity=Severity.LOW,
    title="Sentinel has an enabled monitoring user",
    rationale="Sentinel's view (which primary, how many sentinels agree, failovers) is what HA alerts are "
    "built on; a dedicated read-only user lets the exporter read it without the admin password.",
    bad="ACL LIST: no user monitor",
    good="user monitor on #<sha256> &* -@all +@pubsub +@fast +info +sentinel|masters ... -publish",
    remediation="Set redis_sentinel_monitoring_password (Ansible Vault) and rerun site.yml: the "
    "redis_sentinel role creates the read-only monitoring user (redis_sentinel_monitoring_user).",
    source="Redis docs, Sentinel (ACL); redis_exporter",
)
def sentinel_monitoring_user(facts: SentinelFacts, ctx: Context):
    user = kit_users(facts)["monitoring"]
    rules = acl_users(facts.acl).get(user)
    if rules is None:
        yield Fail(f"sentinel has no {user} user")
    elif not enabled(rules):
        yield Fail(f"sentinel user {user} is off")
