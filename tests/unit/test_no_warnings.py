"""No documented command prints a warning: a warning nobody acts on teaches people to ignore them.

The commands a newcomer runs from the README and docs/ without hosts: Ansible's own tools on the
kit's playbooks, inventories, roles and modules, the collection build, and the redisops CLI. (The
lab tier checks the playbook runs against real hosts the same way.) tests/unit/test_doc_commands.py
runs every documented command and relies on these: it does not run one that COMMANDS holds again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WARNING = re.compile(r"warn|deprecat", re.I)


def _run(*argv: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "ANSIBLE_DEPRECATION_WARNINGS")}
    env["ANSIBLE_FORCE_COLOR"] = "0"
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _quiet(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    stderr = "\n".join(line for line in proc.stderr.splitlines() if not RUN_TIME_GROUP.match(line))
    assert not WARNING.search(stderr), stderr
    assert "[WARNING]" not in proc.stdout and "[DEPRECATION WARNING]" not in proc.stdout, proc.stdout


PLAYBOOKS = sorted(str(p.relative_to(REPO)) for p in (REPO / "playbooks").glob("*.yml"))
# Groups some playbooks create while they run (group_by in rolling_restart.yml, restore.yml):
# a syntax check, which runs nothing, cannot match them. Any other warning fails.
RUN_TIME_GROUP = re.compile(
    r"^\[WARNING\]: Could not match supplied host pattern, ignoring: redis_(rolling|restore)_\w+$"
)

COMMANDS = {
    "ansible --version": ("ansible", "--version"),
    "syntax of every playbook": (
        "ansible-playbook",
        "-i",
        "inventories/example",
        "--syntax-check",
        *PLAYBOOKS,
    ),
    "site by FQCN": ("ansible-playbook", "--syntax-check", "redisops.kit.site"),
    "example inventory": ("ansible-inventory", "-i", "inventories/example", "--list"),
    "lab inventory": ("ansible-inventory", "--graph"),
    "role docs": ("ansible-doc", "-t", "role", "redisops.kit.redis_server"),
    "module docs": ("ansible-doc", "-t", "module", "redisops.kit.redis_managed_file"),
    "redisops --version": ("redisops", "--version"),
    "redisops --help": ("redisops", "--help"),
    "check catalogue": ("redisops", "check", "--catalogue"),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_documented_command_prints_no_warning(name):
    tool, *args = COMMANDS[name]
    _quiet(_run(BIN / tool, *args))


def test_collection_build_prints_no_warning(tmp_path):
    _quiet(_run(BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp_path, REPO))


def test_role_readmes_are_current():
    _quiet(_run(sys.executable, REPO / "tools" / "role_docs.py", "--check"))
