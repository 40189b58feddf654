"""Cumulative counters against a real redis-server on 127.0.0.1 (no lab): `redisops check
--state` judges a rejected connection (CON-02) and a KEYS call (PRF-03) once, in the run that
follows them, and a restart starts the count again from the server's start."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml

from redisops.cli import main
from redisops.inventory import Endpoint, Targets, write_targets

REPO = Path(__file__).resolve().parents[2]
CHECKER_PASSWORD = "checker-secret-0123456789abcdefgh"
ADMIN_PASSWORD = "admin-secret-0123456789abcdefghij"
APP_PASSWORD = "app-secret-0123456789abcdefghijklm"  # an application user with GET and SET on app:*

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def _compliance_user_rules() -> str:
    """The rules redis_server gives its compliance user, read from the role itself."""
    users = yaml.safe_load((REPO / "roles/redis_server/vars/main.yml").read_text())[
        "__redis_server_builtin_users"
    ]
    user = next(u for u in users if "compliance" in u["password"])
    return " ".join([*(user.get("keys") or []), *user["commands"]])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One redis-server with the kit's compliance user; restartable on the same port."""

    def __init__(self, work: Path):
        self.port = _free_port()
        self.conf = work / "redis.conf"
        self.conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\ndir {work}\nsave ""\nappendonly no\nlogfile ""\n'
            "user default off resetchannels -@all\n"
            f"user admin on >{ADMIN_PASSWORD} ~* &* +@all\n"
            f"user checker on >{CHECKER_PASSWORD} resetchannels {_compliance_user_rules()}\n"
            f"user app on >{APP_PASSWORD} resetchannels ~app:* -@all +get +set\n"
        )
        self.conf.chmod(0o600)
        self.proc = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", str(self.conf)], stdout=subprocess.DEVNULL)
        for _ in range(200):
            try:
                self.admin().ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def admin(self) -> redis.Redis:
        return redis.Redis(port=self.port, username="admin", password=ADMIN_PASSWORD, socket_timeout=5)

    def reject_one(self) -> None:
        """A client turned away: maxclients 1 while the admin holds the only slot."""
        admin = self.admin()
        before = admin.info("stats")["rejected_connections"]
        admin.config_set("maxclients", 1)
        try:
            # A plain socket: a client library would retry, and be rejected again.
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as turned_away:
                assert turned_away.recv(200).startswith(b"-ERR max number of clients reached")
        finally:
            admin.config_set("maxclients", 10000)
        assert admin.info("stats")["rejected_connections"] == before + 1
        admin.close()

    def denied(self, times: int) -> None:
        """The application user runs commands and touches keys its ACL rules deny."""
        app = redis.Redis(port=self.port, username="app", password=APP_PASSWORD, socket_timeout=5)
        for i in range(times):
            with pytest.raises(redis.exceptions.NoPermissionError):
                app.get(f"other:{i}") if i % 2 else app.delete("app:1")
        app.close()

    def refuse_writes_at_maxmemory(self) -> None:
        """Writes that need memory beyond maxmemory, with noeviction: OOM errors."""
        admin = self.admin()
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)  # below what the server already uses: every write is refused
        try:
            for i in range(3):
                with pytest.raises(redis.exceptions.OutOfMemoryError):
                    admin.set(f"app:blob:{i}", "x" * 1000)
        finally:
            admin.config_set("maxmemory", 0)
        admin.close()


@pytest.fixture
def server(tmp_path):
    local = Server(tmp_path)
    yield local
    local.stop()


@pytest.fixture
def check(server, tmp_path):
    """One `redisops check` over the server with the counters in a state file: its results by
    check id (this server's target only), and the state it left."""
    targets = tmp_path / "targets.json"
    endpoint = Endpoint(
        kind="redis", target=f"local:{server.port}", host="local", address="127.0.0.1", port=server.port,
        instance="main", username="checker", password=CHECKER_PASSWORD,
    )  # fmt: skip
    write_targets(Targets(endpoints=[endpoint]), targets)
    state, report = tmp_path / "state" / "counters.json", tmp_path / "report.json"

    def run() -> tuple[dict, dict]:
        argv = ["check", "--targets", str(targets), "--state", str(state), "--no-host-facts"]
        main([*argv, "--format", "json", "--output", str(report)])
        results = json.loads(report.read_text())["results"]
        assert not [r for r in results if r["status"] == "error"], results
        by_id = {r["check"]: r for r in results if r["target"] == endpoint.target}
        return by_id, json.loads(state.read_text())["targets"][endpoint.target]

    return run


def test_a_rejected_connection_fails_con02_once(server, check):
    server.reject_one()
    first, kept = check()
    assert first["CON-02"]["status"] == "fail"
    assert first["CON-02"]["message"].startswith("1 connection rejected since the server started at ")
    assert first["CON-02"]["message"].endswith("(no earlier run to compare with): rejected_connections 1, "
                                               "maxclients 10000")  # fmt: skip
    assert kept["counters"]["rejected_connections"] == 1 and len(kept["run_id"]) == 40
    second, _ = check()
    assert second["CON-02"]["status"] == "pass", second["CON-02"]
    server.reject_one()
    third, _ = check()
    assert third["CON-02"]["status"] == "fail"
    assert third["CON-02"]["message"].startswith("1 connection rejected since the previous run at ")
    assert "rejected_connections 2" in third["CON-02"]["message"]


def test_a_keys_call_fails_prf03_once(server, check):
    server.admin().keys("app:*")
    first, _ = check()
    assert (
        first["PRF-03"]["status"] == "fail"
        and "KEYS 1 time since the server started" in first["PRF-03"]["message"]
    )
    second, _ = check()
    assert second["PRF-03"]["status"] == "pass", second["PRF-03"]


def test_after_a_restart_the_counters_count_from_it(server, check):
    server.reject_one()
    _, before = check()
    server.stop()
    server.start()
    server.reject_one()
    after, kept = check()
    assert kept["run_id"] != before["run_id"]
    assert after["CON-02"]["status"] == "fail"
    assert after["CON-02"]["message"].startswith("1 connection rejected since the server restarted at ")
    assert ", after the previous run at " in after["CON-02"]["message"]


def test_config_resetstat_is_seen_even_when_a_counter_is_back_where_it_was(server, check):
    """rejected_connections 1, CONFIG RESETSTAT, one more refusal: 1 again, yet one is new."""
    server.reject_one()
    check()
    server.admin().config_resetstat()
    server.reject_one()
    after, _ = check()
    assert after["CON-02"]["status"] == "fail"
    assert after["CON-02"]["message"].startswith(
        "1 connection rejected since the counters were reset (CONFIG RESETSTAT) after the previous run at "
    )


def test_acl_denials_fail_sec15_until_they_stop(server, check):
    server.denied(20)  # 20 in the server's first seconds: counted over a minute, 20 a minute
    first, kept = check()
    assert kept["counters"]["errorstat_NOPERM"] == 20
    assert first["SEC-17"]["status"] == "fail", first["SEC-17"]
    assert first["SEC-17"]["message"].startswith("20 commands denied with NOPERM since the server started")
    second, _ = check()
    assert second["SEC-17"]["status"] == "pass", second["SEC-17"]


def test_writes_refused_at_maxmemory_fail_mem09_once(server, check):
    first, _ = check()
    assert first["MEM-09"]["status"] == "pass", first["MEM-09"]
    server.refuse_writes_at_maxmemory()
    second, kept = check()
    assert kept["counters"]["errorstat_OOM"] == 3
    assert second["MEM-09"]["status"] == "fail", second["MEM-09"]
    assert second["MEM-09"]["message"].startswith("3 commands refused with OOM since the previous run at ")
    third, _ = check()
    assert third["MEM-09"]["status"] == "pass", third["MEM-09"]
