"""Structure of roles/redis_compliance, and the generated catalogue page kept current."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from redisops.compliance.report import catalogue_markdown
from redisops.compliance.settings import thresholds

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "redis_compliance"


def _yaml(relative: str):
    return yaml.safe_load((ROLE / relative).read_text())


def test_templates_start_with_the_ansible_managed_header():
    templates = sorted((ROLE / "templates").rglob("*.j2"))
    assert len(templates) == 3
    for path in templates:
        text = path.read_text()
        if text.startswith("#!"):  # a script: its interpreter line first, then the header
            text = text.split("\n", 1)[1]
        assert text.startswith("{{ ansible_managed | comment }}\n"), path


def test_the_service_is_hardened_and_fails_only_when_it_could_not_check():
    unit = (ROLE / "templates/etc/systemd/system/redisops-check.service.j2").read_text()
    for line in (
        "User={{ redis_compliance_user }}",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
        "PrivateTmp=true",
        "--findings-exit-zero",
        "--targets {{ __redis_compliance_targets }}",
    ):
        assert line in unit, line
    assert "SuccessExitStatus" not in unit, "a crash (exit 1) must fail the unit"


def test_the_scheduled_run_keeps_its_counters_beside_the_history(tmp_path):
    """Scheduled runs judge cumulative counters (CON-02 ...) as what rose since the previous run:
    the unit's command line names the counters file, in the directory the service may write."""
    import shlex

    from redisops.cli import build_parser

    from .test_redis_backup_role import render_unit

    state = tmp_path / "state"
    unit = render_unit(
        "redis_compliance", "templates/etc/systemd/system/redisops-check.service.j2",
        redis_compliance_state_dir=str(state),
    )  # fmt: skip
    joined = re.sub(r"\\\n", " ", unit)  # systemd joins continuation lines
    (line,) = [ln for ln in joined.splitlines() if ln.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[:3] == ["/usr/bin/python3", "-m", "redisops.cli"]
    args = build_parser().parse_args(argv[3:])
    assert args.state == f"{state}/counters.json" and args.history == f"{state}/history"
    assert f"ReadWritePaths={state}\n" in unit


def test_the_default_thresholds_are_valid():
    assert thresholds(_yaml("defaults/main.yml")["redis_compliance_thresholds"])


def test_the_lab_waivers_have_reasons_and_ends():
    from redisops.compliance.model import REGISTRY
    from redisops.compliance.waivers import parse_waivers

    lab = yaml.safe_load((REPO / "inventories/lab/group_vars/all/compliance.yml").read_text())
    waivers = parse_waivers(lab["redis_compliance_waivers"], set(REGISTRY))
    # MON-01 went with the exporters (site.yml deploys them); H-01 and H-09 are the machine's kernel's.
    assert {w.check for w in waivers} == {"H-01", "H-09"}


def test_the_catalogue_page_is_current():
    """docs/checks.md is generated: 'redisops check --catalogue > docs/checks.md'."""
    assert (REPO / "docs" / "checks.md").read_text() == catalogue_markdown()


def _check_script(tmp_path, user=None):
    from .test_redis_backup_role import ME, exec_stop_post, render_unit

    unit = render_unit(
        "redis_compliance", "templates/etc/systemd/system/redisops-check.service.j2",
        redis_compliance_state_dir=str(tmp_path / "state"),
        redis_compliance_textfile_dir=str(tmp_path / "textfile"), redis_compliance_user=user or ME,
    )  # fmt: skip
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "textfile").mkdir(exist_ok=True)
    return exec_stop_post(unit)


def test_the_metrics_are_published_by_root_only_from_the_users_own_regular_file(tmp_path):
    """The ExecStopPost=+ root step follows no link the service user planted and reads with
    that user's rights, only a file it owns that is Prometheus text."""
    from .test_redis_backup_role import check_publishing

    check_publishing(tmp_path, _check_script, "redisops_check.prom")


def test_what_the_checks_write_is_what_the_root_step_accepts(tmp_path):
    from redisops.compliance.engine import Report
    from redisops.compliance.model import FAIL, Result, Severity
    from redisops.compliance.report import to_prometheus

    (pattern,) = re.findall(r'grep -qvE "([^"]+)"', _check_script(tmp_path))
    finding = Result(
        check_id="MEM-01", area="memory", target="redis-1:6379", status=FAIL, severity=Severity.HIGH,
        title="a title", message='odd "quoted" text, with {braces} and spaces',
    )  # fmt: skip
    text = to_prometheus(Report(results=[finding], started=1.7e9, duration=1.0, targets=["redis-1:6379"]),
                         Severity.HIGH)  # fmt: skip
    assert all(re.fullmatch(pattern.replace("$", ""), line) for line in text.splitlines()), text
