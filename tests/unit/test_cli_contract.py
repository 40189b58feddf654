"""The CLI is uniform: help for every option of every parser, usage errors exit 64 (never 2,
which means "could not check"), --format/--output on every command with a result, -q/--quiet
everywhere, and the kit's version in every JSON it writes. No host: the parts that would reach
one are replaced by fakes returning synthetic results."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from redisops import cli, output, version
from redisops.core import exits
from redisops.drills.targets import DrillTargets, Node

from .checks_fixtures import base_facts
from .role_code import REPO

# Hidden on purpose (parsed only to be refused with the way to do it now), not forgotten.
HIDDEN = {"--yes"}
# Every command that has a result or a report, and the formats it offers.
REPORTING = {
    ("check",): {"text", "json", "junit", "prometheus", "html"},
    ("drill", "failover"): {"text", "json", "html"},
    ("drill", "backup"): {"text", "json", "html"},
    ("backup", "run"): {"text", "json"},
    ("backup", "list"): {"text", "json"},
    ("backup", "verify"): {"text", "json"},
    ("backup", "scratch"): {"text", "json"},
    ("monitoring", "targets"): {"text", "json"},
    ("lab", "status"): {"text", "json"},
}


def parsers(parser: argparse.ArgumentParser | None = None, path: tuple[str, ...] = ()):
    """(path, parser) of the command and of every subcommand, recursively."""
    parser = parser or cli.build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


ALL = [path for path, _ in parsers()]
LEAVES = [path for path, p in parsers() if not p._subparsers]


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


# --------------------------------------------------------------------------- help


def test_the_walk_sees_every_command():
    """A new command shows up here: give it --format/--output in REPORTING if it has a result."""
    assert set(LEAVES) == {
        *(("lab", c) for c in ("up", "status", "ssh", "down", "rebuild", "image")),
        ("check",),
        ("drill", "failover"),
        ("drill", "backup"),
        *(("backup", c) for c in ("config", "run", "list", "verify", "scratch")),
        ("monitoring", "targets"),
        ("bundle",),
    }
    assert set(REPORTING) <= set(LEAVES)


def test_every_option_and_argument_of_every_parser_has_help():
    missing = []
    for path, parser in parsers():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            name = "/".join(action.option_strings) or action.dest
            if action.help == argparse.SUPPRESS:
                if not set(action.option_strings) <= HIDDEN:
                    missing.append(f"redisops {' '.join(path)} {name} (hidden)")
            elif not (action.help or "").strip():
                missing.append(f"redisops {' '.join(path)} {name}")
            if isinstance(action, argparse._SubParsersAction):
                missing += [
                    f"redisops {' '.join(path)} {choice.dest} (in the list of subcommands)"
                    for choice in action._choices_actions
                    if not (choice.help or "").strip()
                ]
    assert missing == [], missing


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "redisops")
def test_help_works_for_every_command(path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('redisops', *path))}")
    assert "-q, --quiet" in out


def test_a_closed_pipe_ends_the_command_quietly():
    """'redisops check --catalogue | head -1': the reader went away before the report was written."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "redisops"), "check", "--catalogue"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the command has written anything: its first write gets EPIPE
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == exits.PIPE_CLOSED, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_the_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for code in (exits.OK, exits.FAIL, exits.ERROR, exits.HEAL_FAILED, exits.USAGE, exits.INTERRUPTED):
        assert f"\n  {code:<4} " in out, code
    for path in (["check"], ["drill", "failover"], ["drill", "backup"], ["backup"], ["lab", "status"]):
        with pytest.raises(SystemExit):
            cli.main([*path, "--help"])
        out = capsys.readouterr().out
        assert "exit codes:" in out and "\n  64   usage error" in out, path
        assert "\n  2    " in out, path


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["lab"],
        ["lab", "up", "--hosts", "three"],
        ["check", "--no-such-option"],
        ["check", "--format", "yaml"],
        ["check", "-i", "inv", "--facts", "facts.json"],
        ["drill"],
        ["drill", "failover"],
        ["drill", "failover", "--scenario", "meteor"],
        ["drill", "failover", "--scenario", "kill-primary", "--runs", "0"],
        ["drill", "backup", "--keys", "-1"],
        ["backup"],
        ["backup", "list"],
        ["backup", "run", "--store", "s"],
        ["monitoring", "targets", "--interval", "soon"],
        ["bundle", "--python", "3.11"],
        ["lab", "status", "--format", "xml"],
    ],
)
def test_argparse_errors_exit_64_with_the_usage(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == exits.USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: redisops") and "error:" in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["check", "--explain", "NOPE"], "no check has id 'NOPE'"),
        (["check", "--list", "--format", "html"], "take text or json"),
        (["check", "--fail-on", "dire", "--facts", "f.json"], "unknown severity 'dire'"),
        (["check", "--threshold", "fork_rate_min_gb_s", "--facts", "f.json"], "give NAME=VALUE"),
        (["check", "--threshold", "no_such=1", "--facts", "f.json"], "unknown no_such"),
        (["check", "--inspect-key", "/k", "--facts", "f.json"], "--inspect-known-hosts"),
        (["backup", "verify", "--store", "/nowhere"], "--group is needed to verify"),
        (["backup", "scratch", "--store", "/nowhere"], "--group is needed to restore"),
        (["backup", "list", "--store", "/nowhere", "--group", "../etc"], "is not a Sentinel group name"),
        (["backup", "run", "--store", "/nowhere", "--config", "c", "--hourly", "0"], "--hourly must be"),
        (["lab", "up", "--image", "jessie"], "unknown lab image 'jessie'"),
        (["lab", "up", "--subnet", "8.8.8.0/24"], "not a private range"),
        (["lab", "up", "--flavor", "keydb"], "not a server the kit deploys"),
    ],
)
def test_wrong_values_exit_64_before_anything_is_read(argv, said, capsys):
    """f.json does not exist: a usage error is found before it would be read (which is exit 2)."""
    assert cli.main(argv) == exits.USAGE
    captured = capsys.readouterr()
    assert said in captured.err and captured.out == ""
    assert captured.err.startswith(f"redisops {argv[0]}: error: ")


def test_unreadable_vault_secrets_on_stdin_are_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("not json"))
    assert cli.main(["--vault-secrets-stdin", "check", "--list"]) == exits.USAGE
    assert "unreadable secrets on standard input" in capsys.readouterr().err


def test_what_could_not_be_read_still_exits_2(tmp_path, capsys):
    assert cli.main(["check", "--facts", str(tmp_path / "absent.json")]) == exits.ERROR
    assert "absent.json" in capsys.readouterr().err
    assert cli.main(["monitoring", "targets", "-i", str(tmp_path / "no-inventory")]) == exits.ERROR
    assert "no-inventory not found" in capsys.readouterr().err


def test_a_lab_host_it_does_not_have_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REDISOPS_LAB_DIR", str(tmp_path))
    state = {"subnet": "10.213.7.0/24", "image": "bookworm", "hosts": [{"name": "redis-1"}]}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert cli.main(["lab", "rebuild", "redis-9"]) == exits.USAGE
    assert "no lab host named redis-9" in capsys.readouterr().err


# --------------------------------------------------------------------------- --format, --output, --quiet


def test_every_command_with_a_result_takes_format_and_output():
    by_path = dict(parsers())
    for path, formats in REPORTING.items():
        opts = options(by_path[path])
        assert set(opts["--format"].choices) == formats, path
        assert opts["--output"].help and opts["--output"].metavar == "FILE", path


def test_every_command_takes_quiet_and_redisops_q_reaches_the_subcommand():
    for path, parser in parsers():
        assert "-q" in options(parser) and "--quiet" in options(parser), path
    assert cli.build_parser().parse_args(["-q", "check"]).quiet is True
    assert cli.build_parser().parse_args(["check", "--quiet"]).quiet is True
    assert not hasattr(cli.build_parser().parse_args(["check"]), "quiet")


def test_the_old_flags_still_parse():
    parse = cli.build_parser().parse_args
    assert parse(["lab", "status", "--json"]).format == "json"
    assert parse(["backup", "list", "--store", "s", "--json"]).format == "json"
    drill = parse(["drill", "failover", "--scenario", "loop", "--json", "d.json", "--report", "d.html"])
    assert (drill.json, drill.report, drill.format) == ("d.json", "d.html", "text")
    assert parse(["drill", "backup", "--json", "b.json", "--report", "b.html"]).report == "b.html"
    # The roles' own calls (redis_compliance's unit, redis_backup's unit and its config step).
    unit = ["check", "--targets", "t.json", "--fail-on", "high", "--findings-exit-zero", "--format", "json"]
    unit += ["--output", "last.json", "--textfile", "p.prom", "--history", "h", "--history-days", "30"]
    unit += ["--state", "counters.json"]
    assert (parse(unit).output, parse(unit).state) == ("last.json", "counters.json")
    run = parse(["backup", "run", "--config", "c", "--store", "s", "--report", "last.json"])
    assert (run.report, run.format, run.output) == ("last.json", "text", None)
    assert parse(["backup", "config", "-i", "inv", "--output", "c.json", "--tls-dir", "t"]).output == "c.json"
    assert parse(["backup", "verify", "--store", "s", "--group", "g"]).format == "json"


def test_output_writes_atomically_and_leaves_nothing_else(tmp_path, capsys):
    out = tmp_path / "deep" / "checks.json"
    assert cli.main(["check", "--list", "--format", "json", "--output", str(out)]) == exits.OK
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text())["redisops_version"] == version()
    assert [p.name for p in out.parent.iterdir()] == ["checks.json"]


def test_quiet_leaves_only_the_result(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(base_facts()))
    code = cli.main(["check", "--facts", str(facts), "--format", "json"])
    loud = capsys.readouterr()
    assert "fail level" in loud.err  # the summary line, a progress line
    assert cli.main(["check", "--facts", str(facts), "--format", "json", "-q"]) == code
    quiet = capsys.readouterr()
    assert quiet.err == ""
    assert json.loads(quiet.out)["counts"] == json.loads(loud.out)["counts"]


def test_progress_honours_quiet_and_comes_back_after(capsys):
    output.progress("one")
    with output.quiet(True):
        output.progress("two")
        assert output.is_quiet()
    output.progress("three")
    assert capsys.readouterr().err == "one\nthree\n"


# --------------------------------------------------------------------------- the lab (faked)


def _row(host: str, address: str, ssh: bool) -> dict:
    return {"host": host, "address": address, "container": True, "mounted": True, "netns": True, "ssh": ssh}


ROWS = [_row("redis-1", "10.213.7.11", True), _row("redis-2", "10.213.7.12", False)]


class FakeLab:
    rows = ROWS

    def preflight(self, tools=None):
        pass

    def status(self):
        return self.rows

    def up(self, **kwargs):
        from redisops.lab.lab import log

        log("redis-1: booting at 10.213.7.11")


@pytest.fixture
def fake_lab(monkeypatch):
    from redisops.lab import lab as L

    monkeypatch.setattr(L.Lab, "from_env", staticmethod(FakeLab))


def test_lab_status_json_carries_the_version(fake_lab, capsys, tmp_path):
    assert cli.main(["lab", "status", "--json"]) == exits.FAIL  # redis-2 does not answer SSH
    data = json.loads(capsys.readouterr().out)
    assert data == {"redisops_version": version(), "healthy": False, "hosts": ROWS}
    out = tmp_path / "status.txt"
    assert cli.main(["lab", "status", "--output", str(out)]) == exits.FAIL
    assert "redis-2" in out.read_text() and "\x1b[" not in out.read_text()
    assert capsys.readouterr().out == ""


def test_lab_progress_is_silenced_by_quiet(fake_lab, capsys):
    assert cli.main(["lab", "up"]) == exits.OK
    assert capsys.readouterr().err == "lab: redis-1: booting at 10.213.7.11\n"
    assert cli.main(["lab", "up", "-q"]) == exits.OK
    assert capsys.readouterr().err == ""
    assert cli.main(["-q", "lab", "up"]) == exits.OK
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- check


def test_check_json_report_history_and_saved_facts_carry_the_version(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(base_facts()))
    argv = ["check", "--facts", str(facts), "--format", "json", "--history", str(tmp_path / "history")]
    cli.main([*argv, "--dump-facts", str(tmp_path / "again.json")])
    assert json.loads(capsys.readouterr().out)["redisops_version"] == version()
    (kept,) = (tmp_path / "history").iterdir()
    assert json.loads(kept.read_text())["redisops_version"] == version()
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["redisops_version"] == version()
    # Saved facts with the version in them are still facts to judge.
    assert cli.main(["check", "--facts", str(tmp_path / "again.json"), "-q"]) in (exits.OK, exits.FAIL)


def test_check_docs_as_json(capsys):
    assert cli.main(["check", "--explain", "MEM-01", "--format", "json"]) == exits.OK
    data = json.loads(capsys.readouterr().out)
    assert data["redisops_version"] == version() and data["check"]["id"] == "MEM-01"
    assert cli.main(["check", "--catalogue", "--format", "json"]) == exits.OK
    docs = json.loads(capsys.readouterr().out)["checks"]
    assert {"rationale", "remediation"} <= set(docs[0])
    assert cli.main(["check", "--list", "--format", "json"]) == exits.OK
    listed = json.loads(capsys.readouterr().out)["checks"]
    assert [c["id"] for c in listed] == [d["id"] for d in docs]
    assert set(listed[0]) == {"id", "area", "scope", "severity", "title"}


# --------------------------------------------------------------------------- drills (faked)


def _targets() -> DrillTargets:
    return DrillTargets(
        inventory="inventories/lab", group="redis-main", instance="main", unit="redis-server@main.service",
        quorum=2, down_after_ms=5000, failover_timeout_ms=60000, min_replicas_max_lag=10,
        servers=[Node("redis-1", "10.213.7.11", 6379)], sentinels=[Node("redis-1", "10.213.7.11", 26379)],
        allowed_setting=True, backup_hosts=["backup-1"],
    )  # fmt: skip


FAILOVER = {
    "drill": "failover", "scenario": "kill-primary", "started": 1796000000.0, "group": "redis-main",
    "inventory": "inventories/lab", "settings": {"runs": 1}, "passed": True,
    "runs": [{"run": 1, "passed": True, "criteria": [], "measures": {"time_to_promote_s": 6.1}}],
}  # fmt: skip
BACKUP = {
    "kind": "backup", "group": "redis-main", "source": "redis-1", "backup_host": "backup-1",
    "started_at": 1796000000.0, "passed": True,
    "criteria": [{"name": "the drill's keys are all there", "passed": True, "measured": 10, "expected": 10}],
    "measures": {"rpo_s": 60.0, "backup_s": 1.5, "rto_s": 0.8, "verify_s": 0.1, "load_s": 0.5,
                 "keys_seeded": 10, "backup_keys": 10, "backup_bytes": 1234},
    "backup": {"id": "redis-main/20261231T000000Z-redis-2", "source": {"host": "redis-2"}},
    "source_digest": {"keys": 10}, "restored_digest": {"keys": 10}, "altered_key": None,
}  # fmt: skip


@pytest.fixture
def fake_drills(monkeypatch):
    from redisops.drills import backup as B
    from redisops.drills import failover
    from redisops.drills import run as R

    def drill(targets, scenario, runs, say, site_check=True):
        say("run 1: killing redis-server on redis-1")
        return FAILOVER

    def backup_drill(targets, keys, say, alter_one_key=False):
        say("seeded 10 keys")
        return BACKUP

    monkeypatch.setattr(R, "_targets", lambda args: _targets())
    monkeypatch.setattr(failover, "drill", drill)
    monkeypatch.setattr(B, "backup_drill", backup_drill)
    # The drill heals on SIGTERM and SIGHUP: not in the test runner's process.
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)


@pytest.mark.parametrize(
    ("argv", "result"),
    [(["drill", "failover", "--scenario", "kill-primary"], FAILOVER), (["drill", "backup"], BACKUP)],
)
def test_drills_print_their_result_in_each_format_and_keep_the_old_files(
    fake_drills, tmp_path, capsys, argv, result
):
    assert cli.main([*argv, "--format", "json"]) == exits.OK
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"redisops_version": version(), **result}
    assert "  seeded 10 keys" in captured.err or "  run 1: killing" in captured.err

    old_json, old_html, out = tmp_path / "d.json", tmp_path / "d.html", tmp_path / "d.txt"
    assert (
        cli.main([*argv, "-q", "--json", str(old_json), "--report", str(old_html), "--output", str(out)]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""  # the plan and the steps are progress
    assert json.loads(old_json.read_text())["redisops_version"] == version()
    assert old_html.read_text().lstrip().lower().startswith("<!doctype html")
    assert "PASS" in out.read_text()

    assert cli.main([*argv, "--format", "html", "--quiet"]) == exits.OK
    assert capsys.readouterr().out.lstrip().lower().startswith("<!doctype html")


def test_a_dry_run_still_prints_its_plan_when_quiet(fake_drills, capsys):
    assert cli.main(["drill", "failover", "--scenario", "kill-primary", "--dry-run", "-q"]) == exits.OK
    assert "scenario kill-primary" in capsys.readouterr().err


def test_the_backup_drill_reads_both_shapes_of_backup_list():
    from redisops.drills.backup import listed_backups

    rows = [{"taken_at": 1}, {"taken_at": 2}]
    assert listed_backups({"redisops_version": version(), "backups": rows}) == rows
    assert listed_backups(rows) == rows  # a backup host with an older kit
    assert listed_backups({"redisops_version": version(), "backups": []}) == []


# --------------------------------------------------------------------------- backup (synthetic store)


def _store(root: Path) -> list[dict]:
    from redisops.backup import store as S

    manifests = []
    for i, host in enumerate(("redis-2", "redis-3")):
        taken = 1_796_000_000 + i * 3600
        name = f"{S.stamp(taken)}-{host}"
        folder = root / "redis-main"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.rdb").write_bytes(b"REDIS0011")
        manifest = {"id": f"redis-main/{name}", "taken_at": taken, "size": 9, "keys": 3 + i,
                    "source": {"host": host, "role": "slave"}, "sha256": "0" * 64}  # fmt: skip
        (folder / f"{name}.json").write_text(json.dumps(manifest))
        manifests.append(manifest)
    return manifests


def test_backup_list_json_is_an_object_with_the_version(tmp_path, capsys):
    manifests = _store(tmp_path)
    for flag in (["--json"], ["--format", "json"]):
        assert cli.main(["backup", "list", "--store", str(tmp_path), *flag]) == exits.OK
        assert json.loads(capsys.readouterr().out) == {"redisops_version": version(), "backups": manifests}
    assert cli.main(["backup", "list", "--store", str(tmp_path)]) == exits.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{m['id']}\t{m['source']['host']}\t{m['keys']} keys\t9 bytes" for m in manifests]


def test_backup_verify_json_carries_the_version(tmp_path, capsys, monkeypatch):
    from redisops.backup import store as S

    manifests = _store(tmp_path)
    monkeypatch.setattr(S, "verify_stored", lambda backup: {"ok": True, "keys": 4, "error": "", "full": True})
    argv = ["backup", "verify", "--store", str(tmp_path), "--group", "redis-main"]
    assert cli.main(argv) == exits.OK
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["redisops_version"] == version()
    assert verdict["id"] == manifests[-1]["id"] and verdict["check"]["ok"] is True
    assert cli.main([*argv, "--format", "text"]) == exits.OK
    assert capsys.readouterr().out.startswith(f"{manifests[-1]['id']}: ok (size, SHA-256 and redis-check-rdb")


def test_backup_run_report_and_json_carry_the_version(tmp_path, capsys, monkeypatch):
    from redisops.backup import config, take

    results = [
        {"group": "redis-main", "ok": True, "duration_s": 2.0,
         "backup": {"id": "redis-main/x", "source": {"host": "redis-2", "role": "slave"}, "keys": 3,
                    "size": 9}},
        {"group": "redis-cache", "ok": False, "error": "no replica answered"},
    ]  # fmt: skip
    monkeypatch.setattr(config, "read_config", lambda path: {})
    monkeypatch.setattr(take, "run", lambda conf, opts, group: (results, "m 1\n"))
    report = tmp_path / "last.json"
    argv = ["backup", "run", "--store", str(tmp_path), "--config", "c", "--report", str(report)]
    assert cli.main(argv) == exits.FAIL
    captured = capsys.readouterr()
    assert captured.out.startswith("redis-main: stored redis-main/x from redis-2 (slave): 3 keys")
    assert captured.err == "redis-cache: FAILED: no replica answered\n"
    assert json.loads(report.read_text()) == {"redisops_version": version(), "results": results}
    assert cli.main([*argv, "--format", "json", "-q"]) == exits.FAIL
    assert json.loads(capsys.readouterr().out)["redisops_version"] == version()
    assert oct(os.stat(report).st_mode & 0o777) == "0o640"


def test_backup_scratch_json_carries_the_version(tmp_path, capsys, monkeypatch):
    from redisops.backup import scratch

    restored = {"keys_loaded": 3, "rto_s": 0.4, "digest": {"keys": 3}}
    monkeypatch.setattr(scratch, "scratch_restore", lambda *args, **kwargs: restored)
    assert cli.main(["backup", "scratch", "--store", str(tmp_path), "--group", "redis-main"]) == exits.OK
    assert json.loads(capsys.readouterr().out) == {"redisops_version": version(), **restored}


# --------------------------------------------------------------------------- monitoring targets


def test_monitoring_targets_json_carries_the_version(tmp_path, capsys):
    inventory = str(REPO / "inventories" / "lab")
    assert cli.main(["monitoring", "targets", "-i", inventory, "--format", "json"]) == exits.OK
    data = json.loads(capsys.readouterr().out)
    assert data["redisops_version"] == version() and data["scheme"] == "http"
    assert data["counts"] == {"redis": 3, "redis_sentinel": 3, "node": 4}
    assert data["jobs"]["redis"][0]["targets"] == ["10.213.7.11:9121"]
    out = tmp_path / "targets.json"
    argv = ["monitoring", "targets", "-i", inventory, "--dir", str(tmp_path / "sd"), "--format", "json"]
    assert cli.main([*argv, "--output", str(out)]) == exits.OK
    written = json.loads(out.read_text())
    assert written["dir"] == str(tmp_path / "sd") and (tmp_path / "sd" / "prometheus.yml").exists()
    assert cli.main(["monitoring", "targets", "-i", inventory]) == exits.OK
    assert "http://10.213.7.11:9121/metrics  host=redis-1 group=redis-main" in capsys.readouterr().out


def test_every_json_producer_puts_the_version_first():
    assert list(json.loads(output.to_json({"a": 1, "redisops_version": "old"}))) == ["redisops_version", "a"]
    assert json.loads(output.to_json({}))["redisops_version"] == version() != ""
    assert SimpleNamespace(v=version()).v == cli.version()


def test_what_the_roles_read_from_the_inventory_carries_the_version(tmp_path, capsys):
    """The one-line summaries redis_backup (backup config) and redis_compliance (check
    --write-targets) parse: the keys they read, and the kit's version beside them."""
    inventory = str(REPO / "inventories" / "lab")
    assert cli.main(["backup", "config", "-i", inventory, "--output", str(tmp_path / "c.json")]) == exits.OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["redisops_version"] == version() and summary["groups"] == ["redis-main"]
    assert {"tls", "sources", "flavors"} <= set(summary)
    argv = ["check", "-i", inventory, "--no-host-facts", "--write-targets", str(tmp_path / "t.json")]
    assert cli.main(argv) == exits.OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["redisops_version"] == version() and {"endpoints", "tls", "inspect"} <= set(summary)


def test_lab_ssh_without_a_lab_says_to_bring_it_up(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REDISOPS_LAB_DIR", str(tmp_path))
    assert cli.main(["lab", "ssh", "redis-1", "true"]) == exits.ERROR
    err = capsys.readouterr().err
    assert "the lab is not up" in err and "'redisops lab up'" in err, err
