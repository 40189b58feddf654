"""What the memory checks read from a real redis-server on 127.0.0.1 (no lab), as the role's
compliance user: a key's real MEMORY USAGE makes PRF-09 fail where PRF-05's length passes."""

from __future__ import annotations

import shutil
import time

import pytest

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, key_label
from redisops.compliance.gather import gather_redis
from redisops.compliance.model import FAIL, PASS
from redisops.compliance.settings import Thresholds
from redisops.inventory import Endpoint

from .test_counters_local import CHECKER_PASSWORD, Server

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
MB = 1024 * 1024


@pytest.fixture
def server(tmp_path):
    local = Server(tmp_path)
    yield local
    local.stop()


def _gather(server: Server):
    endpoint = Endpoint(
        kind="redis", target=f"local:{server.port}", host="local", address="127.0.0.1", port=server.port,
        instance="main", username="checker", password=CHECKER_PASSWORD,
    )  # fmt: skip
    facts = gather_redis(endpoint, Thresholds())
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
