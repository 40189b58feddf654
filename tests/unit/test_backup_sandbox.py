"""Issue 20: the restore verification (a throw-away server loading a backup from another host)
runs in a transient systemd sandbox: no network, a read-only system, and only its scratch
directory to write to. These tests read the command it builds; tests/lab/test_backup.py runs it."""

from __future__ import annotations

import argparse
import shlex

import yaml

from redisops.backup import cli
from redisops.backup import scratch as S
from redisops.drills import backup as B
from redisops.drills.targets import DrillTargets, Node

from .role_code import REPO

R1 = Node("redis-1", "192.0.2.11", 6379)


def _targets(**extra) -> DrillTargets:
    return DrillTargets(
        inventory="inv", group="redis-main", instance="main", unit="redis-server@main.service",
        quorum=2, down_after_ms=5000, failover_timeout_ms=60000, min_replicas_max_lag=10,
        servers=[R1], sentinels=[Node("s1", "192.0.2.13", 26379)], **extra,
    )  # fmt: skip


def _properties(argv: list[str]) -> dict[str, str]:
    head = argv[: argv.index("--")]
    return dict(a.removeprefix("--property=").split("=", 1) for a in head if a.startswith("--property="))


def test_the_sandbox_runs_the_command_as_the_user_and_waits_for_it():
    argv = S.sandbox_argv("redisops-backup", "/var/lib/redisops-backup/scratch", ["/bin/true", "x y"])
    assert argv[0] == "systemd-run"
    head = argv[: argv.index("--")]
    assert {"--wait", "--pipe", "--collect", "--quiet"} <= set(head)
    assert "--uid=redisops-backup" in head and "--gid=redisops-backup" in head
    # The command comes last, after '--', word for word.
    assert argv[argv.index("--") + 1 :] == ["/bin/true", "x y"]


def test_the_sandbox_has_no_network_and_writes_only_its_scratch_directory():
    props = _properties(S.sandbox_argv("u", "/srv/scratch", ["/bin/true"]))
    assert props["PrivateNetwork"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["NoNewPrivileges"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert props["ReadWritePaths"] == "/srv/scratch"
    assert [k for k in props if k.startswith("ReadWrite")] == ["ReadWritePaths"]


def test_the_environment_is_set_inside_the_unit_not_around_systemd_run():
    argv = S.sandbox_argv("u", "/s", ["/bin/true"], {"PYTHONPATH": "/opt/kit/lib", "A": "1"})
    head = argv[: argv.index("--")]
    assert [a for a in head if a.startswith("--setenv=")] == [
        "--setenv=A=1",
        "--setenv=PYTHONPATH=/opt/kit/lib",
    ]


def test_without_systemd_the_verification_fails_clearly_and_never_runs_unsandboxed():
    line = S.sandbox_command("u", "/s", ["/bin/true"])
    guard, run = line.split("; fi; ", 1)
    assert "/run/systemd/system" in guard and "command -v systemd-run" in guard and "exit 69" in guard
    assert shlex.quote(S.NO_SYSTEMD) in guard
    assert shlex.split(run) == S.sandbox_argv("u", "/s", ["/bin/true"])


def test_the_drill_verifies_the_restore_in_the_sandbox_on_a_copy():
    t = _targets(backup_hosts=["backup-1"])
    line = B.restore_command(t, "20260101T000000Z", "app:drill:backup:1:*", alter_one_key=True)
    argv = shlex.split(line.split("; fi; ", 1)[1])
    assert "runuser" not in line
    assert f"--uid={t.backup_user}" in argv
    scratch = f"{t.backup_state_dir}/scratch"
    assert _properties(argv)["ReadWritePaths"] == scratch
    command = argv[argv.index("--") + 1 :]
    assert command[:5] == ["/usr/bin/python3", "-m", "redisops.cli", "backup", "scratch"]
    # The scratch copy goes where the sandbox may write, copied (a hard link there would let the
    # loading server reach the stored file).
    assert command[command.index("--work-dir") + 1] == scratch
    assert "--copy" in command and "--alter-one-key" in command
    assert command[command.index("--store") + 1] == t.backup_store_dir
    assert command[command.index("--pattern") + 1] == "app:drill:backup:1:*"
    assert f"--setenv=PYTHONPATH={t.backup_runtime}" in argv


def _directory_items(node) -> list[dict]:
    """Every loop item of the role's tasks (blocks included)."""
    if isinstance(node, list):
        return [item for entry in node for item in _directory_items(entry)]
    if isinstance(node, dict):
        return [i for i in node.get("loop") or [] if isinstance(i, dict)] + _directory_items(
            node.get("block")
        )
    return []


def test_the_backup_role_creates_the_scratch_directory_for_the_backup_user_only():
    tasks = yaml.safe_load((REPO / "roles" / "redis_backup" / "tasks" / "install.yml").read_text())
    scratch = [i for i in _directory_items(tasks) if str(i.get("path", "")).endswith("/scratch")]
    assert scratch == [
        {"path": "{{ redis_backup_state_dir }}/scratch", "owner": "{{ redis_backup_user }}", "mode": "0700"}
    ]


def test_a_copy_is_asked_for_on_the_command_line():
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["backup", "scratch", "--store", "/s", "--group", "g", "--copy"])
    assert args.copy is True
    assert parser.parse_args(["backup", "scratch", "--store", "/s", "--group", "g"]).copy is False


def test_the_backup_drill_names_the_playbook_when_the_backup_host_is_not_set_up(tmp_path):
    """The probe runs in a real shell: with nothing installed every piece is missing and named;
    with the runtime and the store there, only the unit (no systemctl here) is."""
    import subprocess

    bare = _targets(backup_runtime=str(tmp_path / "lib"), backup_store_dir=str(tmp_path / "store"))
    out = subprocess.run(["sh", "-c", B.prerequisites_command(bare)], capture_output=True, text=True).stdout
    missing = B.missing_prerequisites(bare, out)
    assert missing == [
        f"the kit's backup runtime ({tmp_path / 'lib'})",
        "redisops-backup.service",
        f"the backup store ({tmp_path / 'store'})",
    ], out
    (tmp_path / "lib" / "redisops").mkdir(parents=True)
    (tmp_path / "lib" / "redisops" / "cli.py").write_text("")
    (tmp_path / "store").mkdir()
    out = subprocess.run(["sh", "-c", B.prerequisites_command(bare)], capture_output=True, text=True).stdout
    assert B.missing_prerequisites(bare, out) == ["redisops-backup.service"], out
    # An answer it cannot read (a host that printed nothing) counts as nothing being there.
    assert len(B.missing_prerequisites(bare, "")) == 3
