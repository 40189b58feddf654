"""Which server a target runs (Redis or Valkey, and the version), what its RDB format is, and
how the facts, reports and version-aware checks use that. No server needed.

The INFO samples are the server sections of the releases the kit supports, shaped after their
sources and release notes (not captured from live servers): Redis 7.0.15 (Debian 12) and 8.0.2
(Debian 13) have redis_version only; Valkey 8.0.1 (bookworm-backports) and 8.1.1 (Debian 13)
add server_name and valkey_version, keep redis_version:7.2.4 for client compatibility, and name
the mode server_mode (redis_mode with extended-redis-compatibility yes). Sentinels answer alike.
"""

from __future__ import annotations

import json

import pytest
from redis._parsers.helpers import parse_info

from redisops.compliance import report as R
from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, RedisFacts, SentinelFacts, server_of
from redisops.compliance.model import FAIL, PASS, SKIPPED, Severity
from redisops.compliance.server import REDIS, VALKEY, Server, identify, loads_rdb, rdb_format, version_tuple
from redisops.compliance.settings import thresholds

from .checks_fixtures import apply_edits, base_facts

REDIS_7_0 = """# Server
redis_version:7.0.15
redis_git_sha1:00000000
redis_git_dirty:0
redis_build_id:e08dbad3e06f3fb
redis_mode:standalone
os:Linux 6.1.0-28-amd64 x86_64
arch_bits:64
gcc_version:12.2.0
process_id:151
process_supervised:systemd
tcp_port:6379
executable:/usr/bin/redis-server
config_file:/etc/redis/main/redis.conf
io_threads_active:0
"""
REDIS_8_0 = """# Server
redis_version:8.0.2
redis_git_sha1:00000000
redis_git_dirty:1
redis_build_id:5e3b1a4c2f1d9a77
redis_mode:standalone
os:Linux 6.12.38+deb13-amd64 x86_64
arch_bits:64
gcc_version:14.2.0
process_id:812
process_supervised:systemd
tcp_port:6379
executable:/usr/bin/redis-server
config_file:/etc/redis/main/redis.conf
io_threads_active:0
"""
VALKEY_8_0 = """# Server
redis_version:7.2.4
server_name:valkey
valkey_version:8.0.1
redis_git_sha1:00000000
redis_git_dirty:0
redis_build_id:a1b2c3d4e5f60718
server_mode:standalone
os:Linux 6.1.0-28-amd64 x86_64
arch_bits:64
gcc_version:12.2.0
process_id:4242
process_supervised:systemd
tcp_port:6379
executable:/usr/bin/valkey-server
config_file:/etc/valkey/main/valkey.conf
io_threads_active:0
"""
VALKEY_8_1 = VALKEY_8_0.replace("valkey_version:8.0.1", "valkey_version:8.1.1").replace(
    "gcc_version:12.2.0", "gcc_version:14.2.0"
)
# Valkey with extended-redis-compatibility yes says redis_mode, as Redis does.
VALKEY_8_1_COMPAT = VALKEY_8_1.replace("server_mode:", "redis_mode:")
REDIS_SENTINEL_7_0 = REDIS_7_0.replace("redis_mode:standalone", "redis_mode:sentinel").replace(
    "tcp_port:6379", "tcp_port:26379"
)
VALKEY_SENTINEL_8_1 = VALKEY_8_1.replace("server_mode:standalone", "server_mode:sentinel").replace(
    "/usr/bin/valkey-server", "/usr/bin/valkey-sentinel"
)


def info(text: str) -> dict:
    """INFO as gathering stores it: redis-py's parse of the reply."""
    return parse_info(text.replace("\n", "\r\n"))


# ---- the identity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "flavor", "version", "mode", "label"),
    [
        (REDIS_7_0, REDIS, "7.0.15", "standalone", "redis 7.0.15"),
        (REDIS_8_0, REDIS, "8.0.2", "standalone", "redis 8.0.2"),
        (VALKEY_8_0, VALKEY, "8.0.1", "standalone", "valkey 8.0.1"),
        (VALKEY_8_1, VALKEY, "8.1.1", "standalone", "valkey 8.1.1"),
        (VALKEY_8_1_COMPAT, VALKEY, "8.1.1", "standalone", "valkey 8.1.1"),
        (REDIS_SENTINEL_7_0, REDIS, "7.0.15", "sentinel", "redis 7.0.15"),
        (VALKEY_SENTINEL_8_1, VALKEY, "8.1.1", "sentinel", "valkey 8.1.1"),
    ],
)
def test_the_server_and_its_own_version_come_from_info(sample, flavor, version, mode, label):
    server = identify(info(sample))
    assert (server.flavor, server.version, server.mode, str(server)) == (flavor, version, mode, label)


def test_valkeys_redis_version_is_never_taken_for_its_version():
    parsed = info(VALKEY_8_1)
    assert parsed["redis_version"] == "7.2.4"
    assert identify(parsed).version == "8.1.1"
    # Without server_name (an early Valkey 7.2 release candidate), valkey_version still names it.
    del parsed["server_name"]
    assert identify(parsed) == Server(VALKEY, "8.1.1", "standalone")
    # A server that names itself but not its version: unknown version, never redis_version.
    assert identify({"server_name": "valkey", "redis_version": "7.2.4"}) == Server(VALKEY, "", "")


def test_an_empty_or_foreign_info_names_no_known_server():
    assert identify({}) == Server() and str(Server()) == "unknown server"
    assert str(Server(VALKEY)) == "valkey (version unknown)"
    assert identify({"server_name": "Other", "other_version": "1.2"}) == Server("other", "1.2", "")


def test_versions_compare_as_numbers():
    assert version_tuple("7.0.10") > version_tuple("7.0.9")
    assert version_tuple("8.1.1-rc1") == (8, 1, 1) and version_tuple(None) == ()
    assert Server(VALKEY, "8.0.1").at_least(VALKEY, "8.0")
    assert not Server(REDIS, "8.0.2").at_least(VALKEY, "8.0")
    assert not Server(VALKEY, "").at_least(VALKEY, "7.0")


def test_the_identity_round_trips_through_a_dict():
    server = Server(VALKEY, "8.1.1", "sentinel")
    assert Server.from_dict(json.loads(json.dumps(server.to_dict()))) == server
    assert Server.from_dict(None) == Server()


# ---- RDB formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavor", "version", "fmt"),
    [
        (REDIS, "6.2.14", 9),
        (REDIS, "7.0.15", 10),
        (REDIS, "7.2.5", 11),
        (REDIS, "7.4.2", 12),
        (REDIS, "8.0.2", 12),
        (REDIS, "8.6.0", 13),
        (REDIS, "9.0.0", None),  # not known yet: not guessed
        (VALKEY, "7.2.5", 11),
        (VALKEY, "8.0.1", 11),
        (VALKEY, "8.1.1", 11),
        (VALKEY, "9.0.0", 80),
        (VALKEY, "10.0.0", None),
        ("", "8.0.0", None),
        (VALKEY, "", None),
    ],
)
def test_each_release_writes_its_rdb_format(flavor, version, fmt):
    assert rdb_format(Server(flavor, version)) == fmt


@pytest.mark.parametrize(
    ("reader", "writer", "loads"),
    [
        # Redis 7 -> Valkey 8 is the supported path; Redis 7.4 and 8 are not.
        (Server(VALKEY, "8.0.1"), Server(REDIS, "7.0.15"), True),
        (Server(VALKEY, "8.1.1"), Server(REDIS, "7.2.5"), True),
        (Server(VALKEY, "8.1.1"), Server(REDIS, "7.4.2"), False),
        (Server(VALKEY, "8.1.1"), Server(REDIS, "8.0.2"), False),
        (Server(VALKEY, "9.0.0"), Server(REDIS, "8.0.2"), False),  # 12-79 are Redis's to Valkey
        # A replica older than its primary's format cannot resync.
        (Server(REDIS, "7.0.15"), Server(VALKEY, "8.1.1"), False),
        (Server(REDIS, "7.2.5"), Server(VALKEY, "8.1.1"), True),
        (Server(REDIS, "8.0.2"), Server(VALKEY, "8.1.1"), True),
        (Server(REDIS, "8.0.2"), Server(VALKEY, "9.0.0"), False),
        (Server(VALKEY, "8.1.1"), Server(VALKEY, "9.0.0"), False),
        (Server(REDIS, "8.0.2"), Server(REDIS, "7.0.15"), True),
        (Server(REDIS, "9.0.0"), Server(REDIS, "7.0.15"), None),
    ],
)
def test_who_loads_whose_snapshots(reader, writer, loads):
    assert loads_rdb(reader, rdb_format(writer)) is loads


def test_the_checks_and_the_role_agree_on_rdb_formats():
    """The role's migration guard (a filter of its own: roles do not import the checks) and the
    checks must name the same formats for the releases both know."""
    from .role_code import F

    if not hasattr(F, "redis_rdb_format"):
        pytest.skip("the redis_server role has no redis_rdb_format filter")
    known = [(REDIS, "6.2.14"), (REDIS, "7.0.15"), (REDIS, "7.2.5"), (REDIS, "7.4.2"), (REDIS, "8.0.2"),
             (VALKEY, "7.2.5"), (VALKEY, "8.0.1"), (VALKEY, "8.1.1")]  # fmt: skip
    for flavor, version in known:
        assert F.redis_rdb_format(flavor, version) == rdb_format(Server(flavor, version)), (flavor, version)


# ---- facts -------------------------------------------------------------------------------------


def test_facts_saved_before_the_server_was_recorded_name_it_from_their_info():
    old = {"target": "redis-1:6379", "host": "redis-1", "instance": "main", "address": "10.0.0.1",
           "port": 6379, "info": info(VALKEY_8_1)}  # fmt: skip
    facts = ClusterFacts.from_dict(
        {"redis": [old], "sentinels": [{**old, "info": info(VALKEY_SENTINEL_8_1)}]}
    )
    assert facts.redis[0].server == {"flavor": VALKEY, "version": "8.1.1", "mode": "standalone"}
    assert server_of(facts.sentinels[0]) == Server(VALKEY, "8.1.1", "sentinel")
    # A dump written now carries it, and it reads back as it was.
    again = ClusterFacts.from_dict(json.loads(json.dumps(facts.to_dict())))
    assert again.redis[0].server == facts.redis[0].server


def test_an_unread_target_has_no_server():
    facts = RedisFacts(target="redis-1:6379", host="redis-1", instance="main", address="a", port=1, error="x")
    assert facts.server == {} and str(server_of(facts)) == "unknown server"
    assert SentinelFacts(target="s", host="h", address="a", port=1).server == {}


# ---- version-aware checks ----------------------------------------------------------------------


def as_valkey(index: int, version: str = "8.1.1") -> list[dict]:
    """Edits that make redis[index] of the captured cluster a Valkey server."""
    return [
        {"path": ["redis", index, "info", "server_name"], "set": "valkey"},
        {"path": ["redis", index, "info", "valkey_version"], "set": version},
        {"path": ["redis", index, "info", "redis_version"], "set": "7.2.4"},
    ]


def results(check_id: str, *edits: dict, limits: dict | None = None):
    cluster = ClusterFacts.from_dict(apply_edits(base_facts(), list(edits)))
    return run_checks(cluster, thresholds(limits), only=[check_id]).results


def test_sec07_judges_valkey_by_its_own_version_and_minimum():
    # Valkey 8.1.1's redis_version 7.2.4 is below this min_version: it must not count.
    found = results("SEC-07", *as_valkey(0), limits={"min_version": "7.4.0"})
    valkey = next(r for r in found if r.target == "redis-1:6379")
    assert valkey.status == PASS
    # The Redis nodes (7.0.15) are below it: judged by redis_version, named as Redis.
    assert {r.message for r in found if r.status == FAIL} == {
        "Redis 7.0.15 is older than the minimum supported Redis 7.4.0 (min_version)"
    }
    found = results("SEC-07", *as_valkey(0, "8.0.1"), limits={"min_valkey_version": "8.1.0"})
    assert [r.message for r in found if r.status == FAIL] == [
        "Valkey 8.0.1 is older than the minimum supported Valkey 8.1.0 (min_valkey_version)"
    ]


def test_sec07_skips_a_server_that_names_neither_flavour():
    found = results("SEC-07", {"path": ["redis", 0, "info", "redis_version"], "delete": True})
    assert next(r for r in found if r.target == "redis-1:6379").status == SKIPPED


def test_ha11_a_group_moving_to_valkey_replicas_first_only_warns_about_a_failover():
    # Redis 7.0 primary, Valkey 8.1 replicas: they load its format 10, it cannot load their 11.
    found = [r for r in results("HA-11", *as_valkey(1), *as_valkey(2)) if r.status == FAIL]
    assert {r.severity for r in found} == {Severity.LOW}
    assert {r.target for r in found} == {"redis-2:6379", "redis-3:6379"}
    assert "redis-1:6379 cannot resync from it" in found[0].message
    # Replicas Sentinel never promotes (replica-priority 0) are no such risk.
    never = [{"path": ["redis", i, "config", "replica-priority"], "set": "0"} for i in (1, 2)]
    assert not [r for r in results("HA-11", *as_valkey(1), *as_valkey(2), *never) if r.status == FAIL]


def test_ha11_a_redis_8_replica_of_a_valkey_8_primary_loads_its_snapshots():
    edits = [
        *as_valkey(0),
        {"path": ["redis", 1, "info", "redis_version"], "set": "8.0.2"},
        {"path": ["redis", 2, "info", "redis_version"], "set": "7.2.5"},
    ]
    found = [r for r in results("HA-11", *edits) if r.status == FAIL]
    # Both replicas load format 11; but if redis-2 (RDB 12) is promoted, neither Valkey 8 nor Redis
    # 7.2 can follow it.
    assert [(r.target, r.severity) for r in found] == [("redis-2:6379", Severity.LOW)]
    assert "redis-1:6379, redis-3:6379 cannot resync" in found[0].message


def test_ha11_skips_servers_whose_format_the_kit_does_not_know():
    edits = [{"path": ["redis", i, "info", "redis_version"], "set": "9.0.0"} for i in range(3)]
    found = results("HA-11", *edits)
    assert [r.status for r in found] == [SKIPPED] and "redis 9.0.0" in found[0].message


def test_ha12_passes_a_group_on_valkey_or_on_redis_7_2_and_skips_an_unknown_release():
    assert [r.status for r in results("HA-12", *as_valkey(0))] == [PASS]
    redis_7_2 = {"path": ["redis", 0, "info", "redis_version"], "set": "7.2.5"}
    assert [r.status for r in results("HA-12", redis_7_2)] == [PASS]
    found = results("HA-12", {"path": ["redis", 0, "info", "redis_version"], "set": "9.1.0"})
    assert [r.status for r in found] == [SKIPPED]


def test_prf07_names_what_each_version_does_with_a_deprecated_setting():
    redis8 = [
        {"path": ["redis", 0, "info", "redis_version"], "set": "8.0.2"},
        {"path": ["redis", 0, "config", "io-threads"], "set": "4"},
        {"path": ["redis", 0, "config", "io-threads-do-reads"], "set": "no"},
    ]
    found = [r for r in results("PRF-07", *redis8) if r.status == FAIL]
    assert [r.message.split(":")[0] for r in found] == ["io-threads-do-reads no on redis 8.0.2 is ignored"]
    # Redis 7.0 still honours it: not deprecated there.
    assert not [r for r in results("PRF-07", *redis8[1:]) if r.status == FAIL]
    compat = [*as_valkey(2), {"path": ["redis", 2, "config", "extended-redis-compatibility"], "set": "yes"}]
    found = [r for r in results("PRF-07", *compat) if r.status == FAIL]
    assert len(found) == 1 and found[0].message.startswith("extended-redis-compatibility yes on valkey 8.1.1")


def test_con04_finds_the_valkey_server_process():
    edits = [
        {"path": ["hosts", 0, "processes", 0, "name"], "set": "valkey-server"},
        {"path": ["hosts", 0, "processes", 0, "args"], "set": "/usr/bin/valkey-server 10.213.7.11:6379"},
        {"path": ["hosts", 0, "processes", 0, "nofile"], "set": 4096},
    ]
    found = [r for r in results("CON-04", *edits) if r.target == "redis-1:6379"]
    assert [r.status for r in found] == [FAIL] and "valkey-server (pid 151) may open 4096" in found[0].message


# ---- reports -----------------------------------------------------------------------------------


def mixed_report():
    cluster = ClusterFacts.from_dict(apply_edits(base_facts(), [*as_valkey(1), *as_valkey(2)]))
    return run_checks(cluster, only=["MEM-01"])


def test_the_text_report_names_each_targets_server():
    text = R.to_text(mixed_report(), Severity.HIGH)
    assert "servers:\n  redis 7.0.15: redis-1:6379\n  valkey 8.1.1: redis-2:6379, redis-3:6379\n" in text
    assert "redis 7.0.15 (sentinel): redis-1:26379, redis-2:26379, redis-3:26379" in text


def test_the_json_report_names_each_targets_server():
    data = json.loads(R.to_json(mixed_report(), Severity.HIGH))
    assert data["servers"]["redis-2:6379"] == {
        "flavor": "valkey", "version": "8.1.1", "mode": "standalone", "label": "valkey 8.1.1"
    }  # fmt: skip
    assert data["servers"]["redis-1:26379"]["label"] == "redis 7.0.15 (sentinel)"


def test_the_html_report_names_each_targets_server():
    page = R.to_html(mixed_report(), Severity.HIGH)
    assert "<h2>Servers</h2>" in page and "<td>redis-3:6379</td><td>valkey 8.1.1</td>" in page


def test_the_catalogue_says_which_versions_a_version_aware_check_judges():
    assert "Applies to: Redis by redis_version against min_version" in R.explain("SEC-07")
    assert "- Applies to: io-threads-do-reads: Redis 8.0 and later" in R.catalogue_markdown()
