"""docs/benchmarks.md: the tables of a benchmark run, with what produced them.

The page is written by the benchmark only (``make bench`` runs ``python -m bench``), never by hand:
each run writes the command, the date, the machine's core count and the tables it printed. A run
of some sections (``--only``) keeps what earlier runs measured and it did not, under "Earlier
runs", each with its own command and date, so no number loses where it came from. Commit it with
the change it measures.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

MARKER = "<!-- Written by the benchmark (python -m bench); do not edit: run it again. -->"


def _fmt(unit: str) -> str:
    return "{:.2f}" if unit in ("s", "ratio", "ms") else "{:.0f}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def rows_table(rows: Sequence[tuple]) -> list[str]:
    """(name, samples, unit, target) rows, as print_table prints them: median, min and max."""
    out = ["| measurement | n | median | min | max | unit | target |", "|---|---:|---:|---:|---:|---|---|"]
    for name, samples, unit, target in rows:
        fmt = _fmt(unit)
        median, low, high = (fmt.format(x) for x in (statistics.median(samples), min(samples), max(samples)))
        out.append(
            f"| {_cell(name)} | {len(samples)} | {median} | {low} | {high} | {unit} | {_cell(target)} |"
        )
    return out


def side_by_side_table(titles: Sequence[str], rows: Sequence[tuple]) -> list[str]:
    """A column per server: median, and [min-max] when there are several samples."""
    out = [
        "| measurement | n | " + " | ".join(_cell(t) for t in titles) + " | unit |",
        "|---|---:|" + "---:|" * len(titles) + "---|",
    ]
    for name, columns, unit, note in rows:
        fmt = _fmt(unit)
        cells = []
        for samples in columns:
            cell = fmt.format(statistics.median(samples))
            if len(samples) > 1:
                cell += f" [{fmt.format(min(samples))}-{fmt.format(max(samples))}]"
            cells.append(cell)
        n = max(len(s) for s in columns)
        unit_cell = unit + (f" ({_cell(note)})" if note else "")
        out.append(f"| {_cell(name)} | {n} | " + " | ".join(cells) + f" | {unit_cell} |")
    return out


def _runs(text: str) -> list[dict]:
    """The runs an earlier page holds: its own and its earlier ones, each as {"title": the
    heading line, "rows": measurement table rows (lines), "side": the side-by-side section's
    lines}."""
    if MARKER not in text:
        return []
    lines = text.splitlines()
    runs: list[dict] = []
    head = {k: "" for k in ("Command", "Date", "CPU cores")}
    for line in lines:
        for key in head:
            if line.startswith(f"- {key}: ") and not head[key]:
                head[key] = line[len(f"- {key}: ") :]
    current = {
        "title": f"### {head['Command']} ({head['Date']}, {head['CPU cores']} cores)",
        "rows": [],
        "side": [],
    }
    runs.append(current)
    section, in_side = "", False
    for line in lines:
        if line.startswith("## "):
            section, in_side = line[3:], line[3:] == "Servers side by side"
            continue
        if line.startswith("### ") and section == "Earlier runs":
            current = {"title": line, "rows": [], "side": []}
            runs.append(current)
            in_side = False
            continue
        if line == "Servers side by side:":
            in_side = True
            continue
        if not line.startswith("|"):
            continue
        if in_side:
            (runs[0] if section == "Servers side by side" else current)["side"].append(line)
        elif (
            section in ("Measurements", "Earlier runs")
            and line.startswith("| ")
            and not line.startswith("| measurement |")
        ):
            current["rows"].append(line)
    return runs


def _name(row: str) -> str:
    return row[2:].split(" | ", 1)[0]


def page(
    command: str,
    when: dt.datetime,
    cores: int | None,
    rows: Sequence[tuple],
    side_by_side: tuple[Sequence[str], Sequence[tuple]] | None = None,
    earlier: str = "",
) -> str:
    """The page of this run; ``earlier``: the page it replaces, whose measurements this run did
    not repeat are kept under "Earlier runs"."""
    out = [
        "# Benchmarks",
        "",
        MARKER,
        "",
        f"- Command: `{command}`",
        f"- Date: {when.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M')} UTC",
        f"- CPU cores: {cores if cores else 'unknown'}",
        "",
        "Medians of several runs, with min and max. The sections, and how each is measured, are in",
        "[development.md](development.md#benchmarks). Numbers from another machine differ: measure on",
        "your own hosts before you decide on them.",
        "",
    ]
    if rows:
        out += ["## Measurements", "", *rows_table(rows), ""]
    if side_by_side:
        titles, server_rows = side_by_side
        out += [
            "## Servers side by side",
            "",
            "A lab each, deployed by `site.yml`. A `ratio to the first` row is each server's median over",
            "the first column's; `plain / reference` compares each round with a reference server on the",
            "machine itself, so that drift of the machine shows.",
            "",
            *side_by_side_table(titles, server_rows),
            "",
        ]
    measured = {_cell(r[0]) for r in rows}
    kept = []
    for run in _runs(earlier):
        old_rows = [r for r in run["rows"] if _name(r) not in measured]
        old_side = run["side"] if not side_by_side else []
        if old_rows or old_side:
            kept += [run["title"], ""]
            if old_rows:
                kept += ["| measurement | n | median | min | max | unit | target |"]
                kept += ["|---|---:|---:|---:|---:|---|---|", *old_rows, ""]
            if old_side:
                kept += ["Servers side by side:", "", *old_side, ""]
    if kept:
        out += [
            "## Earlier runs",
            "",
            "What earlier runs measured and this one did not repeat, each under its own command and date.",
            "",
            *kept,
        ]
    return "\n".join(out)


def write(path: Path, text: str) -> None:
    """Replace ``path`` at once: a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
