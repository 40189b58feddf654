"""The ``redisops`` command: a thin layer over the kit's functions.

``main(argv)`` returns an exit code so the CLI itself is testable.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence

from redisops.collection import CollectionMissing

try:  # control-node tooling: the bundle for monitoring and backup hosts leaves the lab out
    from redisops.lab import plan as P

    _LAB_ERRORS: tuple[type[Exception], ...] = (P.LabError,)
except ImportError:
    P = None
    _LAB_ERRORS = ()

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _lab_parser(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser("lab", help="a local lab of real Debian hosts (systemd-nspawn)")
    cmds = lab.add_subparsers(dest="lab_command", required=True)
    up = cmds.add_parser("up", help="build the image if needed, boot the hosts, wait for SSH")
    up.add_argument("--hosts", type=int, default=None, help="number of hosts (default: as now, else 3)")
    up.add_argument(
        "--image", default=None, help=f"base image: {', '.join(P.IMAGES)} (default: as now, else bookworm)"
    )
    up.add_argument("--subnet", default=None, help=f"private /24 for the lab (default {P.DEFAULT_SUBNET})")
    up.add_argument(
        "--flavor",
        default=None,
        help=f"server the lab inventory deploys: {', '.join(P.FLAVORS)} (default: as now, else redis)",
    )
    status = cmds.add_parser("status", help="show each host: container, mount, namespace, SSH")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ssh = cmds.add_parser("ssh", help="open a shell on a lab host, or run a command there")
    ssh.add_argument("host", help="host name (redis-1) or address")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run")
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
        description="Exit 0: nothing at or above the fail level; 1: findings; 2: could not check.",
    )
    where = check.add_mutually_exclusive_group()
    where.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    where.add_argument("--targets", help="a targets file written by --write-targets (scheduled runs)")
    where.add_argument("--facts", help="judge facts saved by --dump-facts instead of gathering")
    check.add_argument("--limit", help="only hosts matching this Ansible pattern")
    check.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    check.add_argument("--format", choices=FORMATS, default="text")
    check.add_argument("--output", help="write the report here (atomically) instead of stdout")
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
    check.add_argument("--history", help="also keep this run's JSON report in this directory")
    check.add_argument("--history-days", type=int, default=30, help="delete history older than this (30)")
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
    check.add_argument("--explain", metavar="ID", help="print a check's doc and stop")
    check.add_argument("--list", action="store_true", help="list every check and stop")
    check.add_argument(
        "--catalogue", action="store_true", help="print the catalogue page (Markdown) and stop"
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
    kinds = drill.add_subparsers(dest="drill_command", required=True)
    failover = kinds.add_parser(
        "failover",
        help="a failover drill under load",
        description="Exit 0: every run passed; 1: a run failed its criteria; 2: refused or aborted; "
        "3: the heal failed (the group may still be broken).",
    )
    failover.add_argument("--scenario", required=True, choices=scenarios)
    failover.add_argument("--runs", type=_positive, default=1, help="runs in a row (default 1; loop: 5)")
    failover.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    failover.add_argument("--group", help="Sentinel group (default: the inventory's first)")
    failover.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    failover.add_argument("--report", help="write the HTML report here")
    failover.add_argument("--json", help="write the JSON result here")
    _confirm_args(failover)
    failover.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    failover.add_argument("--no-site-check", action="store_true", help="skip the site.yml rerun at the end")
    backup = kinds.add_parser(
        "backup",
        help="back up, restore onto a scratch server on the backup host, prove the data identical",
        description="Exit 0: the restored data equals the source; 1: it does not; 2: refused or aborted.",
    )
    backup.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    backup.add_argument("--group", help="Sentinel group (default: the inventory's first)")
    backup.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    backup.add_argument("--keys", type=_positive, default=10000, help="keys to seed (default 10000)")
    backup.add_argument("--report", help="write the HTML report here")
    backup.add_argument("--json", help="write the JSON result here")
    _confirm_args(backup)
    backup.add_argument(
        "--alter-one-key", action="store_true",
        help="self-test: change one key on the restored copy; the drill must then fail",
    )  # fmt: skip


def version() -> str:
    """The installed distribution's version (the collection's galaxy.yml carries the same)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("redis-ops-kit")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redisops",
        description="Check, drill, back up and watch the Redis or Valkey cluster of an Ansible inventory.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "--vault-secrets-stdin",
        action="store_true",
        help="read vault secrets from standard input (as the redisops.kit.redisops task passes them)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    if P is not None:
        _lab_parser(sub)
    _check_parser(sub)
    _drill_parser(sub)
    from redisops.backup.cli import add_parser as _backup_parser

    _backup_parser(sub)
    monitoring = sub.add_parser("monitoring", help="Prometheus scrape targets of the kit's exporters")
    mon = monitoring.add_subparsers(dest="monitoring_command", required=True)
    targets = mon.add_parser(
        "targets",
        help="write file_sd files (redis, redis_sentinel, node) and a prometheus.yml for the inventory",
    )
    targets.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    targets.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    targets.add_argument("--dir", help="where to write them (without: print where the metrics are)")
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


def _print_status(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("host", "address", "container", "mounted", "netns", "ssh")
    for row in rows:
        table.add_row(
            row["host"],
            row["address"],
            *("yes" if row[k] else "[red]no[/red]" for k in ("container", "mounted", "netns", "ssh")),
        )
    Console().print(table)


def run_lab(args: argparse.Namespace) -> int:
    from redisops.lab.lab import Lab

    lab = Lab.from_env()
    if args.lab_command in ("status", "ssh", "down"):
        lab.preflight(tools={})  # the lab's state, key and namespaces are root's
    if args.lab_command == "up":
        lab.up(hosts=args.hosts, image=args.image, subnet=args.subnet, flavor=args.flavor)
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
        if args.json:
            print(json.dumps(rows, indent=2))
        elif rows:
            _print_status(rows)
        else:
            print("no lab is up (redisops lab up starts one)")
        healthy = bool(rows) and all(
            all(v for k, v in r.items() if k not in ("host", "address")) for r in rows
        )
        return EXIT_OK if healthy else EXIT_FAIL
    if args.lab_command == "ssh":
        address = lab.address_of(args.host)
        cmd = lab.ssh_command(address, args.cmd)
        if not args.cmd:
            cmd.insert(1, "-t")
        os.execvp(cmd[0], cmd)
    raise AssertionError(args.lab_command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.vault_secrets_stdin:
            from redisops.inventory import InventoryError, add_vault_secrets

            try:
                add_vault_secrets(sys.stdin.read())
            except InventoryError as exc:
                print(f"redisops: error: {exc}", file=sys.stderr)
                return EXIT_USAGE
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
            from pathlib import Path

            from redisops.inventory import InventoryError
            from redisops.monitoring.targets import scrape_plan, write_targets

            try:
                found, web = scrape_plan(args.inventory, args.vault_password_file)
                if not args.dir:
                    scheme = "https" if web else "http"
                    for job, items in found.items():
                        for item in items:
                            labels = " ".join(f"{k}={v}" for k, v in item["labels"].items())
                            print(f"{job:<15} {scheme}://{item['targets'][0]}/metrics  {labels}")
                    return EXIT_OK
                write_targets(
                    Path(args.dir), found, args.rules, args.interval, web, args.basic_auth_password_file
                )
            except InventoryError as exc:
                print(f"redisops: error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(json.dumps({job: len(items) for job, items in found.items()}))
            return EXIT_OK
    except (*_LAB_ERRORS, CollectionMissing) as exc:
        print(f"redisops: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except subprocess.CalledProcessError as exc:
        print(
            f"redisops: error: {' '.join(map(str, exc.cmd))} failed (exit {exc.returncode}): "
            f"{(exc.stderr or '').strip()}",
            file=sys.stderr,
        )
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
