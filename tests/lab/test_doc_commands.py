"""The documented commands classed LAB in tests/unit/test_doc_commands.py, run as written from the
repository root against the deployed lab: each exits 0.

They are read-only and cheap (the checks, the lab's status, status.yml, the scrape targets, the
backup store's list and verify, a drill's plan, a ping, redis-cli): the module deploys once, with
a fresh off-host backup so that the checks find nothing high and verify finds a backup.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.unit.doc_commands import commands
from tests.unit.test_doc_commands import CLASSES, LAB

from .conftest import BIN, REPO, deploy_site, tool_env

LAB_COMMANDS = sorted({c.key: c for c in commands() if CLASSES.get(c.key) == LAB}.values(), key=str)


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    """site.yml once, a healthy group and an off-host backup before any command runs."""
    return deploy_site(lab, lab_paths, backup=True)


def test_there_are_lab_commands():
    assert len(LAB_COMMANDS) >= 5, LAB_COMMANDS


@pytest.mark.parametrize("command", LAB_COMMANDS, ids=str)
def test_documented_command_runs_on_the_lab(deployed, command):
    # As a reader runs it: /bin/sh from the checkout, with the kit's tools first on PATH (the
    # pages write .venv/bin/ or activate the environment first).
    env = tool_env()
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{BIN}:{env['PATH']}"
    proc = subprocess.run(
        ["/bin/sh", "-c", command.text],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{command}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
