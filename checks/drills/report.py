"""Reporters for a drill's result: JSON, a one-screen text summary, HTML, and the run's timeline
as an inline SVG.

The result is the plain dict the drill engine produces (see ``to_json``); every reporter is a
pure function of it and none prints. Measures may be None (not applicable) and are shown as "-";
runs may lack events, a timeline or verification.
"""

from __future__ import annotations

import html
import itertools
import math
import re
import time
from typing import Any

from redisops import output
from redisops.compliance.report import _jinja

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SVG_NS = "http://www.w3.org/2000/svg"
# Sentinel events worth a colour of their own; any other event is drawn grey.
EVENT_COLOURS = {
    "+sdown": "#f9a825",
    "-sdown": "#9e9d24",
    "+odown": "#e65100",
    "-odown": "#9e9d24",
    "+try-failover": "#6a1b9a",
    "+elected-leader": "#6a1b9a",
    "+selected-slave": "#1565c0",
    "+promoted-slave": "#1565c0",
    "+switch-master": "#0d47a1",
    "+failover-end": "#2e7d32",
    "+failover-end-for-timeout": "#b00020",
    "-failover-abort-no-good-slave": "#b00020",
    "+tilt": "#4a148c",
}
_OK, _FAIL, _INFO = "#43a047", "#e53935", "#fb8c00"
# Acknowledged, then found lost after the run: not the ok green, which would hide the loss.
_LOST = "#6a1b9a"


# --------------------------------------------------------------------------- values


def verdict(passed: Any) -> str:
    """PASS, FAIL, or N/A when the engine could not decide (None or missing)."""
    if passed is None:
        return "N/A"
    return "PASS" if passed else "FAIL"


def fmt_value(value: Any, unit: str = "") -> str:
    """A measure for people: None is "-", floats get at most two decimals (at least one)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        if not math.isfinite(value):
            text = str(value)
        else:
            text = f"{value:.2f}"
            if text.endswith("0"):
                text = text[:-1]
    else:
        text = str(value)
    return f"{text} {unit}" if unit else text


def _when(started: Any) -> str:
    t = _num(started)
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _num(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, None, NaN, not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _run(run: dict) -> dict:
    """A run with every key the reporters read, so a partial run renders instead of failing."""
    return {
        **run,
        "run": run.get("run", "?"),
        "passed": run.get("passed"),
        "old_primary": run.get("old_primary") or "-",
        "new_primary": run.get("new_primary") or "-",
        "fault": run.get("fault") or "-",
        "fault_at": run.get("fault_at"),
        "healed_at": run.get("healed_at"),
        "duration": run.get("duration"),
        "error": run.get("error") or "",
        "criteria": list(run.get("criteria") or []),
        "measures": dict(run.get("measures") or {}),
        "events": sorted(run.get("events") or [], key=lambda e: _num(e.get("t")) or 0.0),
        "timeline": list(run.get("timeline") or []),
        "verify": list(run.get("verify") or []),
        "nodes": [n for n in run.get("nodes") or [] if isinstance(n, dict)],
        "patterns": patterns(run),
    }


_PATTERN_OWN = ("invariant", "judged_as", "checked", "violations", "samples")


def patterns(run: dict) -> list[dict]:
    """The use-case patterns' outcomes of a run (details.patterns), one row each: name,
    invariant, how a violation is judged, checked, violations, the other counts as text and the
    samples (what was lost or stale) as text."""
    found = (run.get("details") or {}).get("patterns") or {}
    rows = []
    for name, p in found.items() if isinstance(found, dict) else ():
        if not isinstance(p, dict):
            continue
        counts = ", ".join(f"{k} {fmt_value(v)}" for k, v in p.items() if k not in _PATTERN_OWN)
        samples = p.get("samples") if isinstance(p.get("samples"), dict) else {}
        shown = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in samples.items() if v)
        rows.append(
            {
                "name": str(name),
                "invariant": str(p.get("invariant") or "-"),
                "judged_as": str(p.get("judged_as") or "-"),
                "checked": p.get("checked"),
                "violations": p.get("violations"),
                "counts": counts,
                "samples": shown,
            }
        )
    return rows


def servers_line(nodes: list[dict]) -> str:
    """Which server the nodes ran, grouped by server and version:
    'valkey 8.1.1 on redis-2, redis-3; redis 7.0.15 on redis-1 (sentinels: redis 7.0.15 on ...)'."""

    def grouped(kind: str) -> str:
        hosts: dict[str, list[str]] = {}
        for n in nodes:
            if n.get("kind", "server") == kind:
                hosts.setdefault(str(n.get("label") or "-"), []).append(str(n.get("host") or n.get("addr")))
        return "; ".join(f"{label} on {', '.join(names)}" for label, names in hosts.items())

    servers, sentinels = grouped("server"), grouped("sentinel")
    if servers and sentinels:
        return f"{servers} (sentinels: {sentinels})"
    return servers or (f"sentinels: {sentinels}" if sentinels else "")


def _runs(result: dict) -> list[dict]:
    return [_run(r) for r in result.get("runs") or []]


def _measure_keys(runs: list[dict]) -> list[str]:
    keys: dict[str, None] = {}
    for r in runs:
        keys.update(dict.fromkeys(r["measures"]))
    return list(keys)


# --------------------------------------------------------------------------- JSON and text


def to_json(result: dict) -> str:
    """The result as it is, with the kit's version first."""
    return output.to_json(result)


def _title(result: dict) -> str:
    return (
        f"{result.get('drill', 'drill')} drill, scenario {result.get('scenario', '-')}: "
        f"{verdict(result.get('passed'))}"
    )


def to_text(result: dict) -> str:
    """One screen: the verdict, each run's verdict, the measures side by side, what failed."""
    runs = _runs(result)
    settings = result.get("settings") or {}
    lines = [
        _title(result),
        f"group {result.get('group', '-')}, inventory {result.get('inventory', '-')}, "
        f"started {_when(result.get('started'))}",
    ]
    if settings:
        lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    lines.append("")
    for r in runs:
        at = f" at {fmt_value(r['fault_at'], 's')}" if r["fault_at"] is not None else ""
        healed = f", healed at {fmt_value(r['healed_at'], 's')}" if r["healed_at"] is not None else ""
        lines.append(f"run {r['run']}  {verdict(r['passed']):<4}  {r['fault']}{at}{healed}")
        crit_ok = sum(c.get("passed") is True for c in r["criteria"])
        ver_ok = sum(v.get("passed") is True for v in r["verify"])
        lines.append(
            f"         primary {r['old_primary']} -> {r['new_primary']}; "
            f"criteria {crit_ok}/{len(r['criteria'])}, verification {ver_ok}/{len(r['verify'])}, "
            f"{len(r['events'])} sentinel event(s)"
        )
        if r["nodes"]:
            lines.append(f"         servers: {servers_line(r['nodes'])}")
        if r["error"]:
            lines.append(f"         error: {r['error']}")
        if r["patterns"]:
            lines.append(
                "         patterns (violations/checked): "
                + ", ".join(
                    f"{p['name']} {fmt_value(p['violations'])}/{fmt_value(p['checked'])}"
                    for p in r["patterns"]
                )
            )
    if not runs:
        lines.append("no runs")
    keys = _measure_keys(runs)
    if keys:
        heads = [f"run {r['run']}" for r in runs]
        cells = [[fmt_value(r["measures"].get(k)) for r in runs] for k in keys]
        name_w = max(len("measure"), *(len(k) for k in keys))
        widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(heads)]
        lines.append("")
        lines.append(
            f"{'measure':<{name_w}}  " + "  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))
        )
        for k, row in zip(keys, cells, strict=True):
            lines.append(f"{k:<{name_w}}  " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    failed = []
    for r in runs:
        for c in r["criteria"]:
            if c.get("passed") is False:
                unit = c.get("unit") or ""
                failed.append(
                    f"  run {r['run']}  {c.get('name', '?')}: measured {fmt_value(c.get('measured'), unit)}, "
                    f"limit {fmt_value(c.get('limit'), unit)}"
                )
        for v in r["verify"]:
            if v.get("passed") is False:
                detail = f": {v['detail']}" if v.get("detail") not in (None, "") else ""
                failed.append(f"  run {r['run']}  verify {v.get('name', '?')}{detail}")
    lines.append("")
    lines += ["failed:", *failed] if failed else ["no failed criteria"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- SVG timeline


def _x(value: Any) -> str:
    """Text or an attribute value, escaped and stripped of characters XML does not allow."""
    return html.escape(_NOT_XML.sub("", str(value)), quote=True)


def _tick_step(span: float, room: float = 840.0) -> float:
    """Every second for a short run, every 5 s for a longer one, coarser beyond so that each
    label keeps about 35 px (up to 24 ticks on the default width)."""
    most = max(room / 35.0, 2.0)
    for step in (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0):
        if span / step <= most:
            return step
    return 3600.0


def _bucket_width(times: list[float]) -> float:
    """The timeline's bucket, from the smallest spacing of its buckets (0.1 s when unknown)."""
    diffs = [b - a for a, b in itertools.pairwise(times) if b - a > 1e-9]
    return min(diffs) if diffs else 0.1


def timeline_svg(run: dict, width: int = 900, height: int = 220) -> str:
    """The run's writes per bucket (ok green, acknowledged but found lost afterwards purple,
    failed red, indeterminate orange, stacked), the fault and heal as dashed lines, and a marker
    per sentinel event (its name as a tooltip), over seconds since the run started. Valid XML;
    every text is escaped."""
    r = _run(run)
    buckets = []
    for b in r["timeline"]:
        t = _num(b.get("t"))
        if t is not None:
            ok, fail, info = (max(_num(b.get(k)) or 0.0, 0.0) for k in ("ok", "fail", "info"))
            # "lost" is part of "ok" (older timelines have none).
            lost = min(max(_num(b.get("lost")) or 0.0, 0.0), ok)
            buckets.append((t, ok - lost, lost, fail, info))
    buckets.sort()
    events = [(t, e) for e in r["events"] if (t := _num(e.get("t"))) is not None]
    fault_at, healed_at = _num(r["fault_at"]), _num(r["healed_at"])
    bw = _bucket_width([b[0] for b in buckets])

    known = [b[0] for b in buckets] + [t for t, _ in events]
    known += [t for t in (fault_at, healed_at) if t is not None]
    t0 = min([0.0, *known])
    ends = [*known, *(b[0] + bw for b in buckets), _num(r["duration"]) or 0.0]
    t1 = max(ends)
    if t1 - t0 < 1.0:
        t1 = t0 + 1.0

    sentinels = sorted({str(e.get("sentinel", "")) for _, e in events})
    rows = min(len(sentinels), 4)
    pad_l, pad_r, pad_t, pad_b = 46, 14, 18, 38
    plot_top = pad_t + (rows * 9 + 6 if rows else 0)
    plot_bottom = max(height - pad_b, plot_top + 10)
    plot_w = max(width - pad_l - pad_r, 10)
    plot_h = plot_bottom - plot_top
    vmax = max([sum(b[1:]) for b in buckets] + [1.0])

    def xt(t: float) -> float:
        return pad_l + (t - t0) / (t1 - t0) * plot_w

    def yv(v: float) -> float:
        return plot_bottom - v / vmax * plot_h

    label = f"run {r['run']} timeline: {r['fault']}"
    out = [
        f'<svg xmlns="{_SVG_NS}" class="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_x(label)}" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{_x(label)}</title>",
        f'<rect x="{pad_l}" y="{plot_top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ddd"/>',
    ]

    # Ticks and grid over the time axis.
    step = _tick_step(t1 - t0, plot_w)
    tick = math.ceil(t0 / step - 1e-9) * step
    while tick <= t1 + 1e-9:
        x = xt(tick)
        out.append(
            f'<line class="tick" x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{plot_bottom + 4}" '
            'stroke="#e0e0e0"/>'
        )
        out.append(
            f'<text class="tick-label" x="{x:.1f}" y="{plot_bottom + 15}" '
            f'text-anchor="middle">{tick:g}</text>'
        )
        tick += step
    out.append(f'<text x="{pad_l - 6}" y="{plot_bottom + 15}" text-anchor="end" fill="#555">t (s)</text>')

    # The writes: one path per kind, a bar per bucket, stacked ok / lost / failed / indeterminate.
    kinds = (("ok", _OK), ("lost", _LOST), ("fail", _FAIL), ("info", _INFO))
    for idx, (cls, colour) in enumerate(kinds, start=1):
        d = []
        for b in buckets:
            below, value = sum(b[1:idx]), b[idx]
            if value <= 0:
                continue
            xa, xb = xt(b[0]), xt(min(b[0] + bw, t1))
            d.append(f"M{xa:.1f},{yv(below):.1f}V{yv(below + value):.1f}H{xb:.1f}V{yv(below):.1f}Z")
        if d:
            out.append(f'<path class="{cls}" fill="{colour}" d="{"".join(d)}"/>')

    # The value axis.
    mid = (plot_top + plot_bottom) / 2
    out += [
        f'<line x1="{pad_l}" y1="{plot_top}" x2="{pad_l}" y2="{plot_bottom}" stroke="#999"/>',
        f'<line x1="{pad_l}" y1="{plot_bottom}" x2="{pad_l + plot_w}" y2="{plot_bottom}" stroke="#999"/>',
        f'<text x="{pad_l - 4}" y="{plot_top + 9}" text-anchor="end">{vmax:g}</text>',
        f'<text x="{pad_l - 4}" y="{plot_bottom}" text-anchor="end">0</text>',
        f'<text x="12" y="{mid:.1f}" text-anchor="middle" fill="#555" '
        f'transform="rotate(-90 12 {mid:.1f})">writes / {_x(fmt_value(bw))} s</text>',
    ]

    # The fault and the heal: dashed lines, the label left of the fault and right of the heal.
    for cls, t, colour, anchor, dx in (
        ("fault", fault_at, "#b00020", "end", -3),
        ("healed", healed_at, "#2e7d32", "start", 3),
    ):
        if t is None:
            continue
        x = xt(t)
        text = f"{cls} {fmt_value(t)} s"
        # Keep the label inside the picture: flip it to the other side of the line at an edge.
        if (anchor == "end" and x - 6.5 * len(text) < 0) or (
            anchor == "start" and x + 6.5 * len(text) > width
        ):
            anchor, dx = ("start", 3) if anchor == "end" else ("end", -3)
        out.append(
            f'<line class="{cls}" x1="{x:.1f}" y1="{pad_t - 8}" x2="{x:.1f}" y2="{plot_bottom}" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
        out.append(
            f'<text class="{cls}-label" x="{x + dx:.1f}" y="{pad_t - 6}" text-anchor="{anchor}" '
            f'fill="{colour}">{_x(text)}</text>'
        )

    # Sentinel events: a marker each in a band above the plot, a row per sentinel.
    for t, e in events:
        name = str(e.get("event", "?"))
        row = sentinels.index(str(e.get("sentinel", ""))) % 4 if rows else 0
        tip = f"{name} at {fmt_value(t)} s on {e.get('sentinel', '?')}"
        if e.get("detail"):
            tip += f": {e['detail']}"
        out.append(
            f'<circle class="event" data-event="{_x(name)}" cx="{xt(t):.1f}" cy="{pad_t + 6 + row * 9}" '
            f'r="3.5" fill="{EVENT_COLOURS.get(name, "#757575")}" stroke="#fff" stroke-width="0.5">'
            f"<title>{_x(tip)}</title></circle>"
        )

    # The legend, under the tick labels.
    y = height - 8
    x = pad_l
    legend = [("ok", _OK), ("failed", _FAIL), ("indeterminate", _INFO)]
    if any(b[2] for b in buckets):
        legend.insert(1, ("ok, later lost", _LOST))
    for text, colour in legend:
        out.append(f'<rect x="{x}" y="{y - 8}" width="9" height="9" fill="{colour}"/>')
        out.append(f'<text x="{x + 12}" y="{y}">{text}</text>')
        x += 20 + 7 * len(text)
    if events:
        out.append(f'<circle cx="{x + 4}" cy="{y - 4}" r="3.5" fill="#757575"/>')
        out.append(f'<text x="{x + 12}" y="{y}">sentinel event (hover for name)</text>')
    if not buckets:
        out.append(
            f'<text x="{pad_l + plot_w / 2:.1f}" y="{(plot_top + plot_bottom) / 2:.1f}" '
            'text-anchor="middle" fill="#777">no writes recorded</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


# --------------------------------------------------------------------------- HTML


def to_html(result: dict) -> str:
    from markupsafe import Markup

    runs = _runs(result)
    for r in runs:
        # Built by timeline_svg with every text escaped; the template must not escape it again.
        r["svg"] = Markup(timeline_svg(r))
    env = _jinja()
    env.filters["show"] = fmt_value
    env.filters["verdict"] = verdict
    return env.get_template("drill_report.html.j2").render(
        title=_title(result),
        drill=result.get("drill") or "drill",
        scenario=result.get("scenario") or "-",
        group=result.get("group") or "-",
        inventory=result.get("inventory") or "-",
        verdict=verdict(result.get("passed")),
        result_passed=result.get("passed"),
        generated=_when(result.get("started")),
        settings=result.get("settings") or {},
        runs=runs,
    )
