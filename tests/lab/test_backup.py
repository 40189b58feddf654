"""Off-host backups and restore on the lab: the timer stores a verified backup taken from a
replica, with its manifest and metrics; a failed run is loud and leaves the store as it was; a
corrupt backup or an unexpected target is refused before anything changes; restore.yml brings a
wiped group back with identical data; the backup drill passes, and fails when the data differ."""

from __future__ import annotations

import json
import math
import re
import time

import pytest

from redisops.backup.digest import digest, expiry_sample, keys_under

from .conftest import SERVER, assert_unchanged, lab_ssh, playbook_failure, recap, run_playbook
from .test_compliance import PROM_LINE, report_of, roles
from .test_redis_sentinel import healthy, wait_for
from .test_redis_server import client

BACKUP_HOST = "backup-1"
STORE_DIR = "/var/lib/redisops-backup/store"
STORE = f"{STORE_DIR}/redis-main"
PYTHON = "PYTHONPATH=/opt/redisops-kit/current/lib python3 -m redisops.cli"


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    """site.yml, then the backup host set up with a timer that fires every 10 s (for the first
    test); the timer is stopped after this module, so later drills measure without backups."""
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy Sentinel group", lambda: healthy(lab_paths, lab.hosts), timeout=60)
    proc = run_playbook(
        "playbooks/backup_timer.yml", "-e", "redis_backup_schedule=*:*:0/10", "-e",
        "redis_backup_randomized_delay_sec=0",
    )  # fmt: skip
    assert proc.returncode == 0, playbook_failure(proc)
    yield lab
    lab_ssh(BACKUP_HOST, "systemctl disable --now redisops-backup.timer", check=False)


def stored(lab_paths) -> list[dict]:
    out = lab_ssh(BACKUP_HOST, f"{PYTHON} backup list --store {STORE_DIR} --format json").stdout
    return json.loads(out)["backups"]


def seed(conn, prefix: str, n: int = 200) -> None:
    """Every type, a share of keys with TTLs."""
    pipe = conn.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"{prefix}str:{i}", f"value-{i}".encode() + bytes([i % 256]))
        if i % 3 == 0:
            pipe.pexpire(f"{prefix}str:{i}", 3_600_000 + i)
    pipe.hset(f"{prefix}hash", mapping={f"f{i}": i for i in range(50)})
    pipe.rpush(f"{prefix}list", *range(100))
    pipe.sadd(f"{prefix}set", *range(100))
    pipe.zadd(f"{prefix}zset", {f"m{i}": i / 7 for i in range(100)})
    pipe.pfadd(f"{prefix}hll", *range(500))
    for i in range(300):
        pipe.xadd(f"{prefix}stream", {"i": i, "payload": "x" * (i % 17)})
    pipe.expire(f"{prefix}hash", 7200)
    pipe.execute()


def test_the_timer_stores_a_verified_backup_from_a_replica(deployed, lab_paths):
    primary, _ = roles(lab_paths, deployed.hosts)
    admin = client(lab_paths, primary.address)
    seed(admin, "app:bk1:")
    admin.execute_command("WAIT", 2, 5000)
    # Snapshot times are whole seconds: only one from a later second surely holds the seed.
    since = math.ceil(time.time())
    found = wait_for(
        "a backup taken by the timer",
        lambda: [m for m in stored(lab_paths) if m["taken_at"] >= since],
        timeout=60,
        interval=2,
    )
    m = found[-1]
    # Taken on a replica, with its manifest.
    assert m["source"]["role"] == "replica" and m["source"]["host"] != primary.name, m
    assert m["keys"] >= 200 + 6 and m["expires"] >= 67, m
    assert m["repl_offset"] > 0 and m["size"] > 0 and len(m["sha256"]) == 64
    # The timer ran it, as its service user.
    show = lab_ssh(BACKUP_HOST, "systemctl show redisops-backup.service -p Result -p User").stdout
    assert "User=redisops-backup" in show and "Result=success" in show, show
    # The stored file is the one in the manifest, and Redis's own checker accepts it.
    path = f"{STORE}/{m['file']}"
    assert lab_ssh(BACKUP_HOST, f"sha256sum {path}").stdout.split()[0] == m["sha256"]
    verify = lab_ssh(
        BACKUP_HOST, f"{PYTHON} backup verify --store {STORE_DIR} --group redis-main --id {m['id']}"
    )
    verdict = json.loads(verify.stdout)
    assert verdict["check"]["ok"] and verdict["check"]["keys"] == m["keys"]
    # Private: the store, the config with its password, the SSH key.
    modes = lab_ssh(
        BACKUP_HOST,
        f"stat -c '%U %a %n' {STORE} {path} /etc/redisops-backup/backup.json /etc/redisops-backup/id_ed25519",
    ).stdout.split("\n")
    assert modes[0].startswith("redisops-backup 750") and modes[1].startswith("redisops-backup 640")
    assert modes[2].startswith("redisops-backup 400") and modes[3].startswith("redisops-backup 400")
    # Metrics for node_exporter: valid text, a fresh success.
    prom = lab_ssh(BACKUP_HOST, "cat /var/lib/prometheus/node-exporter/redisops_backup.prom").stdout
    assert all(PROM_LINE.match(line) for line in prom.splitlines() if not line.startswith("#")), prom
    assert 'redisops_backup_last_run_success{group="redis-main"} 1' in prom
    last = float(re.search(r'last_success_timestamp_seconds\{group="redis-main"\} (\S+)', prom).group(1))
    assert last >= since - 1


def test_the_backup_key_can_only_send_a_dump(deployed):
    """The backup host's key on a Redis host runs the send command and nothing else."""
    ssh = (
        "runuser -u redisops-backup -- ssh -i /etc/redisops-backup/id_ed25519 -o BatchMode=yes "
        "-o UserKnownHostsFile=/etc/redisops-backup/known_hosts root@redis-1"
    )
    out = lab_ssh(BACKUP_HOST, f"{ssh} cat /etc/shadow", check=False).stdout
    assert json.loads(out) == {"error": "usage: send INSTANCE"}
    out = lab_ssh(BACKUP_HOST, f"{ssh} send ../../etc/shadow", check=False).stdout
    assert "is not one this host backs up" in json.loads(out)["error"]


def test_a_failed_run_is_loud_keeps_the_store_and_ages_in_the_checks(deployed, lab_paths, tmp_path):
    lab_ssh(BACKUP_HOST, "systemctl stop redisops-backup.timer")
    before = [m["id"] for m in stored(lab_paths)]
    sources = "/etc/redis-ops-kit/backup-sources.json"
    for host in deployed.hosts:  # every server's dump is now missing, as after a wrong dir
        lab_ssh(host.name, f'cp {sources} {sources}.keep && echo \'{{"main": "/nonexistent"}}\' > {sources}')
    try:
        proc = run_playbook("playbooks/backup.yml")
        assert proc.returncode != 0
        assert "cannot open /nonexistent" in proc.stdout, proc.stdout[-3000:]
        assert lab_ssh(
            BACKUP_HOST, "systemctl is-failed redisops-backup.service", check=False
        ).stdout.strip() == ("failed")
        prom = lab_ssh(BACKUP_HOST, "cat /var/lib/prometheus/node-exporter/redisops_backup.prom").stdout
        assert 'redisops_backup_last_run_success{group="redis-main"} 0' in prom
        assert [m["id"] for m in stored(lab_paths)] == before
        assert not lab_ssh(BACKUP_HOST, f"ls -A {STORE} | grep partial", check=False).stdout
        # The checks read the same metrics from the backup host (PER-03, on the group's primary):
        # the last good backup is still fresh under the default policy, stale under a 1 s one.
        primary, _ = roles(lab_paths, deployed.hosts)
        _, report = report_of("--threshold", "backup_max_age_s=1")
        (found,) = [r for r in report["results"] if r["check"] == "PER-03" and r["status"] == "fail"]
        assert found["target"] == f"{primary.name}:6379" and found["severity"] == "critical", found
        assert "newest off-host backup of group redis-main (on backup-1)" in found["message"], found
        assert "the last run failed on backup-1" in found["message"], found
    finally:
        for host in deployed.hosts:
            lab_ssh(host.name, f"mv {sources}.keep {sources}")
    proc = run_playbook("playbooks/backup.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    _, report = report_of("--dump-facts", str(tmp_path / "facts.json"))
    assert {r["status"] for r in report["results"] if r["check"] == "PER-03"} == {"pass"}, report
    (backups,) = json.loads((tmp_path / "facts.json").read_text())["backups"]
    assert backups["target"] == BACKUP_HOST and backups["exists"], backups
    assert backups["groups"]["redis-main"]["ok"] == 1


def _restore(*extra: str):
    return run_playbook("playbooks/restore.yml", *extra, timeout=900)


def test_restore_refuses_a_corrupt_backup_or_an_unexpected_target(deployed, lab_paths):
    primary, replicas = roles(lab_paths, deployed.hosts)
    admin = client(lab_paths, primary.address)
    before = digest(admin, "app:*")
    proc = _restore()
    assert proc.returncode != 0 and "confirm with -e redis_restore_confirm=redis-main" in proc.stdout
    # Group names from the command line reach the store's path and a command: checked first.
    for variable, value in (("redis_restore_from_group", "../redis-main"), ("redis_restore_confirm", "a;id")):
        proc = _restore("-e", "redis_restore_confirm=redis-main", "-e", f"{variable}={value}")
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert variable in proc.stdout and "is not a Sentinel group name" in proc.stdout, proc.stdout[-3000:]
    proc = _restore(
        "-e", "redis_restore_confirm=redis-main", "-e", f"redis_restore_target={replicas[0].name}"
    )
    assert proc.returncode != 0
    assert f"the primary of redis-main is {primary.name}" in proc.stdout, proc.stdout[-3000:]
    # A backup damaged in the store: one byte changed in the middle.
    assert run_playbook("playbooks/backup.yml").returncode == 0
    newest = stored(lab_paths)[-1]
    path = f"{STORE}/{newest['file']}"
    lab_ssh(
        BACKUP_HOST,
        f"python3 -c \"import sys; f=open('{path}','r+b'); f.seek({newest['size'] // 2}); "
        f'b=f.read(1); f.seek({newest["size"] // 2}); f.write(bytes([b[0] ^ 0xFF]))"',
    )
    proc = _restore("-e", "redis_restore_confirm=redis-main")
    assert proc.returncode != 0
    assert "Restore refused, nothing was changed" in proc.stdout and "is damaged" in proc.stdout, proc.stdout[
        -3000:
    ]
    # Nothing changed: same data, the sentinels still watch the same primary.
    assert digest(admin, "app:*") == before
    assert healthy(lab_paths, deployed.hosts, primary.address)
    lab_ssh(BACKUP_HOST, f"rm {path} {path[:-4]}.json")


def test_restore_brings_a_wiped_group_back_with_identical_data(deployed, lab_paths):
    # The newest backup must be the one taken below: no timer backup after the FLUSHALL, even
    # when this test runs without the first one (which stops the module's 10 s timer).
    lab_ssh(BACKUP_HOST, "systemctl stop redisops-backup.timer")
    primary, _ = roles(lab_paths, deployed.hosts)
    admin = client(lab_paths, primary.address)
    seed(admin, "app:restore:", n=500)
    admin.execute_command("WAIT", 2, 5000)
    want = digest(admin, "*")
    sample = keys_under(admin, "app:restore:str:*")[:60]
    want_expiry = expiry_sample(admin, sample)
    assert sum(1 for v in want_expiry.values() if v > 0) >= 15
    proc = run_playbook("playbooks/backup.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    # The accident: every key gone, on every node (FLUSHALL replicates).
    admin.flushall()
    admin.execute_command("WAIT", 2, 5000)
    assert all(client(lab_paths, h.address).dbsize() == 0 for h in deployed.hosts)

    proc = _restore("-e", "redis_restore_confirm=redis-main")
    assert proc.returncode == 0, playbook_failure(proc)
    # Identical data on every node, expiry times included; the primary did not move.
    wait_for(
        "a healthy Sentinel group", lambda: healthy(lab_paths, deployed.hosts, primary.address), timeout=60
    )
    for host in deployed.hosts:
        conn = client(lab_paths, host.address)
        assert digest(conn, "*") == want, host.name
        assert expiry_sample(conn, sample) == want_expiry, host.name
    restored = client(lab_paths, primary.address)
    # AOF is back on, written from the restored data; the old files were kept aside.
    assert restored.config_get("appendonly") == {"appendonly": "yes"}
    assert restored.info("persistence")["aof_enabled"] == 1
    kept = lab_ssh(primary.name, f"ls {SERVER.data_dir()}").stdout
    assert re.search(r"appendonlydir\.pre-restore-\d{8}T\d{6}Z", kept), kept
    # The unit is the role's again (the one-time start settings are gone) and site.yml agrees.
    assert "restore.conf" not in lab_ssh(primary.name, f"systemctl cat {SERVER.server_unit()}").stdout
    assert_unchanged(run_playbook("playbooks/site.yml"), deployed.hosts)
    assert recap(proc.stdout)[primary.name]["failed"] == 0


def _drill(tmp_path, *extra: str):
    from .conftest import redisops

    out = tmp_path / "drill.json"
    proc = redisops(
        "drill", "backup", "--keys", "3000", "--json", str(out), "--report", str(tmp_path / "drill.html"),
        *extra, check=False, timeout=600,
    )  # fmt: skip
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def test_the_backup_drill_proves_identical_data(deployed, lab_paths, tmp_path):
    proc, result = _drill(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["passed"] and all(c["passed"] for c in result["criteria"]), result["criteria"]
    m = result["measures"]
    # RPO: earlier tests left backups; RTO: a real restore took a measurable time.
    assert m["rpo_s"] is not None and m["rpo_s"] >= 0 and 0 < m["load_s"] <= m["rto_s"]
    assert m["keys_seeded"] >= 2900 and result["restored_digest"] == result["source_digest"]
    assert set(result["source_digest"]["types"]) == {"string", "hash", "list", "set", "zset", "stream"}
    assert "PASS" in (tmp_path / "drill.html").read_text() and "RTO" in proc.stdout
    # The drill's keys are gone again, and no scratch server is left on the backup host.
    primary, _ = roles(lab_paths, deployed.hosts)
    assert not keys_under(client(lab_paths, primary.address), "app:drill:backup:*")
    assert not lab_ssh(BACKUP_HOST, f"pgrep -a {SERVER.server_proc}", check=False).stdout.strip()


def test_the_backup_drill_fails_when_the_restored_data_differ(deployed, tmp_path):
    proc, result = _drill(tmp_path, "--alter-one-key")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = [c["name"] for c in result["criteria"] if not c["passed"]]
    assert failed == ["the content digest equals the source's"], result["criteria"]
    assert "[FAIL] the content digest equals the source's" in proc.stdout


def test_every_redis_host_lost_new_ones_deployed_and_restored_from_the_backup_host(deployed, lab_paths):
    """Disaster recovery: every Redis host is replaced by a new one (no data, no configuration, new
    host keys). site.yml deploys an empty group, backup_timer.yml trusts the new hosts, and
    restore.yml loads the newest off-host backup: the group holds exactly what was backed up."""
    from .conftest import redisops

    primary, _ = roles(lab_paths, deployed.hosts)
    admin = client(lab_paths, primary.address)
    seed(admin, "app:dr:", n=300)
    admin.execute_command("WAIT", 2, 5000)
    want = digest(admin, "*")
    sample = keys_under(admin, "app:dr:str:*")[:40]
    want_expiry = expiry_sample(admin, sample)
    proc = run_playbook("playbooks/backup.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    admin.close()
    old_keys = {
        h.name: lab_ssh(h.name, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout for h in deployed.hosts
    }

    redisops("lab", "rebuild", *(h.name for h in deployed.hosts), timeout=600)
    for host in deployed.hosts:  # new machines: no Redis data, other host keys
        assert lab_ssh(host.name, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout != old_keys[host.name]
        assert lab_ssh(host.name, f"test -e {SERVER.data_dir()}", check=False).returncode != 0
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy Sentinel group", lambda: healthy(lab_paths, deployed.hosts), timeout=60)
    new_primary, _ = roles(lab_paths, deployed.hosts)
    assert client(lab_paths, new_primary.address).dbsize() == 0
    proc = run_playbook("playbooks/backup_timer.yml", "-e", "redis_backup_timer_enabled=false")
    assert proc.returncode == 0, playbook_failure(proc)

    proc = _restore("-e", "redis_restore_confirm=redis-main")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for(
        "a healthy Sentinel group",
        lambda: healthy(lab_paths, deployed.hosts, new_primary.address),
        timeout=60,
    )
    for host in deployed.hosts:
        conn = client(lab_paths, host.address)
        assert digest(conn, "*") == want, host.name
        assert expiry_sample(conn, sample) == want_expiry, host.name
