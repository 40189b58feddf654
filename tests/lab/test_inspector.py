"""Issue 20 on the lab: the checks' network users cannot read masterauth or the hashes, the
on-host reader reads them masked, the scheduled run still evaluates the configuration checks,
and the scheduled run's key can run the reader and nothing else."""

from __future__ import annotations

import json

import pytest
import redis

from .conftest import lab_ssh, playbook_failure, run_playbook
from .test_compliance import deployed  # noqa: F401 - the module fixture: site.yml once
from .test_redis_server import client, secret

pytestmark = pytest.mark.lab

READER = "/usr/local/libexec/redisops-inspect"
# Configuration checks: they need CONFIG GET (SEC-06 TLS, SEC-10 DEBUG/MODULE) or ACL LIST (SEC-01).
CONFIG_CHECKS = ("SEC-01", "SEC-06", "SEC-10", "SEC-13")
KEY = "/etc/redisops/inspect/id_ed25519"
KNOWN_HOSTS = "/etc/redisops/inspect/known_hosts"


def _secrets(lab_paths) -> list[str]:
    names = ("redis_admin", "redis_app", "redis_mon", "redis_compliance")
    return [secret(lab_paths, n) for n in names if (lab_paths.state_dir / "secrets" / n).exists()]


def test_the_compliance_user_gets_noperm_for_config_get_and_acl_list(deployed, lab_paths):  # noqa: F811
    host = deployed.hosts[0]
    checker = client(
        lab_paths, host.address, user="compliance", password=secret(lab_paths, "redis_compliance")
    )
    for command in (("CONFIG", "GET", "masterauth"), ("CONFIG", "GET", "*"), ("ACL", "LIST")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            checker.execute_command(*command)
    assert checker.info("server")  # what it is for still works


def test_the_reader_run_as_root_prints_no_secret(deployed, lab_paths):  # noqa: F811
    for host in deployed.hosts:
        proc = lab_ssh(host.name, READER)
        data = json.loads(proc.stdout)
        assert data["error"] == "" and data["targets"], proc.stdout
        assert all(t["error"] == "" for t in data["targets"]), data
        text = proc.stdout
        for value in _secrets(lab_paths):
            assert value not in text
        password = lab_ssh(host.name, "cat /etc/redis-ops-kit/inspect/inspector.pass").stdout.strip()
        assert password and password not in text
        redis_targets = [t for t in data["targets"] if t["kind"] == "redis"]
        assert all(t["config"]["masterauth"] in ("(set)", "") for t in redis_targets)
        assert not [w for t in data["targets"] for line in t["acl"] for w in line.split()
                    if w.startswith("#") and len(w) == 65]  # fmt: skip


def test_the_inspector_is_no_drift(deployed):  # noqa: F811
    proc = run_playbook("playbooks/site.yml", "--check", "--diff")
    assert proc.returncode == 0, playbook_failure(proc)
    assert "user inspector" not in proc.stdout


@pytest.fixture(scope="module")
def scheduled(deployed):  # noqa: F811
    proc = run_playbook("playbooks/compliance_timer.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    return deployed, deployed.hosts[-1].name  # group redis_compliance


def test_the_scheduled_run_still_evaluates_the_configuration_checks(scheduled):
    _, monitoring = scheduled
    lab_ssh(monitoring, "systemctl start redisops-check.service")
    report = json.loads(lab_ssh(monitoring, "cat /var/lib/redisops/last.json").stdout)
    results = [r for r in report["results"] if r["check"] in CONFIG_CHECKS]
    assert results and all(r["status"] in ("pass", "fail", "waived") for r in results), results
    assert not [r for r in report["results"] if r["check"] == "GATHER-PARTIAL"], report["results"]
    assert not [n for n in report.get("notes", []) if "not read" in n]


def test_the_forced_command_key_runs_the_reader_and_nothing_else(scheduled):
    lab, monitoring = scheduled
    target = lab.hosts[0]  # another host than the scheduled run's
    ssh = (
        f"setpriv --reuid=redisops --regid=redisops --clear-groups -- ssh -T -i {KEY} -o BatchMode=yes "
        f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={KNOWN_HOSTS} redisops-inspect@{target.address}"
    )
    asked = lab_ssh(monitoring, f"{ssh} id", check=False)
    # Whatever is asked, the reader answers: 'id' never runs.
    assert "uid=" not in asked.stdout
    assert json.loads(asked.stdout)["targets"], asked.stdout + asked.stderr
    shell = lab_ssh(
        monitoring, f"{ssh} 'sh -c \"cat /etc/redis-ops-kit/inspect/inspector.pass\"'", check=False
    )
    assert json.loads(shell.stdout)["targets"]
    password = lab_ssh(target.name, "cat /etc/redis-ops-kit/inspect/inspector.pass").stdout.strip()
    assert password not in shell.stdout
    # No port forwarding (restrict): the server refuses a remote forward when it is set up, and
    # the client gives up (255) instead of holding the session (timeout: 124).
    forward = lab_ssh(
        monitoring,
        f"timeout 20 {ssh} -N -R 16379:127.0.0.1:6379 -o ExitOnForwardFailure=yes",
        check=False,
    )
    assert forward.returncode not in (0, 124), forward.stdout + forward.stderr


def test_the_scheduled_runs_user_alone_reads_its_key(scheduled):
    _, monitoring = scheduled
    stat = lab_ssh(monitoring, f"stat -c '%U %a' {KEY}").stdout.split()
    assert stat == ["redisops", "400"]
