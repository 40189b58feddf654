"""Restore a stored backup onto a scratch redis-server on the backup host, and read it back.

For the backup drill (and for looking inside a backup): the backup is linked (or copied) into a
private directory and loaded by a redis-server that listens only on a Unix socket there (no
port, no password to leak), while its checksum is verified against the manifest. Its content
digest, key counts and the expiry times of a sample are read, then the server and its
directory are removed. The restore time (RTO) runs from the start until the server answers
with its data loaded and the checksum is verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from redisops.backup import store as S
from redisops.backup.digest import digest, expiry_sample, keys_under
from redisops.backup.store import BackupError


def in_sample(key: bytes) -> bool:
    """A sixteenth of the keys, chosen by their name: the same sample on every server."""
    return hashlib.sha256(key).digest()[0] < 16


def sample_expiry(conn, pattern: str) -> dict[str, int]:
    keys = [k for k in keys_under(conn, pattern) if in_sample(k)]
    return {k.hex(): v for k, v in expiry_sample(conn, keys).items()}


def scratch_config(work: Path) -> str:
    """The scratch server's redis.conf: a Unix socket in ``work`` only, nothing saved, and every
    RDB payload sanitized as it loads (a backup is data from another host: a damaged or crafted
    file must be refused, not trusted by the server that reads it)."""
    return (
        f"port 0\nunixsocket {work / 'redis.sock'}\nunixsocketperm 700\ndir {work}\ndbfilename dump.rdb\n"
        'appendonly no\nsave ""\ndaemonize no\nprotected-mode yes\nlogfile ""\n'
        "sanitize-dump-payload yes\n"
    )


# The transient unit a restore verification runs in (sandbox_command): a crafted dump that
# exploits the loading server finds no network, no home, no /tmp of the host, a read-only
# system, no device, no capability, and only its scratch directory to write to.
SANDBOX_PROPERTIES = (
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateNetwork=yes",
    "PrivateDevices=yes",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "RestrictSUIDSGID=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "LockPersonality=yes",
    "UMask=0077",
)
# Said when the backup host cannot run the sandbox: the verification then does not run at all.
NO_SYSTEMD = (
    "the restore verification runs in a systemd sandbox (systemd-run), and this host has no running "
    "systemd or no systemd-run: it was not started"
)


def sandbox_argv(
    user: str, scratch_dir: str, command: list[str], env: dict[str, str] | None = None
) -> list[str]:
    """systemd-run's argv for ``command`` as ``user`` in a transient sandbox that may write only
    ``scratch_dir``; it waits for the end, pipes the output back and leaves no unit behind."""
    argv = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--service-type=exec",
            f"--uid={user}", f"--gid={user}"]  # fmt: skip
    argv += [f"--property={prop}" for prop in (*SANDBOX_PROPERTIES, f"ReadWritePaths={scratch_dir}")]
    argv += [f"--setenv={key}={value}" for key, value in sorted((env or {}).items())]
    return [*argv, "--", *command]


def sandbox_command(
    user: str, scratch_dir: str, command: list[str], env: dict[str, str] | None = None
) -> str:
    """A shell line running ``command`` in the sandbox, or failing with NO_SYSTEMD (exit 69) where
    systemd does not run: never unsandboxed."""
    check = "[ -d /run/systemd/system ] && command -v systemd-run >/dev/null"
    return f"if ! {{ {check}; }}; then echo {shlex.quote(NO_SYSTEMD)} >&2; exit 69; fi; " + shlex.join(
        sandbox_argv(user, scratch_dir, command, env)
    )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _wait_ready(conn, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BackupError(f"the scratch redis-server exited {proc.returncode}: {log.read_text()[-500:]}")
        try:
            if conn.ping() and not int(conn.info("persistence")["loading"]):
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise BackupError(f"the scratch redis-server did not load the backup within {timeout:.0f} s")
        time.sleep(0.02)


def scratch_restore(
    store: Path, group: str, ident: str, pattern: str, work_parent: Path,
    alter_one_key: bool = False, timeout: float = 3600.0, copy: bool = False,
) -> dict:  # fmt: skip
    """``copy``: copy the backup into the scratch directory, never hard-link it (in the sandbox,
    whose scratch directory is writable, a link would let the server reach the stored file)."""
    import redis

    t0 = time.time()
    backup = S.find_backup(store, group, ident)
    # The server the backup came from (a Valkey RDB needs valkey-server; manifests before the
    # flavour was recorded are Redis's), from a fixed table: a manifest never names a program.
    binary = S.program_for(backup.manifest.get("server", "redis"), "server")
    work = Path(tempfile.mkdtemp(prefix="scratch-", dir=work_parent))
    proc = None
    try:
        # A hard link, not a copy, where it can (the server only reads it: no save is configured).
        try:
            if copy:
                raise OSError("a copy was asked for")
            os.link(backup.rdb, work / "dump.rdb")
        except OSError:
            shutil.copyfile(backup.rdb, work / "dump.rdb")
        sock = work / "redis.sock"
        (work / "redis.conf").write_text(scratch_config(work))
        log = work / "redis.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([binary, str(work / "redis.conf")], stdout=out, stderr=out)
        # While it loads (nobody can reach it yet: a Unix socket in a private directory), the
        # file is checked against its manifest, whose file redis-check-rdb accepted when it was
        # stored; a second full read by the checker would only double the restore time.
        verdict = S.verify_stored(backup, full=False)
        t_verified = time.time()
        conn = redis.Redis(unix_socket_path=str(sock), socket_timeout=30)
        _wait_ready(conn, proc, log, timeout)
        t_ready = time.time()
        loaded = conn.info("persistence")
        sanitized = conn.config_get("sanitize-dump-payload")
        altered = None
        if alter_one_key:  # the drill's self-test: a restore that differs must fail it
            key = next(k for k in keys_under(conn, pattern) if conn.type(k) == b"string")
            conn.set(key, b"altered after restore", keepttl=True)
            altered = key.hex()
        result = {
            "id": backup.id,
            "manifest": backup.manifest,
            "check": verdict,
            "verify_s": round(t_verified - t0, 3),
            "load_s": round(t_ready - t0, 3),
            "rto_s": round(max(t_ready, t_verified) - t0, 3),
            "keys_loaded": int(loaded.get("rdb_last_load_keys_loaded", -1)),
            "keys_expired_on_load": int(loaded.get("rdb_last_load_keys_expired", 0)),
            "dbsize": conn.dbsize(),
            "digest": digest(conn, pattern),
            "expiry_sample": sample_expiry(conn, pattern),
            "altered": altered,
            # Loaded with every payload checked (the server says so itself).
            "sanitized": "yes" in {_text(v) for v in sanitized.values()},
        }
        with contextlib.suppress(redis.RedisError):  # else killed below
            conn.shutdown(nosave=True)
        return result
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
