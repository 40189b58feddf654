"""The failover drill names the server (flavour and version) of every node it drilled on, and
nothing in it assumes redis-server. No server: INFO is faked."""

from __future__ import annotations

import json

from redisops.drills import failover
from redisops.drills import report as D
from redisops.drills.targets import DrillTargets, Node

SERVERS = [Node("redis-1", "10.213.7.11", 6379), Node("redis-2", "10.213.7.12", 6379)]
SENTINELS = [Node("redis-1", "10.213.7.11", 26379), Node("redis-2", "10.213.7.12", 26379)]
INFO = {
    "10.213.7.11:6379": {"redis_version": "7.0.15", "redis_mode": "standalone"},
    "10.213.7.12:6379": {
        "redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.1",
        "server_mode": "standalone",
    },
    "10.213.7.11:26379": {"redis_version": "7.0.15", "redis_mode": "sentinel"},
}  # fmt: skip


def targets() -> DrillTargets:
    return DrillTargets(
        inventory="inventories/lab", group="redis-main", instance="main", unit="valkey-server@main.service",
        quorum=2, down_after_ms=5000, failover_timeout_ms=60000, min_replicas_max_lag=10,
        servers=SERVERS, sentinels=SENTINELS,
    )  # fmt: skip


class FakeClient:
    def __init__(self, addr: str):
        self.addr = addr

    def info(self, section: str = "all") -> dict:
        assert section == "server"
        return INFO.get(self.addr)


def test_the_drill_reads_each_nodes_server_from_info(monkeypatch):
    monkeypatch.setattr(failover, "_ask", lambda make, call: call(make()))
    monkeypatch.setattr(failover, "admin", lambda t, n, timeout=3.0: FakeClient(n.addr))
    monkeypatch.setattr(failover, "sentinel_admin", lambda t, n: FakeClient(n.addr))
    nodes = failover.node_servers(targets())
    assert [(n["host"], n["kind"], n["label"]) for n in nodes] == [
        ("redis-1", "server", "redis 7.0.15"),
        ("redis-2", "server", "valkey 8.1.1"),  # never its redis_version 7.2.4
        ("redis-1", "sentinel", "redis 7.0.15"),
        ("redis-2", "sentinel", "did not answer"),
    ]
    assert nodes[1] == {
        "host": "redis-2", "addr": "10.213.7.12:6379", "kind": "server", "label": "valkey 8.1.1",
        "flavor": "valkey", "version": "8.1.1", "mode": "standalone",
    }  # fmt: skip


NODES = [
    {"host": "redis-1", "addr": "10.213.7.11:6379", "kind": "server", "label": "redis 7.0.15"},
    {"host": "redis-2", "addr": "10.213.7.12:6379", "kind": "server", "label": "valkey 8.1.1"},
    {"host": "redis-3", "addr": "10.213.7.13:6379", "kind": "server", "label": "valkey 8.1.1"},
    {"host": "redis-1", "addr": "10.213.7.11:26379", "kind": "sentinel", "label": "valkey 8.1.1"},
]


def result() -> dict:
    run = {"run": 1, "passed": True, "old_primary": "10.213.7.11:6379", "new_primary": "10.213.7.12:6379",
           "fault": "SIGKILL the primary's server process", "nodes": NODES}  # fmt: skip
    return {"drill": "failover", "scenario": "kill-primary", "passed": True, "runs": [run]}


def test_the_text_report_names_the_servers_of_each_run():
    text = D.to_text(result())
    assert (
        "servers: redis 7.0.15 on redis-1; valkey 8.1.1 on redis-2, redis-3 "
        "(sentinels: valkey 8.1.1 on redis-1)"
    ) in text


def test_the_html_and_json_reports_name_the_server_of_each_node():
    page = D.to_html(result())
    assert "<h3>Servers</h3>" in page
    assert "<td>redis-2</td><td>10.213.7.12:6379</td><td>server</td><td>valkey 8.1.1</td>" in page
    assert json.loads(D.to_json(result()))["runs"][0]["nodes"] == NODES


def test_a_run_recorded_before_nodes_were_named_still_renders():
    old = result()
    del old["runs"][0]["nodes"]
    assert "servers:" not in D.to_text(old) and "<h3>Servers</h3>" not in D.to_html(old)


def test_no_scenario_names_redis_server():
    for scenario in failover.SCENARIOS.values():
        assert "redis-server" not in scenario.summary
