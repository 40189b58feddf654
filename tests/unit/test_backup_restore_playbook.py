"""playbooks/restore.yml's guards, evaluated in-process with ansible's Templar: group names from
the command line are checked before they reach a path or a command, the backup is verified as
the backup user, and the restored file is sanitized as it loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from redisops.backup import store as S

REPO = Path(__file__).resolve().parents[2]
PLAYS = yaml.safe_load((REPO / "playbooks" / "restore.yml").read_text())
GUARD = "Stop unless the group names given are Sentinel group names"


def _task(name: str) -> dict:
    def walk(tasks):
        for task in tasks:
            if task.get("name") == name:
                return task
            for part in ("block", "rescue", "always"):
                found = walk(task.get(part) or [])
                if found:
                    return found
        return None

    return next(found for play in PLAYS if "tasks" in play for found in [walk(play["tasks"])] if found)


def _guard(variable: str, value) -> tuple[bool, str]:
    task = _task(GUARD)
    templar = Templar(loader=DataLoader(), variables={"item": {"key": variable, "value": value}})
    passed = all(
        templar.evaluate_conditional(trust_as_template(c)) for c in task["ansible.builtin.assert"]["that"]
    )
    message = templar.template(trust_as_template(task["ansible.builtin.assert"]["fail_msg"]))
    return passed, message


def test_the_guard_comes_first_and_covers_every_group_name_from_the_command_line():
    first = PLAYS[0]["tasks"][0]
    assert first["name"] == GUARD and first["run_once"]
    assert "redis_restore_from_group" in first["loop"] and "redis_restore_confirm" in first["loop"]


@pytest.mark.parametrize("value", ["", "redis-main", "cache.2", "G_1", "a" * 64])
@pytest.mark.parametrize("variable", ["redis_restore_from_group", "redis_restore_confirm"])
def test_sentinel_group_names_pass(variable, value):
    assert _guard(variable, value)[0]
    assert value == "" or S.check_group(value) == value  # the same rule as the Python on the backup host


@pytest.mark.parametrize(
    "value",
    ["../redis-main", "redis-main/../../etc", "/etc", ".hidden", "-x", "a b", "a;id", "$(id)", "redis-main\n",
     "a" * 65, 5, None, ["redis-main"]],
)  # fmt: skip
@pytest.mark.parametrize("variable", ["redis_restore_from_group", "redis_restore_confirm"])
def test_other_values_are_refused_naming_the_variable(variable, value):
    passed, message = _guard(variable, value)
    assert not passed
    assert message.startswith(f"{variable} ") and "is not a Sentinel group name" in message
    assert f"-e {variable}=redis-main" in message and "Nothing was changed" in message


def test_the_backup_is_verified_as_the_backup_user():
    argv = _task("Verify the backup (size, SHA-256, redis-check-rdb)")["ansible.builtin.command"]["argv"]
    assert argv[:4] == ["runuser", "-u", "{{ redis_backup_user }}", "--"]
    assert argv[4:7] == ["/usr/bin/python3", "-m", "redisops.cli"]


def test_the_restored_file_is_sanitized_as_it_loads_and_the_setting_put_back():
    start = _task("Start this once without AOF, so the dump is what loads, sanitizing it")
    assert "ExecStart={{ __restore_exec }}" in start["ansible.builtin.copy"]["content"]
    assert start["vars"]["__restore_exec"].split()[-4:] == [
        "--appendonly",
        "no",
        "--sanitize-dump-payload",
        "yes",
    ]
    for name in (
        "Stop sanitizing payloads once the backup is loaded",
        "Stop sanitizing payloads if the instance runs",
    ):
        assert _task(name)["redisops.kit.redis_command"]["command"] == [
            "CONFIG",
            "SET",
            "sanitize-dump-payload",
            "no",
        ]
