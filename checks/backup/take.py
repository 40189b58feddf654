"""Take a backup of each Sentinel group, from the backup host.

For each group: choose the source (a healthy replica; the primary only when there is none;
never when two servers claim to be primary), start a snapshot there (BGSAVE) and wait until
Redis says it is done and good (``rdb_saves`` moved on, ``rdb_last_bgsave_status:ok``), fetch
the file over SSH through a forced command that can only send that file, check it on arrival
(size, SHA-256, that it is the new snapshot, and ``redis-check-rdb``), then rename it into the
store with its manifest and apply retention. Any failure leaves the store as it was, is said
in the report, the metrics and the exit status.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from redisops.backup import store as S
from redisops.backup.store import BackupError
from redisops.compliance.server import identify


@dataclass
class Options:
    store: Path
    hourly: int = 24
    daily: int = 7
    ssh_key: str = ""
    known_hosts: str = ""
    ssh_user: str = "root"
    save_timeout_s: float = 3600.0
    transfer_timeout_s: float = 3600.0
    # The file checker; empty: the one of the server the snapshot came from (redis-check-rdb or
    # valkey-check-rdb: Redis 7.0's checker cannot read Valkey 8's RDB format 11).
    check_rdb: str = ""


def checker_for(flavor: object) -> str:
    """The RDB checker of the server INFO named (redis, valkey): never a name built from INFO."""
    return S.program_for(flavor, "check_rdb", "the source server's INFO server_name")


# ----------------------------------------------------------------------------- choosing
def choose_source(states: Sequence[dict]) -> dict:
    """The server to snapshot, from each server's ROLE/INFO state.

    ``states``: {"host", "role" ("master"/"slave"/None when unreachable), "link" (replica's
    master_link_status), "offset", "loading", "master" ("address:port" a replica follows)}.
    A replica is healthy when its link is up and it is not loading; the most advanced one wins.
    """
    reachable = [s for s in states if s.get("role")]
    primaries = [s for s in reachable if s["role"] == "master"]
    if len(primaries) > 1:
        names = ", ".join(s["host"] for s in primaries)
        raise BackupError(
            f"{names} all claim to be primary: refusing to back up a split group; "
            "heal it first (playbooks/status.yml shows what the sentinels see)"
        )
    healthy = [
        s for s in reachable if s["role"] == "slave" and s.get("link") == "up" and not s.get("loading")
    ]
    if healthy:
        return max(healthy, key=lambda s: (int(s.get("offset") or 0), s["host"]))
    if primaries:
        return primaries[0]
    unreachable = ", ".join(f"{s['host']} ({s.get('error', 'no answer')})" for s in states) or "none listed"
    raise BackupError(f"no server of the group can be backed up: {unreachable}")


# ----------------------------------------------------------------------------- Redis side
def client(server: dict, group: dict, tls: dict, timeout: float = 10.0):
    import redis

    kwargs = {}
    if server.get("tls"):
        kwargs = {
            "ssl": True,
            "ssl_ca_certs": tls.get("ca_cert"),
            "ssl_certfile": tls.get("cert"),
            "ssl_keyfile": tls.get("key"),
        }
    return redis.Redis(
        host=server["address"],
        port=int(server["port"]),
        username=group["username"],
        password=group["password"],
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        **kwargs,
    )


def server_state(server: dict, conn) -> dict:
    import redis

    try:
        info = conn.info("replication")
        loading = int(conn.info("persistence").get("loading", 0))
    except redis.RedisError as exc:
        return {"host": server["host"], "role": None, "error": str(exc) or type(exc).__name__}
    role = info.get("role")
    return {
        "host": server["host"],
        "role": role,
        "link": info.get("master_link_status"),
        "offset": info.get("slave_repl_offset") if role == "slave" else info.get("master_repl_offset"),
        "loading": loading,
        "master": f"{info.get('master_host')}:{info.get('master_port')}" if role == "slave" else "",
    }


def snapshot(conn, host: str, timeout_s: float, sleep: Callable[[float], None] = time.sleep) -> dict:
    """BGSAVE and wait for it: a snapshot started after this call, finished and good."""
    import redis

    before = conn.info("persistence")
    saves_before = int(before["rdb_saves"])
    # A save already running began before us: wait for it, then start ours.
    deadline = time.monotonic() + timeout_s
    while int(conn.info("persistence")["rdb_bgsave_in_progress"]):
        if time.monotonic() > deadline:
            raise BackupError(f"{host}: a background save already running did not end in {timeout_s:.0f} s")
        sleep(0.2)
        saves_before = int(conn.info("persistence")["rdb_saves"])
    started = time.time()
    offset = conn.info("replication")
    try:
        conn.bgsave()
    except redis.ResponseError as exc:
        if "in progress" not in str(exc) and "child process" not in str(exc).lower():
            raise BackupError(f"{host}: BGSAVE was refused: {exc}") from None
        # An AOF rewrite holds the child: SCHEDULE runs our save right after it.
        conn.bgsave(schedule=True)
    while True:
        info = conn.info("persistence")
        if int(info["rdb_saves"]) > saves_before and not int(info["rdb_bgsave_in_progress"]):
            break
        if time.monotonic() > deadline:
            raise BackupError(f"{host}: the snapshot did not finish within {timeout_s:.0f} s")
        sleep(0.1)
    if info.get("rdb_last_bgsave_status") != "ok":
        raise BackupError(
            f"{host}: the snapshot failed (rdb_last_bgsave_status:{info.get('rdb_last_bgsave_status')}); "
            "its log says why (disk full? permissions?)"
        )
    role = offset.get("role")
    return {
        "started_at": started,
        "saved_at": int(info["rdb_last_save_time"]),
        "duration_s": float(info.get("rdb_last_bgsave_time_sec", 0)),
        "cow_bytes": int(info.get("rdb_last_cow_size", 0)),
        "role": role,
        "repl_offset": int(offset["slave_repl_offset"] if role == "slave" else offset["master_repl_offset"]),
        "master_replid": offset.get("master_replid", ""),
    }


# ----------------------------------------------------------------------------- transfer
def ssh_argv(server: dict, opts: Options) -> list[str]:
    """The forced command on the Redis host ignores what is asked but the instance name."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
            "-o", "ServerAliveInterval=15", "-o", "LogLevel=ERROR"]  # fmt: skip
    if opts.ssh_key:
        argv += ["-i", opts.ssh_key, "-o", "IdentitiesOnly=yes"]
    if opts.known_hosts:
        argv += ["-o", f"UserKnownHostsFile={opts.known_hosts}"]
    return [*argv, f"{opts.ssh_user}@{server['address']}", "send", server["instance"]]


def receive(stream, dest: Path, chunk: int = 1 << 20) -> dict:
    """Read the sender's frame (a JSON header line, the file's bytes, a JSON trailer line) into
    ``dest``; the checksum is computed here, on what arrived, and compared with the sender's."""
    header_line = stream.readline(4096)
    try:
        header = json.loads(header_line)
    except ValueError:
        raise BackupError(f"the sender said {header_line[:200]!r} instead of a header") from None
    if "error" in header:
        raise BackupError(f"the sender refused: {header['error']}")
    size, got, digest = int(header["size"]), 0, hashlib.sha256()
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        while got < size:
            block = stream.read(min(chunk, size - got))
            if not block:
                break
            os.write(fd, block)
            digest.update(block)
            got += len(block)
        os.fsync(fd)
    finally:
        os.close(fd)
    if got != size:
        raise BackupError(f"the copy stopped after {got} of {size} bytes")
    try:
        trailer = json.loads(stream.readline(4096))
    except ValueError:
        raise BackupError("the copy ended without the sender's checksum") from None
    if trailer.get("sha256") != digest.hexdigest():
        raise BackupError(
            f"the copy is damaged: SHA-256 {digest.hexdigest()[:16]}... here, "
            f"{str(trailer.get('sha256'))[:16]}... at the source"
        )
    return {"size": size, "sha256": digest.hexdigest(), "mtime": float(header["mtime"])}


def fetch(server: dict, opts: Options, dest: Path) -> dict:
    proc = subprocess.Popen(
        ssh_argv(server, opts), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        got = receive(proc.stdout, dest)
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait(timeout=opts.transfer_timeout_s):
            raise BackupError(f"ssh to {server['host']} exited {proc.returncode}: {err}")
        return got
    except BackupError as exc:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        proc.wait()
        raise BackupError(f"{server['host']}: {exc}" + (f" (ssh: {err})" if err else "")) from None


# ----------------------------------------------------------------------------- one group
def take_backup(group: dict, tls: dict, opts: Options, now: Callable[[], float] = time.time) -> dict:
    """One good backup of ``group`` in the store, or BackupError (and the store as it was)."""
    t0 = now()
    S.check_group(group["name"], "the backup config's group name")  # it names a directory
    conns = {s["host"]: client(s, group, tls) for s in group["servers"]}
    try:
        states = [server_state(s, conns[s["host"]]) for s in group["servers"]]
        source = choose_source(states)
        server = next(s for s in group["servers"] if s["host"] == source["host"])
        source_server = identify(conns[server["host"]].info("server"))
        flavor, version = source_server.flavor or "redis", source_server.version
        checker = opts.check_rdb or checker_for(flavor)  # refused before any snapshot is made
        snap = snapshot(conns[server["host"]], server["host"], opts.save_timeout_s)
    finally:
        for c in conns.values():
            c.close()
    folder = opts.store / group["name"]
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    name = f"{S.stamp(snap['saved_at'])}-{server['host']}"
    partial = folder / f"{S.PARTIAL_PREFIX}{name}.rdb"
    partial.unlink(missing_ok=True)
    try:
        got = fetch(server, opts, partial)
        # The file must be the snapshot just made, not one from before it.
        if got["mtime"] < snap["saved_at"] - 1:
            raise BackupError(
                f"{server['host']}: the file sent is from {S.stamp(got['mtime'])}, older than the "
                f"snapshot of {S.stamp(snap['saved_at'])}: is dbfilename or dir not the role's?"
            )
        verdict = S.check_rdb(partial, checker)
        if not verdict["ok"]:
            raise BackupError(f"{server['host']}: {checker} rejects the copy: {verdict['error']}")
        final = folder / f"{name}.rdb"
        os.replace(partial, final)
        S.fsync_dir(folder)
    finally:
        partial.unlink(missing_ok=True)
    manifest = {
        "id": f"{group['name']}/{name}",
        "group": group["name"],
        "instance": server["instance"],
        "source": {"host": server["host"], "address": server["address"], "port": server["port"],
                   "role": "replica" if snap["role"] == "slave" else "primary"},
        "taken_at": snap["saved_at"],
        "taken_at_utc": S.stamp(snap["saved_at"]),
        "repl_offset": snap["repl_offset"],
        "master_replid": snap["master_replid"],
        "keys": verdict["keys"],
        "expires": verdict["expires"],
        "already_expired": verdict["already_expired"],
        "size": got["size"],
        "sha256": got["sha256"],
        "server": flavor,
        "server_version": version,
        "redis_version": version,
        "save_duration_s": snap["duration_s"],
        "cow_bytes": snap["cow_bytes"],
        "duration_s": round(now() - t0, 3),
        "file": final.name,
    }  # fmt: skip
    S.write_atomic(folder / f"{name}.json", (json.dumps(manifest, indent=2) + "\n").encode())
    manifest["pruned"] = S.prune(opts.store, group["name"], opts.hourly, opts.daily)
    return manifest


# ----------------------------------------------------------------------------- a run
def run(config: dict, opts: Options, only: str | None = None) -> tuple[list[dict], str]:
    """Back up every group (or ``only``); returns the results and the metrics text."""
    groups = [g for g in config["groups"] if only in (None, g["name"])]
    if not groups:
        known = ", ".join(g["name"] for g in config["groups"]) or "none"
        raise BackupError(f"no group {only!r} in the backup config (it has: {known})")
    results, metrics = [], []
    for group in groups:
        start = time.time()
        S.remove_partials(opts.store / group["name"], older_than_s=0)
        try:
            manifest = take_backup(group, config.get("tls") or {}, opts)
            result = {"group": group["name"], "ok": True, "backup": manifest}
        except BackupError as exc:
            result = {"group": group["name"], "ok": False, "error": str(exc)}
        except Exception as exc:  # a run must still say what happened in its metrics
            result = {"group": group["name"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        result["duration_s"] = round(time.time() - start, 3)
        results.append(result)
        stored = S.list_backups(opts.store, group["name"])
        newest = stored[-1].manifest if stored else {}
        metrics.append(
            {
                "group": group["name"],
                "last_success": newest.get("taken_at"),
                "last_run": time.time(),
                "ok": 1 if result["ok"] else 0,
                "size": newest.get("size"),
                "keys": newest.get("keys"),
                "duration": result["duration_s"],
                "stored": len(stored),
            }
        )
    return results, S.metrics_text(metrics)
