"""The first hour on the lab: what a newcomer meets before and after 'make demo'.

A bare backup host first: every command that needs it names the playbook to run. Then the
README's set-up command, and the three commands it suggests: the checks pass, both drills pass,
and nothing prints a warning.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from .conftest import REPO, lab_ssh, playbook_failure, redisops, run_playbook, tool_env

# Ansible's warnings and deprecations, and Python's (SomethingWarning: ...). A finding or a drill
# criterion may say "warning" as a word: that is no warning printed by a tool.
WARNING = re.compile(r"\[WARNING\]|\[DEPRECATION WARNING\]|\b\w*Warning: ")


def warnings_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if WARNING.search(line)]


@pytest.fixture(scope="module")
def bare_backup_host(lab):
    """backup-1 as new: nothing of the kit's backups installed on it."""
    redisops("lab", "rebuild", "backup-1", timeout=600)
    return lab


def test_before_the_backup_host_is_set_up_each_command_names_the_playbook(bare_backup_host):
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)

    proc = run_playbook("playbooks/backup.yml")
    assert proc.returncode != 0
    assert "run 'ansible-playbook playbooks/backup_timer.yml' first" in proc.stdout, proc.stdout[-2000:]

    drill = redisops("drill", "backup", check=False, timeout=300)
    assert drill.returncode == 2, drill.stderr
    assert "backup-1 is not set up for backups" in drill.stderr
    assert "run 'ansible-playbook playbooks/backup_timer.yml' first" in drill.stderr
    assert "Traceback" not in drill.stderr

    check = redisops("check", check=False, timeout=300)
    assert check.returncode == 1
    assert "ansible-playbook playbooks/backup_timer.yml" in check.stdout, check.stdout[-2000:]

    failover = redisops("drill", "failover", "--scenario", "kill-primary", check=False, timeout=300)
    assert failover.returncode == 2 and "preflight" in failover.stderr, failover.stderr
    assert "playbooks/backup_timer.yml" in failover.stderr


def test_make_demo_then_the_three_commands_it_suggests(bare_backup_host):
    demo = subprocess.run(
        ["make", "demo"], cwd=REPO, env=tool_env(), capture_output=True, text=True, timeout=1200, check=False
    )
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output[-4000:]
    assert not warnings_in(output), warnings_in(output)
    suggested = output[output.index("Try next:") :].splitlines()[1:4]
    commands = [line.split("#")[0].split() for line in suggested]
    assert [c[1:] for c in commands] == [
        ["check"],
        ["drill", "failover", "--scenario", "kill-primary"],
        ["drill", "backup"],
    ], suggested
    for argv in commands:
        proc = subprocess.run(
            argv, cwd=REPO, env=tool_env(), capture_output=True, text=True, timeout=900, check=False
        )
        assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert not warnings_in(proc.stdout + proc.stderr), warnings_in(proc.stdout + proc.stderr)
    # The host-side commands run as written on the backup host, with the kit's runtime.
    store = "/var/lib/redisops-backup/store"
    listing = lab_ssh("backup-1", f"/opt/redisops-kit/bin/redisops backup list --store {store}")
    assert "redis-main/" in listing.stdout, listing.stdout + listing.stderr
    # The rest of the tier takes its backups when it wants them: the demo's hourly timer off.
    proc = run_playbook("playbooks/backup_timer.yml", "-e", "redis_backup_timer_enabled=false")
    assert proc.returncode == 0, playbook_failure(proc)
