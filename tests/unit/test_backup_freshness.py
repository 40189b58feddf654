"""PER-03's off-host part: the newest good backup each backup host reports for a group, judged on
the group's primary, from the redis_backup role's own metrics text. No server needed."""

from __future__ import annotations

import pytest

from redisops.backup.store import metrics_text, parse_metrics
from redisops.compliance.engine import run_checks
from redisops.compliance.facts import BackupFacts, ClusterFacts
from redisops.compliance.model import ERROR, FAIL, PASS, SKIPPED
from redisops.compliance.run import threshold_overrides
from redisops.compliance.settings import thresholds

from .checks_fixtures import base_facts

HOUR = 3600.0


def cluster(*backups: BackupFacts, gathered: bool = True) -> ClusterFacts:
    facts = ClusterFacts.from_dict(base_facts())
    facts.backups = list(backups)
    facts.backup_facts_gathered = gathered
    return facts


def backup_host(age_h: float | None, ok: int = 1, name: str = "backup-1", group: str = "redis-main",
                now: float | None = None) -> BackupFacts:  # fmt: skip
    """A backup host whose metrics file the role wrote: the newest good backup ``age_h`` hours old."""
    now = now if now is not None else base_facts()["gathered_at"]
    series = {"group": group, "ok": ok, "last_run": now - 60, "stored": 3}
    if age_h is not None:
        series["last_success"] = now - age_h * HOUR
    text = metrics_text([series])
    return BackupFacts(
        target=name, address="10.0.0.10", textfile="/var/lib/prometheus/node-exporter/redisops_backup.prom",
        exists=True, groups=parse_metrics(text), now=now,
    )  # fmt: skip


def per03(report) -> dict[str, tuple[str, str]]:
    return {r.target: (r.status, r.message) for r in report.results if r.check_id == "PER-03"}


def test_the_metrics_text_reads_back_as_written():
    text = metrics_text(
        [
            {"group": "a", "last_success": 1700000000.25, "last_run": 1700000100, "ok": 1, "size": 4096},
            {"group": "b", "last_run": 1700000100, "ok": 0},  # no good backup yet: no last_success
        ]
    )
    parsed = parse_metrics(text + 'other_metric{group="a"} 5\ngarbage line\n')
    assert parsed == {
        "a": {"last_success": 1700000000.25, "last_run": 1700000100.0, "ok": 1.0, "size": 4096.0},
        "b": {"last_run": 1700000100.0, "ok": 0.0},
    }


def test_a_fresh_backup_passes_on_every_instance():
    result = per03(run_checks(cluster(backup_host(age_h=2))))
    assert {status for status, _ in result.values()} == {PASS}, result


def test_a_stale_backup_fails_on_the_primary_only_naming_its_age_and_host():
    result = per03(run_checks(cluster(backup_host(age_h=30))))
    assert result["redis-1:6379"][0] == FAIL
    assert (
        "newest off-host backup of group redis-main (on backup-1) is 30.0 h old (limit 26.0 h)"
        in (result["redis-1:6379"][1])
    )
    assert result["redis-2:6379"][0] == result["redis-3:6379"][0] == PASS


def test_the_freshest_host_counts_and_a_failed_last_run_is_named():
    fresh = backup_host(age_h=1, name="backup-2")
    stale_and_failing = backup_host(age_h=40, ok=0, name="backup-1")
    assert per03(run_checks(cluster(stale_and_failing, fresh)))["redis-1:6379"][0] == PASS
    alone = per03(run_checks(cluster(stale_and_failing)))["redis-1:6379"]
    assert alone[0] == FAIL and "the last run failed on backup-1" in alone[1], alone


def test_no_good_backup_and_a_missing_metrics_file_fail():
    never = backup_host(age_h=None, ok=0)
    status, message = per03(run_checks(cluster(never)))["redis-1:6379"]
    assert status == FAIL and "group redis-main has no good off-host backup" in message
    missing = BackupFacts(target="backup-1", address="10.0.0.10", textfile="/x/redisops_backup.prom")
    status, message = per03(run_checks(cluster(missing)))["redis-1:6379"]
    assert status == FAIL and "backup-1:/x/redisops_backup.prom (missing)" in message
    # What to run first is named: the timer's playbook when no backup host has run one.
    assert "ansible-playbook playbooks/backup_timer.yml" in message, message


def test_a_backup_of_another_group_does_not_count():
    status, message = per03(run_checks(cluster(backup_host(age_h=1, group="other"))))["redis-1:6379"]
    assert status == FAIL and "redis-main has no good off-host backup" in message


def test_no_backup_host_in_the_inventory_fails_once_host_facts_are_read():
    status, message = per03(run_checks(cluster()))["redis-1:6379"]
    assert status == FAIL and "no host in inventory group redis_backup" in message
    assert "playbooks/backup_timer.yml" in message
    # Without host facts (a scheduled run, --no-host-facts) the backups are not judged.
    assert per03(run_checks(cluster(gathered=False)))["redis-1:6379"][0] == PASS


def test_backup_max_age_zero_turns_the_off_host_part_off():
    limits = thresholds({"backup_max_age_s": 0})
    assert per03(run_checks(cluster(), limits))["redis-1:6379"][0] == PASS


def test_an_unreachable_backup_host_is_an_error_not_a_stale_backup():
    down = BackupFacts(target="backup-1", address="10.0.0.10", error="cannot reach backup host backup-1")
    report = run_checks(cluster(down))
    (error,) = [r for r in report.results if r.status == ERROR]
    assert (error.check_id, error.target) == ("GATHER-BACKUP-HOST", "backup-1")
    assert per03(report)["redis-1:6379"][0] == PASS


def test_a_cache_is_not_judged_by_its_backups():
    facts = cluster()
    for r in facts.redis:
        r.expected["persistent"] = False
        r.config["save"] = ""
    assert {s for s, _ in per03(run_checks(facts)).values()} == {SKIPPED}


def test_threshold_overrides_parse_pairs_and_lists_and_refuse_a_bare_name():
    assert threshold_overrides(["backup_max_age_s=7200", "slow_commands=keys, debug"]) == {
        "backup_max_age_s": "7200",
        "slow_commands": ["keys", "debug"],
    }
    assert thresholds(threshold_overrides(["backup_max_age_s=7200"])).backup_max_age_s == 7200
    with pytest.raises(ValueError, match="give NAME=VALUE"):
        threshold_overrides(["backup_max_age_s"])
