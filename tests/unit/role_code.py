"""The redis_server role's Python code, imported by path: filter plugins and module_utils
are not packages (Ansible loads them by path too)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "redis_server"


def _load_by_path(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


F = _load_by_path(ROLE / "filter_plugins" / "redis_server.py", "redis_server_filters_under_test")
OPS = _load_by_path(ROLE / "module_utils" / "redis_ops.py", "redis_ops_under_test")
