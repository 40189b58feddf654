"""roles/redis_backup's unit, rendered in-process with ansible's Templar: the root step that
publishes the metrics file out of the directory the service user writes, run as systemd would
run it (continuation lines joined, "$$" and "%%" unescaped) against files of each kind."""

from __future__ import annotations

import os
import pwd
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = Path(__file__).resolve().parents[2]
UNIT = "templates/etc/systemd/system/redisops-backup.service.j2"
ME = pwd.getpwuid(os.getuid()).pw_name
GOOD = (
    "# HELP redisops_backup_stored Backups kept in the store.\n# TYPE redisops_backup_stored gauge\n"
    'redisops_backup_stored{group="redis-main"} 3\n\nredisops_up 1\n'
)


def render_unit(role: str, template: str, **overrides) -> str:
    """A role's template with its defaults and vars, as the template action renders it."""
    folder = REPO / "roles" / role
    role_vars = {
        **yaml.safe_load((folder / "defaults" / "main.yml").read_text()),
        **yaml.safe_load((folder / "vars" / "main.yml").read_text()),
    }
    # The role's own values are templates Ansible resolves when used (vars naming defaults).
    variables = {
        **{k: trust_as_template(v) if isinstance(v, str) else v for k, v in role_vars.items()},
        "ansible_managed": "Ansible managed",
        **overrides,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    source = trust_as_template((folder / template).read_text())
    return templar.template(source, escape_backslashes=False, overrides={"trim_blocks": True})


def exec_stop_post(unit: str) -> str:
    """The script of the unit's ExecStopPost=+/bin/sh -c '...', as systemd hands it to sh."""
    joined = re.sub(r"\\\n", " ", unit)  # systemd joins continuation lines (backslash -> space)
    (line,) = [ln for ln in joined.splitlines() if ln.startswith("ExecStopPost=")]
    prefix = "ExecStopPost=+/bin/sh -c '"
    assert line.startswith(prefix) and line.endswith("'"), line
    body = line[len(prefix) : -1]
    assert "'" not in body and "\\" not in body, "no quote or escape systemd would reinterpret"
    # Every "$" and "%" is doubled: systemd would otherwise expand a variable or a specifier.
    assert not re.search(r"(?<!\$)\$(?!\$)", body.replace("$$", "")), body
    assert "%" not in body.replace("%%", ""), body
    return body.replace("$$", "$").replace("%%", "%")


def publish(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    """Run the root step. setpriv is a stand-in that checks its arguments and runs the command
    (dropping to another user needs root; the unit's user here is this test's own)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "setpriv"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "$@" >> "$(dirname "$0")/setpriv.calls"\n'
        'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\n'
        'shift\nexec "$@"\n'
    )
    fake.chmod(0o755)
    return subprocess.run(
        ["/bin/sh", "-c", script],
        env={"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def backup_script(tmp_path: Path, user: str = ME) -> str:
    unit = render_unit(
        "redis_backup", UNIT,
        redis_backup_state_dir=str(tmp_path / "state"), redis_backup_textfile_dir=str(tmp_path / "textfile"),
        redis_backup_user=user,
    )  # fmt: skip
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "textfile").mkdir(exist_ok=True)
    return exec_stop_post(unit)


def check_publishing(tmp_path: Path, script_for, name: str) -> None:
    """Every case of the root step, for either unit (``script_for(tmp_path, user)``)."""
    src, dst = tmp_path / "state" / name, tmp_path / "textfile" / name
    script = script_for(tmp_path)

    # Nothing written (a run that died early): nothing published, and no failure.
    proc = publish(tmp_path, script)
    assert proc.returncode == 0 and not dst.exists(), proc.stderr

    # The normal case: the user's own file, published whole, world-readable.
    src.write_text(GOOD)
    src.chmod(0o640)
    proc = publish(tmp_path, script)
    assert proc.returncode == 0, proc.stderr
    assert dst.read_text() == GOOD and stat.S_IMODE(dst.stat().st_mode) == 0o644
    calls = (tmp_path / "bin" / "setpriv.calls").read_text()
    assert f"--reuid={ME} --regid={ME} --clear-groups -- dd if={src} iflag=nofollow" in calls

    def refused(why: str) -> None:
        proc = publish(tmp_path, script)
        assert proc.returncode == 1 and "refused to publish" in proc.stderr, (why, proc.stderr)
        assert dst.read_text() == GOOD, why  # the last good file stays
        assert sorted(p.name for p in dst.parent.iterdir()) == [name], why  # no temp file left

    # A link the service user planted (to a secret, or even to good-looking text): refused.
    secret = tmp_path / "shadow"
    secret.write_text("root:$y$j9T$secret:19000:0:99999:7:::\n")
    (tmp_path / "elsewhere.prom").write_text(GOOD)
    for target in (secret, tmp_path / "elsewhere.prom"):
        src.unlink()
        src.symlink_to(target)
        refused(f"a link to {target}")
    src.unlink()

    # Not a regular file.
    src.mkdir()
    refused("a directory")
    src.rmdir()

    # Not Prometheus text (what a hard link or a swapped file would show).
    for text in (
        "root:x:0:0:root:/root:/bin/bash\n",
        GOOD + "-----BEGIN PRIVATE KEY-----\n",
        " leading space 1\n",
    ):
        src.write_text(text)
        refused(f"content {text!r}")

    # A file the service user does not own (here: the unit names another user).
    src.write_text(GOOD)
    proc = publish(tmp_path, script_for(tmp_path, "nobody" if ME != "nobody" else "root"))
    assert proc.returncode == 1 and "not owned by" in proc.stderr, proc.stderr


def test_the_backup_metrics_are_published_by_root_only_from_the_users_own_regular_file(tmp_path):
    check_publishing(tmp_path, backup_script, "redisops_backup.prom")


def test_the_backup_unit_runs_as_its_user_and_names_no_cp():
    unit = render_unit("redis_backup", UNIT)
    assert "User=redisops-backup" in unit and "NoNewPrivileges=true" in unit
    script = exec_stop_post(unit)
    assert 'user="redisops-backup"' in script and "cp " not in script
    assert 'src="/var/lib/redisops-backup/redisops_backup.prom"' in script
    assert 'dst="/var/lib/prometheus/node-exporter/redisops_backup.prom"' in script


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_the_real_setpriv_reads_with_the_service_users_rights_only(tmp_path):
    """With the real setpriv, a file the service user may not read is not published, even
    when root could read it (here: a directory closed to the user)."""
    script = backup_script(tmp_path, user="nobody")
    src = tmp_path / "state" / "redisops_backup.prom"
    src.write_text(GOOD)
    os.chown(src, pwd.getpwnam("nobody").pw_uid, -1)
    (tmp_path / "state").chmod(0o700)  # root's; nobody cannot enter
    proc = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "not readable as nobody" in proc.stderr, proc.stderr
    assert not (tmp_path / "textfile" / "redisops_backup.prom").exists()


def test_what_the_backups_write_is_what_the_root_step_accepts():
    """The root step's check of Prometheus text (its grep) accepts every line the backups write."""
    from redisops.backup.store import metrics_text

    script = exec_stop_post(render_unit("redis_backup", UNIT))
    (pattern,) = re.findall(r'grep -qvE "([^"]+)"', script)
    run = {"group": "redis-main", "last_success": 1.7e9, "last_run": 1.7e9, "ok": 1, "size": 10, "keys": 3}
    text = metrics_text([{**run, "duration": 0.5, "stored": 2}])
    assert all(re.fullmatch(pattern.replace("$", ""), line) for line in text.splitlines()), text
