"""The lab survives what earlier runs leave behind, and 'lab down' leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from redisops.lab import plan as P
from redisops.lab import system as S
from redisops.lab.lab import Lab

from .conftest import lab_plan, lab_ssh, lab_status, redisops


def _wait_dead(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while S.is_pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not S.is_pid_alive(pid), f"pid {pid} survived SIGKILL"


def leftovers(paths: P.LabPaths) -> dict[str, list]:
    """Everything of a lab that could outlive it on this machine."""
    lab = Lab(paths, None)
    links = S.links_named(S.run(["ip", "-j", "link"]), names=[P.BRIDGE], prefixes=[P.VETH_PREFIX])
    return {
        "nspawn processes": sorted(lab.nspawn_pids().values()),
        "container inits": sorted(S.container_inits_under(paths.hosts_dir)),
        "mounts": S.mounts_under(S.read_mountinfo(), paths.state_dir),
        "namespaces": S.netns_names(P.NETNS_PREFIX),
        "links": links,
        "host disks": sorted(p.name for p in paths.hosts_dir.glob("*")) if paths.hosts_dir.exists() else [],
    }


def test_lab_up_recovers_a_half_removed_lab(lab, lab_paths):
    """What a stopped session leaves (dead containers, orphans, stale mounts and links) is repaired."""
    h1, h2, h3 = lab.hosts[:3]
    kit = Lab(lab_paths, None)
    nspawn = kit.nspawn_pids()
    inits = {
        os.path.basename(os.path.dirname(upper)): pid
        for pid, upper in S.container_inits_under(lab_paths.hosts_dir).items()
    }

    # redis-1: the whole container killed (nspawn and its init), mount and namespace left behind.
    os.kill(nspawn[h1.name], signal.SIGKILL)
    os.kill(inits[h1.name], signal.SIGKILL)
    _wait_dead(inits[h1.name])
    # redis-2: nspawn killed, its systemd lives on as an orphan.
    os.kill(nspawn[h2.name], signal.SIGKILL)
    _wait_dead(nspawn[h2.name])
    assert h2.name in kit.orphan_inits()
    # redis-3: its namespace name and its overlay mount removed under the running container.
    subprocess.run(["ip", "netns", "del", h3.netns], check=True)
    subprocess.run(["umount", "-l", str(lab_paths.host_dir(h3.name) / "root")], check=True)
    # and the bridge gone.
    subprocess.run(["ip", "link", "del", P.BRIDGE], check=True)

    redisops("lab", "up")

    rows = lab_status()
    assert all(r["container"] and r["mounted"] and r["netns"] and r["ssh"] for r in rows), rows
    assert kit.orphan_inits() == {}
    # Exactly one container per host, and the hosts talk to each other again.
    everyone = lab_plan(lab_paths).all_hosts  # the cluster lab's hosts too, if any
    assert sorted(kit.nspawn_pids()) == sorted(h.name for h in everyone)
    assert len(S.container_inits_under(lab_paths.hosts_dir)) == len(everyone)
    for src, dst in ((h1, h2), (h2, h3), (h3, h1)):
        assert lab_ssh(src.name, f"ping -c1 -W2 {dst.address}", check=False).returncode == 0


@pytest.mark.lab_last
def test_lab_down_leaves_nothing_and_is_safe_twice(lab, lab_paths):
    redisops("lab", "down")
    assert leftovers(lab_paths) == {
        "nspawn processes": [],
        "container inits": [],
        "mounts": [],
        "namespaces": [],
        "links": [],
        "host disks": [],
    }
    assert not lab_paths.state_file.exists()
    redisops("lab", "down")
    assert redisops("lab", "status", check=False).returncode == 1


@pytest.mark.lab_last
def test_lab_up_refuses_a_subnet_that_overlaps_this_machine(lab_paths):
    # A route of our own making (an empty bridge named with the lab's prefix, so 'lab down'
    # removes it whatever happens), rather than whatever routes this machine has.
    taken, dummy = "10.213.99.0/24", f"{P.VETH_PREFIX}overlap"
    subprocess.run(["ip", "link", "add", dummy, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.213.99.1/24", "dev", dummy], check=True)
        subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
        proc = redisops("lab", "up", "--subnet", taken, check=False)
    finally:
        subprocess.run(["ip", "link", "del", dummy], check=False)
    assert proc.returncode == 2
    assert f"overlaps this machine's route(s) {taken} dev {dummy}" in proc.stderr
    assert "--subnet" in proc.stderr
    # Refused before anything was done.
    assert leftovers(lab_paths)["links"] == []
    assert not lab_paths.state_file.exists()
