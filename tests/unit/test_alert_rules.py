"""The alert rules: promtool accepts them and their unit tests pass, every alert is tested both
ways and documented in the runbook, and the committed rules file is the role template's output."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2 import meta

from tests.promql_names import KNOWN_METRICS, metric_names

from .role_code import _load_by_path

# A checkout tool (the package does not ship it), loaded by path.
alerts = _load_by_path(Path(__file__).resolve().parents[2] / "tools" / "alert_rules.py", "alert_rules_tool")
DEFAULTS, RULES_FILE, TEMPLATE = alerts.DEFAULTS, alerts.RULES_FILE, alerts.TEMPLATE
comment, render_rules, template_source = alerts.comment, alerts.render_rules, alerts.template_source

REPO = Path(__file__).resolve().parents[2]
TESTS_DIR = REPO / "monitoring" / "tests"
RUNBOOK = REPO / "docs" / "runbooks.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not on PATH (apt install prometheus)"
)


def _rules() -> list[dict]:
    doc = yaml.safe_load(RULES_FILE.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in _rules() if "alert" in rule}


def _test_files() -> list[Path]:
    return sorted(TESTS_DIR.glob("*.yml"))


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@needs_promtool
def test_promtool_check_rules_accepts_the_committed_file():
    result = _promtool("check", "rules", str(RULES_FILE.relative_to(REPO)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_pass():
    files = [str(p.relative_to(REPO)) for p in _test_files()]
    assert files, "no promtool test files in monitoring/tests"
    result = _promtool("test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_unit_tests_fail_on_a_changed_threshold(tmp_path):
    # The tests must be able to fail: with the memory threshold above 95% their firing case is wrong.
    (tmp_path / "redis-ops-kit.rules.yml").write_text(
        render_rules({"redis_exporter_alert_memory_used_ratio": 0.99})
    )
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copy(TESTS_DIR / "redis.yml", tests / "redis.yml")
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "redis.yml"], cwd=tests, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "RedisMemoryNearMax" in result.stdout + result.stderr


def test_committed_rules_file_is_the_rendered_template():
    assert RULES_FILE.read_text() == render_rules(), (
        f"{RULES_FILE.relative_to(REPO)} is not the template's output with the defaults; regenerate it: "
        "python tools/alert_rules.py > monitoring/redis-ops-kit.rules.yml"
    )


def test_rendered_file_starts_as_ansible_renders_it():
    lines = render_rules().splitlines()
    assert lines[:4] == ["#", "# Ansible managed", "#", "---"]
    assert TEMPLATE.read_text().splitlines()[:2] == [
        "#jinja2: variable_start_string: '[[', variable_end_string: ']]'",
        "[[ ansible_managed | comment ]]",
    ]


def test_every_rule_reads_only_metrics_the_exporters_serve():
    """A misspelt metric would make its alert silently never fire; the lab tier proves that the
    exporters serve every one of KNOWN_METRICS."""
    for name, rule in _alerts().items():
        names = metric_names(rule["expr"])
        assert names, f"{name}: no metric found in {rule['expr']!r}"
        assert names <= KNOWN_METRICS, f"{name}: unknown metrics {sorted(names - KNOWN_METRICS)}"


def test_every_alert_fires_and_stays_silent_in_some_test():
    firing: set[str] = set()
    silent: set[str] = set()
    for path in _test_files():
        doc = yaml.safe_load(path.read_text())
        assert doc["rule_files"] == ["../redis-ops-kit.rules.yml"], path.name
        for case in doc["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = set(_alerts())
    assert len(alerts) >= 20
    assert not alerts - firing, f"alerts without a firing case: {sorted(alerts - firing)}"
    assert not alerts - silent, f"alerts without a silent case: {sorted(alerts - silent)}"
    assert not (firing | silent) - alerts, f"tests of unknown alerts: {sorted((firing | silent) - alerts)}"


def test_firing_cases_give_severity_and_every_annotation():
    alerts = _alerts()
    for path in _test_files():
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                for exp in check.get("exp_alerts") or []:
                    rule = alerts[check["alertname"]]
                    assert exp["exp_labels"]["severity"] == rule["labels"]["severity"], (path.name, check)
                    assert set(exp.get("exp_annotations", {})) == set(rule["annotations"]), (path.name, check)


def test_every_alert_has_severity_summary_description_and_a_runbook_section():
    headings = {
        github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    }
    base = yaml.safe_load(DEFAULTS.read_text())["redis_exporter_runbook_url"]
    for name, rule in _alerts().items():
        assert re.fullmatch(r"(Redis|Sentinel)[A-Z][A-Za-z]+", name), name
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), name
        assert "{{ $labels." in annotations["description"], f"{name}: the description names no target"
        assert rule.get("for"), f"{name} has no for:"
        url, _, anchor = annotations["runbook_url"].partition("#")
        assert url == base, name
        assert anchor == name.lower(), name
        assert anchor in headings, f"docs/runbooks.md has no section for {name}"


def test_descriptions_name_labels_the_alert_keeps():
    # A label the expression aggregates away renders empty: the page would name no target.
    kept = {
        "RedisNoPrimary": {"group"},
        "RedisMultiplePrimaries": {"group"},
        "RedisBackupTooOld": {"group"},
        "SentinelPrimaryDisagreement": {"master_name"},
    }
    for name, rule in _alerts().items():
        if name in kept:
            used = set(re.findall(r"\$labels\.(\w+)", rule["annotations"]["description"]))
            assert used <= kept[name], (name, used - kept[name])


def _template_variables() -> set[str]:
    source, options = template_source()
    env = jinja2.Environment(**options)
    env.filters["comment"] = comment
    return meta.find_undeclared_variables(env.parse(source)) - {"ansible_managed"}


def test_template_variables_and_defaults_match():
    declared = set(alerts.defaults())
    used = _template_variables()
    assert used, "the template uses no variables: the delimiters were not honoured"
    assert used - declared == set(), f"used but without a default: {sorted(used - declared)}"
    assert declared - used == set(), f"defaults the template does not use: {sorted(declared - used)}"
    assert all(name.startswith("redis_exporter_alert_") for name in declared - {"redis_exporter_runbook_url"})


def test_defaults_are_each_documented_by_a_comment_and_an_argument_spec():
    lines = DEFAULTS.read_text().splitlines()
    options = yaml.safe_load((REPO / "roles" / "redis_exporter" / "meta" / "argument_specs.yml").read_text())[
        "argument_specs"
    ]["main"]["options"]
    defaults = alerts.defaults()
    specs = {name: spec for name, spec in options.items() if name in defaults}
    assert set(specs) == set(defaults)
    types = {"str": str, "int": int, "float": float, "list": list}
    for i, line in enumerate(lines):
        name = line.split(":", 1)[0]
        if name in defaults:
            assert lines[i - 1].startswith("# "), f"{name} has no comment above it"
    for name, spec in specs.items():
        assert spec["description"], name
        value = defaults[name]
        assert isinstance(value, types[spec["type"]]), (name, spec["type"], value)
        assert spec.get("default", value) == value, name


def test_an_override_changes_the_rendered_expression():
    default = yaml.safe_load(render_rules())
    changed = yaml.safe_load(
        render_rules(
            {
                "redis_exporter_alert_memory_used_ratio": 0.75,
                "redis_exporter_alert_evictions_window": "15m",
                "redis_exporter_alert_compliance_severities": ["critical"],
                "redis_exporter_runbook_url": "https://wiki.example.org/redis",
                "redis_exporter_alert_instance_down_for": "3m",
            }
        )
    )

    def rule(doc, name):
        return next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == name)

    assert "> 0.9" in rule(default, "RedisMemoryNearMax")["expr"]
    assert "> 0.75" in rule(changed, "RedisMemoryNearMax")["expr"]
    assert "[5m]" in rule(default, "RedisEvictingKeys")["expr"]
    assert "[15m]" in rule(changed, "RedisEvictingKeys")["expr"]
    assert 'severity=~"high|critical"' in rule(default, "RedisComplianceFindings")["expr"]
    assert 'severity=~"critical"' in rule(changed, "RedisComplianceFindings")["expr"]
    assert rule(changed, "RedisDown")["for"] == "3m"
    assert rule(changed, "SentinelDown")["for"] == "3m"
    assert (
        rule(changed, "RedisDown")["annotations"]["runbook_url"] == "https://wiki.example.org/redis#redisdown"
    )
    # Prometheus's own templates pass through untouched.
    assert "{{ $labels.instance }}" in rule(changed, "RedisDown")["annotations"]["description"]


def test_render_refuses_an_unknown_variable_in_the_template(monkeypatch):
    # StrictUndefined: a variable the defaults lack fails loudly instead of rendering empty.

    monkeypatch.setattr(alerts, "defaults", lambda: {})
    with pytest.raises(jinja2.UndefinedError):
        alerts.render_rules()
