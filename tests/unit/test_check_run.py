"""The check machinery around the rules: waivers, the engine, settings, reporters, the run's
files, the targets file, the CLI's ``check`` path and the ACL helpers. No server needed."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import time
from xml.etree import ElementTree as ET

import pytest
from markupsafe import escape

from redisops.cli import main
from redisops.compliance import report as R
from redisops.compliance.engine import Report, run_checks
from redisops.compliance.facts import ClusterFacts, acl_users
from redisops.compliance.model import (
    AREAS,
    ERROR,
    FAIL,
    PASS,
    REGISTRY,
    SKIPPED,
    WAIVED,
    Result,
    Severity,
    check,
)
from redisops.compliance.run import for_scheduled_host, keep_history, write_atomically
from redisops.compliance.settings import Thresholds, thresholds
from redisops.compliance.waivers import Waiver, WaiverError, match_waiver, parse_waivers
from redisops.core import exits
from redisops.inventory import Endpoint, HostSpec, InventoryError, Targets, read_targets, write_targets

from .checks_fixtures import apply_edits, base_facts, check_fixtures

FIXTURES = check_fixtures()
# The captured lab cluster fails H-01 and H-09 (a container's overcommit and swappiness are the
# machine's) and MON-01 (no exporter yet): their passing edits make it clean.
CLEAN_EDITS = FIXTURES["H-01"]["pass"] + FIXTURES["H-09"]["pass"] + FIXTURES["MON-01"]["pass"]
MEM01_FAIL = FIXTURES["MEM-01"]["fail"]  # maxmemory 0 on redis-2:6379 (high)
H04_FAIL = FIXTURES["H-04"]["fail"]  # somaxconn below two backlogs on redis-1 (2 x medium)

PROM_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.eE+-]+$'
)


def facts_dict(*edits: list[dict]) -> dict:
    data = apply_edits(base_facts(), CLEAN_EDITS)
    for e in edits:
        data = apply_edits(data, e)
    return data


def cluster(*edits: list[dict]) -> ClusterFacts:
    return ClusterFacts.from_dict(facts_dict(*edits))


def unreachable(kind: str, index: int, why: str = "connection refused") -> list[dict]:
    return [{"path": [kind, index, "error"], "set": why}]


def result(check_id="MEM-01", target="redis-1:6379", status=FAIL, severity=Severity.HIGH, **kw) -> Result:
    return Result(
        check_id=check_id,
        area=kw.pop("area", "memory"),
        target=target,
        status=status,
        severity=severity,
        title=kw.pop("title", "a title"),
        **kw,
    )


@pytest.fixture
def boom_check():
    """A throw-away check that raises, registered for one test only."""

    @check(
        "ZZZ-BOOM",
        area="memory",
        scope="redis",
        severity=Severity.LOW,
        title="a check with a bug",
        rationale="only for the tests",
        bad="bad",
        good="good",
        remediation="fix the check",
    )
    def boom(facts, ctx):
        raise RuntimeError("kaboom")

    yield "ZZZ-BOOM"
    REGISTRY.pop("ZZZ-BOOM", None)


# ---- waivers ------------------------------------------------------------------------------------


def waiver_item(**kw) -> dict:
    item = {"check": "MEM-01", "target": "redis-*:6379", "justification": "cache", "expires": "2099-12-31"}
    item.update(kw)
    return {k: v for k, v in item.items() if v is not None}


def test_parse_waivers_reads_a_complete_list():
    (w,) = parse_waivers([waiver_item(justification="  a pure cache  ")], set(REGISTRY))
    assert w == Waiver("MEM-01", "redis-*:6379", "a pure cache", "2099-12-31")


def test_parse_waivers_names_every_missing_field():
    with pytest.raises(WaiverError) as info:
        parse_waivers([waiver_item(justification="   ", expires=None)], source="w.yml")
    message = str(info.value)
    assert "w.yml: waiver 1 lacks justification, expires" in message
    assert "check" not in message.split("lacks")[1].split(":")[0]


def test_parse_waivers_refuses_an_unknown_check_id():
    with pytest.raises(WaiverError, match=r"no check has id 'MEM-99'"):
        parse_waivers([waiver_item(), waiver_item(check="MEM-99")], set(REGISTRY))


@pytest.mark.parametrize("bad", ["2026-02-30", "next year", "31/12/2099"])
def test_parse_waivers_refuses_a_bad_date(bad):
    with pytest.raises(WaiverError, match=r"waiver 1: expires .* is not a date \(YYYY-MM-DD\)"):
        parse_waivers([waiver_item(expires=bad)])


def test_parse_waivers_refuses_unknown_fields_and_non_lists():
    with pytest.raises(WaiverError, match="unknown field"):
        parse_waivers([waiver_item(owner="ops")])
    with pytest.raises(WaiverError, match="expected a list"):
        parse_waivers({"check": "MEM-01"})
    assert parse_waivers(None) == []


def test_parse_waivers_accepts_a_mapping_with_a_waivers_key_and_date_objects():
    data = {"waivers": [waiver_item(expires=dt.date(2027, 1, 31)), waiver_item(check="MEM-02")]}
    waivers = parse_waivers(data, set(REGISTRY))
    assert [(w.check, w.expires) for w in waivers] == [("MEM-01", "2027-01-31"), ("MEM-02", "2099-12-31")]


def test_match_waiver_globs_targets_and_checks_the_id():
    waivers = parse_waivers([waiver_item(target="redis-*:6379"), waiver_item(check="H-01", target="*")])
    assert match_waiver(waivers, "MEM-01", "redis-2:6379", "2026-01-01") == (waivers[0], False)
    assert match_waiver(waivers, "MEM-01", "redis-2:26379", "2026-01-01") == (None, False)
    assert match_waiver(waivers, "H-01", "anything", "2026-01-01") == (waivers[1], False)
    assert match_waiver(waivers, "MEM-02", "redis-2:6379", "2026-01-01") == (None, False)


def test_match_waiver_reports_an_expired_one_and_the_last_day_still_counts():
    (w,) = parse_waivers([waiver_item(expires="2026-03-01")])
    assert match_waiver([w], "MEM-01", "redis-1:6379", "2026-03-02") == (w, True)
    assert match_waiver([w], "MEM-01", "redis-1:6379", "2026-03-01") == (w, False)


def test_match_waiver_prefers_a_current_waiver_over_an_expired_one():
    old, new = parse_waivers(
        [waiver_item(expires="2020-01-01", justification="old"), waiver_item(justification="new")]
    )
    assert match_waiver([old, new], "MEM-01", "redis-1:6379", "2026-06-01") == (new, False)


# ---- engine ----------------------------------------------------------------------------------


def test_clean_facts_pass():
    report = run_checks(cluster())
    assert report.exit_code(Severity.HIGH) == exits.OK
    assert report.exit_code(Severity.INFO) == exits.OK
    assert report.counts()[FAIL] == report.counts()[ERROR] == 0
    assert report.counts()[PASS] > 100
    assert report.notes == []


def test_a_high_finding_fails_at_high_but_not_at_critical():
    report = run_checks(cluster(MEM01_FAIL))
    (failing,) = report.failing()
    assert (failing.check_id, failing.target, failing.severity) == ("MEM-01", "redis-2:6379", Severity.HIGH)
    assert failing.remediation == REGISTRY["MEM-01"].remediation
    assert report.exit_code(Severity.HIGH) == exits.FAIL
    assert report.exit_code(Severity.CRITICAL) == exits.OK


def test_an_unreadable_redis_is_an_error_and_exit_2_even_with_findings():
    report = run_checks(cluster(MEM01_FAIL, unreachable("redis", 0, "timeout after 5 s")))
    (error,) = report.errors()
    assert (error.check_id, error.target, error.status) == ("GATHER-REDIS", "redis-1:6379", ERROR)
    assert error.message == "timeout after 5 s"
    assert error.severity == Severity.CRITICAL
    assert [r.check_id for r in report.failing()] == ["MEM-01"]
    assert report.exit_code(Severity.HIGH) == exits.ERROR
    assert report.exit_code(Severity.CRITICAL) == exits.ERROR
    # The unreadable instance is not judged by the per-instance checks.
    assert not [r for r in report.results if r.target == "redis-1:6379" and r.check_id != "GATHER-REDIS"]


def test_a_current_waiver_turns_fail_into_waived_with_its_justification():
    waivers = parse_waivers([waiver_item(justification="a pure cache, eviction is fine")])
    report = run_checks(cluster(MEM01_FAIL), waivers=waivers, today="2026-06-01")
    (waived,) = [r for r in report.results if r.status == WAIVED]
    assert (waived.check_id, waived.target) == ("MEM-01", "redis-2:6379")
    assert waived.waiver == "a pure cache, eviction is fine"
    assert waived.message.startswith("maxmemory is 0")
    assert report.failing() == []
    assert report.exit_code(Severity.INFO) == exits.OK
    assert report.notes == []


def test_an_expired_waiver_leaves_the_finding_and_says_so():
    waivers = parse_waivers([waiver_item(expires="2026-05-31")])
    report = run_checks(cluster(MEM01_FAIL), waivers=waivers, today="2026-06-01")
    (failing,) = report.failing()
    assert failing.check_id == "MEM-01" and failing.waiver == ""
    assert report.counts()[WAIVED] == 0
    assert report.notes == [
        "waiver for MEM-01 on redis-*:6379 expired on 2026-05-31: no longer waived",
    ]
    assert report.exit_code(Severity.HIGH) == exits.FAIL


def test_a_check_that_raises_is_an_error_for_that_check_only(boom_check):
    clean_passes = run_checks(cluster(), only=["MEM-01", "MEM-02"]).counts()[PASS]
    report = run_checks(cluster(), only=[boom_check, "MEM-01", "MEM-02"])
    errors = report.errors()
    assert {r.target for r in errors} == {"redis-1:6379", "redis-2:6379", "redis-3:6379"}
    assert {r.check_id for r in errors} == {boom_check}
    assert all(r.message == "the check itself failed: RuntimeError: kaboom" for r in errors)
    assert report.counts()[PASS] == clean_passes == 6
    assert report.exit_code(Severity.CRITICAL) == exits.ERROR


def test_the_whole_run_goes_on_past_a_check_that_raises(boom_check):
    before = run_checks(cluster(), only=[i for i in REGISTRY if i != boom_check]).counts()
    after = run_checks(cluster()).counts()
    assert after[ERROR] == 3
    assert (after[PASS], after[SKIPPED], after[FAIL]) == (before[PASS], before[SKIPPED], 0)


def test_host_checks_are_skipped_when_host_facts_were_not_gathered():
    report = run_checks(
        cluster([{"path": ["host_facts_gathered"], "set": False}, {"path": ["hosts"], "set": []}])
    )
    host_checks = {c.id for c in REGISTRY.values() if c.scope == "host"}
    skipped = [r for r in report.results if r.check_id in host_checks]
    assert {r.check_id for r in skipped} == host_checks
    assert all(r.status == SKIPPED and r.target == "hosts" for r in skipped)
    assert all(r.message == "host facts were not gathered" for r in skipped)
    assert report.notes == ["host facts were not gathered: host checks are skipped"]
    assert report.exit_code(Severity.INFO) == exits.OK


# ---- settings ------------------------------------------------------------------------------


def test_thresholds_without_overrides_are_the_defaults():
    assert thresholds(None) == thresholds({}) == Thresholds()


def test_thresholds_refuse_an_unknown_name_listing_the_known_ones():
    with pytest.raises(ValueError) as info:
        thresholds({"min_sentinel": 3, "min_sentinels": 3})
    message = str(info.value)
    assert "unknown min_sentinel " in message
    known = message.split("(known: ")[1]
    assert "min_sentinels" in known and "memory_used_warn" in known and "slow_commands" in known


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_sentinels", "three"),
        ("min_sentinels", [3]),
        ("memory_used_warn", "high"),
        ("slow_commands", "keys"),  # a string is not a list of commands
        ("expected_extra_ports", ["ssh"]),
        ("expected_extra_ports", 22),
    ],
)
def test_thresholds_refuse_the_wrong_type(name, value):
    with pytest.raises(ValueError, match=rf"redis_compliance_thresholds\.{name}: .* is not a "):
        thresholds({name: value})


def test_thresholds_take_lists_as_tuples_of_the_default_type():
    t = thresholds({"slow_commands": ["keys", "eval"], "expected_extra_ports": ["22", 2222]})
    assert t.slow_commands == ("keys", "eval")
    assert t.expected_extra_ports == (22, 2222)


def test_thresholds_convert_numbers_but_refuse_booleans():
    t = thresholds({"min_sentinels": "5", "memory_used_warn": 1})
    assert t.min_sentinels == 5 and isinstance(t.min_sentinels, int)
    assert t.memory_used_warn == 1.0 and isinstance(t.memory_used_warn, float)
    for name in ("min_sentinels", "memory_used_warn"):
        with pytest.raises(ValueError, match="is not a"):
            thresholds({name: True})


def test_thresholds_must_be_a_dict():
    with pytest.raises(ValueError, match="must be a dict"):
        thresholds(["min_sentinels"])


# ---- reporters -----------------------------------------------------------------------------


@pytest.fixture
def mixed_report() -> Report:
    """Findings in two areas (one high, two medium), one waived, passes and skips."""
    waivers = parse_waivers([waiver_item(check="H-01", target="redis-3", justification="container")])
    return run_checks(
        cluster(
            MEM01_FAIL,
            H04_FAIL,
            [{"path": ["hosts", 2, "sysctl", "vm.overcommit_memory"], "set": "0"}],
        ),
        waivers=waivers,
        today="2026-06-01",
    )


def test_the_mixed_report_is_what_the_reporter_tests_assume(mixed_report):
    c = mixed_report.counts()
    assert (c[FAIL], c[WAIVED], c[ERROR]) == (3, 1, 0)
    assert c[SKIPPED] > 0 and c[PASS] > 0


def test_text_groups_by_area_and_ends_with_the_summary(mixed_report):
    text = R.to_text(mixed_report, Severity.HIGH)
    headers = {a.upper() for a in AREAS}
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line in headers:
            assert line not in sections, f"{line} appears twice"
            current = line
            sections[line] = []
        elif line.startswith("  ") and current:
            sections[current].append(line)
    assert set(sections) == {"MEMORY", "HOST"}
    assert any("HIGH" in ln and "MEM-01" in ln and "redis-2:6379" in ln for ln in sections["MEMORY"])
    assert sum("MEDIUM" in ln and "H-04" in ln for ln in sections["HOST"]) == 2
    assert any("WAIVED" in ln and "H-01" in ln for ln in sections["HOST"])
    assert any("waived: container" in ln for ln in sections["HOST"])
    assert not any("PASS" in ln for lines in sections.values() for ln in lines)
    last = text.rstrip("\n").splitlines()[-1]
    assert last == R.summary_line(mixed_report, Severity.HIGH)
    assert last.startswith("3 finding(s) (1 high, 2 medium), 0 target(s) not checked, 1 waived, ")
    assert last.endswith("fail level high: exit 1")


def test_text_of_a_clean_run_says_no_findings():
    report = run_checks(cluster())
    text = R.to_text(report, Severity.HIGH)
    assert text.splitlines()[0] == "no findings"
    assert text.endswith("exit 0\n")


def test_json_has_counts_results_and_exit_code(mixed_report):
    data = json.loads(R.to_json(mixed_report, Severity.MEDIUM))
    assert data["counts"] == mixed_report.counts()
    assert data["exit_code"] == exits.FAIL
    assert data["fail_on"] == "medium"
    assert len(data["results"]) == len(mixed_report.results)
    mem = [r for r in data["results"] if r["check"] == "MEM-01" and r["status"] == "fail"]
    assert mem == [
        {
            "check": "MEM-01",
            "area": "memory",
            "target": "redis-2:6379",
            "status": "fail",
            "severity": "high",
            "title": REGISTRY["MEM-01"].title,
            "message": "maxmemory is 0: no memory limit, the OOM killer decides instead",
            "remediation": REGISTRY["MEM-01"].remediation,
            "waiver": "",
        }
    ]


@pytest.mark.parametrize(("fail_on", "failures"), [(Severity.HIGH, 1), (Severity.MEDIUM, 3)])
def test_junit_counts_only_findings_at_or_above_the_fail_level(mixed_report, fail_on, failures):
    root = ET.fromstring(R.to_junit(mixed_report, fail_on))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert sum(int(s.get("tests")) for s in suites) == len(mixed_report.results)
    assert sum(int(s.get("failures")) for s in suites) == failures
    assert len(root.findall(".//failure")) == failures
    assert sum(int(s.get("errors")) for s in suites) == 0
    host = next(s for s in suites if s.get("name") == "host")
    h04 = [c for c in host.findall("testcase") if c.get("name") == "H-04 redis-1"]
    assert len(h04) == 2
    for case in h04:
        if fail_on == Severity.MEDIUM:
            assert case.find("failure").get("type") == "medium"
        else:
            assert case.find("failure") is None
            assert "below the fail level high" in case.find("skipped").get("message")
    waived = next(c for c in host.findall("testcase") if c.get("name") == "H-01 redis-3")
    assert waived.find("skipped").get("message") == "waived: container"


def test_junit_reports_an_unreadable_target_as_an_error():
    report = run_checks(cluster(unreachable("sentinels", 1, "auth failed")))
    root = ET.fromstring(R.to_junit(report, Severity.HIGH))
    (error,) = root.findall(".//error")
    assert error.get("message") == "auth failed"
    assert sum(int(s.get("errors")) for s in root.findall("testsuite")) == 1


def _samples(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if not ln.startswith("#")]


def test_prometheus_text_is_valid_and_complete(mixed_report):
    text = R.to_prometheus(mixed_report, Severity.HIGH)
    assert text.endswith("\n")
    samples = _samples(text)
    for line in samples:
        assert PROM_LINE.match(line), line
    names = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", ln).group(0) for ln in samples}
    assert names == {
        "redisops_check_failing",
        "redisops_check_target_up",
        "redisops_check_findings",
        "redisops_check_run_duration_seconds",
        "redisops_check_last_run_timestamp_seconds",
        "redisops_check_last_success_timestamp_seconds",
    }
    lines = text.splitlines()
    for name in names:
        assert sum(ln.startswith(f"# HELP {name} ") for ln in lines) == 1, name
        assert lines.count(f"# TYPE {name} gauge") == 1, name
    failing = [ln for ln in samples if ln.startswith("redisops_check_failing{")]
    # One series per check and target (several findings of a check on a target are one gauge).
    series = {(r.check_id, r.target) for r in mixed_report.results if r.status != SKIPPED}
    assert len(failing) == len(series) == len(set(failing))
    failing_series = {(r.check_id, r.target) for r in mixed_report.results if r.status == FAIL}
    assert sum(ln.endswith(" 1") for ln in failing) == len(failing_series) == 2
    assert (
        'redisops_check_failing{check="H-01",target="redis-3",area="host",severity="high",waived="true"} 0'
        in failing
    )
    assert 'redisops_check_findings{severity="medium"} 2' in samples
    assert 'redisops_check_findings{severity="high"} 1' in samples
    assert 'redisops_check_target_up{target="redis-2:6379"} 1' in samples


def test_prometheus_escapes_label_values():
    report = Report(
        results=[result(target='we"ird\\host\nx', status=FAIL)],
        started=1_700_000_000.0,
        duration=0.5,
        targets=['we"ird\\host\nx'],
    )
    samples = _samples(R.to_prometheus(report, Severity.HIGH))
    for line in samples:
        assert PROM_LINE.match(line), line
    assert (
        'redisops_check_failing{check="MEM-01",target="we\\"ird\\\\host x",area="memory",'
        'severity="high",waived="false"} 1'
    ) in samples
    assert 'redisops_check_target_up{target="we\\"ird\\\\host x"} 1' in samples


def test_prometheus_keeps_the_last_success_of_the_previous_file_when_targets_fail():
    ok = Report(results=[result(status=PASS)], started=1_700_000_000.0, duration=2.25)
    first = R.to_prometheus(ok, Severity.HIGH)
    assert "redisops_check_last_success_timestamp_seconds 1700000002.250" in first.splitlines()
    assert R.previous_last_success(first) == 1_700_000_002.25

    failed = Report(
        results=[result(check_id="GATHER-REDIS", status=ERROR, severity=Severity.CRITICAL)],
        started=1_700_000_600.0,
        duration=1.0,
        targets=["redis-1:6379"],
    )
    second = R.to_prometheus(failed, Severity.HIGH, R.previous_last_success(first)).splitlines()
    assert "redisops_check_last_success_timestamp_seconds 1700000002.250" in second
    assert "redisops_check_last_run_timestamp_seconds 1700000601.000" in second
    assert 'redisops_check_target_up{target="redis-1:6379"} 0' in second
    # render() reads the previous file itself; without one the last success is unknown (0).
    assert "redisops_check_last_success_timestamp_seconds 1700000002.250" in R.render(
        failed, "prometheus", Severity.HIGH, previous=first
    )
    assert "redisops_check_last_success_timestamp_seconds 0.000" in R.to_prometheus(failed, Severity.HIGH)
    assert R.previous_last_success("# nothing here\n") is None


def test_html_shows_the_summary_and_the_remediation_of_a_failing_check(mixed_report):
    page = R.to_html(mixed_report, Severity.HIGH)
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert str(escape(R.summary_line(mixed_report, Severity.HIGH))) in page
    assert str(escape(REGISTRY["MEM-01"].remediation)) in page
    assert "waived: container" in page


def test_html_escapes_messages():
    report = Report(
        results=[result(message="<script>alert('x')</script> & more", status=FAIL)],
        started=1_700_000_000.0,
    )
    page = R.to_html(report, Severity.HIGH)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in page


def test_explain_prints_the_doc_of_a_known_check():
    text = R.explain("mem-01")
    c = REGISTRY["MEM-01"]
    assert text.startswith(f"MEM-01  {c.title}\n")
    assert c.rationale in text and c.remediation in text and c.bad in text and c.good in text
    with pytest.raises(KeyError):
        R.explain("NOPE-1")


def test_the_catalogue_lists_every_registered_check():
    page = R.catalogue_markdown()
    headings = set(re.findall(r"^## (\S+)$", page, flags=re.MULTILINE))
    assert headings == set(REGISTRY)
    for check_id in REGISTRY:
        assert f"| [{check_id}](#{check_id.lower()}) |" in page


def test_render_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        R.render(Report(), "yaml", Severity.HIGH)


# ---- the run's files -----------------------------------------------------------------------


def test_keep_history_writes_the_run_and_deletes_old_ones(tmp_path):
    now = time.time()
    old = tmp_path / "check-20200101T000000Z.json"
    recent = tmp_path / "check-20260101T000000Z.json"
    other = tmp_path / "notes.json"
    for path, age_days in ((old, 31), (recent, 29), (other, 400)):
        path.write_text("{}")
        os.utime(path, (now - age_days * 86400, now - age_days * 86400))
    started = 1_790_000_000.0
    path = keep_history(tmp_path, '{"exit_code": 0}', started, days=30)
    assert path.name == time.strftime("check-%Y%m%dT%H%M%SZ.json", time.gmtime(started))
    assert path.read_text() == '{"exit_code": 0}'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, recent.name, other.name])


def test_write_atomically_leaves_only_the_file(tmp_path):
    path = tmp_path / "sub" / "redisops.prom"
    write_atomically(path, "a 1\n")
    write_atomically(path, "a 2\n", mode=0o640)
    assert path.read_text() == "a 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["redisops.prom"]


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "report.json"
    write_atomically(path, "old")
    with pytest.raises(TypeError):
        write_atomically(path, 42)  # not text: the write fails half-way
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def _targets() -> Targets:
    return Targets(
        endpoints=[
            Endpoint(
                kind="redis",
                target="redis-1:6380",
                host="redis-1",
                address="10.0.0.1",
                port=6380,
                instance="main",
                tls=True,
                username="compliance",
                password="s3cret-s3cret",
                ca_cert="/home/ops/ca.crt",
                cert="/home/ops/client.crt",
                key="/home/ops/client.key",
                expected={"group": "redis-main", "persistent": True, "tls_mode": "only"},
            ),
            Endpoint(
                kind="sentinel",
                target="redis-1:26379",
                host="redis-1",
                address="10.0.0.1",
                port=26379,
                password="p",
            ),
        ],
        hosts=[
            HostSpec(
                target="redis-1",
                address="10.0.0.1",
                connection={"url": "ansible://redis-1"},
                expected={"ports": [6380, 26379]},
            )
        ],
        groups=[{"name": "redis-main", "instance": "main", "quorum": 2}],
        secret_lengths={"redis_server_admin_password": 32},
        thresholds={"min_sentinels": 3},
        waivers=[waiver_item()],
    )


def test_for_scheduled_host_rewrites_tls_paths_and_drops_hosts():
    targets = for_scheduled_host(_targets(), "/etc/redisops/tls", no_hosts=True)
    tls, plain = targets.endpoints
    assert (tls.ca_cert, tls.cert, tls.key) == (
        "/etc/redisops/tls/ca.crt",
        "/etc/redisops/tls/client.crt",
        "/etc/redisops/tls/client.key",
    )
    assert (plain.ca_cert, plain.cert, plain.key) == ("", "", "")
    assert targets.hosts == []


def test_for_scheduled_host_without_options_changes_nothing():
    assert for_scheduled_host(_targets(), None, no_hosts=False) == _targets()


# ---- the targets file ----------------------------------------------------------------------


def test_targets_round_trip_through_a_dict():
    targets = _targets()
    data = json.loads(json.dumps(targets.to_dict()))
    assert Targets.from_dict(data) == targets
    assert Targets.from_dict({}) == Targets()


def test_write_targets_creates_a_private_file_that_reads_back(tmp_path):
    path = tmp_path / "targets.json"
    write_targets(_targets(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_targets(path) == _targets()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_read_targets_refuses_a_file_others_can_read(tmp_path, mode):
    path = tmp_path / "targets.json"
    write_targets(_targets(), path)
    path.chmod(mode)
    with pytest.raises(InventoryError) as info:
        read_targets(path)
    assert f"(mode {mode:04o}): chmod 600 {path}" in str(info.value)


def test_read_targets_names_a_missing_or_broken_file(tmp_path):
    with pytest.raises(InventoryError, match="cannot read the targets file"):
        read_targets(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    broken.chmod(0o600)
    with pytest.raises(InventoryError, match="is not JSON"):
        read_targets(broken)


# ---- the CLI's check path ------------------------------------------------------------------


def test_cli_explains_a_check(capsys):
    assert main(["check", "--explain", "MEM-01"]) == 0
    out = capsys.readouterr().out
    assert out == R.explain("MEM-01")
    assert REGISTRY["MEM-01"].remediation in out


def test_cli_refuses_to_explain_an_unknown_check(capsys):
    assert main(["check", "--explain", "NOPE"]) == exits.USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no check has id 'NOPE'" in captured.err


@pytest.mark.parametrize(
    ("edits", "args", "code"),
    [
        ([], [], 0),
        (MEM01_FAIL, [], 1),
        (MEM01_FAIL, ["--fail-on", "critical"], 0),
        (MEM01_FAIL, ["--findings-exit-zero"], 0),
        (unreachable("redis", 2), [], 2),
        (unreachable("redis", 2), ["--findings-exit-zero"], 2),
    ],
)
def test_cli_judges_saved_facts(tmp_path, capsys, edits, args, code):
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts_dict(edits)))
    assert main(["check", "--facts", str(path), "--format", "json", *args]) == code
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["exit_code"] == (1 if "--findings-exit-zero" in args and code == 0 else code)
    assert data["counts"][FAIL] == (1 if edits == MEM01_FAIL else 0)
    assert data["counts"][ERROR] == (1 if edits and edits != MEM01_FAIL else 0)
    assert "fail level" in captured.err


def test_cli_writes_its_outputs_for_saved_facts(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(facts_dict(MEM01_FAIL)))
    out, prom, history = tmp_path / "report.html", tmp_path / "redisops.prom", tmp_path / "history"
    argv = ["check", "--facts", str(facts), "--format", "html", "--output", str(out)]
    argv += ["--textfile", str(prom), "--history", str(history)]
    assert main(argv) == 1
    assert capsys.readouterr().out == ""
    assert "maxmemory is 0" in out.read_text()
    assert 'redisops_check_failing{check="MEM-01",target="redis-2:6379"' in prom.read_text()
    (kept,) = history.iterdir()
    assert json.loads(kept.read_text())["exit_code"] == 1


def test_cli_refuses_a_bad_waivers_file(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(facts_dict()))
    waivers = tmp_path / "waivers.yml"
    waivers.write_text("- {check: MEM-01, target: '*', expires: 2099-01-01}\n")
    assert main(["check", "--facts", str(facts), "--waivers", str(waivers)]) == 2
    assert "lacks justification" in capsys.readouterr().err


# ---- ACL helpers ---------------------------------------------------------------------------


ACL = [
    "user default off nopass sanitize-payload resetchannels -@all",
    "user admin on sanitize-payload #<hash> ~* &* +@all",
    "user monitor on #<hash> resetchannels -@all +@read +info +config|get +client|list",
    "user app on #<hash> ~app:* resetchannels +@all -@dangerous -flushall",
    "not an acl line",
]


def test_acl_users_splits_lines_by_user():
    users = acl_users(ACL)
    assert list(users) == ["default", "admin", "monitor", "app"]
    assert users["default"] == ["off", "nopass", "sanitize-payload", "resetchannels", "-@all"]
    assert users["admin"][-1] == "+@all"
    assert acl_users([]) == {}


def test_prometheus_merges_findings_of_one_check_on_one_target_into_one_series():
    report = Report(
        results=[
            result(status=FAIL, severity=Severity.MEDIUM, message="one"),
            result(status=FAIL, severity=Severity.HIGH, message="two"),
        ],
        started=1_700_000_000.0,
        duration=0.5,
        targets=["redis-1:6379"],
    )
    failing = [
        ln
        for ln in _samples(R.to_prometheus(report, Severity.HIGH))
        if ln.startswith("redisops_check_failing")
    ]
    assert failing == [
        'redisops_check_failing{check="MEM-01",target="redis-1:6379",area="memory",'
        'severity="high",waived="false"} 1'
    ]


def test_a_crashing_check_does_not_mark_its_targets_down(boom_check):
    report = run_checks(cluster())
    assert any(r.status == ERROR for r in report.results)
    up = [
        ln
        for ln in _samples(R.to_prometheus(report, Severity.HIGH))
        if ln.startswith("redisops_check_target_up")
    ]
    assert up and all(ln.endswith(" 1") for ln in up), up


def test_write_targets_makes_an_existing_file_private(tmp_path):
    path = tmp_path / "targets.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_targets(Targets(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_thresholds_refuse_truncation_and_wrong_shapes():
    for bad in ({"min_sentinels": 2.5}, {"namespace_pattern": ["a"]}, {"expected_extra_ports": [True]}):
        with pytest.raises(ValueError):
            thresholds(bad)
    assert thresholds({"min_sentinels": "5"}).min_sentinels == 5


def test_a_waiver_that_matches_nothing_is_noted():
    waivers = parse_waivers([waiver_item(check="MEM-01", target="nowhere:1", justification="old exception")])
    report = run_checks(cluster(), waivers=waivers, today="2026-06-01")
    assert any("MEM-01 on nowhere:1 matched no finding" in note for note in report.notes), report.notes
