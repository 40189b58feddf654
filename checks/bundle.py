"""A self-contained bundle of the check runtime for a host without PyPI access.

Built on the control node with its pip, for the target's Python version and machine: the base
dependencies (redis-py, Jinja2, PyYAML) exactly as requirements/hosts.txt locks them, with the
kit's own package beside them, packed as a tarball named by the hash of what goes in, so an
unchanged kit is neither rebuilt nor copied again (the redis_compliance role relies on that).

The kit's package is copied from wherever this redisops runs: an installed wheel (its RECORD
lists the files) or a checkout (pyproject.toml's package-dir maps the sources). The lab stays
behind: it is control-node tooling.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path, PurePosixPath

from redisops.collection import CHECKOUT, in_checkout

DISTRIBUTION = "redis-ops-kit"
PACKAGE = "redisops"
# Control-node tooling that does not go to monitoring or backup hosts.
LEFT_OUT = ("redisops/lab/",)


def hosts_lock() -> Path:
    """The base dependencies pinned with their hashes, for every Python and machine a host may have
    (requirements/hosts.txt, package data of redisops.requirements)."""
    return Path(str(importlib.resources.files("redisops.requirements") / "hosts.txt"))


def _version() -> str:
    return importlib.metadata.version(DISTRIBUTION)


def _wanted(rel: str) -> bool:
    return (
        rel.startswith(f"{PACKAGE}/")
        and "__pycache__" not in rel
        and not rel.endswith(".pyc")
        and not rel.startswith(LEFT_OUT)
    )


def _checkout_files(root: Path) -> dict[str, Path]:
    """The package's files in a checkout, where pyproject.toml's package-dir puts them."""
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    files: dict[str, Path] = {}
    # Parents first, so a mapped subpackage (redisops.core) wins over a same-named folder.
    for package, folder in sorted(setup["package-dir"].items(), key=lambda item: item[0].count(".")):
        prefix = package.replace(".", "/")
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                rel = f"{prefix}/{path.relative_to(root / folder).as_posix()}"
                if _wanted(rel):
                    files[rel] = path
    return files


def _installed_files() -> dict[str, Path]:
    """The package's files of an installed wheel, from its RECORD."""
    dist = importlib.metadata.distribution(DISTRIBUTION)
    files = {}
    for entry in dist.files or []:
        rel = PurePosixPath(entry).as_posix()
        if _wanted(rel):
            files[rel] = Path(str(entry.locate()))
    return files


def package_files(root: Path = CHECKOUT) -> dict[str, Path]:
    """Where each file of the bundle's redisops package is (path inside the bundle -> source)."""
    if in_checkout(root):
        return _checkout_files(root)
    return _installed_files()


def source_digest(files: dict[str, Path] | None = None, lock: Path | None = None) -> str:
    """Changes when the package, the lock or the version change, and only then."""
    files = package_files() if files is None else files
    lock = hosts_lock() if lock is None else lock
    digest = hashlib.sha256(_version().encode() + b"\0" + lock.read_bytes())
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + files[rel].read_bytes())
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
        lib = work / "lib"
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        # Output only when it fails (CalledProcessError carries it): pip is chatty.
        quiet = {"check": True, "capture_output": True, "text": True}
        for_host = [
            "--target", str(lib), "--only-binary=:all:", "--implementation", "cp",
            "--python-version", python,
            "--platform", f"manylinux2014_{machine}",
            "--platform", f"manylinux_2_17_{machine}",
            "--platform", f"manylinux_2_28_{machine}",
            "--no-compile",
        ]  # fmt: skip
        # Every wheel checked against the lock's hashes. The lock lists async-timeout outright:
        # pip judges dependencies' markers by the Python running it, not the target's, and
        # redis-py needs it below Python 3.11.3 (Debian 12 has 3.11.2).
        subprocess.run([*pip, "install", *for_host, "--require-hashes", "-r", str(hosts_lock())], **quiet)
        shutil.rmtree(lib / "bin", ignore_errors=True)
        for rel, source in package_files().items():
            dest = lib / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        # Enough metadata for 'redisops --version' on the host.
        info = lib / f"{DISTRIBUTION.replace('-', '_')}-{_version()}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {_version()}\n"
        )
        partial = work / target.name
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(lib, arcname="lib")
        partial.replace(target)
    return target
