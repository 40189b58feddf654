"""The kit as an adopter installs it, away from this checkout.

The collection: built with ansible-galaxy, installed into a scratch collections path, and
site.yml run by its FQCN from an empty directory (no ansible.cfg of ours) as the lab's non-root
user with sudo, as on real hosts. A setting changed by hand on a live server is healed and read
back, and the rerun is changed=0.

The Python package: the wheel built from the checkout and installed into a new venv (with the
locked dependencies) outside it; its redisops answers --version, lists the catalogue, checks the
lab through the installed collection and plans a drill.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from redisops.lab import plan as P

from .conftest import BIN, REPO, assert_unchanged, lab_ssh, playbook_failure, recap
from .test_redis_server import client, deployed  # noqa: F401 (the fixture)

INVENTORY = REPO / "inventories" / "lab" / "hosts.py"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _run(argv: list, cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _outside_env(collections: Path) -> dict[str, str]:
    """No ansible.cfg of the checkout: only where the collection was installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_FORCE_COLOR="0")
    return env


@pytest.fixture(scope="module")
def installed(lab, tmp_path_factory) -> dict:
    """The built collection installed into a scratch path; an empty directory to run from."""
    work = tmp_path_factory.mktemp("adopter")
    galaxy = BIN / "ansible-galaxy"
    built = _run([galaxy, "collection", "build", "--output-path", work, REPO], cwd=work, env=dict(os.environ))
    assert built.returncode == 0, built.stderr
    artifact = work / f"redisops-kit-{VERSION}.tar.gz"
    assert artifact.is_file(), built.stdout
    collections = work / "collections"
    env = _outside_env(collections)
    # --offline: the dependencies (community.crypto, community.general) come with ansible.
    done = _run(
        [galaxy, "collection", "install", "--offline", "-p", collections, artifact], cwd=work, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    root = collections / "ansible_collections" / "redisops" / "kit"
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == VERSION
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return {"work": work, "env": env, "root": root, "cwd": elsewhere}


def test_the_collection_ships_the_ansible_content_only(installed):
    root = installed["root"]
    shipped = {p.relative_to(root).parts[0] for p in root.iterdir()}
    assert {"roles", "plugins", "playbooks", "meta"} <= shipped
    for absent in ("checks", "tests", "bench", ".ci", "ansible.cfg", "pyproject.toml", "requirements"):
        assert absent not in shipped, absent
    assert not (root / "inventories" / "lab").exists()
    assert not list(root.rglob("__pycache__"))


@pytest.mark.usefixtures("deployed")
def test_site_by_fqcn_from_another_directory_as_a_user_with_sudo(installed, lab, lab_paths):
    env, cwd = installed["env"], installed["cwd"]
    as_deploy = ["-i", INVENTORY, "-e", f"ansible_user={P.DEPLOY_USER}", "-e", "ansible_become=true"]
    # The connection is the non-root user's; root only through sudo.
    who = _run([BIN / "ansible", "redis", *as_deploy[:2], "-e", f"ansible_user={P.DEPLOY_USER}", "-m",
                "ansible.builtin.command", "-a", "id -un"], cwd=cwd, env=env, timeout=120)  # fmt: skip
    assert who.returncode == 0, who.stdout + who.stderr
    assert who.stdout.count(f"\n{P.DEPLOY_USER}") == len(lab.hosts), who.stdout

    # A change by hand on a live server: the installed collection's run puts it back.
    first = lab.hosts[0]
    with client(lab_paths, first.address) as r:
        wanted = r.config_get("maxmemory-policy")["maxmemory-policy"]
        r.config_set("maxmemory-policy", "allkeys-random" if wanted != "allkeys-random" else "noeviction")
    site = [BIN / "ansible-playbook", *as_deploy, "redisops.kit.site"]
    healed = _run(site, cwd=cwd, env=env)
    assert healed.returncode == 0, playbook_failure(healed)
    assert recap(healed.stdout)[first.name]["changed"] > 0
    with client(lab_paths, first.address) as r:
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] == wanted

    rerun = _run(site, cwd=cwd, env=env)
    assert_unchanged(rerun, lab.all_hosts)
    for out in (healed.stdout + healed.stderr, rerun.stdout + rerun.stderr):
        assert "WARNING]" not in out and "Warning" not in out, out[-3000:]
    # The run went through sudo, as the deploy user: its log says so on each host.
    log = lab_ssh(first.name, "journalctl -q _COMM=sudo --since=-15min | grep -c 'USER=root' || true")
    assert int(log.stdout.strip() or 0) > 0, log.stdout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A new venv outside the checkout with the locked dependencies and the kit's wheel."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    built = _run(
        [*pip, "wheel", "--no-deps", "--wheel-dir", work / "dist", REPO], cwd=work, env=dict(os.environ)
    )
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("redis_ops_kit-*.whl"))
    venv = work / "venv"
    made = _run([sys.executable, "-m", "venv", venv], cwd=work, env=dict(os.environ))
    assert made.returncode == 0, made.stderr
    vpip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "--quiet"]
    locked = _run([*vpip, "install", "--require-hashes", "-r", REPO / "requirements" / "control.txt"],
                  cwd=work, env=dict(os.environ), timeout=1800)  # fmt: skip
    assert locked.returncode == 0, locked.stderr[-3000:]
    kit = _run([*vpip, "install", "--no-deps", wheel], cwd=work, env=dict(os.environ))
    assert kit.returncode == 0, kit.stderr
    return venv


def _redisops(venv: Path, *args, env: dict, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return _run([venv / "bin" / "redisops", *args], cwd=cwd, env=env, timeout=timeout)


@pytest.mark.usefixtures("deployed")
def test_the_wheel_works_outside_the_checkout(wheel_venv, installed, lab):
    env, cwd = installed["env"], installed["cwd"]
    # Nothing of the checkout on the import path: the installed package only.
    probe = _run([wheel_venv / "bin" / "python", "-c", "import redisops, sys; print(redisops.__file__)"],
                 cwd=cwd, env=env)  # fmt: skip
    assert str(wheel_venv) in probe.stdout and str(REPO) not in probe.stdout, probe.stdout + probe.stderr

    version = _redisops(wheel_venv, "--version", env=env, cwd=cwd)
    assert version.returncode == 0 and version.stdout.strip() == f"redisops {VERSION}", version
    assert version.stderr == ""

    catalogue = _redisops(wheel_venv, "check", "--catalogue", env=env, cwd=cwd)
    assert catalogue.returncode == 0, catalogue.stderr
    assert "MEM-01" in catalogue.stdout and "SEC-" in catalogue.stdout

    # The checks read the roles' defaults and redis.conf template from the installed collection.
    checked = _redisops(wheel_venv, "check", "-i", INVENTORY, "--format", "json", env=env, cwd=cwd)
    assert checked.returncode in (0, 1), checked.stderr[-3000:]
    report = json.loads(checked.stdout)
    ran = {r["check"] for r in report["results"] if r["status"] in ("pass", "fail")}
    assert {"MEM-01", "CFG-01", "HA-01"} <= ran, sorted(ran)
    assert not [r for r in report["results"] if r["status"] == "error"], report["results"]

    plan = _redisops(wheel_venv, "drill", "failover", "--scenario", "kill-primary", "-i", INVENTORY,
                     "--dry-run", env=env, cwd=cwd)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    # The plan (on stderr, as the drill's progress) names the group's servers and sentinels.
    assert "scenario kill-primary" in plan.stderr, plan.stderr
    assert f"servers: {lab.hosts[0].name} {lab.hosts[0].address}:6379" in plan.stderr, plan.stderr


def test_without_the_collection_the_checks_say_how_to_install_it(wheel_venv, installed, tmp_path):
    env = {**installed["env"], "ANSIBLE_COLLECTIONS_PATH": str(tmp_path)}
    proc = _redisops(wheel_venv, "check", "-i", INVENTORY, env=env, cwd=installed["cwd"])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ansible-galaxy collection install" in proc.stderr and "Traceback" not in proc.stderr


def test_the_galaxy_and_package_versions_agree():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert galaxy["version"] == VERSION
