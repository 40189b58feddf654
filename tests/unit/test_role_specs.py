"""Every role declares each of its public variables once: a default in defaults/main.yml and an
argument spec (type, description) in meta/argument_specs.yml; passwords are no_log."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "defaults").is_dir()))
def test_every_default_is_declared_in_the_argument_specs_and_vice_versa(role):
    defaults = set(yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()))
    options = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"][
        "main"
    ]["options"]
    assert sorted(defaults - set(options)) == [], "defaults without an argument spec"
    assert sorted(set(options) - defaults) == [], "argument specs without a default"
    assert [n for n, spec in options.items() if not spec.get("type") or not spec.get("description")] == []
    assert [n for n in options if n.endswith("_password") and options[n].get("no_log") is not True] == []


PLAYBOOKS = ROLES.parent / "playbooks"


def _tasks_from_uses() -> set[tuple[str, str]]:
    """(role, tasks file) of every include_role or import_role with tasks_from in the playbooks."""
    uses = set()

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                args = node.get(key)
                if isinstance(args, dict) and "tasks_from" in args:
                    uses.add((args["name"].removeprefix("redisops.kit."), args["tasks_from"]))
            for value in node.values():
                walk(value)

    for path in PLAYBOOKS.rglob("*.yml"):
        walk(yaml.safe_load(path.read_text()))
    return uses


def test_the_playbooks_use_tasks_from():
    assert ("redis_server", "assert.yml") in _tasks_from_uses()
    assert ("redis_exporter", "assert.yml") in _tasks_from_uses()


@pytest.mark.parametrize(("role", "tasks_from"), sorted(_tasks_from_uses()))
def test_every_tasks_from_entry_point_of_the_playbooks_has_its_argument_spec(role, tasks_from):
    """Ansible validates an entry point named exactly as tasks_from says ('assert.yml'); the bare name
    ('assert') covers tasks_from: assert. Both take the role's options (rules.yml: the rules' only)."""
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    main = specs["main"]["options"]
    for entry in (tasks_from, tasks_from.removesuffix(".yml")):
        assert entry in specs, f"{role}: no argument spec for tasks_from {entry}"
        options = specs[entry]["options"]
        assert options and set(options) <= set(main)
        assert specs[entry]["short_description"]
        if entry.removesuffix(".yml") != "rules":
            assert options == main


def test_the_rules_entry_point_takes_the_alert_options_only():
    specs = yaml.safe_load((ROLES / "redis_exporter" / "meta" / "argument_specs.yml").read_text())[
        "argument_specs"
    ]
    rules = set(specs["rules.yml"]["options"])
    assert {"redis_exporter_rules_dir", "redis_exporter_alert_memory_used_ratio"} <= rules
    assert "redis_exporter_listen_address" not in rules


@pytest.mark.parametrize(
    ("role", "option"),
    [
        ("redis_server", "redis_server_client_networks_allow_any"),
        ("redis_sentinel", "redis_sentinel_bind_allow_wildcard"),
        ("redis_exporter", "redis_exporter_listen_allow_wildcard"),
        ("redis_exporter", "redis_exporter_scrape_networks_allow_any"),
    ],
)
def test_the_opt_ins_default_to_false_and_are_booleans(role, option):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    options = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"][
        "main"
    ]
    assert defaults[option] is False
    assert options["options"][option]["type"] == "bool"
