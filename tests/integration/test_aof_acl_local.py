"""PER-07's premise on a real redis-server (no lab): with the AOF on, a default user switched off
without rights loses every MULTI/EXEC at a restart, and the role's default-user line keeps them.
The line is read from the role's own template, and PER-07 judges both servers' live ACL."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "admin-secret-0123456789abcdefghij"
OLD_LINE = "user default off resetchannels -@all"

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def role_default_line() -> str:
    template = (REPO / "roles/redis_server/templates/etc/redis/users.acl.j2").read_text()
    return next(line for line in template.splitlines() if line.startswith("user default "))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, work: Path, default_line: str):
        work.mkdir()
        self.port = _free_port()
        (work / "users.acl").write_text(f"{default_line}\nuser admin on >{ADMIN_PASSWORD} ~* &* +@all\n")
        self.conf = work / "redis.conf"
        self.conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\ndir {work}\nappendonly yes\nsave ""\n'
            f"aclfile {work / 'users.acl'}\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> redis.Redis:
        self.proc = subprocess.Popen(["redis-server", str(self.conf)], stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, username="admin", password=ADMIN_PASSWORD, decode_responses=True)
        for _ in range(100):
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def restart(self) -> redis.Redis:
        self.stop()
        return self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the AOF is flushed, and no RDB is written (save "")
            self.proc.wait(timeout=30)


def _per07(client: redis.Redis) -> str:
    facts = {
        "target": "local:0", "host": "local", "instance": "main", "address": "127.0.0.1", "port": 0,
        "info": client.info("all"), "config": client.config_get("*"), "acl": client.acl_list(),
    }  # fmt: skip
    cluster = ClusterFacts.from_dict({"redis": [facts], "sentinels": [], "hosts": []})
    return run_checks(cluster, only=["PER-07"]).results[0].status


@pytest.mark.parametrize(("line", "kept", "verdict"), [(OLD_LINE, False, "fail"), (None, True, "pass")])
def test_transactions_in_the_aof_survive_a_restart_only_with_the_roles_default_user(
    tmp_path, line, kept, verdict
):
    server = Server(tmp_path / "server", line or role_default_line())
    try:
        client = server.start()
        with client.pipeline(transaction=True) as tx:
            tx.zadd("app:board", {"player:1": 3}).pexpireat("app:board", 9_999_999_999_999).execute()
        client.set("app:plain", "1")
        assert _per07(client) == verdict
        client = server.restart()
        assert client.exists("app:plain") == 1
        assert client.exists("app:board") == int(kept)
        # Anonymous clients stay out either way.
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).get("app:plain")
    finally:
        server.stop()
