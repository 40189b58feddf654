"""Structure of roles/redis_compliance, and the generated catalogue page kept current."""

from __future__ import annotations

from pathlib import Path

import yaml

from checks.report import catalogue_markdown
from checks.settings import thresholds

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "redis_compliance"


def _yaml(relative: str):
    return yaml.safe_load((ROLE / relative).read_text())


def test_templates_start_with_the_ansible_managed_header():
    templates = sorted((ROLE / "templates").rglob("*.j2"))
    assert len(templates) == 2
    for path in templates:
        assert path.read_text().startswith("{{ ansible_managed | comment }}\n"), path


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


def test_the_default_thresholds_are_valid():
    assert thresholds(_yaml("defaults/main.yml")["redis_compliance_thresholds"])


def test_the_lab_waivers_have_reasons_and_ends():
    from checks.model import REGISTRY
    from checks.waivers import parse_waivers

    lab = yaml.safe_load((REPO / "inventories/lab/group_vars/all/compliance.yml").read_text())
    waivers = parse_waivers(lab["redis_compliance_waivers"], set(REGISTRY))
    assert {w.check for w in waivers} == {"H-01"}  # MON-01 went with the exporters (site.yml deploys them)


def test_the_catalogue_page_is_current():
    """docs/checks.md is generated: 'redisops check --catalogue > docs/checks.md'."""
    assert (REPO / "docs" / "checks.md").read_text() == catalogue_markdown()
