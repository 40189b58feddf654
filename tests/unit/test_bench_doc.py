"""make bench writes docs/benchmarks.md: the command, the date, the core count and the tables it printed."""

from __future__ import annotations

import datetime as dt

import bench.__main__ as B
from bench import doc

ROWS = [
    ("site.yml cold deploy", [22.0, 23.5, 21.9], "s", "<= 25 s"),
    ("SET plain: role's config", [500000.0, 510000.0], "req/s", ""),
    ("a name | with a pipe", [1.0], "ratio", ">= 0.90"),
]
SIDE = (
    ["Redis 7.0.15 (bookworm)", "Valkey 8.1.1 (trixie)"],
    [("SET tls, kit's config", [[300000.0, 310000.0], [260000.0]], "req/s", "")],
)


def test_the_page_names_its_command_date_and_cores():
    when = dt.datetime(2025, 3, 4, 5, 6, tzinfo=dt.UTC)
    text = doc.page("python -m bench --only deploy", when, 8, ROWS, SIDE)
    assert doc.MARKER in text
    assert "- Command: `python -m bench --only deploy`" in text
    assert "- Date: 2025-03-04 05:06 UTC" in text
    assert "- CPU cores: 8" in text
    assert "| site.yml cold deploy | 3 | 22.00 | 21.90 | 23.50 | s | <= 25 s |" in text
    assert "| SET plain: role's config | 2 | 505000 | 500000 | 510000 | req/s |  |" in text
    assert "| a name \\| with a pipe | 1 | 1.00 | 1.00 | 1.00 | ratio | >= 0.90 |" in text
    assert "| measurement | n | Redis 7.0.15 (bookworm) | Valkey 8.1.1 (trixie) | unit |" in text
    assert "| SET tls, kit's config | 2 | 305000 [300000-310000] | 260000 | req/s |" in text


def test_a_run_prints_the_tables_and_writes_the_page(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(B.checks_bench, "bench_scale", lambda runs: ROWS[:1])
    page = tmp_path / "docs" / "benchmarks.md"
    assert B.main(["--only", "scale", "--doc", str(page)]) == 0
    assert "site.yml cold deploy" in capsys.readouterr().out
    text = page.read_text()
    assert f"- Command: `python -m bench --only scale --doc {page}`" in text
    assert "| site.yml cold deploy | 3 | 22.00 | 21.90 | 23.50 | s | <= 25 s |" in text
    assert "## Servers side by side" not in text


def test_a_run_of_some_sections_keeps_what_it_did_not_measure_under_its_own_run():
    first = doc.page("python -m bench", dt.datetime(2025, 3, 4, 5, 6, tzinfo=dt.UTC), 2, ROWS, SIDE)
    again = [("site.yml cold deploy", [20.0], "s", "<= 25 s"), ("switchover: paused", [0.3], "s", "-")]
    second = doc.page(
        "python -m bench --only deploy", dt.datetime(2025, 3, 5, 0, 0, tzinfo=dt.UTC), 2, again, earlier=first
    )
    now, _, before = second.partition("## Earlier runs")
    assert "| site.yml cold deploy | 1 | 20.00 |" in now and "| switchover: paused | 1 | 0.30 |" in now
    assert "### `python -m bench` (2025-03-04 05:06 UTC, 2 cores)" in before
    assert "| site.yml cold deploy |" not in before  # measured again: the old number goes
    assert "| SET plain: role's config | 2 | 505000 |" in before
    assert "| SET tls, kit's config | 2 | 305000 [300000-310000] | 260000 | req/s |" in before
    # A third run carries both earlier ones, each still under its own command.
    third = doc.page(
        "python -m bench --only scale", dt.datetime(2025, 3, 6, 0, 0, tzinfo=dt.UTC), 2,
        [("SET plain: role's config", [1.0], "req/s", "")], earlier=second,
    )  # fmt: skip
    _, _, before = third.partition("## Earlier runs")
    assert "### `python -m bench --only deploy` (2025-03-05 00:00 UTC, 2 cores)" in before
    assert "| switchover: paused | 1 | 0.30 |" in before
    assert "| SET plain: role's config |" not in before
    assert "| SET tls, kit's config | 2 | 305000 [300000-310000] | 260000 | req/s |" in before
