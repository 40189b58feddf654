"""The Grafana dashboard: valid, every panel queries something, and every query uses only metrics
the kit's exporters really expose (names scraped from the lab), so no panel is silently empty."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.promql_names import KNOWN_METRICS, metric_names

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "monitoring" / "grafana" / "redis-sentinel.json"


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _panels(dash: dict) -> list[dict]:
    out = []
    for panel in dash["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return [p for p in out if p.get("type") != "row"]


def _exprs(dash: dict) -> list[str]:
    return [t["expr"] for p in _panels(dash) for t in p.get("targets", []) if t.get("expr")]


def test_metric_name_parser():
    expr = (
        'sum by (host, cmd) (rate(redis_commands_total{job="redis", group=~"$group"}[$__rate_interval])) '
        "/ ignoring (cmd) group_left redis_up > 0 and on (group) time() - foo_bar"
    )
    assert metric_names(expr) == {"redis_commands_total", "redis_up", "foo_bar"}


def test_dashboard_is_valid_and_modern():
    dash = _dashboard()
    assert dash["schemaVersion"] >= 36
    assert dash["title"] and dash["uid"]
    assert _panels(dash)


def test_panel_ids_are_unique_and_every_panel_queries():
    panels = _panels(_dashboard())
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), ids
    for panel in panels:
        assert panel.get("targets"), f"panel {panel['title']!r} has no target"
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r} has an empty query"
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_metric_is_one_the_exporters_expose():
    for expr in _exprs(_dashboard()):
        names = metric_names(expr)
        assert names, f"no metric found in {expr!r}"
        assert names <= KNOWN_METRICS, f"unknown metrics {sorted(names - KNOWN_METRICS)} in {expr!r}"


def test_the_panels_the_runbooks_refer_to_exist():
    used = set().union(*(metric_names(e) for e in _exprs(_dashboard())))
    for metric in (
        "redis_instance_info",
        "redis_connected_slave_lag_seconds",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_commands_processed_total",
        "redis_connected_clients",
        "redis_evicted_keys_total",
        "redis_latency_percentiles_usec",
        "redis_sentinel_master_ok_sentinels",
        "redis_sentinel_master_sentinels",
        "redisops_backup_last_success_timestamp_seconds",
    ):
        assert metric in used, metric


def test_datasource_and_group_variables():
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    group = variables["group"]
    assert group["type"] == "query"
    assert group["definition"] == 'label_values(redis_up{job="redis"}, group)'
    assert group["query"]["query"] == group["definition"]
    # Redis panels filter on the group, Sentinel panels on master_name (the same name).
    for expr in _exprs(_dashboard()):
        if 'job="redis"' in expr:
            assert 'group=~"$group"' in expr, expr
        if 'job="redis_sentinel"' in expr and "redis_sentinel_master" in expr:
            assert 'master_name=~"$group"' in expr, expr


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not on PATH (apt install prometheus)"
)
def test_every_query_parses(tmp_path):
    # promtool parses the queries as recording rules, with Grafana's variables given values.
    rules = []
    for i, expr in enumerate(_exprs(_dashboard())):
        concrete = expr.replace("$__rate_interval", "5m").replace("$group", ".+")
        rules.append({"record": f"dashboard:query{i}", "expr": concrete})
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
