"""The locks in requirements/ agree with pyproject.toml and pin every package with its hashes.

`make` installs the control node with pip --require-hashes and the host bundle is built the same
way, so a lock that misses a package, or lags behind a pin in pyproject.toml, breaks an install or
quietly ships an older version. Only files are read here: no index is asked.
"""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
CONTROL = REPO / "requirements" / "control.txt"
HOSTS = REPO / "requirements" / "hosts.txt"
CONSTRAINTS = REPO / "requirements" / "constraints.in"


def lock_entries(lock: Path) -> list[str]:
    """Each requirement of a lock on one line, with its options and without comments."""
    joined = lock.read_text().replace("\\\n", " ")
    lines = (re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip() for line in joined.splitlines())
    return [line for line in lines if line]


def lock_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for entry in lock_entries(lock):
        name, _, rest = entry.partition("==")
        pins[canonicalize_name(name)] = rest.split()[0]
    return pins


def exact_pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for text in requirements:
        req = Requirement(text)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{text}: pyproject.toml pins exact versions"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


BASE = PYPROJECT["project"]["dependencies"]
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        # Every extra: the control node installs them all (control and dev today).
        (CONTROL, BASE + [text for extra in EXTRAS.values() for text in extra]),
        (HOSTS, BASE),
    ],
    ids=["control", "hosts"],
)
def test_every_pin_of_pyproject_is_locked_at_the_same_version(lock, requirements):
    wanted = exact_pins(requirements)
    locked = lock_pins(lock)
    assert {name: locked.get(name) for name in wanted} == wanted


@pytest.mark.parametrize("lock", [CONTROL, HOSTS], ids=["control", "hosts"])
def test_every_line_is_pinned_with_a_hash(lock):
    entries = lock_entries(lock)
    assert entries
    for entry in entries:
        assert re.match(r"[A-Za-z0-9._-]+==\S+ ", entry), entry
        assert "--hash=sha256:" in entry, entry
        # pip judges markers by the Python that runs it, which for the bundle is not the host's.
        assert ";" not in entry, entry


def test_the_hosts_run_the_versions_the_control_node_tests():
    control = lock_pins(CONTROL)
    assert {name: control.get(name) for name in lock_pins(HOSTS)} == lock_pins(HOSTS)


def test_the_bundle_always_carries_async_timeout():
    # redis-py needs it below Python 3.11.3 (Debian 12); see requirements/hosts.in.
    assert "async-timeout" in lock_pins(HOSTS)


def test_the_editable_install_builds_with_locked_tools():
    # make installs the kit with --no-build-isolation: the lock must satisfy the build system.
    locked = lock_pins(CONTROL)
    for text in PYPROJECT["build-system"]["requires"]:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in locked, text
        assert req.specifier.contains(locked[name]), f"{text}, locked {locked[name]}"
    assert "pip" in locked


def test_the_constraints_hold_in_the_control_lock():
    # cryptography is held back so ansible does not warn at start-up; see constraints.in.
    constraints = [
        line for line in CONSTRAINTS.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    assert constraints
    locked = lock_pins(CONTROL)
    for name, version in exact_pins(constraints).items():
        assert locked.get(name) == version
