"""Use-case profiles on the lab: one instance per profile beside the main one, deployed by
site.yml from an inventory that names them; each instance's live settings read back; the
profile checks pass on every one; a queue turned into an evicting cache and a session written
without a TTL are each flagged by the right check; then the instances go again."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from redisops.core import profiles

from .conftest import INVENTORY, deploy_site, playbook_failure, redisops, run_playbook
from .test_redis_sentinel import healthy, wait_for
from .test_redis_server import client

PORTS = {
    "cache": 6380,
    "session": 6381,
    "ratelimit": 6382,
    "queue": 6383,
    "leaderboard": 6384,
    "analytics": 6385,
}
MAIN = {"name": "main", "port": 6379}


def _instances(state: str = "present") -> list[dict]:
    return [MAIN] + [
        {"name": f"p-{name}", "port": port, "maxmemory": "32mb", "profile": name, "state": state}
        for name, port in PORTS.items()
    ]


@pytest.fixture(scope="module")
def inventory(lab, lab_paths, tmp_path_factory):
    """The lab inventory with one instance per profile; site.yml deploys it, and at the end the
    same inventory with those instances absent removes them again."""
    deploy_site(lab, lab_paths)
    path = tmp_path_factory.mktemp("profiles") / "inventory"
    (path / "group_vars").mkdir(parents=True)
    (path / "hosts.py").symlink_to(INVENTORY.resolve() / "hosts.py")
    shutil.copytree(INVENTORY / "group_vars" / "all", path / "group_vars" / "all")
    extra = path / "group_vars" / "all" / "profiles.yml"
    extra.write_text(yaml.safe_dump({"redis_server_instances": _instances()}))
    proc = run_playbook("-i", str(path), "playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy Sentinel group", lambda: healthy(lab_paths, lab.hosts), timeout=60)
    yield path
    extra.write_text(yaml.safe_dump({"redis_server_instances": _instances("absent")}))
    proc = run_playbook("-i", str(path), "playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)


def _report(inventory) -> dict:
    proc = redisops("check", "-i", str(inventory), "--format", "json", check=False, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _by(report: dict, check: str) -> dict[str, dict]:
    return {r["target"]: r for r in report["results"] if r["check"] == check}


def test_each_instance_runs_its_profiles_settings(lab, lab_paths, inventory):
    primary = lab.hosts[0].address
    for name, port in PORTS.items():
        p = profiles.profile(name)
        cfg = client(lab_paths, primary, port=port).config_get("*")
        assert cfg["maxmemory-policy"] == p.maxmemory_policy, name
        assert cfg["appendonly"] == ("yes" if p.appendonly else "no"), name
        assert bool(cfg["save"]) is bool(p.save), name
        assert cfg["min-replicas-to-write"] == str(p.min_replicas_to_write), name
        assert cfg["lazyfree-lazy-eviction"] == ("yes" if p.lazyfree else "no"), name


def test_the_profile_checks_pass_then_flag_the_misconfigured(lab, lab_paths, inventory):
    report = _report(inventory)
    for check in ("PRO-01", "PRO-02"):
        results = _by(report, check)
        for port in PORTS.values():
            for host in lab.hosts:
                result = results[f"{host.name}:{port}"]
                assert result["status"] in ("pass", "skipped"), result
        assert {r["status"] for r in results.values()} >= {"pass"}, results
    # The off-host backups cover the main instance (group_vars redis_backup): PER-03 rightly finds
    # none for the persistent profile instances deployed a minute ago. Nothing else is high.
    extra = {f"{h.name}:{port}" for h in lab.hosts for port in PORTS.values()}
    high = [
        (r["check"], r["target"])
        for r in report["results"]
        if r["status"] in ("fail", "error") and r["severity"] in ("high", "critical")
        and not (r["check"] == "PER-03" and r["target"] in extra)
    ]  # fmt: skip
    assert high == [], high

    primary = lab.hosts[0]
    queue = client(lab_paths, primary.address, port=PORTS["queue"])
    session = client(lab_paths, primary.address, port=PORTS["session"])
    queue.config_set("maxmemory-policy", "allkeys-lru")
    session.set("app:session:forever", "x")
    session.set("app:session:kept", "x", ex=600)
    try:
        report = _report(inventory)
        flagged = _by(report, "PRO-01")[f"{primary.name}:{PORTS['queue']}"]
        assert flagged["status"] == "fail" and "allkeys-lru on a queue instance" in flagged["message"], (
            flagged
        )
        flagged = _by(report, "PRO-04")[f"{primary.name}:{PORTS['session']}"]
        assert flagged["status"] == "fail" and "1 of 2 keys of this session instance" in flagged["message"], (
            flagged
        )
        # The others stay as they were.
        assert _by(report, "PRO-01")[f"{primary.name}:{PORTS['cache']}"]["status"] == "pass"
    finally:
        queue.config_set("maxmemory-policy", "noeviction")
        session.delete("app:session:forever", "app:session:kept")
