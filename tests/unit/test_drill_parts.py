"""The drill's pure parts: how client errors are classified, and targets from an inventory."""

from __future__ import annotations

import pytest
import redis

from redisops.drills.failover import SCENARIOS
from redisops.drills.targets import drill_refusal, drill_targets
from redisops.drills.workload import classify
from redisops.inventory import InventoryError

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


_APP_USERS = (
    "redis_server_admin_password: admin-secret-0123456789abcdef\n"
    "redis_sentinel_admin_password: sentinel-admin-0123456789abcdef\n"
    "redis_server_acl_users: [{name: shop, password: shop-secret-0123456789abcd, keys: ['shop:*']}]\n"
    "redis_sentinel_client_users: [{name: shop, password: shop-sentinel-0123456789ab}]\n"
)


@pytest.mark.parametrize(
    ("setting", "allowed"),
    [("true", True), ("yes", True), ("false", False), ('"false"', False), ('"no"', False), ('"true"', False),
     ("1", False)],
)  # fmt: skip
def test_only_the_boolean_true_allows_drills(tmp_path, setting, allowed):
    """YAML's true (and Ansible's unquoted yes) allow; strings, even "true", and numbers do not."""
    inv, vault = _inventory(tmp_path, HOSTS, _APP_USERS + f"redis_drill_allowed: {setting}\n")
    t = drill_targets(inv, vault_password_file=vault)
    assert t.allowed is allowed
    assert (drill_refusal(t.allowed_setting, None, t.group) == "") is allowed


def test_the_gate_allows_true_or_the_groups_own_name():
    assert drill_refusal(True, None, "redis-main") == ""
    assert drill_refusal(False, "redis-main", "redis-main") == ""
    assert drill_refusal(None, "redis-main", "redis-main") == ""
    assert drill_refusal("no", "redis-main", "redis-main") == ""  # the operator named the group


@pytest.mark.parametrize("allowed", [None, False])
def test_the_gate_refuses_where_drills_are_not_allowed_and_says_how(allowed):
    why = drill_refusal(allowed, None, "redis-main")
    assert "redis_drill_allowed" in why and "redis_drill_allowed: true" in why
    assert "--confirm redis-main" in why


@pytest.mark.parametrize("allowed", ["false", "no", "true", "yes", 1, 0, "", [True]])
def test_the_gate_refuses_a_value_that_is_no_boolean_with_its_own_message(allowed):
    why = drill_refusal(allowed, None, "redis-main")
    assert why.startswith(f"redis_drill_allowed is {allowed!r}") and "not a boolean" in why, why
    assert "use true or false" in why and "--confirm redis-main" in why


@pytest.mark.parametrize("allowed", [True, False, None, "no"])
@pytest.mark.parametrize("confirm", ["redis-other", "", "REDIS-MAIN", "redis-main ", "redis"])
def test_a_confirmation_naming_another_group_is_refused_even_where_drills_are_allowed(allowed, confirm):
    why = drill_refusal(allowed, confirm, "redis-main")
    assert why and f"--confirm {confirm!r}" in why and "pass --confirm redis-main" in why, why


def test_the_cli_refuses_the_old_blanket_yes_and_names_the_group(capsys):
    from types import SimpleNamespace

    from redisops.drills.run import _not_allowed

    targets = SimpleNamespace(group="redis-main", allowed_setting=True)
    args = SimpleNamespace(yes=True, confirm=None)
    assert _not_allowed(targets, args, "drills break things on purpose")
    assert "--confirm redis-main" in capsys.readouterr().err
    args = SimpleNamespace(yes=False, confirm=None)
    assert not _not_allowed(targets, args, "drills break things on purpose")
    targets = SimpleNamespace(group="redis-main", allowed_setting="no")
    assert _not_allowed(targets, args, "drills break things on purpose")
    err = capsys.readouterr().err
    assert err.startswith("redisops drill: refused: drills break things on purpose: ")
    assert "redis_drill_allowed is 'no'" in err
    assert not _not_allowed(targets, SimpleNamespace(yes=False, confirm="redis-main"), "x")


def test_drill_targets_refuse_without_an_application_user(tmp_path):
    inv, vault = _inventory(tmp_path, HOSTS)
    with pytest.raises(InventoryError, match="redis_drill_user"):
        drill_targets(inv, vault_password_file=vault)


def test_every_scenario_says_what_it_does_and_what_it_may_lose():
    for name, scenario in SCENARIOS.items():
        assert scenario.summary and scenario.zero_loss in ("", "waited", "all"), name
    assert not SCENARIOS["sentinel-majority-loss"].expects_failover
    assert SCENARIOS["manual-failover"].zero_loss == "all"


def test_the_sentinel_unit_comes_from_a_fixed_table():
    from redisops.drills.targets import sentinel_unit

    assert sentinel_unit("redis") == "redis-sentinel@main.service"
    assert sentinel_unit("valkey") == "valkey-sentinel@main.service"
    for bad in ("keydb", "redis; reboot", "", None, "Redis"):
        with pytest.raises(InventoryError, match=r"redis_sentinel_flavor .* is not one of redis, valkey"):
            sentinel_unit(bad)
