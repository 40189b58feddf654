"""The backup path's parts against real redis-server processes on 127.0.0.1 (no lab): the
role's backup user can snapshot and read nothing, a snapshot is waited for properly, the send
command's frame arrives whole, redis-check-rdb counts the keys, and a server started on the
copy holds the same data (digest and expiry times)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

from redisops.backup import store as S
from redisops.backup.digest import digest, expiry_sample, keys_under
from redisops.backup.take import receive, snapshot

REPO = Path(__file__).resolve().parents[2]
SEND = REPO / "roles/redis_backup/files/redisops-backup-send"
ADMIN = "admin-secret-0123456789abcdefghij"
BACKUP = "backup-secret-0123456789abcdefghi"

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def _backup_user_rules() -> str:
    """The rules redis_server gives its backup user, read from the role itself."""
    users = yaml.safe_load((REPO / "roles/redis_server/vars/main.yml").read_text())[
        "__redis_server_builtin_users"
    ]
    user = next(u for u in users if "backup" in u["password"])
    return " ".join(user["commands"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(work: Path, extra: str = "") -> tuple[subprocess.Popen, int]:
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    (work / "redis.conf").write_text(
        f'port {port}\nbind 127.0.0.1\ndir {work}\nsave ""\nappendonly no\nlogfile ""\n'
        "repl-diskless-sync-delay 0\n"
        "user default off resetchannels -@all\n"
        f"user admin on >{ADMIN} ~* &* +@all\n"
        f"user backup on >{BACKUP} resetchannels {_backup_user_rules()}\n" + extra
    )
    proc = subprocess.Popen(["redis-server", str(work / "redis.conf")], stdout=subprocess.DEVNULL)
    conn = redis.Redis(port=port, username="admin", password=ADMIN)
    deadline = time.monotonic() + 10
    while True:
        try:
            if conn.ping() and not int(conn.info("persistence")["loading"]):
                return proc, port
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)


@pytest.fixture
def pair(tmp_path):
    """A primary with data of every type, and a replica of it."""
    procs = []
    p, pport = _start(tmp_path / "primary")
    procs.append(p)
    r, rport = _start(
        tmp_path / "replica", f"replicaof 127.0.0.1 {pport}\nmasteruser admin\nmasterauth {ADMIN}\n"
    )
    procs.append(r)
    primary = redis.Redis(port=pport, username="admin", password=ADMIN)
    for i in range(300):
        primary.set(f"app:s:{i}", bytes([i % 256]) * (i % 50 + 1), px=3_600_000 + i if i % 4 == 0 else None)
    primary.hset("app:h", mapping={f"f{i}": i for i in range(30)})
    primary.rpush("app:l", *range(40))
    primary.sadd("app:set", *range(40))
    primary.zadd("app:z", {f"m{i}": i / 3 for i in range(40)})
    primary.pfadd("app:hll", *range(100))
    for i in range(50):
        primary.xadd("app:x", {"i": i})
    assert primary.execute_command("WAIT", 1, 5000) == 1
    yield primary, redis.Redis(port=rport, username="admin", password=ADMIN), rport, tmp_path
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def test_the_backup_user_snapshots_and_reads_nothing(pair):
    _, _, rport, tmp_path = pair
    backup = redis.Redis(port=rport, username="backup", password=BACKUP, decode_responses=True)
    for command in (("GET", "app:s:1"), ("SCAN", 0), ("CONFIG", "GET", "*"), ("FLUSHALL",), ("KEYS", "*")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            backup.execute_command(*command)
    snap = snapshot(backup, "replica", timeout_s=30)
    assert snap["role"] == "slave" and snap["repl_offset"] > 0
    assert snap["saved_at"] >= int(snap["started_at"]) and (tmp_path / "replica/dump.rdb").is_file()


def test_a_snapshot_copy_restores_to_identical_data(pair, tmp_path):
    primary, replica, rport, _ = pair
    backup = redis.Redis(port=rport, username="backup", password=BACKUP, decode_responses=True)
    snapshot(backup, "replica", timeout_s=30)
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps({"main": str(tmp_path / "replica/dump.rdb")}))
    # The send command as sshd runs it (the forced command), read by the receiving side.
    send = subprocess.Popen(
        [sys.executable, str(SEND), str(sources)], stdout=subprocess.PIPE,
        env={**os.environ, "SSH_ORIGINAL_COMMAND": "send main"},
    )  # fmt: skip
    got = receive(send.stdout, tmp_path / "copy.rdb")
    assert send.wait(10) == 0
    assert got["sha256"] == S.sha256_file(tmp_path / "copy.rdb")
    verdict = S.check_rdb(tmp_path / "copy.rdb")
    assert verdict["ok"] and verdict["keys"] == primary.dbsize() and verdict["expires"] == 75
    # A server started on the copy holds exactly the data and expiry times of the source.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy(tmp_path / "copy.rdb", restored_dir / "dump.rdb")
    proc, port = _start(restored_dir)
    try:
        restored = redis.Redis(port=port, username="admin", password=ADMIN)
        assert digest(restored) == digest(primary) == digest(replica)
        sample = keys_under(primary, "app:s:*")
        assert expiry_sample(restored, sample) == expiry_sample(primary, sample)
        # And a single changed value shows.
        restored.hset("app:h", "f1", "changed")
        assert digest(restored) != digest(primary)
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_send_command_refuses_anything_else(tmp_path):
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps({"main": str(tmp_path / "missing.rdb")}))
    for asked, says in (("cat /etc/shadow", "usage: send INSTANCE"), ("send other", "is not one this host"),
                        ("send main", "cannot open")):  # fmt: skip
        out = subprocess.run(
            [sys.executable, str(SEND), str(sources)], capture_output=True, text=True, check=False,
            env={**os.environ, "SSH_ORIGINAL_COMMAND": asked},
        )  # fmt: skip
        assert out.returncode == 1 and says in json.loads(out.stdout)["error"], asked


def test_the_scratch_restore_reads_back_what_the_source_holds(pair, tmp_path):
    """What the backup drill does on the backup host, here on one machine."""
    from redisops.backup.scratch import sample_expiry, scratch_restore

    primary, _, rport, _ = pair
    backup = redis.Redis(port=rport, username="backup", password=BACKUP, decode_responses=True)
    snap = snapshot(backup, "replica", timeout_s=30)
    folder = tmp_path / "store" / "g"
    folder.mkdir(parents=True)
    name = f"{S.stamp(snap['saved_at'])}-replica"
    shutil.copy(tmp_path / "replica/dump.rdb", folder / f"{name}.rdb")
    verdict = S.check_rdb(folder / f"{name}.rdb")
    manifest = {"taken_at": snap["saved_at"], "size": (folder / f"{name}.rdb").stat().st_size,
                "sha256": S.sha256_file(folder / f"{name}.rdb"), "keys": verdict["keys"]}  # fmt: skip
    (folder / f"{name}.json").write_text(json.dumps(manifest))

    got = scratch_restore(tmp_path / "store", "g", "latest", "app:*", tmp_path)
    assert got["digest"] == digest(primary, "app:*")
    assert got["expiry_sample"] == sample_expiry(primary, "app:*") and got["expiry_sample"]
    assert got["keys_loaded"] + got["keys_expired_on_load"] == manifest["keys"]
    assert 0 < got["load_s"] <= got["rto_s"] and got["check"]["ok"]
    assert got["sanitized"]  # every payload of the backup was checked as it loaded
    altered = scratch_restore(tmp_path / "store", "g", "latest", "app:*", tmp_path, alter_one_key=True)
    assert altered["digest"]["sha256"] != got["digest"]["sha256"]
    assert (
        altered["digest"]["keys"] == got["digest"]["keys"]
        and altered["expiry_sample"] == got["expiry_sample"]
    )
    # Nothing is left behind: no scratch directory, and the stored file is untouched.
    assert not list(tmp_path.glob("scratch-*"))
    assert S.sha256_file(folder / f"{name}.rdb") == manifest["sha256"]
    # A damaged stored file is refused.
    with open(folder / f"{name}.rdb", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\0\0\0\0")
    with pytest.raises(S.BackupError, match="is damaged"):
        scratch_restore(tmp_path / "store", "g", "latest", "app:*", tmp_path)


@pytest.mark.parametrize(
    "server", ["sh", "/bin/sh", "../../bin/sh", "redis-server", "keydb", None, ["redis"]]
)
def test_the_scratch_restore_runs_no_program_a_manifest_names(tmp_path, monkeypatch, server):
    """A manifest is data from a host: its server picks redis-server or valkey-server, nothing else."""
    from redisops.backup import scratch

    folder = tmp_path / "store" / "g"
    folder.mkdir(parents=True)
    (folder / "20240101T000000Z-r1.rdb").write_bytes(b"REDIS0011")
    manifest = {"taken_at": 1704067200, "size": 9, "sha256": "0" * 64, "keys": 0, "server": server}
    (folder / "20240101T000000Z-r1.json").write_text(json.dumps(manifest))
    started = []
    monkeypatch.setattr(scratch.subprocess, "Popen", lambda *a, **k: started.append(a))
    with pytest.raises(S.BackupError, match="not one of the servers the kit knows"):
        scratch.scratch_restore(tmp_path / "store", "g", "latest", "*", tmp_path)
    assert not started and not list(tmp_path.glob("scratch-*"))


@pytest.mark.parametrize("group", ["../g", "g/../../etc", "", ".hidden", "g g", "g;rm", "a" * 65])
def test_a_group_that_is_no_sentinel_group_name_never_reaches_a_path(tmp_path, group):
    from redisops.backup.scratch import scratch_restore

    (tmp_path / "store").mkdir()
    with pytest.raises(S.BackupError, match=r"--group .* is not a Sentinel group name"):
        scratch_restore(tmp_path / "store", group, "latest", "*", tmp_path)
    with pytest.raises(S.BackupError, match="is not a Sentinel group name"):
        S.find_backup(tmp_path / "store", group)
