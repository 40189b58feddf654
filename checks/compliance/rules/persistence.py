"""Checks: persistence (RDB and AOF on, healthy, recent; no auto-restart without them)."""

from __future__ import annotations

from redisops.compliance.facts import RedisFacts, as_float, config_yes, is_primary
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context


def _save_rules(facts: RedisFacts) -> str:
    """CONFIG GET save: "3600 1 300 100", or "" when RDB snapshots are off."""
    return str(facts.config.get("save", "")).strip()


def _aof_on(facts: RedisFacts) -> bool:
    if "appendonly" in facts.config:
        return config_yes(facts, "appendonly")
    return as_float(facts.info.get("aof_enabled")) == 1


def _age(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


@check(
    "PER-01",
    area="persistence",
    scope="redis",
    severity=Severity.HIGH,
    title="RDB snapshots or AOF are on",
    rationale="Without either, a restart or crash loses every key, and a failover promotes a replica that "
    "holds the only copy. An instance the inventory declares non-persistent (a cache) is not judged; "
    "the fsync policy of the AOF is PER-05's.",
    bad='save ""\nappendonly no',
    good="save 3600 1 300 100 60 10000\nappendonly yes\nappendfsync everysec",
    remediation="Set redis_server_save (a list of {seconds, changes}) and/or redis_server_appendonly: true "
    "and rerun site.yml; live: CONFIG SET appendonly yes (rewrites the AOF in the background), then "
    "CONFIG REWRITE.",
    source="Redis docs, persistence (RDB and AOF); Redis docs, admin",
)
def persistence_on(facts: RedisFacts, ctx: Context):
    if _save_rules(facts) or _aof_on(facts):
        return
    if facts.expected.get("persistent") is False:
        raise Skip("the inventory declares this instance non-persistent (save [] and appendonly false)")
    expected = " although the inventory expects persistence" if facts.expected.get("persistent") else ""
    yield Fail(f"no RDB save rules and appendonly no{expected}: a restart loses every key")


@check(
    "PER-02",
    area="persistence",
    scope="redis",
    severity=Severity.CRITICAL,
    title="the last RDB save, AOF rewrite and AOF write succeeded",
    rationale="A failed BGSAVE (disk full, permissions, fork refused by the kernel) or AOF write means the "
    "data on disk is stale while clients believe it is safe; with stop-writes-on-bgsave-error Redis "
    "also starts refusing writes.",
    bad="rdb_last_bgsave_status:err\naof_last_write_status:err",
    good="rdb_last_bgsave_status:ok\naof_last_bgrewrite_status:ok\naof_last_write_status:ok",
    remediation="Read the Redis log (/var/log/redis) for the cause: free disk space in the data directory, "
    "fix its ownership, or set vm.overcommit_memory=1 (redis_server_tune_kernel); then run BGSAVE "
    "(and BGREWRITEAOF) and check INFO persistence again.",
    source="Redis docs, persistence (stop-writes-on-bgsave-error, AOF write errors); Netdata's "
    "redis_bgsave_broken alert (the last RDB save failed)",
)
def persistence_status(facts: RedisFacts, ctx: Context):
    bad = [
        f"{name}:{facts.info[name]}"
        for name in ("rdb_last_bgsave_status", "aof_last_bgrewrite_status", "aof_last_write_status")
        if name in facts.info and str(facts.info[name]).lower() != "ok"
    ]
    if bad:
        yield Fail(f"{', '.join(bad)}: the data on disk is not what clients wrote (see the Redis log)")


def _offhost_backup(facts: RedisFacts, ctx: Context) -> tuple[bool, list[str]]:
    """(judged, problems) for the group of a persistent primary, from the backup hosts' metrics."""
    cluster, limit = ctx.cluster, ctx.thresholds.backup_max_age_s
    if cluster is None or not cluster.backup_facts_gathered or limit <= 0 or not is_primary(facts):
        return False, []
    if facts.expected.get("persistent") is False:
        return False, []
    group = facts.expected.get("group") or facts.instance
    if not cluster.backups:
        return True, [
            f"no host in inventory group redis_backup: group {group} has no off-host backup the kit knows of "
            "(add a host that runs no Redis to group redis_backup, "
            "then 'ansible-playbook playbooks/backup_timer.yml')"
        ]
    read = [b for b in cluster.backups if not b.error]
    if not read:
        return False, []  # every backup host is unreachable: GATHER-BACKUP-HOST says so
    newest, where, failed = 0.0, "", []
    for b in read:
        series = b.groups.get(group, {})
        if series.get("ok") == 0:
            failed.append(b.target)
        if series.get("last_success", 0.0) > newest:
            newest, where = series["last_success"], b.target
    now = max(b.now for b in read) or (cluster.gathered_at or 0.0)
    last_run = (
        f"; the last run failed on {', '.join(failed)} (journalctl -u redisops-backup)" if failed else ""
    )
    if newest <= 0:
        hosts = ", ".join(f"{b.target}:{b.textfile}" + ("" if b.exists else " (missing)") for b in read)
        first = (
            ": set them up with 'ansible-playbook playbooks/backup_timer.yml', then take a first backup "
            "with 'ansible-playbook playbooks/backup.yml'"
            if not any(b.exists for b in read)
            else ": take one now with 'ansible-playbook playbooks/backup.yml'"
            if not failed
            else ""
        )
        return True, [
            f"group {group} has no good off-host backup on any backup host ({hosts}){last_run}{first}"
        ]
    age = now - newest
    if age > limit:
        return True, [
            f"the newest off-host backup of group {group} (on {where}) is {_age(age)} old "
            f"(limit {_age(limit)}){last_run}"
        ]
    return True, []


@check(
    "PER-03",
    area="persistence",
    scope="redis",
    severity=Severity.CRITICAL,
    title="the last RDB snapshot and the newest off-host backup are younger than policy",
    rationale="Snapshots are what backups copy and what a restart without AOF loads: an old one means "
    "days of writes are lost. A backup on the Redis hosts alone goes with the host, so each persistent "
    "group's primary is also judged by the newest good backup the backup hosts (group redis_backup) "
    "report in the redis_backup role's metrics file. The snapshot is judged on instances with save "
    "rules and changes since their last save; the backups only when host facts are gathered.",
    bad="rdb_last_save_time:1700000000  # 3 days ago, rdb_changes_since_last_save:48210\n"
    'redisops_backup_last_success_timestamp_seconds{group="main"} 1700000000  # 3 days ago',
    good="rdb_last_save_time within the last hours (save 3600 1); the last backup of each group "
    "within the last hours (redis_backup_schedule: hourly)",
    remediation="Check PER-02 and the Redis log for failing saves, keep redis_server_save rules that fire "
    "at least daily, and run BGSAVE now; confirm with LASTSAVE. For backups: put a host in group "
    "redis_backup and run playbooks/backup_timer.yml, read 'journalctl -u redisops-backup' on it for "
    "the failure, and take one now with playbooks/backup.yml. Thresholds: last_save_max_age_s, "
    "backup_max_age_s (0 when backups are taken by other means).",
    source="Redis docs, persistence (backing up Redis data: hourly and daily snapshots, copied off the "
    "host); awesome-prometheus-alerts (RedisMissingBackup: no save in 24 hours)",
)
def last_save_age(facts: RedisFacts, ctx: Context):
    problems, skipped = [], ""
    now = ctx.cluster.gathered_at if ctx.cluster is not None else 0.0
    saved = as_float(facts.info.get("rdb_last_save_time"))
    if not _save_rules(facts):
        skipped = "no RDB save rules: snapshot age is not judged (PER-01 covers persistence)"
    elif now <= 0 or saved <= 0:
        skipped = "no gathering time or no rdb_last_save_time"
    else:
        age, limit = now - saved, ctx.thresholds.last_save_max_age_s
        changes = int(as_float(facts.info.get("rdb_changes_since_last_save")))
        if age > limit and changes > 0:
            problems.append(
                f"the last successful RDB save was {_age(age)} ago "
                f"(limit {_age(limit)}) and {changes} changes are not on disk since"
            )
    judged, backup_problems = _offhost_backup(facts, ctx)
    if skipped and not judged:
        raise Skip(skipped)
    for message in problems + backup_problems:
        yield Fail(message)


@check(
    "PER-04",
    area="persistence",
    scope="redis",
    severity=Severity.HIGH,
    title="a primary without persistence is not left to restart automatically",
    rationale="A primary without RDB or AOF that restarts (systemd Restart=on-failure) comes back empty "
    "before Sentinel fails over, and its replicas then copy the empty dataset: everything is lost. "
    "The unit's restart policy is not among the gathered facts, so this is judged from the config and the "
    "inventory: an instance the inventory declares non-persistent is a cache on purpose, and the kit's unit "
    "then has Restart=no.",
    bad='save ""\nappendonly no  # on the primary, unit Restart=on-failure',
    good="appendonly yes  # or, for a pure cache, the unit has Restart=no",
    remediation="Turn persistence on (redis_server_save, redis_server_appendonly), or, for a cache, declare "
    "the instance non-persistent in the inventory (no save rules, appendonly false: this check then skips "
    "it) and keep redis_server_restart_on_failure: auto, which renders Restart=no for it.",
    source="Redis docs, replication (safety of replication when master has persistence turned off)",
)
def no_restart_without_persistence(facts: RedisFacts, ctx: Context):
    if not is_primary(facts):
        return
    if _save_rules(facts) or _aof_on(facts):
        return
    if facts.expected.get("persistent") is False:
        raise Skip(
            "the inventory declares this instance non-persistent (a cache on purpose): the kit's unit then "
            "has Restart=no"
        )
    yield Fail(
        "the primary has no RDB save rules and appendonly no: if it restarts automatically it comes back "
        "empty and its replicas copy the empty dataset (the unit's Restart= policy was not gathered)"
    )


@check(
    "PER-05",
    area="persistence",
    scope="redis",
    severity=Severity.MEDIUM,
    title="the AOF is fsynced every second (appendfsync everysec or always)",
    rationale="appendfsync no leaves flushing to the kernel, typically every 30 s: a power loss or kernel "
    "crash loses that much acknowledged writes. everysec bounds the loss to about one second at little cost.",
    bad="appendonly yes\nappendfsync no",
    good="appendonly yes\nappendfsync everysec",
    remediation="Set redis_server_appendfsync: everysec and rerun site.yml; live: CONFIG SET appendfsync "
    "everysec, then CONFIG REWRITE.",
    source="Redis docs, persistence (AOF fsync policies)",
)
def aof_fsync(facts: RedisFacts, ctx: Context):
    if not _aof_on(facts):
        return
    policy = str(facts.config.get("appendfsync", "")).lower()
    if policy not in ("everysec", "always"):
        yield Fail(
            f"appendfsync {policy or '(unset)'} with the AOF on: "
            "up to ~30 s of writes are lost on a power loss"
        )


@check(
    "PER-06",
    area="persistence",
    scope="redis",
    severity=Severity.MEDIUM,
    title="writes stop when a snapshot fails (stop-writes-on-bgsave-error yes)",
    rationale="With RDB save rules and stop-writes-on-bgsave-error no, Redis keeps accepting writes after "
    "BGSAVE starts failing, so nobody notices the snapshots (and the backups built on them) are stale.",
    bad="save 3600 1\nstop-writes-on-bgsave-error no",
    good="save 3600 1\nstop-writes-on-bgsave-error yes",
    remediation="Set redis_server_stop_writes_on_bgsave_error: true and rerun site.yml; live: CONFIG SET "
    "stop-writes-on-bgsave-error yes, then CONFIG REWRITE.",
    source="Redis default redis.conf (SNAPSHOTTING); Redis docs, persistence",
)
def stop_writes_on_bgsave_error(facts: RedisFacts, ctx: Context):
    if not _save_rules(facts):
        return
    if not config_yes(facts, "stop-writes-on-bgsave-error"):
        value = facts.config.get("stop-writes-on-bgsave-error", "(unset)")
        yield Fail(f"stop-writes-on-bgsave-error {value} with save rules '{_save_rules(facts)}'")


@check(
    "PER-07",
    area="persistence",
    scope="redis",
    severity=Severity.HIGH,
    title="Transactions in the AOF survive a restart (the default user keeps its rights while off)",
    rationale="A restart replays the AOF as the default user, and EXEC checks that user's rights again "
    "before it runs each queued command. A default user switched off the usual way ('user default off', "
    "with no commands) fails that check: every MULTI/EXEC in the AOF, and every script or function that "
    "wrote more than one key (they are written as MULTI/EXEC), is dropped without an error, while the "
    "plain writes around them load. Switching the default user off already keeps clients out; it can "
    "keep every right without letting anyone in.",
    bad="user default off resetchannels -@all\nappendonly yes",
    good="user default off ~* &* +@all  # off: no client can be it\nappendonly yes",
    remediation="Rerun site.yml (the redis_server role writes 'user default off ~* &* +@all'); live: "
    "ACL SETUSER default off ~* &* +@all, then ACL SAVE. Servers with the upstream fix (redis/redis#14545, "
    "valkey-io/valkey#3984) no longer check rights while loading, and pass either way.",
    source="redis/redis GitHub report #14541 and pull request #14545 (EXEC re-checks ACL while the AOF "
    "loads; transactions lost); valkey-io/valkey report #3983 (disabling the default user loses AOF "
    "transactions)",
)
def aof_transactions_survive(facts: RedisFacts, ctx: Context):
    from redisops.compliance.facts import acl_users
    from redisops.compliance.rules.security import enabled, grants_all

    if not _aof_on(facts):
        raise Skip("appendonly no: no AOF is replayed at a restart")
    if facts.unread or not facts.acl:
        raise Skip(f"ACL LIST was not read{': ' + facts.unread if facts.unread else ''}")
    rules = acl_users(facts.acl).get("default")
    if rules is None or enabled(rules) or grants_all(rules):
        return
    yield Fail(
        "user default is off without every command ('"
        + " ".join(rules)
        + "') and appendonly is yes: the MULTI/EXEC blocks in the AOF are dropped when it is replayed"
    )
