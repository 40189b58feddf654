"""Failover drills on the lab: real faults under load, judged by the measured results."""

from __future__ import annotations

import json

import pytest

from .conftest import INVENTORY, ensure_backup, playbook_failure, redisops, run_playbook
from .test_redis_sentinel import healthy, master_state, wait_for
from .test_redis_server import client


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy Sentinel group", lambda: healthy(lab_paths, lab.hosts), timeout=60)
    ensure_backup()  # the preflight refuses a group without a fresh off-host backup (PER-03)
    return lab


def drill(tmp_path, scenario: str, *extra: str) -> tuple[int, dict, str]:
    out = tmp_path / f"{scenario}.json"
    html = tmp_path / f"{scenario}.html"
    proc = redisops(
        "drill", "failover", "--scenario", scenario, "--json", str(out), "--report", str(html), *extra,
        check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "<svg" in html.read_text()
    return proc.returncode, json.loads(out.read_text()), proc.stdout + proc.stderr


def failed(result: dict) -> list:
    return [(r["run"], c) for r in result["runs"] for c in r["criteria"] if not c["passed"]]


@pytest.mark.flavors
def test_kill_primary(deployed, tmp_path):
    code, result, output = drill(tmp_path, "kill-primary")
    assert code == 0 and result["passed"], failed(result)
    (run,) = result["runs"]
    m = run["measures"]
    assert run["new_primary"] != run["old_primary"]
    # Sentinel's own timing: SDOWN comes down-after (5 s) after the last PING reply, and it
    # pings once a second, so detection lands between 4 and 5 s after the kill (plus its
    # timer's jitter); promotion within 2 s more.
    assert 3.8 <= m["time_to_detect_s"] <= 7.0 and m["time_to_promote_s"] <= 7.0, m
    assert m["acked_lost_waited"] == 0 and m["ops"] > 500
    assert 0 < m["error_window_s"] < 15
    events = {e["event"] for e in run["events"]}
    assert {"+sdown", "+odown", "+switch-master"} <= events
    names = {v["name"]: v["passed"] for v in run["verify"]}
    assert names["site.yml rerun changes nothing"] and names["the old primary rejoined as a replica"]
    assert "PASS" in output


def test_manual_failover_loses_no_acknowledged_write(deployed, lab_paths, tmp_path):
    code, result, _ = drill(tmp_path, "manual-failover", "--no-site-check")
    assert code == 0, failed(result)
    (run,) = result["runs"]
    m = run["measures"]
    assert m["ops"] > 500 and m["acked_lost_waited"] == 0 and m["acked_lost_plain"] == 0, m
    # Offsets equal at the handoff: the old primary and the other replica follow the new primary
    # with a partial resync.
    assert m["full_resyncs"] == 0, m
    done = run["details"]["notes"]["switchover"]
    # The failover was timed to Sentinel's INFO and its end: writes resumed only once Sentinel
    # named the new primary to every kind of client (GET-MASTER-ADDR and SENTINEL MASTER).
    assert done["timed"] and not done["warnings"], done
    steps = done["steps"]
    assert (
        steps["caught_up"] <= steps["failover"] <= steps["ending"] <= steps["listed"] <= steps["resumed"]
    ), done
    events = [e for e in run["events"] if e["event"] == "+failover-end-for-timeout"]
    assert len(events) == 1, run["events"]
    # What the switchover changed for a moment is back as the inventory has it, read live.
    hosts = deployed.hosts
    assert {master_state(lab_paths, h)["failover-timeout"] for h in hosts} == {60000}
    for host in hosts:
        live = client(lab_paths, host.address, decode_responses=True)
        assert live.config_get("replica-priority") == {"replica-priority": "100"}, host.name
        assert live.config_get("repl-ping-replica-period") == {"repl-ping-replica-period": "10"}, host.name
    roles = {h.address: client(lab_paths, h.address).info("replication") for h in hosts}
    new = run["new_primary"].split(":")[0]
    assert all(r["role"] == "slave" and r["master_host"] == new for a, r in roles.items() if a != new), roles


def test_sentinel_majority_loss_means_no_failover(deployed, tmp_path):
    code, result, _ = drill(tmp_path, "sentinel-majority-loss", "--no-site-check")
    assert code == 0, failed(result)
    (run,) = result["runs"]
    assert run["new_primary"] == run["old_primary"]
    assert not [e for e in run["events"] if e["event"] == "+switch-master"]
    quorum = next(c for c in run["criteria"] if c["name"] == "CKQUORUM reports the lost majority")
    assert "NOQUORUM" in quorum["measured"], quorum


def test_partition_primary_with_the_client_on_its_side(deployed, tmp_path):
    code, result, _ = drill(tmp_path, "partition-primary", "--no-site-check")
    assert code == 0, failed(result)
    (run,) = result["runs"]
    m = run["measures"]
    assert run["new_primary"] != run["old_primary"]
    # The store profile's min-replicas-max-lag (2 s) fences the cut-off primary off from writes
    # before Sentinel promotes a replica (down-after 5 s): the target is at most 2 s of
    # split-brain. What the old primary took before its fence closed is lost, and counted.
    fence = next(c for c in run["criteria"] if c["name"].startswith("the cut-off primary stopped"))
    assert fence["passed"] and fence["limit"] == 2 + 3, fence
    assert 0 < m["old_primary_acked_s"] <= 5, m
    assert m["split_brain_s"] <= 2, m
    assert m["acked_lost_plain"] > 0 and m["acked_lost_waited"] == 0, m
    names = {v["name"]: v["passed"] for v in run["verify"]}
    assert names["the same data on every node"] and names["the old primary rejoined as a replica"]


def test_poweroff_primary_with_the_labs_power_on(deployed, tmp_path):
    code, result, _ = drill(tmp_path, "poweroff-primary", "--no-site-check")
    assert code == 0, failed(result)
    (run,) = result["runs"]
    assert run["new_primary"] != run["old_primary"] and run["measures"]["acked_lost_waited"] == 0
    names = {v["name"]: v["passed"] for v in run["verify"]}
    assert names["the old primary rejoined as a replica"] and names["the same data on every node"]


@pytest.mark.parametrize(
    ("setting", "said"),
    [("false", "redis_drill_allowed is false"), ('"no"', "redis_drill_allowed is 'no'")],
)
def test_a_drill_is_refused_where_the_inventory_does_not_allow_it(deployed, tmp_path, setting, said):
    """The same lab inventory with redis_drill_allowed false, or the string "no" (truthy, and no
    boolean): refused before anything is touched, also with --confirm naming another group."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.py").symlink_to(INVENTORY / "hosts.py")
    for path in (INVENTORY / "group_vars" / "all").glob("*.yml"):
        (inventory / "group_vars" / "all" / path.name).symlink_to(path)
    (inventory / "group_vars" / "all" / "drill.yml").unlink()
    (inventory / "group_vars" / "all" / "drill.yml").write_text(f"---\nredis_drill_allowed: {setting}\n")
    proc = redisops("drill", "failover", "--scenario", "kill-primary", "-i", str(inventory), check=False)
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr
    assert "--confirm redis-main" in proc.stderr, proc.stderr
    wrong = redisops(
        "drill", "failover", "--scenario", "kill-primary", "-i", str(inventory), "--confirm", "redis-other",
        check=False,
    )  # fmt: skip
    assert wrong.returncode == 2 and "--confirm redis-main" in wrong.stderr, wrong.stderr
    backup = redisops("drill", "backup", "-i", str(inventory), check=False)
    assert backup.returncode == 2 and said in backup.stderr, backup.stderr
    plan = redisops("drill", "failover", "--scenario", "kill-primary", "-i", str(inventory), "--dry-run")
    assert "preflight" in plan.stderr and "group redis-main" in plan.stderr
