"""The redis_sentinel role's pure logic: topology rules, users, what the sentinels say, the gate."""

from __future__ import annotations

import hashlib

import pytest

from redisops.core import health

from .role_code import SF, sentinel_baseline

HOSTS = ["redis-1", "redis-2", "redis-3"]
HOSTVARS = {h: {"ansible_host": f"10.0.0.{i + 1}"} for i, h in enumerate(HOSTS)}
# The defaults that are Jinja expressions (inherited from redis_server), as Ansible renders them.
RENDERED = {
    "redis_sentinel_flavor": "redis",
    "redis_sentinel_flavor_switch": False,
    "redis_sentinel_tls_auth_clients": "yes",
    "redis_sentinel_tls_dir": "/etc/redis/tls",
    "redis_sentinel_tls_replication": True,
    "redis_sentinel_conf_dir": "/etc/redis/sentinel",
    "redis_sentinel_data_dir": "/var/lib/redis/sentinel",
    "redis_sentinel_log_dir": "/var/log/redis",
    "redis_sentinel_user": "redis",
    "redis_sentinel_group": "redis",
}


def baseline(**overrides) -> dict:
    """sentinel_baseline with the inherited defaults rendered."""
    return sentinel_baseline(**{**RENDERED, **overrides})


def problems(hosts=HOSTS, **overrides):
    return SF.redis_sentinel_problems(baseline(**overrides), hosts, "10.0.0.1", [6379])


def test_the_defaults_with_secrets_are_valid():
    assert problems() == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"redis_sentinel_quorum": 4}, "quorum 4 is larger than the 3 sentinels"),
        ({"redis_sentinel_quorum": 1}, "less than a majority of the 3 sentinels (2)"),
        ({"redis_sentinel_quorum": 0}, "redis_sentinel_quorum 0 must be a whole number of 1 or more"),
        ({"redis_sentinel_groups": [{"name": "my group"}]}, "redis_sentinel_groups[0] (my group).name"),
        ({"redis_sentinel_groups": [{"name": "g", "colour": "red"}]}, "unknown key(s) ['colour']"),
        ({"redis_sentinel_groups": []}, "redis_sentinel_groups is empty"),
        ({"redis_sentinel_down_after_milliseconds": 500}, "false failovers"),
        ({"redis_sentinel_failover_timeout": 5000}, "failover_timeout 5000 must be longer"),
        ({"redis_sentinel_parallel_syncs": 0}, "redis_sentinel_parallel_syncs must be a positive"),
        ({"redis_sentinel_admin_password": ""}, "redis_sentinel_admin_password is not set"),
        ({"redis_sentinel_peer_password": "short"}, "redis_sentinel_peer_password is shorter"),
        ({"redis_sentinel_port": 6379}, "also a Redis instance port"),
        ({"redis_sentinel_tls_mode": "always"}, "redis_sentinel_tls_mode 'always'"),
        ({"redis_sentinel_peer_user": "admin"}, "'admin' is defined twice"),
        ({"redis_sentinel_client_users": [{"name": "app"}]}, "(app) has no password"),
        ({"redis_sentinel_notification_script": "notify.sh"}, "must be an absolute path"),
        (
            {"redis_sentinel_groups": [{"name": "a"}, {"name": "b"}]},
            "two groups monitor instance 'main'",
        ),
        (
            {"redis_sentinel_groups": [{"name": "a"}, {"name": "a", "instance": "x"}]},
            "two groups are named 'a'",
        ),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable(overrides, named):
    found = problems(**overrides)
    assert any(named in p for p in found), found


def test_a_minority_quorum_can_be_allowed_explicitly():
    assert problems(redis_sentinel_quorum=1, redis_sentinel_allow_minority_quorum=True) == []


@pytest.mark.parametrize(("count", "reason"), [(2, "2 is never safe"), (1, "single point of failure")])
def test_fewer_than_three_sentinels_are_refused_with_the_reason(count, reason):
    found = problems(hosts=HOSTS[:count], redis_sentinel_quorum=count)
    assert any(reason in p and f"has {count} host(s)" in p for p in found), found
    allowed = problems(
        hosts=HOSTS[:count], redis_sentinel_quorum=count, redis_sentinel_allow_fewer_than_three=True
    )
    assert allowed == []


def test_a_host_name_needs_resolve_hostnames():
    role_vars = baseline()
    assert any(
        "resolve_hostnames" in p for p in SF.redis_sentinel_problems(role_vars, HOSTS, "redis-1.lan", [])
    )
    role_vars["redis_sentinel_resolve_hostnames"] = True
    assert SF.redis_sentinel_problems(role_vars, HOSTS, "redis-1.lan", []) == []


def test_groups_take_role_wide_timers_unless_they_override():
    groups = SF.redis_sentinel_groups(
        sentinel_baseline(redis_sentinel_groups=[{"name": "a"}, {"name": "b", "instance": "x", "quorum": 3}])
    )
    assert groups[0] == {
        "name": "a", "instance": "main", "quorum": 2, "state": "present",
        "down_after_milliseconds": 5000, "failover_timeout": 60000, "parallel_syncs": 1,
        "notification_script": "", "client_reconfig_script": "",
    }  # fmt: skip
    assert (groups[1]["instance"], groups[1]["quorum"]) == ("x", 3)


def test_users_carry_only_password_hashes_and_least_privilege():
    users = {u["name"]: u["rules"] for u in SF.redis_sentinel_users(sentinel_baseline())}
    assert set(users) == {"admin", "sentinel-peer", "monitor"}
    for rules in users.values():
        assert rules.startswith("reset on #")
        assert not any(
            p in rules for p in sentinel_baseline().values() if isinstance(p, str) and len(p) == 32
        )
    digest = hashlib.sha256(sentinel_baseline()["redis_sentinel_peer_password"].encode()).hexdigest()
    assert f"#{digest}" in users["sentinel-peer"]
    assert (
        "+@all" not in users["sentinel-peer"] and "+sentinel|is-master-down-by-addr" in users["sentinel-peer"]
    )
    assert "-@all" in users["monitor"] and "+sentinel|set" not in users["monitor"]


def _info(host, ip=None, running=True, port=6379, ckquorum="OK 3 usable Sentinels", others=2, replicas=2):
    masters = {} if ip is None else {
        "redis-main": {"ip": ip, "port": str(port), "flags": "master", "num-other-sentinels": str(others),
                       "num-slaves": str(replicas)}}  # fmt: skip
    return {"item": host, "running": running, "masters": masters, "ckquorum": {"redis-main": ckquorum}}


GROUPS = [{"name": "redis-main", "instance": "main", "state": "present"}]


def test_the_view_is_what_every_answering_sentinel_agrees_on():
    results = [_info("redis-1", "10.0.0.2"), _info("redis-2", "10.0.0.2"), _info("redis-3", running=False)]
    view = SF.redis_sentinel_view(results, HOSTVARS, GROUPS)
    assert view == {
        "main": {"host": "redis-2", "address": "10.0.0.2", "port": 6379, "sentinels": ["redis-1", "redis-2"]}
    }


def test_no_sentinel_monitoring_yet_is_a_first_deploy():
    assert SF.redis_sentinel_view([_info(h, running=False) for h in HOSTS], HOSTVARS, GROUPS) == {}


def test_sentinels_that_disagree_are_refused():
    results = [_info("redis-1", "10.0.0.1"), _info("redis-2", "10.0.0.2")]
    with pytest.raises(SF.SentinelVarError, match="disagree on the primary of group redis-main"):
        SF.redis_sentinel_view(results, HOSTVARS, GROUPS)


def test_a_primary_outside_the_inventory_is_refused():
    with pytest.raises(SF.SentinelVarError, match="not a host of the inventory"):
        SF.redis_sentinel_view([_info("redis-1", "10.9.9.9")], HOSTVARS, GROUPS)


def test_monitors_use_the_primary_and_port_from_the_topology():
    topology = {"main": {"primary": "redis-3", "port": 6379, "hosts": HOSTS}}
    groups = SF.redis_sentinel_groups(sentinel_baseline())
    monitors = SF.redis_sentinel_monitors(groups, topology, HOSTVARS)
    assert (monitors[0]["address"], monitors[0]["port"], monitors[0]["replicas"]) == ("10.0.0.3", 6379, 2)
    assert monitors[0]["members"] == ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"]
    assert SF.redis_sentinel_instance_problems(sentinel_baseline(), topology) == []
    assert "not an instance" in SF.redis_sentinel_instance_problems(sentinel_baseline(), {"other": {}})[0]
    assert "run the redis_server role" in SF.redis_sentinel_instance_problems(sentinel_baseline(), None)[0]


def test_the_gate_passes_only_a_healthy_agreeing_group():
    healthy = [_info(h, "10.0.0.1") for h in HOSTS]
    assert health.gate_problems(healthy, "redis-main", 3, 2) == []
    cases = [
        (
            [_info("redis-1", "10.0.0.1"), _info("redis-2", running=False)],
            "sentinel on redis-2 does not answer",
        ),
        (
            [_info("redis-1", "10.0.0.1", ckquorum="NOQUORUM 1 usable Sentinels")],
            "CKQUORUM redis-main: NOQUORUM",
        ),
        ([_info("redis-1", "10.0.0.1", others=1)], "sees 1 other sentinels of 2"),
        ([_info("redis-1", "10.0.0.1", replicas=1)], "sees 1 healthy replicas of 2"),
        ([_info("redis-1", "10.0.0.1"), _info("redis-2", "10.0.0.2")], "name different primaries"),
    ]
    for results, reason in cases:
        found = health.gate_problems(results, "redis-main", 3, 2)
        assert any(reason in p for p in found), (reason, found)


def test_a_replica_marked_down_does_not_count_as_healthy():
    info = _info("redis-1", "10.0.0.1")
    info["masters"]["redis-main"]["ok-replicas"] = 1
    assert any("sees 1 healthy replicas of 2" in p for p in health.gate_problems([info], "redis-main", 1, 2))


def test_a_minority_of_answering_sentinels_is_not_trusted():
    """One sentinel of three may be stale: the role asks the servers instead."""
    results = [_info("redis-1", "10.0.0.2"), _info("redis-2", running=False), _info("redis-3", running=False)]
    assert SF.redis_sentinel_view(results, HOSTVARS, GROUPS, 3) == {}
    results[1] = _info("redis-2", "10.0.0.2")
    assert SF.redis_sentinel_view(results, HOSTVARS, GROUPS, 3)["main"]["host"] == "redis-2"


def test_a_relative_group_script_is_refused():
    found = problems(redis_sentinel_groups=[{"name": "g", "notification_script": "notify.sh"}])
    assert any("redis_sentinel_groups[0].notification_script" in p for p in found), found


def test_a_sentinel_is_unhealthy_until_it_answers_and_sees_every_group_whole():
    monitors = [
        {"name": "redis-main", "state": "present", "replicas": 2},
        {"name": "gone", "state": "absent"},
    ]
    assert SF.redis_sentinel_unhealthy(_info("redis-1", "10.0.0.1"), monitors, 3) == []
    assert SF.redis_sentinel_unhealthy(_info("redis-1", running=False), monitors, 3) == [
        "the sentinel does not answer"
    ]
    assert SF.redis_sentinel_unhealthy(_info("redis-1", "10.0.0.1", others=1), monitors, 3) == [
        "redis-main: sees 1 other sentinels of 2"
    ]
    assert SF.redis_sentinel_unhealthy(_info("redis-1"), monitors, 3) == [
        "redis-main: group redis-main is not monitored"
    ]


def test_the_gate_can_spare_the_replica_about_to_be_replaced():
    # The old primary after a flavour switch's switchover: demoted, unlinked, about to be replaced.
    info = _info("redis-1", "10.0.0.3")
    info["masters"]["redis-main"].update({"ok-replicas": 1, "ok-replica-addrs": ["10.0.0.2:6379"]})
    assert "sees 1 healthy replicas of 2" in health.gate_problems([info], "redis-main", 1, 2)[0]
    assert health.gate_problems([info], "redis-main", 1, 2, spare="10.0.0.1:6379") == []
    # Sparing one replica never excuses another: here the spared one is the linked one.
    assert health.gate_problems([info], "redis-main", 1, 2, spare="10.0.0.2:6379") == [
        "sentinel on redis-1: sees 0 healthy replicas of 1 besides 10.0.0.2:6379"
    ]
    # The primary is never a spare, and a sentinel without the list is read as before.
    assert health.gate_problems([info], "redis-main", 1, 2, spare="10.0.0.3:6379") != []
    del info["masters"]["redis-main"]["ok-replica-addrs"]
    assert health.gate_problems([info], "redis-main", 1, 2, spare="10.0.0.1:6379") != []


def test_the_gate_knows_the_newest_switch_and_who_has_not_heard_of_it():
    def seen(epoch) -> dict:
        return {"masters": {"redis-main": {"config-epoch": epoch, "ip": "10.0.0.12"}}}

    results = [seen("3"), seen("4"), {"running": False, "masters": {}}]
    assert health.gate_epoch(results, "redis-main") == 4
    assert health.gate_epoch([], "redis-main") == 0
    assert health.gate_current(seen("4"), "redis-main", 4)
    assert not health.gate_current(seen("3"), "redis-main", 4)
    assert not health.gate_current({"masters": {}}, "redis-main", 1)


def test_one_read_is_enough_when_every_sentinel_is_healthy_at_the_newest_switch():
    def read(host, epoch, ip="10.0.0.2", **kwargs) -> dict:
        info = _info(host, ip, **kwargs)
        info["masters"]["redis-main"].update({"config-epoch": epoch, "ok-replicas": 2})
        return info

    settled = [read(h, "4") for h in HOSTS]
    assert health.gate_problems([*settled], "redis-main", 3, 2) == []
    assert health.gate_settled(settled, "redis-main", 3, 2)
    # One that has not heard of the last switch yet (it still names the old primary) ...
    assert not health.gate_settled([*settled[:2], read(HOSTS[2], "3", ip="10.0.0.1")], "redis-main", 3, 2)
    # ... or names the new one at an older epoch, or is unhealthy: read them all again.
    assert not health.gate_settled([*settled[:2], read(HOSTS[2], "3")], "redis-main", 3, 2)
    assert not health.gate_settled([*settled[:2], read(HOSTS[2], "4", others=1)], "redis-main", 3, 2)
    assert not health.gate_settled([*settled[:2], _info(HOSTS[2], running=False)], "redis-main", 3, 2)


def test_the_gate_reads_each_sentinel_where_the_others_reach_it():
    hosts = [
        {"inventory_hostname": "redis-1", "ansible_host": "10.0.0.1"},
        {"inventory_hostname": "redis-2", "ansible_host": "10.0.0.2", "redis_sentinel_port": 26380},
        {"inventory_hostname": "redis-3", "ansible_host": "10.0.0.3", "redis_sentinel_port": 26380,
         "redis_sentinel_announce_ip": "192.0.2.3", "redis_sentinel_announce_port": 36000},
    ]  # fmt: skip
    assert SF.redis_sentinel_gate_nodes(hosts, 26379) == [
        {"name": "redis-1", "host": "10.0.0.1", "port": 26379},
        {"name": "redis-2", "host": "10.0.0.2", "port": 26380},
        {"name": "redis-3", "host": "192.0.2.3", "port": 36000},
    ]
