"""The cluster checks (CLU-*) beyond their fixtures: the fixtures are what their script writes,
the checks stay silent on a Sentinel group, and HA-03 leaves cluster nodes to CLU-09."""

from __future__ import annotations

import importlib.util

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts
from redisops.compliance.model import PASS, REGISTRY, SKIPPED
from redisops.compliance.settings import thresholds

from .checks_fixtures import FIXTURES, apply_edits, base_facts, check_fixtures

CLUSTER_CHECKS = sorted(c for c in REGISTRY if c.startswith("CLU-"))


def _script():
    spec = importlib.util.spec_from_file_location("cluster_fixtures", FIXTURES / "cluster_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cluster_fixtures_are_what_their_script_writes():
    assert (FIXTURES / "cluster.yml").read_text() == _script().render()


def test_there_are_ten_cluster_checks_in_their_own_area():
    assert len(CLUSTER_CHECKS) == 10
    assert {REGISTRY[c].area for c in CLUSTER_CHECKS} == {"cluster"}


def test_a_sentinel_group_gets_no_cluster_finding():
    results = run_checks(ClusterFacts.from_dict(base_facts()), thresholds(None), only=CLUSTER_CHECKS).results
    assert results and {r.status for r in results} == {SKIPPED}, [(r.check_id, r.status) for r in results]


def test_ha03_leaves_cluster_nodes_to_the_node_timeout():
    healthy = check_fixtures()["CLU-01"]["pass"]
    data = apply_edits(base_facts(), healthy)
    for node in data["redis"]:
        node["config"]["min-replicas-to-write"] = "0"
    results = run_checks(ClusterFacts.from_dict(data), thresholds(None), only=["HA-03"]).results
    assert {r.status for r in results} == {SKIPPED}, [(r.status, r.message) for r in results]
    assert all("CLU-09" in r.message for r in results)


def test_a_check_from_a_cluster_host_does_not_judge_the_bus_it_may_reach():
    spec = check_fixtures()["CLU-10"]
    results = run_checks(
        ClusterFacts.from_dict(apply_edits(base_facts(), spec["pass"])), thresholds(None), only=["CLU-10"]
    ).results
    assert {r.target: r.status for r in results}["redis-1:6379"] == SKIPPED
    assert PASS in {r.status for r in results}


def test_clu08_compares_the_primaries_memory_by_the_address_the_cluster_announces():
    data = apply_edits(base_facts(), check_fixtures()["CLU-08"]["pass"])
    data["redis"][0]["info"]["used_memory"] = 500 * 2**20
    results = run_checks(ClusterFacts.from_dict(data), thresholds(None), only=["CLU-08"]).results
    assert [r.message for r in results if r.status == "fail"] == [
        "10.213.7.11:7001 uses 500 MB, the emptiest primary 2 MB"
    ]
