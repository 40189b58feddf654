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
