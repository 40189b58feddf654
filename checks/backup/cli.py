"""``redisops backup``: resolve the config (control node), take, list and verify backups (backup host)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from redisops.core import exits
from redisops.output import UsageError, add_format_args, emit, exit_codes, to_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser(
        "backup",
        help="take, list and verify off-host backups (role redis_backup)",
        epilog=exit_codes(
            {
                exits.OK: "done: the backups were taken, listed, verified or restored",
                exits.FAIL: "a backup could not be taken, was not found, or did not verify",
                exits.ERROR: "could not read the inventory, the config or the store",
            }
        ),
    )
    cmds = backup.add_subparsers(dest="backup_command", required=True, metavar="COMMAND", help="what to do")

    config = cmds.add_parser("config", help="write the backup host's config from the inventory (0600)")
    config.add_argument("-i", "--inventory", help="Ansible inventory (default: ansible.cfg's)")
    config.add_argument("--vault-password-file", help="for vault-encrypted inventory variables")
    # The result is the config file; what the role needs to know of it is printed as JSON.
    config.add_argument(
        "--output", metavar="FILE", required=True, help="write the config (with credentials, 0600) to FILE"
    )
    config.add_argument("--tls-dir", help="where the backup host keeps ca.crt, client.crt, client.key")

    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", required=True, help="the backup store directory")
        p.add_argument("--group", help="one Sentinel group (default: all)")

    run = cmds.add_parser("run", help="back up each group now (what the timer runs)")
    store_args(run)
    run.add_argument("--config", required=True, help="the config 'backup config' wrote")
    run.add_argument("--hourly", type=int, default=24, help="hourly copies to keep (default 24)")
    run.add_argument("--daily", type=int, default=7, help="daily copies to keep (default 7)")
    run.add_argument("--ssh-key", default="", help="the SSH key to the Redis hosts")
    run.add_argument("--known-hosts", default="", help="the Redis hosts' SSH host keys")
    run.add_argument("--ssh-user", default="root", help="the account on the Redis hosts (default root)")
    run.add_argument(
        "--save-timeout", type=float, default=3600.0, help="seconds a snapshot may take (default 3600)"
    )
    run.add_argument("--textfile", help="Prometheus textfile to write (node_exporter)")
    add_format_args(run, what="the run's results")
    run.add_argument("--report", metavar="FILE", help="also write the JSON report of this run to FILE")

    listing = cmds.add_parser("list", help="the backups in the store, oldest first")
    store_args(listing)
    add_format_args(listing, what="the list")
    listing.add_argument(
        "--json", dest="format", action="store_const", const="json", help="the same as --format json"
    )

    verify = cmds.add_parser("verify", help="check a stored backup: size, SHA-256, redis-check-rdb")
    store_args(verify)
    verify.add_argument("--id", default="latest", help="a backup id, or latest")
    add_format_args(verify, default="json", what="the verdict")

    scratch = cmds.add_parser(
        "scratch", help="load a backup into a scratch redis-server (Unix socket only) and read it back"
    )
    store_args(scratch)
    scratch.add_argument("--id", default="latest", help="a backup id, or latest")
    scratch.add_argument("--pattern", default="*", help="keys to digest (SCAN MATCH pattern)")
    scratch.add_argument("--work-dir", help="where the scratch copy goes (default: beside the store)")
    scratch.add_argument(
        "--alter-one-key", action="store_true", help="self-test: change one restored key before reading"
    )
    scratch.add_argument(
        "--copy", action="store_true", help="copy the backup into the work directory, never hard-link it"
    )
    add_format_args(scratch, default="json", what="what was restored and read back")


def run_text(results: list[dict]) -> str:
    """backup run's results for people: a line per group stored (failures go to standard error)."""
    lines = []
    for r in results:
        if r["ok"]:
            b = r["backup"]
            src = f"{b['source']['host']} ({b['source']['role']})"
            lines.append(
                f"{r['group']}: stored {b['id']} from {src}: {b['keys']} keys, "
                f"{b['size']} bytes, in {r['duration_s']:.1f} s"
            )
    return "".join(f"{line}\n" for line in lines)


def list_text(rows: list[dict]) -> str:
    return "".join(f"{m['id']}\t{m['source']['host']}\t{m['keys']} keys\t{m['size']} bytes\n" for m in rows)


def verify_text(verdict: dict) -> str:
    check = verdict["check"]
    how = "size, SHA-256 and redis-check-rdb" if check.get("full", True) else "size and SHA-256"
    return f"{verdict['id']}: ok ({how}; {verdict.get('keys', '?')} keys, {verdict.get('size', '?')} bytes)\n"


def scratch_text(result: dict) -> str:
    return "".join(f"{k}: {v}\n" for k, v in result.items())


def _group(args: argparse.Namespace, store) -> None:
    """--group is checked before it reaches a path; verify and scratch need one."""
    if args.group is not None:
        try:
            store.check_group(args.group)
        except store.BackupError as exc:
            raise UsageError(str(exc)) from None
    elif args.backup_command in ("verify", "scratch"):
        what = "verify" if args.backup_command == "verify" else "restore"
        raise UsageError(f"--group is needed to {what} a backup")


def main(args: argparse.Namespace) -> int:
    from redisops.backup import store as S
    from redisops.inventory import InventoryError

    try:
        if args.backup_command == "config":
            from redisops.backup.config import config_from_inventory, flavors, sources_by_host, write_config

            config = config_from_inventory(args.inventory, args.vault_password_file, args.tls_dir)
            write_config(config, Path(args.output))
            # What the role needs to know, and no secret.
            summary = {
                "tls": bool(config["tls"]),
                "groups": [g["name"] for g in config["groups"]],
                "sources": sources_by_host(config),
                "flavors": flavors(config),
            }
            sys.stdout.write(to_json(summary, indent=None))
            return exits.OK
        store = Path(args.store)
        _group(args, S)
        if args.backup_command == "run":
            from redisops.backup import take
            from redisops.backup.config import read_config

            if args.hourly < 1 or args.daily < 0:
                raise UsageError("--hourly must be at least 1 and --daily at least 0")
            opts = take.Options(
                store=store, hourly=args.hourly, daily=args.daily, ssh_key=args.ssh_key,
                known_hosts=args.known_hosts, ssh_user=args.ssh_user, save_timeout_s=args.save_timeout,
            )  # fmt: skip
            results, metrics = take.run(read_config(Path(args.config)), opts, args.group)
            if args.textfile:
                S.write_atomic(Path(args.textfile), metrics.encode(), mode=0o644)
            report = to_json({"results": results})
            if args.report:
                S.write_atomic(Path(args.report), report.encode(), mode=0o640)
            emit(report if args.format == "json" else run_text(results), args.output, mode=0o640)
            for r in results:
                if not r["ok"]:
                    print(f"{r['group']}: FAILED: {r['error']}", file=sys.stderr)
            return exits.OK if all(r["ok"] for r in results) else exits.FAIL
        if args.backup_command == "scratch":
            from redisops.backup.scratch import scratch_restore

            work = Path(args.work_dir) if args.work_dir else store.parent
            result = scratch_restore(
                store, args.group, args.id, args.pattern, work, args.alter_one_key, copy=args.copy
            )
            emit(to_json(result, indent=None) if args.format == "json" else scratch_text(result), args.output)
            return exits.OK
        if args.backup_command == "verify":
            backup = S.find_backup(store, args.group, args.id)
            verdict = {"id": backup.id, "path": str(backup.rdb), **backup.manifest}
            verdict["check"] = S.verify_stored(backup)
            text = to_json(verdict, indent=None) if args.format == "json" else verify_text(verdict)
            emit(text, args.output)
            return exits.OK
        if args.backup_command == "list":
            groups = (
                [args.group]
                if args.group
                else sorted(p.name for p in store.iterdir() if p.is_dir() and S.GROUP_NAME.fullmatch(p.name))
            )
            rows = [b.manifest for g in groups for b in S.list_backups(store, g)]
            emit(to_json({"backups": rows}) if args.format == "json" else list_text(rows), args.output)
            return exits.OK
    except S.BackupError as exc:
        print(f"redisops backup: {exc}", file=sys.stderr)
        return exits.FAIL
    except InventoryError as exc:
        print(f"redisops backup: {exc}", file=sys.stderr)
        return exits.ERROR
    except FileNotFoundError as exc:
        print(f"redisops backup: {exc.filename}: not found", file=sys.stderr)
        return exits.ERROR
    raise AssertionError(args.backup_command)
