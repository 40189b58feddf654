"""The ``redisops`` command: a thin layer over the kit's functions.

``main(argv)`` returns an exit code so the CLI itself is testable.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Sequence

from redisops import version
from redisops.collection import CollectionMissing
from redisops.core import exits
from redisops.output import UsageError, add_format_args, add_quiet, emit, exit_codes, quiet, to_json

try:  # control-node tooling: the bundle for monitoring and backup hosts leaves the lab out
    from redisops.lab import plan as P

    _LAB_ERRORS: tuple[type[Exception], ...] = (P.LabError,)
    _LAB_USAGE_ERRORS: tuple[type[Exception], ...] = (P.LabUsageError,)
except ImportError:
    P = None
    _LAB_ERRORS = _LAB_USAGE_ERRORS = ()

EXIT_OK, EXIT_FAIL, EXIT_ERROR, EXIT_USAGE = exits.OK, exits.FAIL, exits.ERROR, exits.USAGE


class _Formatter(argparse.HelpFormatter):
    """Descriptions and epilogs keep their lines (the exit code tables); a long line still wraps,
    a table row under its own text."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            row = re.match(r"\s+\S+\s+", line)
            hanging = indent + " " * (row.end() if row else 0)
            lines.append(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=hanging))
        return "\n".join(lines)


class Parser(argparse.ArgumentParser):
    """Every parser of the command (argparse makes the subcommands' parsers of the same class):
    a usage error exits 64, not argparse's 2 (which redisops check means "could not check"),
    and every one takes -q/--quiet."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        add_quiet(self)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(exits.USAGE, f"{self.prog}: error: {message}\n")


def _lab_parser(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser("lab", help="a local lab of real Debian hosts (systemd-nspawn)")
    cmds = lab.add_subparsers(
        dest="lab_command", required=True, metavar="COMMAND", help="what to do with the lab"
    )
    up = cmds.add_parser("up", help="build the image if needed, boot the hosts, wait for SSH")
    up.add_argument("--hosts", type=int, default=None, help="number of hosts (default: as now, else 3)")
    up.add_argument(
        "--image", default=None, help=f"base image: {', '.join(P.IMAGES)} (default: as now, else bookworm)"
    )
    up.add_argument("--subnet", default=None, help=f"private /24 for the lab (default {P.DEFAULT_SUBNET})")
    up.add_argument(
        "--cluster-hosts",
        type=int,
        default=None,
        metavar="N",
        help=f"hosts cluster-1 ... cluster-N for the Redis Cluster lab, from .{P.FIRST_CLUSTER_OCTET} "
        f"(0 to {P.MAX_CLUSTER_HOSTS}; inventories/lab-cluster); changing it adds or removes only "
        "those hosts (default: as now, else 0)",
    )
    up.add_argument(
        "--flavor",
        default=None,
        help=f"server the lab inventory deploys: {', '.join(P.FLAVORS)} (default: as now, else redis)",
    )
    status = cmds.add_parser(
        "status",
        help="show each host: container, mount, namespace, SSH",
        epilog=exit_codes(
            {
                exits.OK: "every host is up and answers SSH",
                exits.FAIL: "no lab is up, or a host is not healthy",
                exits.ERROR: "could not read the lab (not root, its state unreadable)",
            }
        ),
    )
    add_format_args(status, what="the hosts' state")
    status.add_argument(
        "--json", dest="format", action="store_const", const="json", help="the same as --format json"
    )
    ssh = cmds.add_parser("ssh", help="open a shell on a lab host, or run a command there")
    ssh.add_argument("host", help="host name (redis-1) or address")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run (default: a login shell)")
    cmds.add_parser("down", help="stop every host and remove all the lab left behind")
    rebuild = cmds.add_parser("rebuild", help="replace hosts with new ones (disk, data and host keys gone)")
    rebuild.add_argument("hosts", nargs="+", help="host names (redis-1 ...)")
    image = cmds.add_parser("image", help="build the cached base image now (lab up does it on first use)")
    image.add_argument("--image", default=P.DEFAULT_IMAGE, help=f"base image: {', '.join(P.IMAGES)}")


def _check_parser(sub: argparse._SubParsersAction) -> None:
    from redisops.compliance.report import FORMATS

    check = sub.add_parser(
        "check",
        help="run the compliance checks against the cluster and hosts of an inventory",
        description="Run the compliance checks against the cluster and hosts of an inventory, a "
        "targets file or saved facts, and report what they found.",
        epilog=exit_codes(
            {
                exits.OK: "nothing at or above the fail level (--fail-on); --list, --explain, --catalogue",
                exits.FAIL: "findings at or above the fail level",
                exits.ERROR: "could not check: a target, the inventory, the targets, facts, waivers or "
                "the counters file could not be read",
            }
        ),
    )
    where = check.add_mutually_exclusive_group()
    where.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    where.add_argument("--targets", help="a targets file written by --write-targets (scheduled runs)")
    where.add_argument("--facts", help="judge facts saved by --dump-facts instead of gathering")
    check.add_argument("--limit", help="only hosts matching this Ansible pattern")
    check.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    add_format_args(check, FORMATS)
    check.add_argument("--fail-on", default="high", help="lowest severity that fails the run (default high)")
    check.add_argument(
        "--threshold",
        action="append",
        metavar="NAME=VALUE",
        help="override one threshold for this run (repeatable; over redis_compliance_thresholds)",
    )
    check.add_argument("--waivers", help="YAML file of waivers (check, target, justification, expires)")
    check.add_argument(
        "--no-host-facts", action="store_true", help="skip SSH to the hosts (host checks skipped)"
    )
    check.add_argument("--textfile", help="also write the Prometheus textfile here (node_exporter)")
    check.add_argument(
        "--history", help="also keep this run's JSON report in this directory (and its counters: --state)"
    )
    check.add_argument("--history-days", type=int, default=30, help="delete history older than this (30)")
    check.add_argument(
        "--state",
        metavar="FILE",
        help="judge cumulative counters (rejected connections, commandstats calls, slowlog, latency "
        "spikes) as changes since the run that wrote FILE, then keep this run's counters there "
        "(default with --history: HISTORY/counters.json; without either: since each server started)",
    )
    check.add_argument("--dump-facts", help="save the gathered facts as JSON (no secrets in them)")
    check.add_argument(
        "--write-targets", help="write the resolved targets (with credentials, mode 0600) and stop"
    )
    check.add_argument(
        "--tls-dir",
        help="with --write-targets: where the host running the checks keeps ca.crt, client.crt/.key",
    )
    check.add_argument(
        "--inspect-key",
        help="without host facts: read configuration and ACL through the hosts' reader over SSH with "
        "this key (its only command is the reader); also written into --write-targets",
    )
    check.add_argument(
        "--inspect-known-hosts",
        help="with --inspect-key: the hosts' SSH host keys (never learnt on first use)",
    )
    check.add_argument(
        "--inspect-user",
        default="",
        help="with --inspect-key: the reader's account (default redisops-inspect)",
    )
    check.add_argument(
        "--findings-exit-zero",
        action="store_true",
        help="exit 0 on findings (still 2 when it could not check): for schedulers that read the metrics",
    )
    check.add_argument("-v", "--verbose", action="store_true", help="text: list passed checks too")
    check.add_argument("--explain", metavar="ID", help="print a check's doc and stop (--format text or json)")
    check.add_argument(
        "--list", action="store_true", help="list every check and stop (--format text or json)"
    )
    check.add_argument(
        "--catalogue",
        action="store_true",
        help="print the catalogue page (Markdown; --format json: every check's doc) and stop",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _confirm_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--confirm",
        metavar="GROUP",
        help="run although redis_drill_allowed is not true: name the Sentinel group being drilled "
        "(e.g. --confirm redis-main); any other name is refused",
    )
    # The old blanket override: still parsed, so that it is refused with the way to confirm.
    parser.add_argument("--yes", action="store_true", help=argparse.SUPPRESS)


def _drill_outputs(parser: argparse.ArgumentParser) -> None:
    add_format_args(parser, ("text", "json", "html"), what="the result")
    # Older ways, kept for scripts: extra files beside what --format prints.
    parser.add_argument("--json", metavar="FILE", help="also write the JSON result to FILE")
    parser.add_argument("--report", metavar="FILE", help="also write the HTML report to FILE")


def _drill_parser(sub: argparse._SubParsersAction) -> None:
    scenarios = (
        "kill-primary",
        "hang-primary",
        "partition-primary",
        "partition-primary-alone",
        "manual-failover",
        "sentinel-minority-loss",
        "sentinel-majority-loss",
        "replica-loss",
        "loop",
        "poweroff-primary",
    )  # the names of redisops.drills.failover.SCENARIOS (a test keeps them equal): not imported here,
    # so that other commands do not load redis-py
    drill = sub.add_parser("drill", help="run real faults against the deployed cluster, measured")
    kinds = drill.add_subparsers(dest="drill_command", required=True, metavar="DRILL", help="which drill")
    failover = kinds.add_parser(
        "failover",
        help="a failover drill under load",
        description="Break the group's primary (or its sentinels) on purpose under a workload, "
        "measure what the clients saw, heal, and report.",
        epilog=exit_codes(
            {
                exits.OK: "every run passed",
                exits.FAIL: "a run failed its criteria",
                exits.ERROR: "refused or aborted (what it broke was healed)",
                exits.HEAL_FAILED: "the heal failed: the group may still be broken",
                exits.INTERRUPTED: "interrupted, after healing",
            }
        ),
    )
    failover.add_argument(
        "--scenario",
        required=True,
        choices=scenarios,
        metavar="SCENARIO",
        help="the fault to inject: " + ", ".join(scenarios),
    )
    failover.add_argument("--runs", type=_positive, default=1, help="runs in a row (default 1; loop: 5)")
    failover.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    failover.add_argument("--group", help="Sentinel group (default: the inventory's first)")
    failover.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    _drill_outputs(failover)
    _confirm_args(failover)
    failover.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    failover.add_argument("--no-site-check", action="store_true", help="skip the site.yml rerun at the end")
    failover.add_argument(
        "--untimed-switchover",
        action="store_true",
        help="manual-failover: send SENTINEL FAILOVER at once and let Sentinel end the failover "
        "(the untimed path, for comparison; see docs/drills.md)",
    )
    backup = kinds.add_parser(
        "backup",
        help="back up, restore onto a scratch server on the backup host, prove the data identical",
        description="Seed keys, back them up the role's way, restore the backup onto a scratch "
        "server on the backup host, and prove the data identical.",
        epilog=exit_codes(
            {
                exits.OK: "the restored data equals the source",
                exits.FAIL: "it does not",
                exits.ERROR: "refused or aborted (the drill's keys were deleted)",
                exits.INTERRUPTED: "interrupted, after deleting the drill's keys",
            }
        ),
    )
    backup.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    backup.add_argument("--group", help="Sentinel group (default: the inventory's first)")
    backup.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    backup.add_argument("--keys", type=_positive, default=10000, help="keys to seed (default 10000)")
    _drill_outputs(backup)
    _confirm_args(backup)
    backup.add_argument(
        "--alter-one-key", action="store_true",
        help="self-test: change one key on the restored copy; the drill must then fail",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="redisops",
        description="Check, drill, back up and watch the Redis or Valkey cluster of an Ansible inventory.",
        epilog="Every command takes --help; commands with a result take --format and --output, and "
        "every JSON they write carries the kit's version (redisops_version).\n\n" + exit_codes(),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    parser.add_argument(
        "--vault-secrets-stdin",
        action="store_true",
        help="read vault secrets from standard input (as the redisops.kit.redisops task passes them)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="what to do")
    if P is not None:
        _lab_parser(sub)
    _check_parser(sub)
    _drill_parser(sub)
    from redisops.backup.cli import add_parser as _backup_parser

    _backup_parser(sub)
    monitoring = sub.add_parser("monitoring", help="Prometheus scrape targets of the kit's exporters")
    mon = monitoring.add_subparsers(
        dest="monitoring_command", required=True, metavar="COMMAND", help="what to produce"
    )
    targets = mon.add_parser(
        "targets",
        help="write file_sd files (redis, redis_sentinel, node) and a prometheus.yml for the inventory",
        epilog=exit_codes(
            {exits.OK: "the targets were printed or written", exits.ERROR: "could not read the inventory"}
        ),
    )
    targets.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    targets.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    targets.add_argument("--dir", help="where to write them (without: print where the metrics are)")
    add_format_args(targets, what="the targets (with --dir: what was written)")
    targets.add_argument(
        "--rules", action="append", default=[], help="rule files prometheus.yml loads (repeatable)"
    )
    targets.add_argument(
        "--basic-auth-password-file",
        help="with redis_exporter_web_auth_user: the file holding its password, for prometheus.yml",
    )
    targets.add_argument("--interval", type=float, default=15.0, help="scrape and rule interval, s (15)")
    bundle = sub.add_parser(
        "bundle", help="pack the check runtime for a host without PyPI (redis_compliance)"
    )
    bundle.add_argument("--python", required=True, help="the target's Python version, e.g. 3.11")
    bundle.add_argument("--machine", required=True, help="the target's machine, e.g. x86_64")
    bundle.add_argument("--dir", required=True, help="where bundles are kept (built only when missing)")
    return parser


def status_report(rows: list[dict]) -> dict:
    """lab status as JSON: each host's state, and whether all of the lab is healthy."""
    healthy = bool(rows) and all(all(v for k, v in r.items() if k not in ("host", "address")) for r in rows)
    return {"healthy": healthy, "hosts": rows}


def status_text(rows: list[dict], colour: bool = True) -> str:
    """lab status as a table (or the sentence that no lab is up)."""
    if not rows:
        return "no lab is up (redisops lab up starts one)\n"
    from rich.console import Console
    from rich.table import Table

    table = Table("host", "address", "container", "mounted", "netns", "ssh")
    for row in rows:
        table.add_row(
            row["host"],
            row["address"],
            *("yes" if row[k] else "[red]no[/red]" for k in ("container", "mounted", "netns", "ssh")),
        )
    console = Console(file=io.StringIO(), width=120, force_terminal=colour, no_color=not colour)
    console.print(table)
    return console.file.getvalue()


def run_lab(args: argparse.Namespace) -> int:
    from redisops.lab.lab import Lab

    lab = Lab.from_env()
    if args.lab_command in ("status", "ssh", "down"):
        lab.preflight(tools={})  # the lab's state, key and namespaces are root's
    if args.lab_command == "up":
        lab.up(
            hosts=args.hosts,
            image=args.image,
            subnet=args.subnet,
            flavor=args.flavor,
            cluster_hosts=args.cluster_hosts,
        )
        return EXIT_OK
    if args.lab_command == "image":
        print(lab.build_image(args.image))
        return EXIT_OK
    if args.lab_command == "down":
        lab.down()
        return EXIT_OK
    if args.lab_command == "rebuild":
        lab.rebuild(args.hosts)
        return EXIT_OK
    if args.lab_command == "status":
        rows = lab.status()
        report = status_report(rows)
        if args.format == "json":
            emit(to_json(report), args.output)
        else:
            emit(status_text(rows, colour=not args.output and sys.stdout.isatty()), args.output)
        return EXIT_OK if report["healthy"] else EXIT_FAIL
    if args.lab_command == "ssh":
        address = lab.address_of(args.host)
        cmd = lab.ssh_command(address, args.cmd)
        if not args.cmd:
            cmd.insert(1, "-t")
        os.execvp(cmd[0], cmd)
    raise AssertionError(args.lab_command)


def run_monitoring(args: argparse.Namespace) -> int:
    from pathlib import Path

    from redisops.inventory import InventoryError
    from redisops.monitoring.targets import scrape_plan, targets_report, targets_text, write_targets

    try:
        found, web = scrape_plan(args.inventory, args.vault_password_file)
        if args.dir:
            write_targets(
                Path(args.dir), found, args.rules, args.interval, web, args.basic_auth_password_file
            )
    except InventoryError as exc:
        print(f"redisops monitoring: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    written = Path(args.dir) if args.dir else None
    if args.format == "json":
        emit(to_json(targets_report(found, web, written)), args.output)
    else:
        emit(targets_text(found, web, written), args.output)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.vault_secrets_stdin:
        from redisops.inventory import InventoryError, add_vault_secrets

        try:
            add_vault_secrets(sys.stdin.read())
        except InventoryError as exc:
            raise UsageError(str(exc)) from None
    if args.command == "lab":
        return run_lab(args)
    if args.command == "bundle":
        from pathlib import Path

        from redisops.bundle import build_bundle

        print(build_bundle(args.python, args.machine, Path(args.dir)))
        return EXIT_OK
    if args.command == "backup":
        from redisops.backup.cli import main as run_backup

        return run_backup(args)
    if args.command == "drill":
        from redisops.drills.run import run_drill

        return run_drill(args)
    if args.command == "check":
        from redisops.compliance.run import run_check

        return run_check(args)
    if args.command == "monitoring":
        return run_monitoring(args)
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with quiet(getattr(args, "quiet", False)):
            return _run(args)
    # Also the lab's usage errors (an unknown --image, a public --subnet, a host it does not have);
    # its other errors are problems of the machine or of the lab's state.
    except (UsageError, *_LAB_USAGE_ERRORS) as exc:
        print(f"redisops {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (*_LAB_ERRORS, CollectionMissing) as exc:
        print(f"redisops {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except subprocess.CalledProcessError as exc:
        print(
            f"redisops: error: {' '.join(map(str, exc.cmd))} failed (exit {exc.returncode}): "
            f"{(exc.stderr or '').strip()}",
            file=sys.stderr,
        )
        return EXIT_FAIL
    except KeyboardInterrupt:
        return exits.INTERRUPTED
    except BrokenPipeError:
        # Nothing more can be written there; the interpreter's own flush at exit must not try.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exits.PIPE_CLOSED


if __name__ == "__main__":
    sys.exit(main())
