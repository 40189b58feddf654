"""The drill's pure parts: how client errors are classified, and targets from an inventory."""

from __future__ import annotations

import pytest
import redis

from checks.drills.failover import SCENARIOS
from checks.drills.targets import drill_targets
from checks.drills.workload import classify
from checks.inventory import InventoryError

from .test_check_inventory import HOSTS, _inventory


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (redis.ConnectionError("Error 111 connecting to 10.0.0.1:6379. Connection refused."), "fail"),
        (redis.ResponseError("NOREPLICAS Not enough good replicas to write."), "fail"),
        (redis.ReadOnlyError("READONLY You can't write against a read only replica."), "fail"),
        (redis.sentinel.MasterNotFoundError("No master found for 'redis-main'"), "fail"),
        (redis.TimeoutError("Timeout reading from socket"), "info"),
        (redis.ConnectionError("Connection closed by server."), "info"),
        (redis.ConnectionError("The previous master is now a slave"), "info"),
    ],
)
def test_errors_are_refusals_only_when_the_write_certainly_did_not_happen(exc, outcome):
    assert classify(exc) == outcome


def test_drill_targets_come_from_the_inventory(tmp_path):
    inv, vault = _inventory(
        tmp_path,
        HOSTS,
        "redis_server_admin_password: admin-secret-0123456789abcdef\n"
        "redis_sentinel_admin_password: sentinel-admin-0123456789abcdef\n"
        "redis_server_acl_users: [{name: shop, password: shop-secret-0123456789abcd, keys: ['shop:*']}]\n"
        "redis_sentinel_client_users: [{name: shop, password: shop-sentinel-0123456789ab}]\n",
    )
    t = drill_targets(inv, vault_password_file=vault)
    assert t.group == "redis-main" and t.down_after_ms == 5000 and t.quorum == 2
    assert [n.addr for n in t.servers] == ["192.0.2.11:6379", "192.0.2.12:6379"]
    assert [n.host for n in t.sentinels] == ["r1", "r2", "s3"]
    assert t.app[0] == "shop" and t.key_prefix == "shop:drill:"  # under the user's own key pattern
    assert t.unit == "redis-server@main.service"
    assert not t.allowed  # drills are opt-in per inventory


def test_drill_targets_refuse_without_an_application_user(tmp_path):
    inv, vault = _inventory(tmp_path, HOSTS)
    with pytest.raises(InventoryError, match="redis_drill_user"):
        drill_targets(inv, vault_password_file=vault)


def test_every_scenario_says_what_it_does_and_what_it_may_lose():
    for name, scenario in SCENARIOS.items():
        assert scenario.summary and scenario.zero_loss in ("", "waited", "all"), name
    assert not SCENARIOS["sentinel-majority-loss"].expects_failover
    assert SCENARIOS["manual-failover"].zero_loss == "all"
