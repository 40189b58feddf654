"""Real hosts: systemd, sshd, names, addresses, Ansible and testinfra over the committed inventory."""

from __future__ import annotations

import re
import subprocess

import pytest
import testinfra

from .conftest import INVENTORY, REPO, lab_plan, lab_ssh, lab_status, redisops, tool_env

pytestmark = pytest.mark.usefixtures("lab")


def test_every_host_is_up_and_answers_ssh(lab, lab_paths):
    rows = lab_status()
    assert [r["host"] for r in rows] == [h.name for h in lab_plan(lab_paths).all_hosts]
    for row in rows:
        assert row["container"] and row["mounted"] and row["netns"] and row["ssh"], row


def test_ansible_ping_through_the_committed_inventory(lab):
    proc = subprocess.run(
        [
            "ansible",
            "all",
            "-m",
            "ansible.builtin.ping",
        ],
        cwd=REPO,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in lab.all_hosts:
        assert re.search(rf"^{host.name} \| SUCCESS", proc.stdout, re.M), proc.stdout
    assert proc.stdout.count("ping: pong") == len(lab.all_hosts)


@pytest.fixture(scope="module")
def infra_hosts(lab):
    hosts = testinfra.get_hosts(["ansible://all"], ansible_inventory=str(INVENTORY))
    return {h.backend.get_hostname(): h for h in hosts}


def test_testinfra_over_the_inventory_sees_real_hosts(lab, infra_hosts):
    assert sorted(infra_hosts) == sorted(h.name for h in lab.all_hosts)
    machine_ids, host_keys = set(), set()
    for plan in lab.all_hosts:
        host = infra_hosts[plan.name]
        assert host.check_output("hostname") == plan.name
        assert host.check_output("readlink /proc/1/exe") == "/usr/lib/systemd/systemd"
        assert host.run("systemctl is-system-running").stdout.strip() in ("running", "degraded")
        # The unified cgroup hierarchy, as real Debian hosts boot, whatever this machine mounts.
        assert host.check_output("stat -fc %T /sys/fs/cgroup") == "cgroup2fs"
        # systemd enforces IPAddressAllow=/IPAddressDeny= (cgroup BPF), as on a real host: a unit
        # allowed only localhost cannot reach another host's SSH, which a plain unit can.
        peer = next(p.address for p in lab.all_hosts if p.name != plan.name)
        reach = "/bin/bash -c 'timeout 3 bash -c \"echo > /dev/tcp/%s/22\" 2>/dev/null; echo rc=$?'"
        plain = host.run(f"systemd-run --wait --pipe -q {reach}", peer)
        fenced = host.run(
            f"systemd-run --wait --pipe -q -p IPAddressDeny=any -p IPAddressAllow=localhost {reach}", peer
        )
        assert (plain.stdout.strip(), fenced.stdout.strip() != "rc=0") == ("rc=0", True), fenced.stdout
        assert host.service("ssh").is_running
        assert host.service("ssh").is_enabled
        assert plan.address in host.interface("eth0").addresses
        assert host.socket("tcp://0.0.0.0:22").is_listening
        # Packages roles install are present, their services not started until a role says so.
        for pkg in ("redis-server", "redis-sentinel", "redis-tools", "python3-apt", "nftables"):
            assert host.package(pkg).is_installed, pkg
        assert not host.service("redis-server").is_running
        assert not host.service("redis-server").is_enabled
        machine_ids.add(host.file("/etc/machine-id").content_string.strip())
        host_keys.add(host.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1])
    # Each host is itself: no shared identity from the base image.
    assert len(machine_ids) == len(lab.all_hosts)
    assert len(host_keys) == len(lab.all_hosts)


def test_hosts_reach_each_other_by_address_and_name(lab):
    for src in lab.all_hosts:
        for dst in lab.all_hosts:
            if src is dst:
                continue
            probe = lab_ssh(
                src.name,
                f"ping -c1 -W2 {dst.address} >/dev/null && ping -c1 -W2 {dst.name} >/dev/null "
                f"&& timeout 3 bash -c 'echo > /dev/tcp/{dst.address}/22' && echo ok",
                check=False,
            )
            assert probe.stdout.strip() == "ok", f"{src.name} -> {dst.name}: {probe.stderr}"


def test_firewall_rules_inside_a_host_cut_exactly_one_link(lab):
    a, b, c = lab.hosts[:3]
    rule = (
        "nft add table inet labtest && "
        "nft add chain inet labtest input '{ type filter hook input priority 0; }' && "
        f"nft add rule inet labtest input ip saddr {c.address} drop"
    )
    lab_ssh(b.name, rule)
    try:
        cut = lab_ssh(c.name, f"ping -c1 -W1 {b.address}", check=False)
        kept = lab_ssh(a.name, f"ping -c1 -W1 {b.address}", check=False)
        assert cut.returncode != 0, "the drop rule on one host did not cut the link"
        assert kept.returncode == 0, "a rule against one address cut another host off too"
    finally:
        lab_ssh(b.name, "nft delete table inet labtest")
    assert lab_ssh(c.name, f"ping -c1 -W2 {b.address}", check=False).returncode == 0


def test_kernel_settings_belong_to_the_machine(lab):
    """Roles must notice this (issue: host tuning); here we pin the fact they rely on."""
    out = lab_ssh(
        lab.hosts[0].name,
        "systemd-detect-virt --container; "
        "test -w /proc/sys/vm/overcommit_memory && echo writable || echo read-only",
    )
    assert out.stdout.split() == ["systemd-nspawn", "read-only"]


def test_lab_up_again_changes_nothing(lab, lab_paths):
    from redisops.lab.lab import Lab

    before = Lab(lab_paths, None).nspawn_pids()
    redisops("lab", "up")
    assert Lab(lab_paths, None).nspawn_pids() == before


def test_lab_up_with_another_shape_is_refused_while_running(lab):
    proc = redisops("lab", "up", "--hosts", "5", check=False)
    assert proc.returncode == 2
    assert "run 'redisops lab down' first" in proc.stderr


def test_lab_writes_nothing_into_the_repository(lab):
    """Lab state lives outside the checkout: tracked files are untouched, nothing new appears."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    leaked = [
        line for line in status.splitlines() if "/var/lib/redisops-lab" in line or "known_hosts" in line
    ]
    assert leaked == []
    assert not any(p.name in ("state.json", "id_ed25519") for p in REPO.rglob("*") if ".venv" not in p.parts)
