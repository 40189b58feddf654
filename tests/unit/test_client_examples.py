"""docs/clients.md and its examples (docs/clients/) agree, without hosts: the code the guide shows
is the code the lab test runs, the examples read the configuration the guide documents, and the
Node.js lock pins what the guide says. tests/lab/test_clients.py runs the examples on the lab."""

from __future__ import annotations

import json
import py_compile
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "clients.md"
EXAMPLES = REPO / "docs" / "clients"
FILES = {
    "python": EXAMPLES / "python" / "app.py",
    "js": EXAMPLES / "node" / "app.js",
    "go": EXAMPLES / "go" / "main.go",
}
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(GUIDE.read_text()) if lang == language]


@pytest.mark.parametrize("language", sorted(FILES))
def test_the_guide_shows_the_examples_code_as_committed(language):
    shown = blocks(language)
    assert shown, f"docs/clients.md shows no {language} code"
    source = FILES[language].read_text()
    for body in shown:
        assert body in source, (
            f"this {language} block of docs/clients.md is not in {FILES[language]}:\n{body}"
        )


def variables(path: Path) -> set[str]:
    return set(re.findall(r"\b(REDIS_[A-Z_]+)\b", path.read_text()))


def test_every_example_reads_the_documented_configuration():
    documented = variables(GUIDE)
    read = {language: variables(path) for language, path in FILES.items()}
    # REDIS_ONE_CONNECTION: the Python example's second mode, the trap's case.
    common = read["python"] - {"REDIS_ONE_CONNECTION"}
    assert read["js"] == common and read["go"] == common, read
    assert read["python"] <= documented, read["python"] - documented


def test_passwords_come_from_files_only():
    for path in FILES.values():
        names = variables(path)
        assert {"REDIS_PASSWORD_FILE", "REDIS_SENTINEL_PASSWORD_FILE"} <= names, path
        assert not {n for n in names if "PASSWORD" in n and not n.endswith("_FILE")}, path


def test_the_node_lock_pins_ioredis_5_without_registry_urls():
    package = json.loads((EXAMPLES / "node" / "package.json").read_text())
    lock = json.loads((EXAMPLES / "node" / "package-lock.json").read_text())
    wanted = package["dependencies"]["ioredis"]
    assert re.fullmatch(r"5\.\d+\.\d+", wanted), wanted  # an exact 5.x version
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert lock["packages"]["node_modules/ioredis"]["version"] == wanted
    for name, entry in lock["packages"].items():
        if name:
            assert "integrity" in entry, name  # npm ci checks every package's hash
            assert "resolved" not in entry, name  # no registry address in the repository


def test_the_go_module_requires_go_redis_v9():
    go_mod = (EXAMPLES / "go" / "go.mod").read_text()
    assert re.search(r"^require github\.com/redis/go-redis/v9 v9\.\d+\.\d+$", go_mod, re.M), go_mod
    assert 'pipe.Do(ctx, "client", "info")' in FILES["go"].read_text()


def test_the_python_example_compiles(tmp_path):
    py_compile.compile(str(FILES["python"]), cfile=str(tmp_path / "app.pyc"), doraise=True)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (Debian: nodejs)")
def test_the_node_example_parses():
    proc = subprocess.run(["node", "--check", str(FILES["js"])], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
