"""``redisops check``: read the targets, gather, judge, report. Thin: each step is a module."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from redisops.core import exits
from redisops.output import UsageError, emit, progress, to_json, versioned, write_atomically


def keep_history(directory: Path, report_json: str, started: float, days: int) -> Path:
    """One JSON file per run; files older than ``days`` are deleted."""
    name = time.strftime("check-%Y%m%dT%H%M%SZ.json", time.gmtime(started))
    path = directory / name
    write_atomically(path, report_json)
    cutoff = time.time() - days * 86400
    for old in directory.glob("check-*.json"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    return path


def counters_path(args: argparse.Namespace) -> Path | None:
    """Where the previous run's counters are kept: --state, else counters.json in the --history
    directory; None when neither is given (counters are then judged since each server started).
    Saved facts (--facts) carry the changes of the run that saved them: no file is read or written."""
    from redisops.compliance.counters import STATE_FILE

    if args.facts:
        if args.state:
            raise UsageError(
                "--state is for a run that gathers: facts saved by --dump-facts carry their changes"
            )
        return None
    if args.state:
        return Path(args.state)
    return Path(args.history) / STATE_FILE if args.history else None


def for_scheduled_host(targets, tls_dir: str | None, no_hosts: bool):
    """The targets as another host sees them: its own TLS file paths; no SSH to the hosts
    unless asked (a monitoring host has no keys to them)."""
    for endpoint in targets.endpoints:
        if tls_dir and endpoint.ca_cert:
            endpoint.ca_cert, endpoint.cert, endpoint.key = (
                f"{tls_dir}/ca.crt",
                f"{tls_dir}/client.crt",
                f"{tls_dir}/client.key",
            )
    if no_hosts:
        targets.hosts, targets.backup_hosts = [], []
    return targets


def inspect_settings(args: argparse.Namespace) -> dict[str, str]:
    """The SSH way to the hosts' reader from the command line ({} when not given)."""
    if not args.inspect_key:
        if args.inspect_known_hosts or args.inspect_user:
            raise ValueError("--inspect-known-hosts and --inspect-user need --inspect-key")
        return {}
    if not args.inspect_known_hosts:
        raise ValueError("--inspect-key needs --inspect-known-hosts: host keys are never learnt on first use")
    return {
        "key": args.inspect_key,
        "known_hosts": args.inspect_known_hosts,
        "user": args.inspect_user or "redisops-inspect",
    }


def threshold_overrides(pairs: list[str] | None) -> dict[str, object]:
    """--threshold NAME=VALUE pairs as a dict; a list threshold takes comma-separated values."""
    from redisops.compliance.settings import Thresholds

    tuples = {name for name, value in vars(Thresholds()).items() if isinstance(value, tuple)}
    out: dict[str, object] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--threshold {pair!r}: give NAME=VALUE, e.g. backup_max_age_s=7200")
        name = name.strip()
        out[name] = [v.strip() for v in value.split(",") if v.strip()] if name in tuples else value.strip()
    return out


def _error(message: str) -> int:
    print(f"redisops check: error: {message}", file=sys.stderr)
    return exits.ERROR


def _documentation(args: argparse.Namespace) -> str:
    """What --explain, --list and --catalogue print: text (Markdown for the catalogue) or JSON."""
    from redisops.compliance import report as R
    from redisops.compliance.model import REGISTRY, no_such_check

    if args.format not in ("text", "json"):
        raise UsageError(
            f"--format {args.format} is for reports: --explain, --list and --catalogue take text or json"
        )
    checks = sorted(REGISTRY.values(), key=lambda c: (c.area, c.id))
    if args.explain:
        check = REGISTRY.get(args.explain.upper())
        if check is None:
            raise UsageError(no_such_check(args.explain))
        return to_json({"check": check.doc()}) if args.format == "json" else R.explain(args.explain)
    if args.format == "json":
        fields = ("id", "area", "scope", "severity", "title")
        docs = [c.doc() for c in checks]
        return to_json({"checks": docs if args.catalogue else [{k: d[k] for k in fields} for d in docs]})
    if args.list:
        return "".join(f"{c.id:<16} {c.area:<18} {c.scope:<9} {c.severity!s:<9} {c.title}\n" for c in checks)
    return R.catalogue_markdown()


def _command_line(args: argparse.Namespace):
    """What the command line alone decides, checked before anything is read: the fail level, the
    reader's SSH settings and the --threshold overrides (a wrong one is a usage error, exit 64)."""
    from redisops.compliance.model import Severity
    from redisops.compliance.settings import thresholds

    try:
        fail_on = Severity.parse(args.fail_on)
        inspect = inspect_settings(args)
        overrides = threshold_overrides(args.threshold)
        thresholds(overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return fail_on, inspect, overrides


def run_check(args: argparse.Namespace) -> int:
    from redisops.compliance import report as R
    from redisops.compliance.counters import judge_since, load_state, state_json
    from redisops.compliance.engine import run_checks
    from redisops.compliance.facts import ClusterFacts
    from redisops.compliance.gather import gather
    from redisops.compliance.model import REGISTRY
    from redisops.compliance.settings import thresholds
    from redisops.compliance.waivers import WaiverError, load_waivers, parse_waivers
    from redisops.inventory import InventoryError, from_inventory, read_targets, write_targets

    if args.explain or args.list or args.catalogue:
        emit(_documentation(args), args.output)
        return exits.OK
    fail_on, inspect, overrides = _command_line(args)
    state_path, state = counters_path(args), {}
    try:
        waivers = load_waivers(Path(args.waivers), set(REGISTRY)) if args.waivers else []
        if args.facts:
            cluster = ClusterFacts.from_dict(json.loads(Path(args.facts).read_text()))
            limits = thresholds(overrides)
        else:
            if args.targets:
                targets = read_targets(Path(args.targets))
            else:
                # A scheduled host presents its own client certificate, not the control node's.
                own_files = bool(args.write_targets and args.tls_dir)
                targets = from_inventory(
                    args.inventory, args.limit, args.vault_password_file, control_files=not own_files
                )
            if args.write_targets:
                scheduled = for_scheduled_host(targets, args.tls_dir, args.no_host_facts)
                scheduled.inspect = inspect or scheduled.inspect
                write_targets(scheduled, Path(args.write_targets))
                # What the redis_compliance role needs to know; no secret in it.
                summary = {
                    "endpoints": len(scheduled.endpoints),
                    "tls": any(e.tls for e in scheduled.endpoints),
                    "inspect": bool(scheduled.inspect),
                }
                sys.stdout.write(to_json(summary, indent=None))
                return exits.OK
            limits = thresholds({**targets.thresholds, **overrides})
            waivers += parse_waivers(targets.waivers, set(REGISTRY), source="redis_compliance_waivers")
            kept = load_state(state_path) if state_path else {}
            cluster = gather(
                targets, limits, hosts=not args.no_host_facts and bool(targets.hosts), inspect=inspect
            )
            # Cumulative counters are judged as changes since the previous run (compliance.counters).
            state = judge_since(cluster, kept, limits.list_growth_lists_max)
    except (InventoryError, WaiverError, ValueError, OSError) as exc:
        return _error(str(exc))
    if args.dump_facts:
        facts = json.dumps(versioned(cluster.to_dict()), indent=1)
        write_atomically(Path(args.dump_facts), facts, mode=0o600)
    result = run_checks(cluster, limits, waivers)
    previous = ""
    if args.format == "prometheus" and args.output and Path(args.output).exists():
        previous = Path(args.output).read_text()
    emit(R.render(result, args.format, fail_on, verbose=args.verbose, previous=previous), args.output)
    if args.textfile:
        path = Path(args.textfile)
        before = path.read_text() if path.exists() else ""
        write_atomically(path, R.render(result, "prometheus", fail_on, previous=before))
    if args.history:
        keep_history(Path(args.history), R.to_json(result, fail_on), result.started, args.history_days)
    if state_path:
        # Last, once the report is out: a run that could not deliver it leaves the baseline as it was.
        write_atomically(state_path, state_json(state))
    if args.output or args.format != "text":
        progress(R.summary_line(result, fail_on))
    code = result.exit_code(fail_on)
    return exits.OK if code == exits.FAIL and args.findings_exit_zero else code
