"""Redis and Valkey on 127.0.0.1 (no lab): each is named with its own version, Valkey's
replication password is masked under its own name, and a replica on an older RDB format than
its primary really fails its full sync, as HA-11 says. Each test skips without its binaries
(valkey-server from PATH, or REDISOPS_VALKEY_SERVER=/path/to/valkey-server)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts
from redisops.compliance.gather import gather_redis
from redisops.compliance.model import FAIL, Severity
from redisops.compliance.server import Server, loads_rdb, rdb_format
from redisops.compliance.settings import Thresholds
from redisops.inventory import Endpoint

BINARIES = {
    "redis": shutil.which("redis-server"),
    "valkey": os.environ.get("REDISOPS_VALKEY_SERVER") or shutil.which("valkey-server"),
}
REPLICATION_SECRET = "replication-secret-0123456789abcdef"


def _need(*flavors: str) -> None:
    for flavor in flavors:
        if not BINARIES[flavor]:
            pytest.skip(f"{flavor}-server is not installed")


def _version(flavor: str) -> str:
    out = subprocess.run([BINARIES[flavor], "--version"], capture_output=True, text=True, check=True).stdout
    return re.search(r"v=(\S+)", out).group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Local:
    """One server on 127.0.0.1 with a private directory, no persistence, and its log."""

    def __init__(self, flavor: str, work: Path, *extra: str):
        self.port = _free_port()
        self.log = work / f"{flavor}-{self.port}.log"
        conf = work / f"{flavor}-{self.port}.conf"
        conf.write_text(
            f'port {self.port}\nbind 127.0.0.1\ndir {work}\nsave ""\nappendonly no\n'
            f'dbfilename {flavor}-{self.port}.rdb\nlogfile "{self.log}"\n' + "".join(f"{x}\n" for x in extra)
        )
        conf.chmod(0o600)
        self.proc = subprocess.Popen([BINARIES[flavor], str(conf)], stdout=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port, decode_responses=True)
        for _ in range(100):
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"{flavor}-server on {self.port} did not start: {self.log.read_text()[-500:]}")

    def endpoint(self) -> Endpoint:
        return Endpoint(
            kind="redis", target=f"local:{self.port}", host=f"local-{self.port}", address="127.0.0.1",
            port=self.port, instance="main", expected={"group": "local"},
        )  # fmt: skip

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def started(tmp_path):
    servers: list[Local] = []

    def start(flavor: str, *extra: str) -> Local:
        servers.append(Local(flavor, tmp_path, *extra))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("flavor", ["redis", "valkey"])
def test_each_server_is_named_with_its_own_version(started, flavor):
    _need(flavor)
    local = started(flavor, f"masterauth {REPLICATION_SECRET}")
    facts = gather_redis(local.endpoint(), Thresholds())
    assert facts.error == "", facts.error
    assert facts.server == {"flavor": flavor, "version": _version(flavor), "mode": "standalone"}
    # The network gatherer never asks CONFIG GET (it would answer masterauth): the hosts' reader
    # gives the configuration, masked on the host (tests/integration/test_inspector_local.py).
    assert REPLICATION_SECRET not in str(facts)
    assert facts.config == {}


def test_a_replica_on_an_older_rdb_format_fails_its_full_sync(started):
    _need("redis", "valkey")
    primary_server, replica_server = Server("valkey", _version("valkey")), Server("redis", _version("redis"))
    if loads_rdb(replica_server, rdb_format(primary_server)) is not False:
        pytest.skip(f"{replica_server} loads the snapshots of {primary_server}")
    primary = started("valkey")
    primary.client.set("app:item:1", "x")
    replica = started("redis", f"replicaof 127.0.0.1 {primary.port}")
    deadline = time.monotonic() + 30
    while "Can't handle RDB format version" not in replica.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"Can't handle RDB format version {rdb_format(primary_server)}" in replica.log.read_text()
    assert replica.client.info("replication")["master_link_status"] == "down"
    # HA-11 says so, and why.
    facts = [gather_redis(s.endpoint(), Thresholds()) for s in (primary, replica)]
    group = {"name": "local", "instance": "main", "servers": [f.host for f in facts], "sentinels": []}
    found = [r for r in run_checks(ClusterFacts(redis=facts, groups=[group]), only=["HA-11"]).results]
    high = [r for r in found if r.status == FAIL and r.severity == Severity.HIGH]
    assert [r.target for r in high] == [f"local:{replica.port}"], [(r.status, r.message) for r in found]


def test_a_valkey_replica_loads_a_redis_7_primarys_snapshots(started):
    _need("redis", "valkey")
    primary_server = Server("redis", _version("redis"))
    if not loads_rdb(Server("valkey", _version("valkey")), rdb_format(primary_server) or 99):
        pytest.skip(f"valkey {_version('valkey')} does not load the snapshots of {primary_server}")
    primary = started("redis")
    primary.client.set("app:item:1", "x")
    replica = started("valkey", f"replicaof 127.0.0.1 {primary.port}")
    deadline = time.monotonic() + 30
    while (
        replica.client.info("replication").get("master_link_status") != "up" and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert replica.client.get("app:item:1") == "x"
