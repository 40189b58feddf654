"""Captured facts for the check tests: one healthy lab cluster, and per check the edits that
make it pass and fail (tests/unit/fixtures/checks/<area>.yml)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

FIXTURES = Path(__file__).parent / "fixtures" / "checks"
BASE = FIXTURES / "cluster.json"


def base_facts() -> dict:
    return json.loads(BASE.read_text())


def check_fixtures() -> dict[str, dict]:
    """Check id -> {pass: [edits], fail: [edits], severity, message, thresholds}."""
    out: dict[str, dict] = {}
    for path in sorted(FIXTURES.glob("*.yml")):
        for check_id, spec in (yaml.safe_load(path.read_text()) or {}).items():
            if check_id in out:
                raise ValueError(f"{path.name}: fixtures for {check_id} defined twice")
            out[check_id] = spec
    return out


def apply_edits(data: dict, edits: list[dict]) -> dict:
    """Edits: {path: [redis, 0, config, maxmemory], set: VALUE} | {..., delete: true} |
    {..., append: VALUE}. Paths index lists by number and dicts by key."""
    data = copy.deepcopy(data)
    for edit in edits or []:
        *parents, last = edit["path"]
        node = data
        for part in parents:
            node = node[part]
        if "set" in edit:
            node[last] = edit["set"]
        elif edit.get("delete"):
            del node[last]
        elif "append" in edit:
            node[last].append(edit["append"])
        else:
            raise ValueError(f"edit {edit} has no set, delete or append")
    return data
