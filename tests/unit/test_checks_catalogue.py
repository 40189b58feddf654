"""Every registered check: documented, and proven on captured facts to pass and to fail."""

from __future__ import annotations

import pytest

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts
from redisops.compliance.model import AREAS, ERROR, FAIL, PASS, REGISTRY, Severity
from redisops.compliance.settings import thresholds

from .checks_fixtures import apply_edits, base_facts, check_fixtures

FIXTURES = check_fixtures()
IDS = sorted(REGISTRY)


def _run(check_id: str, edits: list[dict], spec: dict):
    cluster = ClusterFacts.from_dict(apply_edits(base_facts(), edits))
    return run_checks(cluster, thresholds(spec.get("thresholds")), only=[check_id]).results


def test_the_catalogue_is_complete():
    assert len(REGISTRY) >= 45
    assert {c.area for c in REGISTRY.values()} == set(AREAS)


@pytest.mark.parametrize("check_id", IDS)
def test_every_check_is_documented_and_has_both_fixtures(check_id):
    check = REGISTRY[check_id]
    for field in ("title", "rationale", "bad", "good", "remediation"):
        assert len(getattr(check, field).strip()) >= 10, f"{check_id} lacks its {field}"
    assert check_id in FIXTURES, f"{check_id} has no fixtures in tests/unit/fixtures/checks/"
    assert "pass" in FIXTURES[check_id] and FIXTURES[check_id].get("fail"), f"{check_id} needs pass and fail"


def test_no_fixture_without_a_check():
    assert set(FIXTURES) <= set(REGISTRY), sorted(set(FIXTURES) - set(REGISTRY))


@pytest.mark.parametrize("check_id", IDS)
def test_passes_on_its_passing_facts(check_id):
    spec = FIXTURES.get(check_id) or pytest.fail(f"{check_id} has no fixtures")
    results = _run(check_id, spec["pass"], spec)
    bad = [r for r in results if r.status in (FAIL, ERROR)]
    assert not bad, [(r.target, r.status, r.message) for r in bad]
    assert any(r.status == PASS for r in results), [(r.target, r.status, r.message) for r in results]


@pytest.mark.parametrize("check_id", IDS)
def test_fails_on_its_failing_facts(check_id):
    spec = FIXTURES.get(check_id) or pytest.fail(f"{check_id} has no fixtures")
    results = _run(check_id, spec["fail"], spec)
    assert not [r for r in results if r.status == ERROR], [r.message for r in results if r.status == ERROR]
    failed = [r for r in results if r.status == FAIL]
    assert failed, f"{check_id} did not fail: {[(r.target, r.status, r.message) for r in results]}"
    want = Severity.parse(spec.get("severity", str(REGISTRY[check_id].severity)))
    assert want in {r.severity for r in failed}, [(r.severity, r.message) for r in failed]
    if spec.get("message"):
        assert any(spec["message"] in r.message for r in failed), [r.message for r in failed]
