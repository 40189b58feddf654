"""redis_units: what systemctl show says, and the actions each wanted state needs from it."""

from __future__ import annotations

import importlib.util

from tests.unit.role_code import REPO

_SPEC = importlib.util.spec_from_file_location("redis_units", REPO / "plugins/modules/redis_units.py")
U = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(U)

SHOW = """Id=a.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled

Id=b.service
LoadState=loaded
ActiveState=inactive
UnitFileState=disabled

Id=a.service
LoadState=not-found
ActiveState=inactive
UnitFileState=
"""


def test_show_blocks_keep_the_order_asked_for_even_for_repeated_ids():
    blocks = U.parse_show(SHOW)
    assert [b["Id"] for b in blocks] == ["a.service", "b.service", "a.service"]
    assert blocks[2]["UnitFileState"] == "" and blocks[1]["ActiveState"] == "inactive"


def _state(active: str, file_state: str) -> dict:
    return {"ActiveState": active, "UnitFileState": file_state}


def test_started_units_are_enabled_and_started_only_when_needed():
    wanted = [{"name": n, "state": "started"} for n in ("up", "down", "off", "oneshot", "looping")]
    states = {
        "up": _state("active", "enabled"),
        "down": _state("inactive", "enabled"),
        "off": _state("inactive", "disabled"),
        "oneshot": _state("active", "static"),
        # Crash-looping between restarts: started again, as systemd_service did.
        "looping": _state("activating", "enabled"),
    }
    assert U.plan(wanted, states) == {"down": ["start"], "off": ["enable", "start"], "looping": ["start"]}


def test_restarted_always_restarts_and_enables():
    wanted = [{"name": "a", "state": "restarted"}, {"name": "b", "state": "restarted"}]
    states = {"a": _state("active", "enabled"), "b": _state("inactive", "disabled")}
    assert U.plan(wanted, states) == {"a": ["restart"], "b": ["enable", "restart"]}


def test_stopped_units_are_disabled_with_their_stop_and_masked_ones_masked_even_when_absent():
    wanted = [
        {"name": "enabled", "state": "stopped"},
        {"name": "running", "state": "stopped"},
        {"name": "gone", "state": "stopped"},
        {"name": "stock", "state": "masked"},
        {"name": "not-installed", "state": "masked"},
        {"name": "masked-but-running", "state": "masked"},
    ]
    states = {
        "enabled": _state("inactive", "enabled"),
        "running": _state("active", "static"),
        "gone": _state("inactive", ""),
        "stock": _state("inactive", "masked"),
        "not-installed": _state("inactive", ""),
        "masked-but-running": _state("active", "masked"),
    }
    assert U.plan(wanted, states) == {
        "enabled": ["disable"],
        "running": ["stop"],
        "not-installed": ["mask"],
        "masked-but-running": ["mask"],
    }


def test_commands_run_in_a_safe_order():
    # Masks and stops first, then enables, then starts and restarts.
    order = list(U.COMMANDS)
    assert order.index("mask") < order.index("enable") < order.index("start") < order.index("restart")
    assert U.COMMANDS["disable"] == ["disable", "--now"] and U.COMMANDS["mask"] == ["mask", "--now"]


def test_only_a_lost_cgroup_or_spawn_is_started_again():
    lost = {"ActiveState": "failed", "ExecMainStatus": "219", "Result": "exit-code"}
    spawn = {"ActiveState": "failed", "ExecMainStatus": "0", "Result": "resources"}
    up = {"ActiveState": "active", "ExecMainStatus": "0", "Result": "success"}
    crashed = {"ActiveState": "failed", "ExecMainStatus": "1", "Result": "exit-code"}
    assert U.retryable(["fw", "redis"], [lost, up]) == ["fw"]
    assert U.retryable(["fw", "redis"], [lost, spawn]) == ["fw", "redis"]
    # A program that failed on its own is reported, never retried (nor are the others then).
    assert U.retryable(["fw", "redis"], [lost, crashed]) is None
    assert U.retryable(["redis"], [crashed]) is None
    # An answer that does not match the question is not guessed at.
    assert U.retryable(["fw", "redis"], [lost]) is None
