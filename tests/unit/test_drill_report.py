"""The drill reporters: JSON, the one-screen text, the HTML page and the SVG timeline. No server."""

from __future__ import annotations

import copy
import json
from xml.etree import ElementTree as ET

import pytest

from redisops import version
from redisops.drills import report as D

SVG = "{http://www.w3.org/2000/svg}"


def _run(n: int = 1, passed: bool = True) -> dict:
    return {
        "run": n,
        "passed": passed,
        "old_primary": "10.213.7.11:6379",
        "new_primary": "10.213.7.12:6379",
        "fault": "SIGKILL redis-server on redis-1",
        "fault_at": 2.0,
        "healed_at": 12.5,
        "duration": 20.0,
        "criteria": [
            {
                "name": "promoted within down-after + 2 s",
                "passed": passed,
                "measured": 6.1 if passed else 9.3,
                "limit": 7.0,
                "unit": "s",
            },
            {
                "name": "WAIT-confirmed writes lost",
                "passed": True,
                "measured": 0,
                "limit": 0,
                "unit": "writes",
            },
        ],
        "measures": {
            "time_to_detect_s": 5.2,
            "time_to_promote_s": 6.1,
            "error_window_s": 6.4,
            "longest_gap_s": 6.5,
            "acked_lost_waited": 0,
            "acked_lost_plain": 3,
            "indeterminate_survived": 2,
            "counter_lost": 0,
            "queue_lost": None,
            "queue_duplicated": 1,
            "full_resyncs": 1,
            "split_brain_s": 0.0,
            "ops": 5123,
        },
        "events": [
            {
                "t": 7.0,
                "sentinel": "redis-1:26379",
                "event": "+sdown",
                "detail": "master redis-main 10.213.7.11 6379",
            },
            {
                "t": 7.1,
                "sentinel": "redis-2:26379",
                "event": "+odown",
                "detail": "master redis-main 10.213.7.11 6379 #quorum 2/2",
            },
            {
                "t": 8.1,
                "sentinel": "redis-2:26379",
                "event": "+switch-master",
                "detail": "redis-main 10.213.7.11 6379 10.213.7.12 6379",
            },
            {"t": 8.4, "sentinel": "redis-2:26379", "event": "+failover-end", "detail": "master redis-main"},
        ],
        "timeline": [
            {"t": round(i * 0.1, 1), "ok": 0 if down else 40, "fail": 5 if down else 0, "info": int(i == 21)}
            for i in range(200)
            for down in [20 < i < 84]
        ],
        "verify": [{"name": "exactly one primary", "passed": True, "detail": "10.213.7.12:6379"}],
    }


@pytest.fixture
def result() -> dict:
    return {
        "drill": "failover",
        "scenario": "kill-primary",
        "started": 1796000000.0,
        "group": "redis-main",
        "inventory": "inventories/lab",
        "settings": {"down_after_ms": 5000, "failover_timeout_ms": 60000, "runs": 2},
        "passed": False,
        "runs": [_run(1, True), _run(2, False)],
    }


def _markers(svg: str) -> list[ET.Element]:
    return [c for c in ET.fromstring(svg).iter(f"{SVG}circle") if c.get("class") == "event"]


# --------------------------------------------------------------------------- JSON and text


def test_json_round_trips_with_the_kits_version_first(result):
    assert json.loads(D.to_json(result)) == {"redisops_version": version(), **result}
    assert D.to_json(result).startswith(f'{{\n  "redisops_version": "{version()}",\n  "drill": "failover"')


def test_text_has_the_verdicts_and_each_failed_criterion_with_measured_and_limit(result):
    text = D.to_text(result)
    assert text.splitlines()[0] == "failover drill, scenario kill-primary: FAIL"
    assert "run 1  PASS" in text and "run 2  FAIL" in text
    assert "run 2  promoted within down-after + 2 s: measured 9.3 s, limit 7.0 s" in text
    # Passing criteria are not listed as failures.
    assert "measured 6.1 s" not in text
    assert "WAIT-confirmed writes lost:" not in text
    assert "down_after_ms=5000" in text


def test_text_shows_the_measures_side_by_side_and_none_as_a_dash(result):
    result["runs"][0]["measures"]["time_to_detect_s"] = None
    text = D.to_text(result)
    row = next(line for line in text.splitlines() if line.startswith("time_to_detect_s"))
    assert row.split()[1:] == ["-", "5.2"]
    row = next(line for line in text.splitlines() if line.startswith("queue_lost"))
    assert row.split()[1:] == ["-", "-"]
    header = next(line for line in text.splitlines() if line.startswith("measure"))
    assert header.split() == ["measure", "run", "1", "run", "2"]
    assert len(text.splitlines()) < 40


def test_text_of_a_passing_drill_and_of_a_bare_run():
    bare = {
        "drill": "failover",
        "scenario": "kill-primary",
        "passed": True,
        "runs": [{"run": 1, "passed": True}],
    }
    text = D.to_text(bare)
    assert "scenario kill-primary: PASS" in text
    assert "run 1  PASS" in text
    assert "no failed criteria" in text
    assert "started -" in text


def test_text_lists_failed_verification_and_criteria_without_a_measure():
    run = _run(1, True)
    run["passed"] = False
    run["verify"].append(
        {"name": "old primary rejoined as replica", "passed": False, "detail": "still primary"}
    )
    run["criteria"].append(
        {"name": "split brain", "passed": False, "measured": None, "limit": 0.0, "unit": "s"}
    )
    text = D.to_text({"scenario": "partition", "passed": False, "runs": [run]})
    assert "run 1  verify old primary rejoined as replica: still primary" in text
    assert "run 1  split brain: measured -, limit 0.0 s" in text


def test_fmt_value():
    assert [D.fmt_value(v) for v in (None, 0, 3, 6.1, 7.0, 0.25, 0.125, 0.0, True)] == [
        "-",
        "0",
        "3",
        "6.1",
        "7.0",
        "0.25",
        "0.12",
        "0.0",
        "yes",
    ]
    assert D.fmt_value(6.1, "s") == "6.1 s"
    assert D.fmt_value(None, "s") == "-"
    assert [D.verdict(v) for v in (True, False, None)] == ["PASS", "FAIL", "N/A"]


# --------------------------------------------------------------------------- SVG


def test_timeline_svg_is_valid_xml_with_a_marker_per_event_and_the_fault_and_heal_lines():
    run = _run()
    svg = D.timeline_svg(run)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "900" and root.get("height") == "220"
    markers = _markers(svg)
    assert len(markers) == len(run["events"])
    titles = [m.find(f"{SVG}title").text for m in markers]
    assert [t.split()[0] for t in titles] == ["+sdown", "+odown", "+switch-master", "+failover-end"]
    assert "#quorum 2/2" in titles[1]
    lines = {ln.get("class"): ln for ln in root.iter(f"{SVG}line") if ln.get("class") in ("fault", "healed")}
    assert set(lines) == {"fault", "healed"}
    assert all(ln.get("stroke-dasharray") for ln in lines.values())
    assert float(lines["fault"].get("x1")) < float(lines["healed"].get("x1"))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any(t.startswith("fault") for t in texts) and any(t.startswith("healed") for t in texts)
    paths = {p.get("class") for p in root.iter(f"{SVG}path")}
    assert paths == {"ok", "fail", "info"}


def test_timeline_svg_ticks_every_second_for_a_short_run_and_every_five_for_a_longer_one():
    def ticks(duration: float) -> list[str]:
        root = ET.fromstring(D.timeline_svg({"duration": duration, "timeline": [], "events": []}))
        return [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick-label"]

    assert ticks(20.0) == [str(i) for i in range(21)]
    assert ticks(60.0) == [str(i) for i in range(0, 61, 5)]
    assert len(ticks(3600.0)) <= 25


def test_timeline_svg_handles_an_empty_or_missing_timeline_and_events():
    for run in ({"run": 1, "timeline": [], "events": []}, {"run": 1}, {}):
        svg = D.timeline_svg(run)
        root = ET.fromstring(svg)
        assert _markers(svg) == []
        assert not list(root.iter(f"{SVG}path"))
        assert "no writes recorded" in svg
        assert not [ln for ln in root.iter(f"{SVG}line") if ln.get("class") in ("fault", "healed")]


def test_timeline_svg_escapes_text_and_drops_characters_xml_forbids():
    run = _run()
    run["fault"] = 'kill "redis" & <friends>'
    run["events"][0]["detail"] = "<script>alert('x')</script> & \x00\x1b more"
    run["events"][1]["event"] = "+odown<b>"
    svg = D.timeline_svg(run, width=600, height=160)
    root = ET.fromstring(svg)
    assert "<script>" not in svg and "<b>" not in svg
    titles = [m.find(f"{SVG}title").text for m in _markers(svg)]
    assert "<script>alert('x')</script> &  more" in titles[0]
    assert titles[1].startswith("+odown<b>")
    assert root.find(f"{SVG}title").text == 'run 1 timeline: kill "redis" & <friends>'


def test_timeline_svg_copes_with_odd_values():
    run = _run()
    run["timeline"] = [
        {"t": 0.0, "ok": 3},
        {"t": None, "ok": 1},
        {"t": "x"},
        {"t": 0.5, "ok": None, "fail": 2},
    ]
    run["events"].append({"t": None, "event": "+tilt"})
    run["fault_at"], run["healed_at"], run["duration"] = None, float("nan"), None
    svg = D.timeline_svg(run)
    ET.fromstring(svg)
    assert len(_markers(svg)) == 4


# --------------------------------------------------------------------------- HTML


def test_html_has_the_scenario_the_verdicts_the_svg_and_the_tables(result):
    page = D.to_html(result)
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert "<title>failover drill kill-primary: FAIL</title>" in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert "&lt;svg" not in page
    assert '<span class="sev fail">FAIL</span>' in page and '<span class="sev pass">PASS</span>' in page
    assert "promoted within down-after + 2 s" in page and "9.3 s" in page
    assert "time_to_detect_s" in page and '<td>queue_lost</td><td class="num">-</td>' in page
    assert "exactly one primary" in page
    assert "+switch-master" in page and "redis-2:26379" in page
    assert "down_after_ms" in page and "60000" in page
    assert "Started 2026-11-30 00:53:20 UTC" in page


def test_html_escapes_an_event_detail(result):
    result["runs"][0]["events"][0]["detail"] = "<script>alert('x')</script> & more"
    result["scenario"] = "kill-<i>primary</i>"
    page = D.to_html(result)
    assert "<script>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in page
    assert "kill-&lt;i&gt;primary&lt;/i&gt;" in page


def test_html_renders_runs_without_events_timeline_or_verification():
    result = {
        "drill": "failover",
        "scenario": "kill-primary",
        "passed": None,
        "runs": [{"run": 1, "passed": False, "measures": {"ops": None}, "error": "lab host unreachable"}],
    }
    page = D.to_html(result)
    assert "no sentinel events recorded" in page and "no verification" in page and "no criteria" in page
    assert "lab host unreachable" in page
    assert '<span class="sev na">N/A</span>' in page
    assert "no writes recorded" in page


def test_reporters_do_not_change_the_result(result):
    before = copy.deepcopy(result)
    D.to_html(result)
    D.to_text(result)
    D.timeline_svg(result["runs"][0])
    assert result == before


def test_timeline_svg_keeps_tick_labels_and_line_labels_readable_on_a_narrow_picture():
    run = {"duration": 20.0, "fault_at": 0.0, "healed_at": 19.9}
    root = ET.fromstring(D.timeline_svg(run, width=300, height=150))
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert ticks == ["0", "5", "10", "15", "20"]
    labels = {t.get("class"): t for t in root.iter(f"{SVG}text") if t.get("class")}
    # At the edges the labels flip to the inner side of their line.
    assert labels["fault-label"].get("text-anchor") == "start"
    assert labels["healed-label"].get("text-anchor") == "end"


# --------------------------------------------------------------------------- lost writes, patterns


def _partition_history():
    """A partition: the old primary acknowledges writes for 3 s after the fault (at 2 s); the
    group keeps those from before the fault and loses those after it."""
    from redisops.drills.history import Op, timeline

    ops = [Op("sadd", "s", f"e{i}", i * 0.05, i * 0.05 + 0.01, "ok", None, "old") for i in range(100)]
    lost = {("s", op.value) for op in ops if op.invoke >= 2.0}
    return {
        "run": 1,
        "fault_at": 2.0,
        "healed_at": 5.0,
        "duration": 6.0,
        "timeline": timeline(ops, lost=lost),
    }


def _bars(svg: str, cls: str) -> list[tuple[float, float]]:
    """The (left x, height) of each bar of one path of the timeline."""
    path = next((p for p in ET.fromstring(svg).iter(f"{SVG}path") if p.get("class") == cls), None)
    if path is None:
        return []
    bars = []
    for bar in path.get("d").split("Z")[:-1]:
        x, y0 = (float(v) for v in bar[1:].split("V")[0].split(","))
        y1 = float(bar.split("V")[1].split("H")[0])
        bars.append((x, round(y0 - y1, 1)))
    return bars


def test_acknowledged_writes_found_lost_have_their_own_colour_not_ok_green():
    run = _partition_history()
    svg = D.timeline_svg(run)
    paths = {p.get("class"): p.get("fill") for p in ET.fromstring(svg).iter(f"{SVG}path")}
    assert paths == {"ok": D._OK, "lost": D._LOST} and D._LOST not in (D._OK, D._FAIL, D._INFO)
    fault_x = float(
        next(ln for ln in ET.fromstring(svg).iter(f"{SVG}line") if ln.get("class") == "fault").get("x1")
    )
    ok, lost = _bars(svg, "ok"), _bars(svg, "lost")
    # Green only before the fault, the lost colour only after it, as tall as what was written.
    assert ok and all(x < fault_x for x, _ in ok)
    assert len(lost) == 30 and all(x >= fault_x - 0.1 for x, _ in lost)
    assert {h for _, h in ok} == {h for _, h in lost}
    assert "ok, later lost" in svg
    page = D.to_html({"drill": "failover", "scenario": "partition-primary", "runs": [run]})
    assert f'class="lost" fill="{D._LOST}"' in page


def test_a_timeline_without_lost_counts_draws_as_before_and_lost_never_exceeds_ok():
    run = _partition_history()
    for b in run["timeline"]:
        b.pop("lost")
    svg = D.timeline_svg(run)
    assert {p.get("class") for p in ET.fromstring(svg).iter(f"{SVG}path")} == {"ok"}
    assert "later lost" not in svg
    run["timeline"] = [{"t": 0.0, "ok": 2, "lost": 5, "fail": 1}]
    svg = D.timeline_svg(run)
    assert [h for _, h in _bars(svg, "lost")] and not _bars(svg, "ok")  # all of ok, no more


def test_the_patterns_are_in_the_text_and_the_html(result):
    result["runs"][0]["details"] = {
        "patterns": {
            "cache-aside": {"invariant": "no stale value read", "judged_as": "acked", "checked": 120,
                            "violations": 2, "stale": 2, "misses_after_write": 0,
                            "samples": {"stale": ["3@8.10: v4 < v5", "<b>"]}},
            "sessions": {"invariant": "no WAIT-confirmed session lost", "judged_as": "waited", "checked": 50,
                         "violations": 0, "lost_waited": 0, "samples": {"lost_waited": []}},
        }
    }  # fmt: skip
    text = D.to_text(result)
    assert "patterns (violations/checked): cache-aside 2/120, sessions 0/50" in text
    page = D.to_html(result)
    assert "<h3>Use-case patterns</h3>" in page and page.count("no use-case patterns recorded") == 1
    assert '<td class="num error">2</td>' in page and "stale 2, misses_after_write 0" in page
    assert (
        "stale: 3@8.10: v4 &lt; v5, &lt;b&gt;" in page
        and "<b>" not in page.split("Use-case patterns")[1].split("</table>")[0]
    )
