"""A running Redis 7.0 Sentinel group moved to Valkey 8 under load (playbooks/migrate_flavor.yml).

Runs on the default lab (bookworm: Redis 7.0, and Valkey 8.0 from backports) and last: the lab
runs Valkey afterwards.
"""

from __future__ import annotations

import time

import pytest
from redis.exceptions import ConnectionError

from .conftest import LAB_FLAVOR, LAB_IMAGE, assert_unchanged, playbook_failure, run_playbook
from .test_redis_sentinel import GROUP, app_writer, healthy, sentinel, wait_for
from .test_redis_server import client


def servers(paths, hosts) -> dict[str, str]:
    info = {h.name: client(paths, h.address).info("server") for h in hosts}
    return {name: i.get("server_name", "redis") for name, i in info.items()}


def all_valkey(paths, hosts) -> bool:
    """Every server and sentinel answers as Valkey (a connection the last step closed is retried)."""
    try:
        sentinels = {sentinel(paths, h.address).info("server").get("server_name") for h in hosts}
        return set(servers(paths, hosts).values()) == {"valkey"} and sentinels == {"valkey"}
    except ConnectionError:
        return False


@pytest.mark.lab_last
def test_redis_7_group_moves_to_valkey_under_load_losing_no_acknowledged_write(lab, lab_paths, monkeypatch):
    if (LAB_IMAGE, LAB_FLAVOR) != ("bookworm", "redis"):
        pytest.skip("the migration starts from the default lab: bookworm with Redis 7.0")
    hosts = lab.hosts
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    assert wait_for("a healthy group", lambda: healthy(lab_paths, hosts), timeout=30)
    assert set(servers(lab_paths, hosts).values()) == {"redis"}

    # The inventory now says Valkey: a plain site.yml refuses to swap the running servers.
    monkeypatch.setenv("REDISOPS_LAB_FLAVOR", "valkey")
    refused = run_playbook("playbooks/site.yml")
    assert refused.returncode != 0
    assert "switch a running group with playbooks/migrate_flavor.yml" in refused.stdout

    with app_writer(lab_paths, hosts, "app:migration") as writer:
        time.sleep(1)
        proc = run_playbook("playbooks/migrate_flavor.yml", timeout=1800)
        time.sleep(1)
    assert proc.returncode == 0, playbook_failure(proc)
    assert wait_for("the group to settle", lambda: healthy(lab_paths, hosts), timeout=60)
    report = writer.history.summary(writer.members())
    print(f"migration under load: {report}")
    assert report["acknowledged"] > 500, report
    assert report["acknowledged_lost"] == 0, report

    # Every server and sentinel is Valkey now, and the group is whole and converged.
    assert set(servers(lab_paths, hosts).values()) == {"valkey"}
    for host in hosts:
        info = sentinel(lab_paths, host.address).info("server")
        assert info.get("server_name") == "valkey", host.name
        assert (
            sentinel(lab_paths, host.address).sentinel_master(GROUP)["num-other-sentinels"] == len(hosts) - 1
        )
    for host in hosts:
        members = {int(m) for m in client(lab_paths, host.address).smembers("app:migration")}
        assert not writer.history.lost(members), host.name
    assert_unchanged(run_playbook("playbooks/site.yml"), hosts)
