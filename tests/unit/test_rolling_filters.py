"""rolling_restart.yml's own variables (plugins/filter/redis_rolling.py): refused before any
host is touched, each message naming the variable and what it takes."""

from __future__ import annotations

import pytest

from .role_code import PLUGINS, _load_by_path

RF = _load_by_path(PLUGINS / "filter" / "redis_rolling.py", "redis_rolling_filters_under_test")

DEFAULTS = {
    "redis_rolling_instance": "main",
    "redis_rolling_upgrade": False,
    "redis_rolling_flavor_switch": False,
    "redis_rolling_sync_timeout_s": 1800,
    "redis_rolling_pause_ms": 15000,
    "redis_rolling_switchover_timed": True,
}


def test_the_playbooks_defaults_and_extra_vars_as_strings_pass():
    assert RF.redis_rolling_problems(DEFAULTS) == []
    given = {**DEFAULTS, "redis_rolling_switchover_timed": "false", "redis_rolling_pause_ms": "20000"}
    assert RF.redis_rolling_problems(given) == []


@pytest.mark.parametrize(
    ("var", "value", "said"),
    [
        (
            "redis_rolling_switchover_timed",
            "sometimes",
            "redis_rolling_switchover_timed 'sometimes': true or false",
        ),
        ("redis_rolling_upgrade", "2", "redis_rolling_upgrade '2': true or false"),
        (
            "redis_rolling_pause_ms",
            1000,
            "redis_rolling_pause_ms 1000: a whole number of ms from 5000",
        ),
        ("redis_rolling_pause_ms", "15s", "redis_rolling_pause_ms '15s': a whole number of ms"),
        ("redis_rolling_pause_ms", True, "redis_rolling_pause_ms True: a whole number of ms"),
        ("redis_rolling_sync_timeout_s", 0, "redis_rolling_sync_timeout_s 0: a whole number of s from 10"),
        (
            "redis_rolling_instance",
            "main; rm -rf /",
            "redis_rolling_instance 'main; rm -rf /': the name of an",
        ),
        ("redis_rolling_instance", "", "redis_rolling_instance '': the name of an instance"),
    ],
)
def test_a_wrong_value_is_refused_with_its_name_and_the_fix(var, value, said):
    found = RF.redis_rolling_problems({**DEFAULTS, var: value})
    assert len(found) == 1 and found[0].startswith(said), found
