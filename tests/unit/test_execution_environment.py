"""execution-environment.yml (AWX / Automation Platform): its pins are the lock's, its file names
the release's, and ansible-builder turns it into a build context with the kit in it. (Building
the image needs a container runtime; the build context is what this machine can check.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE = yaml.safe_load((REPO / "execution-environment.yml").read_text())
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _locked() -> dict[str, str]:
    text = (REPO / "requirements" / "control.txt").read_text()
    return {m[0].lower(): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def test_the_pins_are_the_control_nodes_lock():
    locked = _locked()
    deps = EE["dependencies"]
    pins = [deps["ansible_core"]["package_pip"], *deps["python"]]
    for pin in pins:
        name, version = pin.split("==")
        assert locked.get(name.lower()) == version, f"{pin} differs from requirements/control.txt"


def test_the_file_names_are_this_release():
    text = (REPO / "execution-environment.yml").read_text()
    named = set(re.findall(r"(?:redisops-kit|redis_ops_kit)-(\d+\.\d+\.\d+)", text))
    assert named == {VERSION}


def test_ansible_builder_makes_a_build_context_with_the_kit(tmp_path):
    dist = tmp_path / "dist"
    for argv in (
        [BIN / "ansible-galaxy", "collection", "build", "--output-path", dist, REPO],
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, REPO],
    ):
        proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
    shutil.copy(REPO / "execution-environment.yml", tmp_path)
    proc = subprocess.run(
        [str(BIN / "ansible-builder"), "create", "-c", "context", "--output-filename", "Containerfile"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert (context / "_build" / "kit" / f"redisops-kit-{VERSION}.tar.gz").is_file()
    assert f"install --no-cache-dir --no-deps /tmp/redis_ops_kit-{VERSION}-py3-none-any.whl" in containerfile
    assert 'ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--no-deps"' in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": f"kit/redisops-kit-{VERSION}.tar.gz", "type": "file"}]
