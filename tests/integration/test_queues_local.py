"""Queues against a real redis-server on 127.0.0.1 (no lab), through `redisops check` as the role's
compliance user: a consumer group with entries read and never acknowledged, and the consumer that
holds them left idle, fails KEY-04, KEY-05 and KEY-06 until they are acknowledged; a list that grows
between two runs with a state file fails KEY-07 in the second."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from redisops.cli import main
from redisops.compliance.counters import list_digest
from redisops.inventory import Endpoint, Targets, write_targets

from .test_counters_local import CHECKER_PASSWORD, Server

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")

STREAM, QUEUE = "app:stream:jobs", "app:queue:jobs"
SECRET = "card-4111111111111111"  # in every entry: never in the facts, the report or the state


@pytest.fixture
def server(tmp_path):
    local = Server(tmp_path)
    yield local
    local.stop()


@pytest.fixture
def check(server, tmp_path):
    """One `redisops check --state` over the server with ``thresholds``: its results by check id, the
    facts it dumped and the state file's text."""
    targets = tmp_path / "targets.json"
    endpoint = Endpoint(
        kind="redis", target=f"local:{server.port}", host="local", address="127.0.0.1", port=server.port,
        instance="main", username="checker", password=CHECKER_PASSWORD,
    )  # fmt: skip
    write_targets(Targets(endpoints=[endpoint]), targets)
    state, report, facts = tmp_path / "counters.json", tmp_path / "report.json", tmp_path / "facts.json"

    def run(**thresholds) -> tuple[dict, str, str]:
        argv = ["check", "--targets", str(targets), "--state", str(state), "--no-host-facts"]
        argv += [f"--threshold={name}={value}" for name, value in thresholds.items()]
        main([*argv, "--format", "json", "--output", str(report), "--dump-facts", str(facts)])
        results = json.loads(report.read_text())["results"]
        assert not [r for r in results if r["status"] == "error"], results
        by_id = {r["check"]: r for r in results if r["target"] == endpoint.target}
        return by_id, facts.read_text(), state.read_text()

    return run


STREAM_LIMITS = {"stream_pending_max": 10, "stream_lag_max": 5, "stream_consumer_idle_max_s": 1}


def test_unacknowledged_entries_and_an_idle_consumer_fail_until_acknowledged(server, check):
    admin = server.admin()
    for i in range(20):
        admin.xadd(STREAM, {"job": str(i), "payload": SECRET})
    admin.xgroup_create(STREAM, "workers", id="0")
    # worker-1 takes 12 entries and dies; worker-2 takes 2, acknowledges them, and reads on.
    held = [
        entry_id for entry_id, _ in admin.xreadgroup("workers", "worker-1", {STREAM: ">"}, count=12)[0][1]
    ]
    done = [entry_id for entry_id, _ in admin.xreadgroup("workers", "worker-2", {STREAM: ">"}, count=2)[0][1]]
    admin.xack(STREAM, "workers", *done)
    time.sleep(1.2)

    first, facts, state = check(**STREAM_LIMITS)
    assert first["KEY-04"]["status"] == "fail", first["KEY-04"]
    assert "1 of 1 consumer groups hold more than 10 entries" in first["KEY-04"]["message"]
    assert "group workers 12 pending (2 consumers)" in first["KEY-04"]["message"]
    assert first["KEY-05"]["status"] == "fail", first["KEY-05"]
    assert "group workers lag 6" in first["KEY-05"]["message"]
    assert first["KEY-06"]["status"] == "fail", first["KEY-06"]
    assert first["KEY-06"]["message"].startswith(
        "1 consumers hold 12 pending entries and have not read or claimed"
    )
    assert "consumer worker-1 12 pending" in first["KEY-06"]["message"]
    # The groups were read through the role's own compliance user; no entry, no full name left the server.
    dumped = json.loads(facts)["redis"][0]
    (stream,) = [k for k in dumped["keys"]["keys"] if k["type"] == "stream"]
    assert stream["groups"][0]["entries_read"] == 14 and stream["groups"][0]["consumers_pending"] == 1
    assert not dumped["gaps"], dumped["gaps"]
    for text in (facts, state, json.dumps(first)):
        assert SECRET not in text
    assert not [r["message"] for r in first.values() if STREAM in r["message"]]

    # worker-1's entries are acknowledged (claimed and processed elsewhere), the rest delivered and done.
    admin.xack(STREAM, "workers", *held)
    rest = [entry_id for entry_id, _ in admin.xreadgroup("workers", "worker-2", {STREAM: ">"})[0][1]]
    admin.xack(STREAM, "workers", *rest)
    second, _, _ = check(**STREAM_LIMITS)
    for check_id in ("KEY-04", "KEY-05", "KEY-06"):
        assert second[check_id]["status"] == "pass", second[check_id]
    admin.close()


def test_a_list_that_grows_between_two_runs_fails_key07_in_the_second(server, check):
    admin = server.admin()
    admin.rpush(QUEUE, *[f"{SECRET}:{i}" for i in range(10)])
    first, _, state = check(list_growth_max=20)
    assert first["KEY-07"]["status"] == "skipped"
    assert "no earlier run to compare the lengths with" in first["KEY-07"]["message"]
    kept = json.loads(state)["targets"][f"local:{server.port}"]["lists"]
    assert kept == {list_digest(0, QUEUE): 10}
    assert QUEUE not in state and SECRET not in state

    admin.rpush(QUEUE, *[f"{SECRET}:{i}" for i in range(10, 40)])  # producers outrun the consumers
    second, _, _ = check(list_growth_max=20)
    assert second["KEY-07"]["status"] == "fail", second["KEY-07"]
    assert (
        "1 of 1 lists sampled by both runs grew by more than 20 items since the previous run at "
        in (second["KEY-07"]["message"])
    )
    assert "10 -> 40 items (+30)" in second["KEY-07"]["message"]
    assert QUEUE not in second["KEY-07"]["message"]

    admin.lpop(QUEUE, 5)  # consumers catch up a little: no growth
    third, _, _ = check(list_growth_max=20)
    assert third["KEY-07"]["status"] == "pass", third["KEY-07"]
    admin.close()
