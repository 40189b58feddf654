"""Gathering against a real redis-server on 127.0.0.1 (no lab): the role's own compliance user
suffices, secrets never reach the facts, and the key sample stays within its budget."""

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

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts
from redisops.compliance.gather import gather_redis
from redisops.compliance.model import ERROR, FAIL, SKIPPED
from redisops.compliance.settings import KeyClass, Thresholds
from redisops.inventory import Endpoint

REPO = Path(__file__).resolve().parents[2]
MASTERAUTH = "replication-secret-0123456789abcdef"
CHECKER_PASSWORD = "checker-secret-0123456789abcdefgh"
ADMIN_PASSWORD = "admin-secret-0123456789abcdefghij"
# The compliance user without PTTL: every TTL reading fails (NOPERM).
NO_PTTL_PASSWORD = "no-pttl-secret-0123456789abcdefgh"
# The compliance user as deployed before it could SELECT: db 0 only.
NO_SELECT_PASSWORD = "no-select-secret-0123456789abcdef"
# Keys in a second database, besides db 0's 3001.
OTHER_DB, OTHER_KEYS = 3, 40

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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("redis")
    port = _free_port()
    (work / "redis.conf").write_text(
        f'port {port}\nbind 127.0.0.1\ndir {work}\nsave ""\nappendonly no\n'
        f'masterauth {MASTERAUTH}\nlogfile ""\n'
        "user default off resetchannels -@all\n"
        f"user admin on >{ADMIN_PASSWORD} ~* &* +@all\n"
        f"user checker on >{CHECKER_PASSWORD} resetchannels {_compliance_user_rules()}\n"
        f"user nopttl on >{NO_PTTL_PASSWORD} resetchannels {_compliance_user_rules()} -pttl\n"
        f"user noselect on >{NO_SELECT_PASSWORD} resetchannels {_compliance_user_rules()} -select\n"
    )
    (work / "redis.conf").chmod(0o600)
    proc = subprocess.Popen(["redis-server", str(work / "redis.conf")], stdout=subprocess.DEVNULL)
    admin = redis.Redis(port=port, username="admin", password=ADMIN_PASSWORD)
    for _ in range(100):
        try:
            admin.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    pipe = admin.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"app:item:{i}", "x" * 10)
    pipe.hset("app:user:1:profile", mapping={"a": "1"})
    pipe.execute()
    other = redis.Redis(port=port, username="admin", password=ADMIN_PASSWORD, db=OTHER_DB)
    other.mset({f"app:other:{i}": "y" for i in range(OTHER_KEYS)})
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def _endpoint(port: int, password: str = CHECKER_PASSWORD, username: str = "checker") -> Endpoint:
    return Endpoint(
        kind="redis", target=f"local:{port}", host="local", address="127.0.0.1", port=port,
        instance="main", username=username, password=password,
    )  # fmt: skip


def test_the_roles_compliance_user_reads_everything_the_checks_need(server):
    facts = gather_redis(_endpoint(server), Thresholds())
    assert facts.error == "" and facts.gaps == [], (facts.error, facts.gaps)
    assert facts.info["role"] == "master" and facts.memory_stats and facts.latency_doctor
    # Configuration and ACL are the on-host reader's (tests/integration/test_inspector_local.py).
    assert facts.config == {} and facts.acl == []
    report = run_checks(ClusterFacts(redis=[facts], gathered_at=time.time()), Thresholds())
    assert not [r for r in report.results if r.status == ERROR], [r.message for r in report.errors()]


def test_the_roles_compliance_user_cannot_read_masterauth_or_the_hashes(server):
    checker = redis.Redis(port=server, username="checker", password=CHECKER_PASSWORD)
    for command in (("CONFIG", "GET", "masterauth"), ("ACL", "LIST")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            checker.execute_command(*command)


def test_no_secret_reaches_the_facts(server):
    facts = gather_redis(_endpoint(server), Thresholds())
    text = json.dumps(ClusterFacts(redis=[facts]).to_dict())
    for secret in (MASTERAUTH, CHECKER_PASSWORD, ADMIN_PASSWORD):
        assert secret not in text


def test_the_key_sample_is_bounded_and_never_uses_keys(server):
    limits = Thresholds(key_sample_budget=500, key_scan_count=100)
    facts = gather_redis(_endpoint(server), limits)
    assert facts.keys["scanned"] == 500 and not facts.keys["complete"] and facts.gaps == []
    assert {k["type"] for k in facts.keys["keys"]} <= {"string", "hash"}
    assert all(k["bytes"] > 0 and k["ttl_ms"] == -1 for k in facts.keys["keys"])
    stats = redis.Redis(port=server, username="admin", password=ADMIN_PASSWORD).info("commandstats")
    assert "cmdstat_keys" not in stats and stats["cmdstat_scan"]["calls"] >= 5


def test_a_wrong_password_is_a_clear_error_without_the_password(server):
    facts = gather_redis(_endpoint(server, "not-the-password"), Thresholds())
    assert facts.error.startswith("authentication as 'checker' refused by 127.0.0.1:")
    assert "not-the-password" not in facts.error


def test_a_port_nobody_listens_on_names_the_playbook_that_deploys_it():
    """The first hour: checks run before site.yml find hosts that answer but no server."""
    facts = gather_redis(_endpoint(_free_port()), Thresholds())
    assert facts.error.startswith("nothing listens on 127.0.0.1:"), facts.error
    assert "'ansible-playbook playbooks/site.yml'" in facts.error


def test_a_ttl_that_cannot_be_read_is_unknown_not_missing(server):
    """PTTL refused (NOPERM) is no reading: TTL-01 does not take the keys for keys without a TTL."""
    facts = gather_redis(_endpoint(server, NO_PTTL_PASSWORD, "nopttl"), Thresholds(key_sample_budget=200))
    keys = facts.keys["keys"]
    assert keys and all(k["ttl_ms"] is None for k in keys), keys[:3]
    assert all(k["type"] in ("string", "hash") and k["length"] for k in keys)
    cluster = ClusterFacts(redis=[facts], gathered_at=time.time())
    result = run_checks(
        cluster, Thresholds(key_classes=(KeyClass("app:", (), True),)), only=["TTL-01"]
    ).results[0]
    assert result.status == SKIPPED, (result.status, result.message)
    # The same keys read with PTTL allowed: no TTL (-1), and TTL-01 fails as it should.
    facts = gather_redis(_endpoint(server), Thresholds(key_sample_budget=200))
    assert {k["ttl_ms"] for k in facts.keys["keys"]} == {-1}
    result = run_checks(
        ClusterFacts(redis=[facts], gathered_at=time.time()),
        Thresholds(key_classes=(KeyClass("app:", (), True),)),
        only=["TTL-01"],
    ).results[0]
    assert result.status == FAIL, (result.status, result.message)


def _names(facts) -> set[tuple[int, str]]:
    return {(k["db"], k["name"]) for k in facts.keys["keys"]}


def test_the_key_sample_is_random_and_reads_every_database(server):
    """Not always the first keys of db 0: each run starts SCAN at a random cursor, and every
    database INFO keyspace lists gets its share of the budget (a small one all its keys)."""
    limits = Thresholds(key_sample_budget=300, key_scan_count=50)
    samples = [gather_redis(_endpoint(server), limits) for _ in range(3)]
    for facts in samples:
        assert facts.gaps == [] and facts.keys["scanned"] == 300 and not facts.keys["complete"]
        by_db = {db: sum(1 for d, _ in _names(facts) if d == db) for db in (0, OTHER_DB)}
        assert by_db == {0: 300 - OTHER_KEYS, OTHER_DB: OTHER_KEYS}, by_db
        assert all(k["name"].startswith("app:other:") for k in facts.keys["keys"] if k["db"] == OTHER_DB)
    first, second, third = (_names(f) for f in samples)
    assert not first == second == third  # three identical random samples of 260 out of 3001: no
    assert len(first | second | third) > 300


def test_a_keyspace_within_the_budget_is_read_whole(server):
    """Every key of every database, and the sample says it is complete."""
    facts = gather_redis(_endpoint(server), Thresholds(key_sample_budget=5000))
    assert facts.keys["complete"] and facts.keys["scanned"] == 3001 + OTHER_KEYS
    assert len(_names(facts)) == 3001 + OTHER_KEYS


def test_a_database_the_user_may_not_select_is_a_gap_not_a_silence(server):
    facts = gather_redis(_endpoint(server, NO_SELECT_PASSWORD, "noselect"), Thresholds(key_sample_budget=200))
    assert {db for db, _ in _names(facts)} == {0} and not facts.keys["complete"]
    assert facts.keys["unread"] and len(facts.gaps) == 1, facts.gaps
    assert facts.gaps[0].startswith(f"could not sample db{OTHER_DB}:") and "SELECT" in facts.gaps[0]
