"""Cluster mode in the redis_server role's rules and files, and the redis_cluster role's checks of
the inventory (plugins/filter/redis_server.py, redis_cluster.py): no server, no network."""

from __future__ import annotations

import pytest

from .role_code import MEMTOTAL_MB, PLUGINS, F, _load_by_path, baseline
from .test_redis_server_role import render, render_conf

CF = _load_by_path(PLUGINS / "filter" / "redis_cluster.py", "redis_cluster_filters_under_test")

TWO = [{"name": "node-a", "port": 7001}, {"name": "node-b", "port": 7002}]


def cluster_vars(**overrides) -> dict:
    return baseline(**{"redis_server_cluster_enabled": True, "redis_server_instances": TWO, **overrides})


def test_cluster_nodes_get_a_bus_port_from_the_port_they_announce():
    tls_only = F.redis_instances(cluster_vars(), MEMTOTAL_MB)
    assert [(i["tls_port"], i["bus_port"], i["tls_cluster"]) for i in tls_only] == [
        (7001, 17001, True),
        (7002, 17002, True),
    ]
    plain = F.redis_instances(cluster_vars(redis_server_tls_mode="off"), MEMTOTAL_MB)
    assert [(i["plain_port"], i["bus_port"], i["tls_cluster"]) for i in plain] == [
        (7001, 17001, False),
        (7002, 17002, False),
    ]
    own = F.redis_instances(
        cluster_vars(redis_server_instances=[{"name": "a", "port": 7001, "bus_port": 7101}]), MEMTOTAL_MB
    )
    assert own[0]["bus_port"] == 7101
    assert F.redis_instances(baseline(), MEMTOTAL_MB)[0]["bus_port"] == 0


def test_cluster_mode_needs_no_sentinel_password_and_defaults_min_replicas_to_0():
    assert F.redis_server_problems(cluster_vars(redis_server_sentinel_password=""), MEMTOTAL_MB) == []
    assert F.redis_server_problems(baseline(redis_server_sentinel_password=""), MEMTOTAL_MB)
    assert F.redis_instances(cluster_vars(), MEMTOTAL_MB)[0]["min_replicas_to_write"] == 0
    assert F.redis_instances(baseline(), MEMTOTAL_MB)[0]["min_replicas_to_write"] == 1


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"redis_server_cluster_node_timeout": 100}, "redis_server_cluster_node_timeout is 100"),
        ({"redis_server_cluster_enabled": "yes"}, "redis_server_cluster_enabled is 'yes', not a boolean"),
        ({"redis_server_rename_commands": {"CLUSTER": ""}}, "renames CLUSTER"),
        (
            {"redis_server_instances": [{"name": "a", "port": 7001}, {"name": "b", "port": 17001}]},
            "port 17001 is also redis_server_instances[0] (a) bus_port",
        ),
        ({"redis_server_instances": [{"name": "a", "port": 60000}]}, "outside 1-65535: set bus_port"),
        (
            {"redis_server_instances": [{"name": "a", "port": 7001, "bus_port": 0}]},
            "bus_port 0 is not a port",
        ),
    ],
)
def test_bad_cluster_settings_are_refused_naming_the_variable(overrides, says):
    problems = " | ".join(F.redis_server_problems(cluster_vars(**overrides), MEMTOTAL_MB))
    assert says in problems


def test_a_bus_port_outside_cluster_mode_is_refused():
    problems = F.redis_server_problems(
        baseline(redis_server_instances=[{"name": "a", "port": 6379, "bus_port": 16379}])
    )
    assert any("only cluster nodes have a bus" in p for p in problems)


def test_redis_conf_of_a_cluster_node_has_the_cluster_settings_and_no_replicaof():
    _, lines = render_conf(
        redis_server_cluster_enabled=True,
        redis_server_instances=TWO,
        inventory_hostname="redis-2",
        ansible_host="10.0.0.12",
    )
    for line in [
        "cluster-enabled yes",
        'cluster-config-file "nodes-7001.conf"',
        "cluster-node-timeout 5000",
        "cluster-port 17001",
        'cluster-announce-ip "10.0.0.12"',
        "cluster-require-full-coverage yes",
        "cluster-allow-reads-when-down no",
        "tls-cluster yes",
        "min-replicas-to-write 0",
    ]:
        assert line in lines
    assert not [line for line in lines if line.startswith("replicaof")]


def test_the_acl_file_of_a_cluster_node_has_no_sentinel_user_and_readers_read_the_cluster():
    text = render("etc/redis/users.acl.j2", redis_server_cluster_enabled=True, redis_server_instances=TWO)
    users = {line.split()[1]: line for line in text.splitlines() if line.startswith("user ")}
    assert "sentinel" not in users
    assert "+cluster|info" in users["compliance"] and "+cluster|nodes" in users["monitor"]
    plain = render("etc/redis/users.acl.j2")
    assert "sentinel" in plain and "+cluster|" not in plain


def nodes(hosts: int, per_host: int, **extra) -> list[dict]:
    return [
        {"host": f"c{h}", "name": f"n{i}", "address": f"10.0.0.{h}", "port": 7001 + i, "bus_port": 17001 + i,
         "tls": True, "cluster": True, "min_replicas_to_write": 0, **extra}
        for h in range(1, hosts + 1)
        for i in range(per_host)
    ]  # fmt: skip


def test_the_lab_cluster_inventory_makes_three_shards_with_replicas_elsewhere():
    assert CF.redis_cluster_problems({"redis_cluster_replicas": 1}, nodes(3, 2)) == []
    assert CF.redis_cluster_plan(nodes(3, 2), 1) == [
        {"primary": "c1/n0", "replicas": ["c2/n1"], "slots": "0-5461"},
        {"primary": "c2/n0", "replicas": ["c3/n1"], "slots": "5462-10922"},
        {"primary": "c3/n0", "replicas": ["c1/n1"], "slots": "10923-16383"},
    ]


@pytest.mark.parametrize(
    ("settings", "found", "says"),
    [
        ({"redis_cluster_replicas": 1}, nodes(2, 2), "at least 3 primaries"),
        ({"redis_cluster_replicas": 2}, nodes(2, 6), "needs 3 hosts"),
        ({"redis_cluster_replicas": 1}, nodes(3, 1), "multiple of 2"),
        ({"redis_cluster_replicas": "two"}, nodes(3, 2), "redis_cluster_replicas is 'two'"),
        ({"redis_cluster_replicas": 9}, nodes(3, 2), "from 0 to 5"),
        ({"redis_cluster_form_timeout_s": 1}, nodes(3, 2), "redis_cluster_form_timeout_s is 1"),
        ({"redis_cluster_replicas": 1}, nodes(3, 2, cluster=False), "redis_server_cluster_enabled: true"),
        ({"redis_cluster_replicas": 1}, nodes(3, 2, min_replicas_to_write=1), "would refuse every write"),
        ({"redis_cluster_replicas": 1}, [], "has no instances"),
    ],
)
def test_inventories_that_cannot_make_the_cluster_are_refused(settings, found, says):
    assert says in " | ".join(CF.redis_cluster_problems(settings, found))


def test_nodes_are_read_from_the_hosts_resolved_instances():
    hv = {"inventory_hostname": "c1", "ansible_host": "10.0.0.1",
          "__redis_server_instances": F.redis_instances(cluster_vars(), MEMTOTAL_MB)}  # fmt: skip
    assert CF.redis_cluster_nodes([hv]) == [
        {"host": "c1", "name": "node-a", "address": "10.0.0.1", "port": 7001, "bus_port": 17001, "tls": True,
         "cluster": True, "min_replicas_to_write": 0},
        {"host": "c1", "name": "node-b", "address": "10.0.0.1", "port": 7002, "bus_port": 17002, "tls": True,
         "cluster": True, "min_replicas_to_write": 0},
    ]  # fmt: skip
