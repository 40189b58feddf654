"""Every step of every role's main.yml carries its phase tags (install, tls, config, service,
firewall) or always, so `ansible-playbook --tags PHASE` never skips something a phase needs
without saying so, and a new step cannot be added untagged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
ALLOWED = {"always", "install", "tls", "config", "service", "firewall"}


@pytest.mark.parametrize(
    "role", sorted(p.name for p in ROLES.iterdir() if (p / "tasks" / "main.yml").is_file())
)
def test_every_step_of_main_is_tagged_by_phase(role):
    tasks = ROLES / role / "tasks"
    for task in yaml.safe_load((tasks / "main.yml").read_text()):
        imported = task.get("ansible.builtin.import_tasks")
        # A file imported untagged tags its own steps (probes always, the rest by phase).
        steps = yaml.safe_load((tasks / imported).read_text()) if imported and "tags" not in task else [task]
        for step in steps:
            tags = step.get("tags")
            assert tags, f"{role}: '{step['name']}' has no tags"
            assert set(tags) <= ALLOWED, f"{role}: '{step['name']}' tags {tags}"
