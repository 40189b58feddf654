"""``redisops drill failover``: refuse unless allowed, plan, run, report. Thin."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from redisops.core import exits
from redisops.output import emit, progress, write_atomically


def _interrupt(signum, frame):
    """SIGTERM and SIGHUP heal like Ctrl-C does."""
    raise KeyboardInterrupt


def plan_text(targets, scenario, runs: int) -> str:
    primary = "(asked at the start of each run)"
    return "\n".join(
        [
            f"drill: failover, scenario {scenario.name}: {scenario.summary}",
            f"group {targets.group} (instance {targets.instance}), {runs} run(s)",
            f"inventory {targets.inventory}",
            f"servers: {', '.join(f'{n.host} {n.addr}' for n in targets.servers)}",
            f"sentinels: {', '.join(f'{n.host} {n.addr}' for n in targets.sentinels)}",
            f"primary: {primary}; down-after {targets.down_after_ms} ms, quorum {targets.quorum}",
            f"workload: application user {targets.app[0]!r}, keys under {targets.key_prefix!r}",
            "each run: preflight (CKQUORUM, links, offsets), fault, observe, heal (also on Ctrl-C), verify",
        ]
    )


def say(line: str) -> None:
    """A progress line while a drill runs (none with --quiet)."""
    progress(f"  {line}")


def write_outputs(result: dict, args: argparse.Namespace, reporters: dict) -> None:
    """The result in --format to --output (or standard output), and the files the older options
    --json and --report ask for. ``reporters`` maps each format to its reporter."""
    if args.json:
        write_atomically(Path(args.json), reporters["json"](result))
    if args.report:
        write_atomically(Path(args.report), reporters["html"](result))
    emit(reporters[args.format](result), args.output)


def _targets(args: argparse.Namespace):
    """The drill's targets from the inventory, or None after saying why not."""
    from redisops.drills.targets import drill_targets
    from redisops.inventory import InventoryError

    try:
        return drill_targets(args.inventory, args.group, args.vault_password_file)
    except InventoryError as exc:
        print(f"redisops drill: error: {exc}", file=sys.stderr)
        return None


def _not_allowed(targets, args: argparse.Namespace, why: str) -> bool:
    """A drill the inventory does not allow, without --confirm naming its group: say so, and why."""
    from redisops.drills.targets import drill_refusal

    if getattr(args, "yes", False):
        reason = f"--yes is gone: pass --confirm {targets.group}, the Sentinel group being drilled"
    else:
        reason = drill_refusal(targets.allowed_setting, args.confirm, targets.group)
    if not reason:
        return False
    print(f"redisops drill: refused: {why}: {reason}", file=sys.stderr)
    return True


def run_backup_drill(args: argparse.Namespace) -> int:
    from redisops.drills import backup as B
    from redisops.drills.failover import DrillAborted

    targets = _targets(args)
    if targets is None:
        return exits.ERROR
    if _not_allowed(targets, args, "the drill writes and deletes keys on the primary"):
        return exits.ERROR
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)  # the drill's keys are deleted on the way out
    try:
        result = B.backup_drill(targets, args.keys, say, alter_one_key=args.alter_one_key)
    except (DrillAborted, RuntimeError) as exc:
        print(f"redisops drill: aborted: {exc}", file=sys.stderr)
        return exits.ERROR
    except KeyboardInterrupt:
        print("redisops drill: interrupted; the drill's keys were deleted", file=sys.stderr)
        return exits.INTERRUPTED
    write_outputs(result, args, {"text": B.to_text, "json": B.to_json, "html": B.to_html})
    return exits.OK if result["passed"] else exits.FAIL


def run_drill(args: argparse.Namespace) -> int:
    if args.drill_command == "backup":
        return run_backup_drill(args)
    from redisops.drills import report as R
    from redisops.drills.failover import SCENARIOS, DrillAborted, HealFailed, drill

    targets = _targets(args)
    if targets is None:
        return exits.ERROR
    scenario = SCENARIOS[args.scenario]
    targets.switchover_timed = not getattr(args, "untimed_switchover", False)
    runs = args.runs if args.runs > 1 or args.scenario != "loop" else 5
    if args.dry_run:  # the plan is the result (on standard error, where it always was)
        print(plan_text(targets, scenario, runs), file=sys.stderr)
        return exits.OK
    progress(plan_text(targets, scenario, runs))
    if _not_allowed(targets, args, "drills break things on purpose"):
        return exits.ERROR
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        result = drill(targets, args.scenario, runs, say, site_check=not args.no_site_check)
    except HealFailed as exc:
        print(f"redisops drill: HEAL FAILED, the group may still be broken: {exc}", file=sys.stderr)
        return exits.HEAL_FAILED
    except DrillAborted as exc:
        print(f"redisops drill: aborted: {exc}", file=sys.stderr)
        return exits.ERROR
    except Exception as exc:  # the fault was healed on the way out (run.heal in a finally)
        print(
            f"redisops drill: aborted by an error (what it broke was healed): {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return exits.ERROR
    except KeyboardInterrupt:
        print(
            "redisops drill: interrupted; what the drill broke was healed and its keys deleted",
            file=sys.stderr,
        )
        return exits.INTERRUPTED
    write_outputs(result, args, {"text": R.to_text, "json": R.to_json, "html": R.to_html})
    return exits.OK if result["passed"] else exits.FAIL
