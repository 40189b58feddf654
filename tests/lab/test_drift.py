"""The live cluster is the truth: changes made by hand to the running servers and sentinels.

On a deployed lab: CONFIG SET on a live directive, on persistence, on the port (a plain port
opened on a TLS-only server) and on bind, ACL SETUSER on the application user and a user
added by hand, SENTINEL SET on a group's timer and SENTINEL CONFIG SET on a static option; the
kit's nftables tables deleted (or their unit stopped) by hand.
CFG-01/CFG-02 fire on them; check mode reports them, masked, and changes nothing; one rerun heals
every one (changed>0) with the values read back from the servers; the next rerun is changed=0
and the checks are clean.
"""

from __future__ import annotations

import json

import pytest

from .conftest import assert_unchanged, lab_ssh, playbook_failure, recap, redisops, run_playbook
from .test_redis_sentinel import GROUP, sentinel
from .test_redis_server import client, secret


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    """site.yml run once against the lab (fresh or already deployed)."""
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    return lab


def _cfg_findings() -> list[dict]:
    # With the hosts: configuration and ACL are read by each host's reader (masked there), never
    # over the network; without them CFG-01 is skipped, not passed.
    proc = redisops("check", "--format", "json", check=False, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    return [r for r in report["results"] if r["check"].startswith("CFG-") and r["status"] == "fail"]


def _roles(deployed, lab_paths):
    roles = {h.name: client(lab_paths, h.address).info("replication")["role"] for h in deployed.hosts}
    primary = next(h for h in deployed.hosts if roles[h.name] == "master")
    replicas = [h for h in deployed.hosts if roles[h.name] != "master"]
    return primary, replicas


def test_changes_by_hand_are_found_healed_and_then_left_alone(deployed, lab_paths):
    assert _cfg_findings() == []
    primary, replicas = _roles(deployed, lab_paths)
    conn = client(lab_paths, primary.address)
    conn.config_set("maxmemory-policy", "allkeys-random")
    conn.config_set("maxmemory", "1gb")
    conn.execute_command("ACL", "SETUSER", "app", "+flushall", "~*")
    conn.execute_command("ACL", "SETUSER", "intruder", "on", ">intruder-password-0123456789", "+@all", "~*")
    first = client(lab_paths, replicas[0].address)
    first.config_set("appendonly", "no")
    # A plain-TCP port opened by hand on a TLS-only server, and a wildcard bind on another.
    first.config_set("port", "6380")
    client(lab_paths, replicas[1].address).config_set("bind", "* -::*")
    watcher = sentinel(lab_paths, deployed.hosts[0].address)
    watcher.execute_command("SENTINEL", "SET", GROUP, "down-after-milliseconds", "12345")
    watcher.execute_command("SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes")
    # Firewall rules gone: both tables deleted on the primary, Sentinel's unit stopped on a
    # replica (its ExecStop deletes the table).
    gone = [(primary, "inet redis_ops_kit"), (primary, "inet redis_ops_kit_sentinel"),
            (replicas[0], "inet redis_ops_kit_sentinel")]  # fmt: skip
    lab_ssh(primary.name, "nft delete table inet redis_ops_kit; nft delete table inet redis_ops_kit_sentinel")
    lab_ssh(replicas[0].name, "systemctl stop redis-ops-kit-sentinel-firewall.service")

    found = {
        (r["target"], r["message"].split(" ")[0] if r["check"] == "CFG-01" else r["message"])
        for r in _cfg_findings()
    }
    assert (f"{primary.name}:6379", "maxmemory-policy") in found, found
    assert (f"{primary.name}:6379", "maxmemory") in found, found
    assert (f"{replicas[0].name}:6379", "appendonly") in found, found
    assert (f"{replicas[0].name}:6379", "port") in found, found
    assert (f"{replicas[1].name}:6379", "bind") in found, found
    watched = f"{deployed.hosts[0].name}:26379"
    assert any(t == watched and "down-after-milliseconds" in m for t, m in found), found

    # Check mode: every difference shown, no secret, nothing changed.
    checked = run_playbook("playbooks/site.yml", "--check", "--diff")
    assert checked.returncode == 0, playbook_failure(checked)
    shown = ("maxmemory-policy allkeys-random", "maxmemory-policy noeviction", "user intruder", "user app",
             "listening sockets", "sentinel resolve-hostnames yes")  # fmt: skip
    for text in shown:
        assert text in checked.stdout, text
    for name in ("redis_admin", "redis_app", "redis_repl", "sentinel_peer"):
        assert secret(lab_paths, name) not in checked.stdout
    assert "intruder-password-0123456789" not in checked.stdout
    assert conn.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-random"

    healed = run_playbook("playbooks/site.yml")
    assert healed.returncode == 0, playbook_failure(healed)
    counts = recap(healed.stdout)
    assert all(counts[h.name]["changed"] > 0 for h in deployed.hosts), counts
    conn = client(lab_paths, primary.address)
    assert conn.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    assert conn.config_get("maxmemory")["maxmemory"] == str(256 * 1024**2)
    users = conn.acl_list()
    assert not [u for u in users if u.startswith(("user intruder", "user redisops-probe-"))], users
    assert "+flushall" not in next(u for u in users if u.startswith("user app ")).split()
    first = client(lab_paths, replicas[0].address)
    assert first.config_get("appendonly")["appendonly"] == "yes"
    assert first.config_get("port")["port"] == "0"
    second = client(lab_paths, replicas[1].address)
    assert second.config_get("bind")["bind"] == f"{replicas[1].address} 127.0.0.1"
    for host in replicas:
        listening = redisops("lab", "ssh", host.name, "ss -Hltn", timeout=60).stdout
        assert f"{host.address}:6379" in listening and ":6380" not in listening and "*:6379" not in listening
    watcher = sentinel(lab_paths, deployed.hosts[0].address)
    assert watcher.sentinel_master(GROUP)["down-after-milliseconds"] == 5000
    answer = watcher.execute_command("SENTINEL", "CONFIG", "GET", "resolve-hostnames")
    if not isinstance(answer, dict):
        answer = dict(zip(answer[::2], answer[1::2], strict=True))
    assert answer == {"resolve-hostnames": "no"}
    for host, table in gone:
        assert "tcp dport" in lab_ssh(host.name, f"nft list table {table}").stdout, (host.name, table)
    unit = "redis-ops-kit-sentinel-firewall.service"
    assert lab_ssh(replicas[0].name, f"systemctl is-active {unit}", check=False).stdout.strip() == "active"

    assert_unchanged(run_playbook("playbooks/site.yml"), deployed.hosts)
    assert _cfg_findings() == []
