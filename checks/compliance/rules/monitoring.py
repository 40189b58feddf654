"""Checks: monitoring (exporter, monitoring users)."""

from __future__ import annotations

from redisops.compliance.facts import HostFacts, RedisFacts, SentinelFacts, acl_users
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


@check(
    "MON-01",
    area="monitoring",
    scope="host",
    severity=Severity.CRITICAL,
    title="A Prometheus exporter listens on every Redis host",
    rationale="Without an exporter nobody sees memory filling up, replication breaking or a failover "
    "happening until clients fail. Alerts need metrics first.",
    bad="ss -tln: nothing on :9121",
    good="ss -tln: 10.0.0.5:9121 redis_exporter",
    remediation="Run playbooks/monitoring.yml (site.yml includes it): role redis_exporter runs one exporter "
    "per instance, logging in as the monitoring ACL user (redis_server_monitoring_user), on port "
    "redis_exporter_port_base (9121); 'redisops monitoring targets' writes Prometheus's scrape targets. "
    "Another exporter on another port: set the exporter_port threshold.",
    source="redis_exporter; awesome-prometheus-alerts and redis-mixin alert rules",
)
def exporter_listens(facts: HostFacts, ctx: Context):
    if not _redis_host(facts, ctx):
        raise Skip("no Redis server on this host")
    port = ctx.thresholds.exporter_port
    if not any(int(sock.get("port", 0)) == port for sock in facts.listening):
        yield Fail(f"nothing listens on port {port}: no exporter, Redis on {facts.target} is not monitored")


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
