"""A Redis Cluster on the lab's cluster hosts (3 hosts x 2 instances, inventories/lab-cluster):
formed by playbooks/cluster.yml from live facts, rerun without change (also after a failover),
live drift healed, a bad inventory refused before any change. One deployment for the module."""

from __future__ import annotations

import json
import socket

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from redisops.core import cluster as C
from redisops.lab import plan as P

from .conftest import lab_plan, lab_ssh, playbook_failure, recap, redisops, run_playbook
from .test_redis_sentinel import wait_for
from .test_redis_server import client, secret

INVENTORY = "inventories/lab-cluster"
PORTS = {"node-a": 7001, "node-b": 7002}
NODE_TIMEOUT_MS = 5000


def cluster_playbook(*extra: str):
    return run_playbook("-i", INVENTORY, "playbooks/cluster.yml", *extra)


def findings() -> tuple[list[dict], list[dict]]:
    """redisops check on the cluster lab: the results that are not passes, waivers or skips, and all."""
    proc = redisops("check", "-q", "-i", INVENTORY, "--format", "json", check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    results = json.loads(proc.stdout)["results"]
    return [r for r in results if r["status"] not in ("pass", "waived", "skipped")], results


def node(lab_paths, host: P.HostPlan, name: str) -> redis.Redis:
    return client(lab_paths, host.address, port=PORTS[name], decode_responses=True)


def nodes_view(lab_paths, host: P.HostPlan, name: str = "node-a") -> list[C.Peer]:
    return C.parse_nodes(node(lab_paths, host, name).execute_command("CLUSTER", "NODES"))


def whole(lab_paths, hosts) -> bool:
    """Every node: cluster_state ok, all slots served, and a view in which every replica is linked."""
    for host in hosts:
        for name in PORTS:
            info = C.parse_info(node(lab_paths, host, name).execute_command("CLUSTER", "INFO"))
            if info.get("cluster_state") != "ok" or info.get("cluster_slots_ok") != str(C.SLOTS):
                return False
    peers = nodes_view(lab_paths, hosts[0])
    return len(peers) == 6 and not any(p.flags & {"fail", "fail?", "handshake"} for p in peers)


@pytest.fixture(scope="module")
def cluster_hosts(lab, lab_paths):
    """The cluster lab's three hosts beside the Sentinel lab's, removed again after the module."""
    redisops("lab", "up", "--cluster-hosts", "3")
    yield lab_plan(lab_paths).cluster
    redisops("lab", "up", "--cluster-hosts", "0")


@pytest.fixture(scope="module")
def formed(cluster_hosts, lab_paths):
    proc = cluster_playbook()
    assert proc.returncode == 0, playbook_failure(proc)
    counts = recap(proc.stdout)
    assert sorted(counts) == sorted(h.name for h in cluster_hosts)
    wait_for("the cluster whole", lambda: whole(lab_paths, cluster_hosts), timeout=60)
    return cluster_hosts


def test_the_cluster_is_formed_with_every_replica_on_another_host(formed, lab_paths):
    by_address = {h.address: h.name for h in formed}
    peers = nodes_view(lab_paths, formed[0])
    primaries = [p for p in peers if p.is_primary]
    assert sum(p.slot_count for p in primaries) == C.SLOTS
    # One primary per host, each the host's node-a; every replica on another host than its primary.
    assert sorted((by_address[p.ip], p.port) for p in primaries) == [(h.name, 7001) for h in formed]
    by_id = {p.id: p for p in peers}
    replicas = [p for p in peers if not p.is_primary]
    assert len(replicas) == 3
    assert all(by_id[r.master].ip != r.ip for r in replicas)
    # Distinct configuration epochs, as SET-CONFIG-EPOCH gave them.
    assert len({p.config_epoch for p in primaries}) == 3
    # The settings read back from a live node.
    live = node(lab_paths, formed[1], "node-b").config_get("cluster-*")
    assert live["cluster-node-timeout"] == str(NODE_TIMEOUT_MS)
    assert live["cluster-config-file"] == "nodes-7002.conf"
    assert live["cluster-port"] == "17002"
    assert live["cluster-announce-ip"] == formed[1].address
    assert node(lab_paths, formed[1], "node-b").config_get("tls-cluster")["tls-cluster"] == "yes"


def test_a_cluster_client_writes_and_reads_keys_in_every_shard(formed, lab_paths):
    pki = lab_paths.state_dir / "pki"
    rc = RedisCluster(
        startup_nodes=[ClusterNode(formed[0].address, 7001)],
        username="app",
        password=secret(lab_paths, "redis_app"),
        ssl=True,
        ssl_ca_certs=str(pki / "ca.crt"),
        ssl_certfile=str(pki / "clients" / "app-app.crt"),
        ssl_keyfile=str(pki / "clients" / "app-app.key"),
        socket_timeout=5,
    )
    try:
        keys = [f"app:cluster:{i}" for i in range(60)]
        for key in keys:
            rc.set(key, key)
        assert [rc.get(k) for k in keys] == [k.encode() for k in keys]
        # Every shard (one primary per host) holds some of them.
        assert {rc.get_node_from_key(k).host for k in keys} == {h.address for h in formed}
    finally:
        rc.close()


def test_the_checks_judge_the_live_cluster_healthy(formed):
    bad, results = findings()
    ran = {r["check"] for r in results if r["check"].startswith("CLU-") and r["status"] == "pass"}
    assert ran == {f"CLU-{i:02d}" for i in range(1, 11)}, sorted(ran)
    # Backups of a cluster are not built yet: PER-03 says there is none, nothing else is wrong.
    assert {r["check"] for r in bad} <= {"PER-03"}, [(r["check"], r["target"], r["message"]) for r in bad]


def test_the_bus_ports_are_closed_to_clients(formed):
    # The control node is a client network: the client port answers, the bus port does not.
    with socket.create_connection((formed[0].address, 7001), timeout=3):
        pass
    with pytest.raises(OSError), socket.create_connection((formed[0].address, 17001), timeout=3):
        pass


def test_a_rerun_changes_nothing(formed):
    proc = cluster_playbook()
    assert proc.returncode == 0, playbook_failure(proc)
    assert {h: c["changed"] for h, c in recap(proc.stdout).items()} == {h.name: 0 for h in formed}, (
        proc.stdout[-3000:]
    )
    assert "steps: []" in proc.stdout


def test_live_drift_is_healed_and_reported(formed, lab_paths):
    target = node(lab_paths, formed[2], "node-b")
    target.config_set("cluster-node-timeout", 15000)
    # A check run names the drift and changes nothing; the run after it heals it.
    checked = cluster_playbook("--check", "--diff")
    assert checked.returncode == 0, playbook_failure(checked)
    assert "cluster-node-timeout" in checked.stdout and "15000" in checked.stdout
    assert target.config_get("cluster-node-timeout")["cluster-node-timeout"] == "15000"
    proc = cluster_playbook()
    assert proc.returncode == 0, playbook_failure(proc)
    assert recap(proc.stdout)[formed[2].name]["changed"] >= 1
    assert target.config_get("cluster-node-timeout")["cluster-node-timeout"] == str(NODE_TIMEOUT_MS)


def test_after_a_failover_a_rerun_keeps_the_new_primary_and_reports_the_placement(formed, lab_paths):
    first = formed[0]
    old = node(lab_paths, first, "node-a")
    old_id = old.execute_command("CLUSTER", "MYID")
    lab_ssh(first.name, "systemctl stop redis-server@node-a")

    def promoted():
        peers = nodes_view(lab_paths, formed[1])
        owner = C.owner_of(0, peers)
        return owner is not None and owner.id != old_id and "fail" not in owner.flags and owner

    new = wait_for("a replica promoted", promoted, timeout=60)
    lab_ssh(first.name, "systemctl start redis-server@node-a")
    wait_for("the old primary back as a replica", lambda: whole(lab_paths, formed), timeout=60)
    assert node(lab_paths, first, "node-a").execute_command("ROLE")[0] == "slave"

    proc = cluster_playbook()
    assert proc.returncode == 0, playbook_failure(proc)
    assert {h: c["changed"] for h, c in recap(proc.stdout).items()} == {h.name: 0 for h in formed}, (
        proc.stdout[-3000:]
    )
    # Not moved back: the promoted replica is still primary, and the rerun says where primaries sit.
    assert C.owner_of(0, nodes_view(lab_paths, formed[1])).id == new.id
    assert "runs 2 primaries" in proc.stdout
    placement = [r for r in findings()[0] if r["check"] == "CLU-04"]
    assert placement and "runs 2 primaries" in placement[0]["message"]

    # Put the planned placement back for what follows: a manual failover on the old primary.
    node(lab_paths, first, "node-a").execute_command("CLUSTER", "FAILOVER")
    wait_for(
        "the old primary primary again",
        lambda: (
            node(lab_paths, first, "node-a").execute_command("ROLE")[0] == "master"
            and whole(lab_paths, formed)
        ),
        timeout=60,
    )


def test_an_inventory_that_cannot_make_the_cluster_is_refused_before_any_change(formed):
    proc = cluster_playbook("-e", json.dumps({"redis_cluster_replicas": 2}))
    assert proc.returncode != 0
    assert "redis_cluster_replicas 2 make 2 shard(s)" in proc.stdout
    assert all(c["changed"] == 0 for c in recap(proc.stdout).values())
