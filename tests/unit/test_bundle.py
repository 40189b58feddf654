"""The host bundle takes its dependencies from the hash-checked lock, built for the host's platform."""

import subprocess
import tarfile
from pathlib import Path

from checks import bundle

LOCK = bundle.REPO / "requirements" / "hosts.txt"


def fake_pip(calls: list[list[str]]):
    """Records pip's command lines and leaves what the next step reads: a wheel, a target dir."""

    def run(cmd, **kwargs):
        calls.append(cmd)
        if "--wheel-dir" in cmd:
            wheels = Path(cmd[cmd.index("--wheel-dir") + 1])
            wheels.mkdir(parents=True)
            (wheels / "redis_ops_kit-0.1.0-py3-none-any.whl").touch()
        else:
            Path(cmd[cmd.index("--target") + 1]).mkdir(exist_ok=True)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return run


def test_dependencies_come_from_the_lock_with_hashes(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bundle.subprocess, "run", fake_pip(calls))
    tarball = bundle.build_bundle("3.11.2", "aarch64", tmp_path)

    wheel, deps, kit = calls
    assert "--no-deps" in wheel
    assert deps[deps.index("-r") + 1] == str(LOCK)
    assert "--require-hashes" in deps
    # Nothing beside the lock: the lock itself carries async-timeout for Python below 3.11.3.
    assert not [arg for arg in deps if "async-timeout" in arg or arg.endswith(".whl")]
    assert kit[-1].endswith(".whl")
    assert "--no-deps" in kit
    for install in (deps, kit):
        assert install[install.index("--python-version") + 1] == "3.11.2"
        assert "--only-binary=:all:" in install
        assert "manylinux_2_17_aarch64" in install
    assert deps[deps.index("--target") + 1] == kit[kit.index("--target") + 1]
    with tarfile.open(tarball) as tar:
        assert "lib/templates" in tar.getnames()


def test_a_new_lock_makes_a_new_bundle(tmp_path):
    for path in ("pyproject.toml", "requirements/hosts.txt", "checks/__init__.py", "templates/report.html"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(path)
    before = bundle.source_digest(tmp_path)
    (tmp_path / "requirements" / "hosts.txt").write_text("markupsafe==3.0.5")
    assert bundle.source_digest(tmp_path) != before
