"""What the memory checks read from a real redis-server on 127.0.0.1 (no lab), as the role's
compliance user: a key's real MEMORY USAGE makes PRF-09 fail where PRF-05's length passes, and
CLIENT LIST, bounded and without addresses, finds a subscriber's real output buffer (MEM-11)."""

from __future__ import annotations

import json
import shutil
import socket
import time

import pytest

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, key_label
from redisops.compliance.gather import CLIENT_FIELDS, gather_redis
from redisops.compliance.model import FAIL, PASS, SKIPPED
from redisops.compliance.settings import Thresholds
from redisops.inventory import Endpoint

from .test_counters_local import ADMIN_PASSWORD, CHECKER_PASSWORD, Server

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
MB = 1024 * 1024


@pytest.fixture
def server(tmp_path):
    local = Server(tmp_path)
    yield local
    local.stop()


def _endpoint(server: Server) -> Endpoint:
    return Endpoint(
        kind="redis", target=f"local:{server.port}", host="local", address="127.0.0.1", port=server.port,
        instance="main", username="checker", password=CHECKER_PASSWORD,
    )  # fmt: skip


def _gather(server: Server):
    facts = gather_redis(_endpoint(server), Thresholds())
    assert facts.error == "" and facts.gaps == [], (facts.error, facts.gaps)
    return facts


def _judged(facts, check_id: str):
    (result,) = run_checks(ClusterFacts(redis=[facts], gathered_at=time.time()), only=[check_id]).results
    return result


def test_a_50_mb_hash_of_10_fields_fails_prf09_and_not_prf05(server):
    admin = server.admin()
    admin.hset("app:profile:42", mapping={f"doc{i}": "x" * (5 * MB) for i in range(10)})
    admin.set("app:item:1", "small")
    facts = _gather(server)
    (big,) = [k for k in facts.keys["keys"] if k["name"] == "app:profile:42"]
    # 50 MB of values, in the allocator's size classes: more than asked, never less.
    assert big["type"] == "hash" and big["length"] == 10 and 50 * MB < big["bytes"] < 80 * MB, big
    prf09 = _judged(facts, "PRF-09")
    assert prf09.status == FAIL, prf09
    assert f"{key_label('app:profile:42')} (hash, length 10, " in prf09.message, prf09.message
    assert _judged(facts, "PRF-05").status == PASS
    admin.unlink("app:profile:42")
    assert _judged(_gather(server), "PRF-09").status == PASS


def test_client_list_is_read_bounded_and_without_addresses_and_finds_the_worst_client(server):
    """A subscriber that never reads while 40 MB are published to it: its real output buffer."""
    admin = server.admin()
    # Redis's own pubsub limit would drop it at 32 MB: lifted, so the buffer is there to be seen.
    admin.config_set("client-output-buffer-limit", "pubsub 0 0 0")
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(
        b"AUTH admin " + ADMIN_PASSWORD.encode() + b"\r\nCLIENT SETNAME slow-reader\r\nSUBSCRIBE news\r\n"
    )
    time.sleep(0.2)
    for _ in range(40):
        admin.publish("news", "x" * MB)
    idle = [server.admin() for _ in range(5)]
    for other in idle:
        other.ping()
    endpoint_facts = gather_redis(_endpoint(server), Thresholds(client_list_keep=3))
    assert endpoint_facts.gaps == [], endpoint_facts.gaps
    clients = endpoint_facts.clients
    assert clients["listed"] >= 8 and len(clients["kept"]) == 3  # admin, 5 idle, the reader, the check
    worst = clients["kept"][0]
    assert worst["name"] == "slow-reader" and worst["type"] == "pubsub" and worst["omem"] > 20 * MB, worst
    assert all(set(c) <= {"type", *CLIENT_FIELDS} for c in clients["kept"])
    assert "127.0.0.1" not in json.dumps(clients)
    mem11 = _judged(endpoint_facts, "MEM-11")
    assert (
        mem11.status == FAIL and "pubsub client id=" in mem11.message and "name=slow-reader" in mem11.message
    )
    slow.close()
    for other in idle:
        other.close()


LIBRARY = "#!lua name=app{i}\nredis.register_function('hello{i}', function(keys, args) return '{pad}' end)"


def test_loaded_functions_raise_the_functions_memory_mem13_judges(server):
    admin = server.admin()
    empty = _gather(server)
    before = sum(empty.info.get(n, 0) for n in ("used_memory_functions", "used_memory_vm_functions"))
    for i in range(50):
        admin.function_load(LIBRARY.format(i=i, pad="x" * 2000))
    facts = _gather(server)
    after = sum(facts.info.get(n, 0) for n in ("used_memory_functions", "used_memory_vm_functions"))
    assert facts.info["number_of_libraries"] == 50 and after > before + 50 * 2000, (before, after)
    judged = run_checks(
        ClusterFacts(redis=[facts], gathered_at=time.time()),
        Thresholds(functions_memory_max_bytes=before + 50 * 2000),
        only=["MEM-13"],
    ).results
    assert judged[0].status == FAIL and "for 50 libraries loaded" in judged[0].message, judged
    assert _judged(facts, "MEM-13").status == PASS  # far below the default 3,000,000 bytes


def test_evicted_scripts_are_judged_where_the_server_reports_them(server):
    admin = server.admin()
    if "evicted_scripts" not in admin.info("stats"):
        result = _judged(_gather(server), "MEM-12")
        assert result.status == SKIPPED and "has no evicted_scripts" in result.message
        return
    for i in range(600):  # scripts with their values built in: Redis 8 keeps 500 of them
        admin.eval(f"return {i}", 0)
    result = _judged(_gather(server), "MEM-12")
    assert result.status == FAIL and "EVAL scripts evicted from the script cache" in result.message
