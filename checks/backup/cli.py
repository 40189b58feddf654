"""``redisops backup``: resolve the config (control node), take, list and verify backups (backup host)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from redisops.core import exits


def add_parser(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser("backup", help="take, list and verify off-host backups (role redis_backup)")
    cmds = backup.add_subparsers(dest="backup_command", required=True)

    config = cmds.add_parser("config", help="write the backup host's config from the inventory (0600)")
    config.add_argument("-i", "--inventory")
    config.add_argument("--vault-password-file")
    config.add_argument("--output", required=True)
    config.add_argument("--tls-dir", help="where the backup host keeps ca.crt, client.crt, client.key")

    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", required=True, help="the backup store directory")
        p.add_argument("--group", help="one Sentinel group (default: all)")

    run = cmds.add_parser("run", help="back up each group now (what the timer runs)")
    store_args(run)
    run.add_argument("--config", required=True)
    run.add_argument("--hourly", type=int, default=24, help="hourly copies to keep")
    run.add_argument("--daily", type=int, default=7, help="daily copies to keep")
    run.add_argument("--ssh-key", default="")
    run.add_argument("--known-hosts", default="")
    run.add_argument("--ssh-user", default="root")
    run.add_argument("--save-timeout", type=float, default=3600.0)
    run.add_argument("--textfile", help="Prometheus textfile to write (node_exporter)")
    run.add_argument("--report", help="JSON report of this run")

    listing = cmds.add_parser("list", help="the backups in the store, oldest first")
    store_args(listing)
    listing.add_argument("--json", action="store_true")

    verify = cmds.add_parser("verify", help="check a stored backup: size, SHA-256, redis-check-rdb")
    store_args(verify)
    verify.add_argument("--id", default="latest", help="a backup id, or latest")

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


def main(args: argparse.Namespace) -> int:
    from redisops.backup import store as S
    from redisops.inventory import InventoryError

    try:
        if args.backup_command == "config":
            from redisops.backup.config import config_from_inventory, flavors, sources_by_host, write_config

            config = config_from_inventory(args.inventory, args.vault_password_file, args.tls_dir)
            write_config(config, Path(args.output))
            # What the role needs to know, and no secret.
            print(
                json.dumps(
                    {
                        "tls": bool(config["tls"]),
                        "groups": [g["name"] for g in config["groups"]],
                        "sources": sources_by_host(config),
                        "flavors": flavors(config),
                    }
                )
            )
            return exits.OK
        store = Path(args.store)
        if args.group is not None:
            S.check_group(args.group)  # before it reaches a path
        if args.backup_command == "run":
            from redisops.backup import take
            from redisops.backup.config import read_config

            opts = take.Options(
                store=store, hourly=args.hourly, daily=args.daily, ssh_key=args.ssh_key,
                known_hosts=args.known_hosts, ssh_user=args.ssh_user, save_timeout_s=args.save_timeout,
            )  # fmt: skip
            if args.hourly < 1 or args.daily < 0:
                raise S.BackupError("--hourly must be at least 1 and --daily at least 0")
            results, metrics = take.run(read_config(Path(args.config)), opts, args.group)
            if args.textfile:
                S.write_atomic(Path(args.textfile), metrics.encode(), mode=0o644)
            report = json.dumps({"results": results}, indent=2) + "\n"
            if args.report:
                S.write_atomic(Path(args.report), report.encode(), mode=0o640)
            for r in results:
                if r["ok"]:
                    b = r["backup"]
                    src = f"{b['source']['host']} ({b['source']['role']})"
                    print(f"{r['group']}: stored {b['id']} from {src}: {b['keys']} keys, "
                          f"{b['size']} bytes, in {r['duration_s']:.1f} s")  # fmt: skip
                else:
                    print(f"{r['group']}: FAILED: {r['error']}", file=sys.stderr)
            return exits.OK if all(r["ok"] for r in results) else exits.FAIL
        if args.backup_command == "scratch":
            from redisops.backup.scratch import scratch_restore

            if not args.group:
                raise S.BackupError("--group is needed to restore a backup")
            work = Path(args.work_dir) if args.work_dir else store.parent
            result = scratch_restore(
                store, args.group, args.id, args.pattern, work, args.alter_one_key, copy=args.copy
            )
            print(json.dumps(result))
            return exits.OK
        groups = (
            [args.group]
            if args.group
            else sorted(p.name for p in store.iterdir() if p.is_dir() and S.GROUP_NAME.fullmatch(p.name))
        )
        if args.backup_command == "list":
            rows = [b.manifest for g in groups for b in S.list_backups(store, g)]
            if args.json:
                print(json.dumps(rows, indent=2))
            for m in [] if args.json else rows:
                print(f"{m['id']}\t{m['source']['host']}\t{m['keys']} keys\t{m['size']} bytes")
            return exits.OK
        if args.backup_command == "verify":
            if not args.group:
                raise S.BackupError("--group is needed to verify a backup")
            backup = S.find_backup(store, args.group, args.id)
            verdict = S.verify_stored(backup)
            print(json.dumps({"id": backup.id, "path": str(backup.rdb), **backup.manifest, "check": verdict}))
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
