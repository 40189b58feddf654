"""The host bundle: dependencies from the hash-checked lock, built for the host's platform, and the
kit's package copied beside them (without the lab), from a checkout as from an installed wheel."""

import subprocess
import tarfile
from pathlib import Path

from redisops import bundle
from redisops.collection import CHECKOUT

LOCK = CHECKOUT / "requirements" / "hosts.txt"


def fake_pip(calls: list[list[str]]):
    """Records pip's command lines and leaves the target directory pip would create."""

    def run(cmd, **kwargs):
        calls.append(cmd)
        Path(cmd[cmd.index("--target") + 1]).mkdir(exist_ok=True)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return run


def test_dependencies_come_from_the_lock_with_hashes(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(bundle.subprocess, "run", fake_pip(calls))
    tarball = bundle.build_bundle("3.11.2", "aarch64", tmp_path)

    (deps,) = calls
    assert deps[deps.index("-r") + 1] == str(LOCK)
    assert "--require-hashes" in deps
    # Nothing beside the lock: the lock itself carries async-timeout for Python below 3.11.3.
    assert not [arg for arg in deps if "async-timeout" in arg or arg.endswith(".whl")]
    assert deps[deps.index("--python-version") + 1] == "3.11.2"
    assert "--only-binary=:all:" in deps
    assert "manylinux_2_17_aarch64" in deps
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert {"lib/redisops/cli.py", "lib/redisops/templates/check_report.html.j2"} <= names
    assert "lib/redisops/requirements/hosts.txt" in names
    assert not [n for n in names if n.startswith("lib/redisops/lab") or "__pycache__" in n]
    assert any(n.endswith(".dist-info/METADATA") for n in names)


def test_the_checkout_maps_the_package_as_pyproject_says():
    files = bundle.package_files()
    assert files["redisops/cli.py"] == CHECKOUT / "checks" / "cli.py"
    assert files["redisops/templates/check_report.html.j2"] == CHECKOUT / "templates" / "check_report.html.j2"
    assert not [rel for rel in files if rel.startswith("redisops/lab/")]


def test_a_new_lock_or_source_makes_a_new_bundle(tmp_path):
    source = tmp_path / "cli.py"
    source.write_text("print('kit')\n")
    lock = tmp_path / "hosts.txt"
    lock.write_text("redis==8.1.0\n")
    files = {"redisops/cli.py": source}
    before = bundle.source_digest(files, lock)
    assert bundle.source_digest(files, lock) == before
    lock.write_text("markupsafe==3.0.5\n")
    after_lock = bundle.source_digest(files, lock)
    assert after_lock != before
    source.write_text("print('changed')\n")
    assert bundle.source_digest(files, lock) != after_lock
