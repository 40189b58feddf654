"""Reporters: one run's results as text, JSON, JUnit XML, Prometheus text or HTML.

Every reporter is a pure function of the report (and the registry, for docs); none prints.
"""

from __future__ import annotations

import html
import importlib.resources
import json
import time
from collections import defaultdict
from xml.etree import ElementTree as ET

from redisops import version
from redisops.compliance.engine import UNREACHABLE, Report
from redisops.compliance.model import ERROR, FAIL, PASS, REGISTRY, SKIPPED, WAIVED, Result, Severity
from redisops.compliance.server import Server

FORMATS = ("text", "json", "junit", "prometheus", "html")
_ORDER = {ERROR: 0, FAIL: 1, WAIVED: 2, SKIPPED: 3, PASS: 4}


def _sorted(results: list[Result]) -> list[Result]:
    return sorted(results, key=lambda r: (r.area, -r.severity, _ORDER[r.status], r.check_id, r.target))


def server_label(server: dict) -> str:
    """'valkey 8.1.1', or 'valkey 8.1.1 (sentinel)' for a Sentinel."""
    found = Server.from_dict(server)
    return f"{found} (sentinel)" if found.mode == "sentinel" else str(found)


def servers_by_label(report: Report) -> list[tuple[str, list[str]]]:
    """The targets that run each server and version, in the order they were read."""
    out: dict[str, list[str]] = {}
    for target, server in report.servers.items():
        out.setdefault(server_label(server), []).append(target)
    return list(out.items())


def _listed(items: list[str], most: int = 8) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def summary_line(report: Report, fail_on: Severity) -> str:
    c = report.counts()
    by_sev = defaultdict(int)
    for r in report.failing():
        by_sev[str(r.severity)] += 1
    sev = ", ".join(f"{n} {s}" for s, n in sorted(by_sev.items(), key=lambda kv: -Severity.parse(kv[0])))
    return (
        f"{c[FAIL]} finding(s){f' ({sev})' if sev else ''}, {c[ERROR]} target(s) not checked, "
        f"{c[WAIVED]} waived, {c[PASS]} passed, {c[SKIPPED]} skipped in {report.duration:.1f} s; "
        f"fail level {fail_on}: exit {report.exit_code(fail_on)}"
    )


def to_text(report: Report, fail_on: Severity, verbose: bool = False) -> str:
    """A table grouped by area and severity: problems first; passes only with --verbose."""
    lines = []
    shown = [r for r in _sorted(report.results) if verbose or r.status in (FAIL, ERROR, WAIVED)]
    area = None
    for r in shown:
        if r.area != area:
            area = r.area
            lines.append(f"\n{area.upper()}")
        status = r.status.upper() if r.status != FAIL else str(r.severity).upper()
        lines.append(f"  {status:<9} {r.check_id:<16} {r.target:<20} {r.message or r.title}")
        if r.status == WAIVED:
            lines.append(f"  {'':<9} {'':<16} {'':<20} waived: {r.waiver}")
    for note in report.notes:
        lines.append(f"\nnote: {note}")
    if not shown:
        lines.append("no findings")
    servers = servers_by_label(report)
    if servers:
        lines.append("\nservers:")
        lines += [f"  {label}: {_listed(targets)}" for label, targets in servers]
    lines.append("")
    lines.append(summary_line(report, fail_on))
    return "\n".join(lines).lstrip("\n") + "\n"


def to_json(report: Report, fail_on: Severity) -> str:
    return json.dumps(
        {
            "redisops_version": version(),
            "started": report.started,
            "duration_s": round(report.duration, 3),
            "fail_on": str(fail_on),
            "exit_code": report.exit_code(fail_on),
            "counts": report.counts(),
            "notes": report.notes,
            "servers": {t: {**s, "label": server_label(s)} for t, s in report.servers.items()},
            "results": [r.to_dict() for r in _sorted(report.results)],
        },
        indent=2,
    )


def to_junit(report: Report, fail_on: Severity) -> str:
    """One test case per check and target; findings below the fail level are not failures."""
    suites = ET.Element("testsuites", name="redisops check")
    by_area = defaultdict(list)
    for r in _sorted(report.results):
        by_area[r.area].append(r)
    for area, results in by_area.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=area,
            tests=str(len(results)),
            failures=str(sum(r.status == FAIL and r.severity >= fail_on for r in results)),
            errors=str(sum(r.status == ERROR for r in results)),
            skipped=str(sum(r.status in (SKIPPED, WAIVED) for r in results)),
        )
        for r in results:
            case = ET.SubElement(
                suite, "testcase", classname=f"{area}.{r.check_id}", name=f"{r.check_id} {r.target}"
            )
            if r.status == ERROR:
                ET.SubElement(case, "error", message=r.message).text = r.remediation
            elif r.status == FAIL and r.severity >= fail_on:
                ET.SubElement(
                    case, "failure", message=f"[{r.severity}] {r.message}", type=str(r.severity)
                ).text = r.remediation
            elif r.status in (SKIPPED, WAIVED) or r.status == FAIL:
                why = f"waived: {r.waiver}" if r.status == WAIVED else r.message
                if r.status == FAIL:
                    why = f"[{r.severity}] below the fail level {fail_on}: {r.message}"
                ET.SubElement(case, "skipped", message=why)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def to_prometheus(report: Report, fail_on: Severity, last_success: float | None = None) -> str:
    """Text format for the node_exporter textfile collector: one gauge per check and target
    (1 = failing), target reachability, the run's duration and timestamps."""
    now = report.started + report.duration
    ok = not report.errors()
    if ok:
        last_success = now
    out = [
        "# HELP redisops_check_failing 1 when the check fails on the target (not waived), else 0.",
        "# TYPE redisops_check_failing gauge",
    ]
    # One series per check and target: several findings of one check on one target are one
    # failing gauge (labelled with the worst severity), as the text format requires.
    series: dict[tuple[str, str], Result] = {}
    for r in _sorted(report.results):
        if r.status in (SKIPPED, ERROR):
            continue
        key = (r.check_id, r.target)
        seen = series.get(key)
        if seen is None or (r.status == FAIL, r.severity) > (seen.status == FAIL, seen.severity):
            series[key] = r
    for r in series.values():
        labels = (
            f'check="{_label(r.check_id)}",target="{_label(r.target)}",area="{r.area}",'
            f'severity="{r.severity}",waived="{str(r.status == WAIVED).lower()}"'
        )
        out.append(f"redisops_check_failing{{{labels}}} {1 if r.status == FAIL else 0}")
    out += [
        "# HELP redisops_check_target_up 1 when the target could be read, else 0.",
        "# TYPE redisops_check_target_up gauge",
    ]
    unreadable = {r.target for r in report.errors() if r.check_id in UNREACHABLE.values()}
    for target in sorted(set(report.targets)):
        up = 0 if target in unreadable else 1
        out.append(f'redisops_check_target_up{{target="{_label(target)}"}} {up}')
    out += [
        "# HELP redisops_check_findings Failing results by severity (waived ones excluded).",
        "# TYPE redisops_check_findings gauge",
    ]
    for sev in Severity:
        n = sum(1 for r in report.failing() if r.severity == sev)
        out.append(f'redisops_check_findings{{severity="{sev}"}} {n}')
    out += [
        "# HELP redisops_check_run_duration_seconds How long the last run took.",
        "# TYPE redisops_check_run_duration_seconds gauge",
        f"redisops_check_run_duration_seconds {report.duration:.3f}",
        "# HELP redisops_check_last_run_timestamp_seconds When the last run ended.",
        "# TYPE redisops_check_last_run_timestamp_seconds gauge",
        f"redisops_check_last_run_timestamp_seconds {now:.3f}",
        "# HELP redisops_check_last_success_timestamp_seconds When a run last read every target.",
        "# TYPE redisops_check_last_success_timestamp_seconds gauge",
        f"redisops_check_last_success_timestamp_seconds {(last_success or 0):.3f}",
    ]
    return "\n".join(out) + "\n"


def previous_last_success(text: str) -> float | None:
    """The last success timestamp of an earlier textfile, kept when this run failed."""
    for line in text.splitlines():
        if line.startswith("redisops_check_last_success_timestamp_seconds "):
            try:
                return float(line.split()[1]) or None
            except (IndexError, ValueError):
                return None
    return None


def _jinja():
    import jinja2

    return jinja2.Environment(
        # Package data (templates/ in the repository), found the same way in a wheel and a checkout.
        loader=jinja2.FileSystemLoader(str(importlib.resources.files("redisops.templates"))),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(report: Report, fail_on: Severity) -> str:
    results = _sorted(report.results)
    areas = defaultdict(list)
    for r in results:
        if r.status != PASS:
            areas[r.area].append(r.to_dict())
    return (
        _jinja()
        .get_template("check_report.html.j2")
        .render(
            report=report,
            generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.started)),
            summary=summary_line(report, fail_on),
            counts=report.counts(),
            areas=dict(areas),
            passed=[r.to_dict() for r in results if r.status == PASS],
            servers=[(t, server_label(s)) for t, s in report.servers.items()],
            docs={cid: c.doc() for cid, c in REGISTRY.items()},
            fail_on=fail_on,
        )
    )


def render(report: Report, fmt: str, fail_on: Severity, verbose: bool = False, previous: str = "") -> str:
    if fmt == "text":
        return to_text(report, fail_on, verbose)
    if fmt == "json":
        return to_json(report, fail_on)
    if fmt == "junit":
        return to_junit(report, fail_on)
    if fmt == "prometheus":
        return to_prometheus(report, fail_on, previous_last_success(previous))
    if fmt == "html":
        return to_html(report, fail_on)
    raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def explain(check_id: str) -> str:
    check = REGISTRY.get(check_id.upper())
    if check is None:
        raise KeyError(check_id)
    d = check.doc()
    return (
        f"{d['id']}  {d['title']}\n"
        f"area: {d['area']}   scope: {d['scope']}   severity: {d['severity']}\n\n"
        f"Why:\n  {d['rationale']}\n\nBad:\n  {d['bad']}\n\nGood:\n  {d['good']}\n\n"
        f"Remediation:\n  {d['remediation']}\n"
        + (f"\nApplies to: {d['applies_to']}\n" if d["applies_to"] else "")
        + (f"\nSource: {d['source']}\n" if d["source"] else "")
    )


def catalogue_markdown() -> str:
    """The generated catalogue page (docs/checks.md): every check with its doc."""
    return (
        _jinja()
        .get_template("checks_catalogue.md.j2")
        .render(
            checks=[c.doc() for c in sorted(REGISTRY.values(), key=lambda c: (c.area, c.id))],
            escape=html.escape,
        )
    )
