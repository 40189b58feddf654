"""A self-contained bundle of the check runtime for a host without PyPI access.

Built on the control node with its pip, for the target's Python version and machine:
the kit's wheel and its base dependencies (redis-py, Jinja2, PyYAML), exactly as
requirements/hosts.txt locks them, installed into one directory and packed as a tarball
named by the hash of the sources and that lock, so an unchanged kit is neither rebuilt nor
copied again (the redis_compliance role relies on that).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The base dependencies pinned with their hashes, for every Python and machine a host may have.
HOSTS_LOCK = Path("requirements") / "hosts.txt"


def source_digest(root: Path = REPO) -> str:
    digest = hashlib.sha256()
    files = [
        root / "pyproject.toml",
        root / HOSTS_LOCK,
        *sorted((root / "checks").rglob("*.py")),
        *sorted((root / "templates").rglob("*")),
    ]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def bundle_name(python: str, machine: str) -> str:
    return f"redisops-kit-{source_digest()}-py{python.replace('.', '')}-{machine}.tar.gz"


def build_bundle(python: str, machine: str, out_dir: Path) -> Path:
    """The tarball's path; built only when no bundle of these sources exists yet."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / bundle_name(python, machine)
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        work = Path(tmp)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        # Output only when it fails (CalledProcessError carries it): pip and setuptools are chatty.
        quiet = {"check": True, "capture_output": True, "text": True}
        subprocess.run([*pip, "wheel", "--no-deps", "--wheel-dir", str(work / "wheels"), str(REPO)], **quiet)
        wheel = next((work / "wheels").glob("*.whl"))
        for_host = [
            "--target",
            str(work / "lib"),
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python,
            "--platform",
            f"manylinux2014_{machine}",
            "--platform",
            f"manylinux_2_17_{machine}",
            "--platform",
            f"manylinux_2_28_{machine}",
            "--no-compile",
        ]
        # Every wheel checked against the lock's hashes. The lock lists async-timeout outright:
        # pip judges dependencies' markers by the Python running it, not the target's, and
        # redis-py needs it below Python 3.11.3 (Debian 12 has 3.11.2).
        lock = ["--require-hashes", "-r", str(REPO / HOSTS_LOCK)]
        subprocess.run([*pip, "install", *for_host, *lock], **quiet)
        # The kit's own wheel is built above, so no lock can know its hash; its dependencies are in.
        subprocess.run([*pip, "install", *for_host, "--no-deps", str(wheel)], **quiet)
        shutil.rmtree(work / "lib" / "bin", ignore_errors=True)
        # The lab is control-node tooling: it does not go to monitoring or backup hosts.
        shutil.rmtree(work / "lib" / "redisops" / "lab")
        partial = work / target.name
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work / "lib", arcname="lib")
        partial.replace(target)
    return target
