"""The backup-restore drill: prove that a backup taken the role's way restores to the same data.

1. Seed a dataset of every type (strings, hashes, lists, sets, sorted sets, HyperLogLog,
   streams), a share of the keys with TTLs, under the drill's own key prefix. Only the drill
   writes there, so that part of the keyspace is write-frozen once seeded.
2. Read the source: the content digest, the key count and the expiry times of a sample.
3. Take a backup through the role's own unit on the backup host.
4. Restore it onto a scratch server (the backup's own: redis-server or valkey-server) on the
   backup host and read it back the same way.
5. Compare, and measure RPO (the age of the newest backup before the drill) and RTO (from
   the restore's start to a server that answers with its data loaded).
The drill's keys are deleted afterwards.
"""

from __future__ import annotations

import json
import shlex
import time
import uuid
from collections.abc import Callable

import redis

from redisops.drills.failover import DrillAborted, agreed_primary, remove_keys
from redisops.drills.observe import Hosts
from redisops.drills.targets import DrillTargets


def seed(conn: redis.Redis, prefix: str, keys: int) -> int:
    """About ``keys`` keys of every type; a third of the strings, and every hash, expire."""
    pipe = conn.pipeline(transaction=False)
    strings = max(1, int(keys * 0.7))
    rest = max(1, (keys - strings) // 6)
    for i in range(strings):
        ttl = 3_600_000 + i if i % 3 == 0 else None
        pipe.set(f"{prefix}s:{i}", f"v{i}:".encode() + bytes([i % 256]) * (i % 40), px=ttl)
        if i % 500 == 499:
            pipe.execute()
    for i in range(rest):
        pipe.hset(f"{prefix}h:{i}", mapping={f"f{j}": j * i for j in range(8)})
        pipe.pexpire(f"{prefix}h:{i}", 7_200_000 + i)
        pipe.rpush(f"{prefix}l:{i}", *range(i % 20 + 1))
        pipe.sadd(f"{prefix}set:{i}", *range(i % 20 + 1))
        pipe.zadd(f"{prefix}z:{i}", {f"m{j}": j / 7 for j in range(i % 20 + 1)})
        pipe.pfadd(f"{prefix}hll:{i}", *range(i, i + 50))
        for j in range(i % 10 + 1):
            pipe.xadd(f"{prefix}x:{i}", {"j": j, "p": "x" * j})
        if i % 100 == 99:
            pipe.execute()
    pipe.execute()
    return strings + rest * 6


def _criterion(name: str, passed: bool, measured, expected) -> dict:
    return {"name": name, "passed": bool(passed), "measured": measured, "expected": expected}


def restore_command(t: DrillTargets, ident: str, pattern: str, alter_one_key: bool = False) -> str:
    """The shell line that verifies a restore on the backup host: ``backup scratch`` as the backup
    user in a transient systemd sandbox (no network, writes only to its scratch directory under
    the backup's state directory, the backup copied in, not linked)."""
    from redisops.backup.scratch import sandbox_command

    scratch_dir = f"{t.backup_state_dir}/scratch"
    command = ["/usr/bin/python3", "-m", "redisops.cli", "backup", "scratch", "--store", t.backup_store_dir,
               "--group", t.group, "--id", ident, "--pattern", pattern, "--work-dir", scratch_dir, "--copy",
               *(["--alter-one-key"] if alter_one_key else [])]  # fmt: skip
    env = {"PYTHONPATH": t.backup_runtime, "PYTHONDONTWRITEBYTECODE": "1"}
    return sandbox_command(t.backup_user, scratch_dir, command, env)


def prerequisites_command(t: DrillTargets) -> str:
    """The shell line that prints ``NAME yes|no`` for what the drill needs on the backup host."""
    runtime = shlex.quote(f"{t.backup_runtime}/redisops/cli.py")
    store = shlex.quote(t.backup_store_dir)
    return (
        f"for p in 'runtime:test -f {runtime}' 'unit:systemctl cat redisops-backup.service' "
        f"'store:test -d {store}'; do "
        'if sh -c "${p#*:}" >/dev/null 2>&1; then echo "${p%%:*} yes"; else echo "${p%%:*} no"; fi; done'
    )


_PREREQUISITES = {
    "runtime": "the kit's backup runtime ({runtime})",
    "unit": "redisops-backup.service",
    "store": "the backup store ({store})",
}


def missing_prerequisites(t: DrillTargets, probe_output: str) -> list[str]:
    """What :func:`prerequisites_command` found missing, by name (everything when it printed
    nothing it knows)."""
    seen = dict(line.split(None, 1) for line in probe_output.splitlines() if len(line.split()) == 2)
    names = {"runtime": t.backup_runtime, "store": t.backup_store_dir}
    return [text.format(**names) for key, text in _PREREQUISITES.items() if seen.get(key) != "yes"]


def listed_backups(listing: dict | list) -> list[dict]:
    """The manifests of ``backup list --json``: {"backups": [...]} with the kit's version, or a bare
    list from a backup host that still runs an older kit."""
    return (listing.get("backups") or []) if isinstance(listing, dict) else listing


def backup_drill(
    t: DrillTargets, keys: int, say: Callable[[str], None], alter_one_key: bool = False,
    clock: Callable[[], float] = time.time,
) -> dict:  # fmt: skip
    from redisops.backup.digest import digest
    from redisops.backup.scratch import sample_expiry

    if not t.backup_hosts:
        raise DrillAborted("the inventory has no host in group redis_backup: set up backups first")
    backup_host = t.backup_hosts[0]
    hosts = Hosts(t.inventory)
    missing = missing_prerequisites(t, hosts.run(backup_host, prerequisites_command(t), check=False))
    if missing:
        raise DrillAborted(
            f"{backup_host} is not set up for backups (missing: {', '.join(missing)}): "
            "run 'ansible-playbook playbooks/backup_timer.yml' first"
        )
    store = shlex.quote(t.backup_store_dir)
    group = shlex.quote(t.group)
    runtime = shlex.quote(t.backup_runtime)
    py = f"env PYTHONPATH={runtime} PYTHONDONTWRITEBYTECODE=1 python3 -m redisops.cli backup"
    addr = agreed_primary(t)
    if not addr:
        raise DrillAborted(f"the sentinels do not agree on a primary of {t.group}: heal the group first")
    primary = t.server_at(addr)
    started = clock()
    listing = json.loads(hosts.run(backup_host, f"{py} list --store {store} --group {group} --json") or "[]")
    newest_before = max((m["taken_at"] for m in listed_backups(listing)), default=None)
    rpo = round(started - newest_before, 1) if newest_before else None
    say(f"newest backup before the drill: {f'{rpo:.0f} s old' if rpo is not None else 'none'}")

    prefix = f"{t.key_prefix}backup:{uuid.uuid4().hex[:8]}:"
    app = redis.Redis(host=primary.address, port=primary.port, **t.redis_kwargs(t.app))
    admin = redis.Redis(host=primary.address, port=primary.port, **t.redis_kwargs(t.admin))
    try:
        seeded = seed(app, prefix, keys)
        admin.execute_command("WAIT", len(t.servers) - 1, 10_000)
        say(f"seeded {seeded} keys under {prefix} on {primary.host}")
        source = digest(admin, prefix + "*")
        source_expiry = sample_expiry(admin, prefix + "*")
        seeded_at = clock()

        say(f"backing up through redisops-backup.service on {backup_host}")
        t_backup = clock()
        hosts.run(backup_host, "systemctl start redisops-backup.service", check=False)
        backup_s = clock() - t_backup
        report = json.loads(hosts.run(backup_host, f"cat {shlex.quote(t.backup_state_dir)}/last.json"))
        mine = next((r for r in report["results"] if r["group"] == t.group), None)
        if not mine or not mine["ok"]:
            raise DrillAborted(f"the backup failed: {(mine or {}).get('error', 'no result for the group')}")
        manifest = mine["backup"]
        if manifest["taken_at"] < int(seeded_at):
            raise DrillAborted(f"the backup {manifest['id']} is older than the seeded data")
        say(
            f"stored {manifest['id']} ({manifest['keys']} keys, {manifest['size']} bytes) in {backup_s:.1f} s"
        )

        say(f"restoring it onto a scratch server on {backup_host}, in a systemd sandbox")
        restored = json.loads(
            hosts.run(backup_host, restore_command(t, manifest["id"], prefix + "*", alter_one_key))
        )
        say(f"loaded in {restored['load_s']:.2f} s; restored and verified in {restored['rto_s']:.2f} s")
    finally:
        # Also when the drill failed or was interrupted, and never raising over its error.
        remove_keys(t, prefix + "*", say)
        app.close()
        admin.close()

    differing = sorted(k for k in source_expiry if restored["expiry_sample"].get(k) != source_expiry[k])
    checked = restored["check"]["ok"]
    criteria = [
        _criterion("the stored file matches its manifest (size, SHA-256)", checked, checked, True),
        _criterion(
            "every key of the backup was loaded (loaded + expired on load = the backup's count)",
            restored["keys_loaded"] + restored["keys_expired_on_load"] == manifest["keys"],
            restored["keys_loaded"] + restored["keys_expired_on_load"], manifest["keys"],
        ),
        _criterion("the drill's keys are all there", restored["digest"]["keys"] == source["keys"],
                   restored["digest"]["keys"], source["keys"]),
        _criterion("the content digest equals the source's", restored["digest"]["sha256"] == source["sha256"],
                   restored["digest"]["sha256"][:16], source["sha256"][:16]),
        _criterion("expiry times (PEXPIRETIME) equal on a sample", not differing,
                   f"{len(differing)} of {len(source_expiry)} differ", "0 differ"),
    ]  # fmt: skip
    return {
        "kind": "backup",
        "group": t.group,
        "source": primary.host,
        "backup_host": backup_host,
        "started_at": started,
        "passed": all(c["passed"] for c in criteria),
        "criteria": criteria,
        "measures": {
            "rpo_s": rpo,
            "backup_s": round(backup_s, 3),
            "rto_s": restored["rto_s"],
            "verify_s": restored["verify_s"],
            "load_s": restored["load_s"],
            "keys_seeded": seeded,
            "backup_keys": manifest["keys"],
            "backup_bytes": manifest["size"],
        },
        "backup": manifest,
        "source_digest": source,
        "restored_digest": restored["digest"],
        "altered_key": restored["altered"],
    }


def to_json(result: dict) -> str:
    """The result as it is, with the kit's version first."""
    from redisops.output import to_json as versioned_json

    return versioned_json(result)


def to_text(result: dict) -> str:
    m = result["measures"]
    lines = [
        f"backup drill on {result['group']}: {'PASSED' if result['passed'] else 'FAILED'}",
        f"  backup {result['backup']['id']} from {result['backup']['source']['host']} "
        f"({m['backup_keys']} keys, {m['backup_bytes']} bytes), taken in {m['backup_s']:.1f} s",
        "  RPO (newest backup before the drill): "
        + ("none" if m["rpo_s"] is None else f"{m['rpo_s']:.0f} s"),
        f"  RTO (load {m['load_s']:.2f} s, checksum {m['verify_s']:.2f} s beside it): {m['rto_s']:.2f} s",
    ]
    for c in result["criteria"]:
        lines.append(
            f"  [{'ok' if c['passed'] else 'FAIL'}] {c['name']}: {c['measured']} (expected {c['expected']})"
        )
    return "\n".join(lines)


def to_html(result: dict) -> str:
    from redisops.compliance.report import _jinja

    return _jinja().get_template("drill_backup.html.j2").render(r=result)
