"""The domain core (plugins/module_utils/core) imports nothing but the standard library and itself,
relatively: it runs inside AnsiballZ modules on managed hosts, in the filters on the control node
and as redisops.core in the Python package, without Ansible."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "plugins" / "module_utils" / "core"
MODULES = sorted(CORE.glob("*.py"))


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or ""


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_core_imports_no_ansible_and_nothing_outside_the_standard_library(path):
    for level, name in _imports(path):
        if level:
            continue  # a sibling module of the core
        top = name.split(".")[0]
        assert top not in ("ansible", "ansible_collections", "redisops"), f"{path.name} imports {name}"
        assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {name}"


def test_the_wheel_ships_the_core_as_redisops_core():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"]["redisops.core"] == "plugins/module_utils/core"
    assert "redisops.core" in setuptools["packages"]


def test_both_import_names_load_the_same_files():
    from ansible_collections.redisops.kit.plugins.module_utils.core import health as as_collection

    import redisops.core.health as as_package

    assert Path(as_package.__file__).resolve() == Path(as_collection.__file__).resolve()
    assert Path(as_package.__file__).resolve().parent == CORE


def test_the_runtime_bundle_carries_the_core():
    # Monitoring and backup hosts run the checks from the bundle, whose name hashes these files.
    from redisops import bundle

    files = bundle.package_files()
    for path in MODULES:
        assert files[f"redisops/core/{path.name}"].resolve() == path.resolve()
