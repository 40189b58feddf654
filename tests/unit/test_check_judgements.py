"""Checks judge what the facts say and no more (issue 23, "Fix what misfires"): each case here
misfired once, on the captured lab cluster with a few edits."""

from __future__ import annotations

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts
from redisops.compliance.model import FAIL, PASS
from redisops.compliance.settings import thresholds

from .checks_fixtures import apply_edits, base_facts


def _results(check_id: str, edits: list[dict], overrides: dict | None = None):
    cluster = ClusterFacts.from_dict(apply_edits(base_facts(), edits))
    return run_checks(cluster, thresholds(overrides), only=[check_id]).results


def _passes(results) -> bool:
    """No failure, and at least one target judged and found fine (replicas have no key sample)."""
    return not _failures(results) and any(r.status == PASS for r in results)


def _failures(results) -> list[str]:
    return [r.message for r in results if r.status == FAIL]


def _key(name: str, **fields) -> dict:
    """An edit adding a key to the primary's sample (redis-1)."""
    key = {"name": name, "type": "string", "ttl_ms": -1, "bytes": 64, "length": 10, **fields}
    return {"path": ["redis", 0, "keys", "keys"], "append": key}


# ---- TTL-01: a temporary prefix counts at the start of a key name only ---------------------


def test_ttl01_a_prefix_inside_a_name_is_not_temporary_data():
    # A user's stored cache settings, a report of sessions: neither starts with a temporary prefix.
    edits = [_key("user:7:cache:settings"), _key("report:session:2024")]
    results = _results("TTL-01", edits, {"temporary_prefixes": ["session:", "cache:"]})
    assert _passes(results), _failures(results)


def test_ttl01_a_name_that_starts_with_the_prefix_is_judged():
    results = _results("TTL-01", [_key("cache:page:/home")], {"temporary_prefixes": ["session:", "cache:"]})
    assert any("1 of 1 temporary keys" in m for m in _failures(results)), _failures(results)
