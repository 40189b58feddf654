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
