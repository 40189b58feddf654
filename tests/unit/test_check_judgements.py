"""Checks judge what the facts say and no more (issue 23, "Fix what misfires"): each case here
misfired once, on the captured lab cluster with a few edits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, key_label
from redisops.compliance.model import FAIL, PASS, REGISTRY, SKIPPED
from redisops.compliance.rules.keys import without_hash_tag
from redisops.compliance.settings import key_class, key_classes, thresholds
from redisops.compliance.waivers import WaiverError, parse_waivers

from .checks_fixtures import apply_edits, base_facts

REPO = Path(__file__).resolve().parents[2]


def _results(check_id: str, edits: list[dict], overrides: dict | None = None):
    cluster = ClusterFacts.from_dict(apply_edits(base_facts(), edits))
    return run_checks(cluster, thresholds(overrides), only=[check_id]).results


def _passes(results) -> bool:
    """No failure, and at least one target judged and found fine (replicas have no key sample)."""
    return not _failures(results) and any(r.status == PASS for r in results)


def _failures(results) -> list[str]:
    return [r.message for r in results if r.status == FAIL]


def _key(name: str, **fields) -> dict:
    """An edit adding a key to the primary's sample (redis-1)."""
    key = {"name": name, "type": "string", "ttl_ms": -1, "bytes": 64, "length": 10, **fields}
    return {"path": ["redis", 0, "keys", "keys"], "append": key}


# ---- TTL-01: a temporary prefix counts at the start of a key name only ---------------------

TEMPORARY = [{"prefix": "session:", "ttl_required": True}, {"prefix": "cache:", "ttl_required": True}]


def test_ttl01_a_prefix_inside_a_name_is_not_temporary_data():
    # A user's stored cache settings, a report of sessions: neither starts with a temporary prefix.
    edits = [_key("user:7:cache:settings"), _key("report:session:2024")]
    results = _results("TTL-01", edits, {"key_classes": TEMPORARY})
    assert _passes(results), _failures(results)


def test_ttl01_a_name_that_starts_with_the_prefix_is_judged():
    results = _results("TTL-01", [_key("cache:page:/home")], {"key_classes": TEMPORARY})
    assert any("1 of 1 temporary keys" in m for m in _failures(results)), _failures(results)


# ---- one finding per long list, and no cause assumed ----------------------------------------


def _all_failures(edits: list[dict]) -> list[tuple[str, str]]:
    cluster = ClusterFacts.from_dict(apply_edits(base_facts(), edits))
    return [
        (r.check_id, r.message) for r in run_checks(cluster, thresholds(None)).results if r.status == FAIL
    ]


def test_a_long_list_is_one_finding_of_prf05_that_blames_no_consumer():
    label = key_label("app:queue:jobs")
    before = [f for f in _all_failures([]) if label in f[1]]
    found = [f for f in _all_failures([{"path": ["redis", 0, "keys", "keys", 3, "length"], "set": 5000}])]
    about = [(check, message) for check, message in found if label in message]
    assert not before
    assert [check for check, _ in about] == ["PRF-05"], about
    message = about[0][1]
    assert f"{label} (list, 5000 items)" in message
    assert "consumers are not keeping up" not in message
    assert "a queue its consumers fall behind on, a log nobody trims, or long by design" in message


def test_a_long_log_that_is_not_a_queue_gets_the_same_neutral_finding():
    results = _results("PRF-05", [_key("app:audit:log", type="list", length=20_000)])
    assert any("app:audit:#" in m and "a log nobody trims" in m for m in _failures(results)), _failures(
        results
    )


def test_the_removed_check_and_its_settings_say_where_they_went():
    with pytest.raises(WaiverError, match="PRF-05"):
        parse_waivers(
            [{"check": "KEY-02", "target": "*", "justification": "a queue", "expires": "2099-01-01"}],
            known_checks=set(REGISTRY),
        )
    for name in ("queue_max_items", "queue_prefixes"):
        with pytest.raises(ValueError, match=f"{name} was removed .*PRF-05"):
            thresholds({name: 5000 if name == "queue_max_items" else ["queue:"]})


# ---- KEY-01: cluster hash tags follow the convention ----------------------------------------


def test_key01_accepts_hash_tags():
    # 4 of 22 names with a hash tag: below 90% if the tags were refused.
    names = ["{user:1}:profile", "{user:2}:profile", "{order:9}:items", "{session}:8f3a"]
    results = _results("KEY-01", [_key(n) for n in names])
    assert _passes(results), _failures(results)


def test_key01_reads_only_a_real_hash_tag():
    assert without_hash_tag("{user:1}:profile") == "user:1:profile"
    assert without_hash_tag("app:{user:1}:cart") == "app:user:1:cart"
    assert without_hash_tag("{}:x") == "{}:x"  # an empty tag is no tag: the whole name is hashed
    assert without_hash_tag("a{b") == "a{b"
    # Names that break the convention still do, tag or not.
    results = _results("KEY-01", [_key(n) for n in ("{}x", "{tmp1}", "{a}b", "{}:x")])
    assert any("follow the namespace convention" in m for m in _failures(results)), _failures(results)


# ---- TTL-01: a TTL that was not read is unknown, never "no TTL" ----------------------------

APP_PREFIXES = {
    "key_classes": [
        {"prefix": "app:session:", "ttl_required": True},
        {"prefix": "app:cache:", "ttl_required": True},
    ]
}


def _ttl(index: int, value) -> dict:
    return {"path": ["redis", 0, "keys", "keys", index, "ttl_ms"], "set": value}


def test_ttl01_a_failed_pttl_is_not_judged():
    # app:session:3 (index 1) and app:session:0 (index 9): a failed reading, and none at all.
    edits = [_ttl(1, None), {"path": ["redis", 0, "keys", "keys", 9, "ttl_ms"], "delete": True}]
    results = _results("TTL-01", edits, APP_PREFIXES)
    assert _passes(results), _failures(results)


def test_ttl01_with_no_ttl_read_is_skipped_not_passed_or_failed():
    everything = [_ttl(i, None) for i in range(len(base_facts()["redis"][0]["keys"]["keys"]))]
    results = _results("TTL-01", everything, APP_PREFIXES)
    primary = next(r for r in results if r.target == "redis-1:6379")
    assert primary.status == SKIPPED and "could be read (PTTL)" in primary.message


def test_ttl01_says_how_many_it_could_not_judge():
    results = _results("TTL-01", [_ttl(1, -1), _ttl(9, None), _ttl(10, "ERR")], APP_PREFIXES)
    assert any("1 of 8 temporary keys" in m and "2 more not judged" in m for m in _failures(results)), (
        _failures(results)
    )


def test_ttl01_a_key_gone_meanwhile_is_not_judged():
    results = _results("TTL-01", [_ttl(1, -2)], APP_PREFIXES)
    assert _passes(results), _failures(results)


# ---- H-02: Redis with disable-thp yes turns THP off for itself ------------------------------

THP_ALWAYS = {"path": ["hosts", 0, "thp", "enabled"], "set": "always"}  # redis-1, with redis-1:6379


def _h02_on_redis_1(edits: list[dict]):
    return next(r for r in _results("H-02", edits) if r.target == "redis-1")


def test_h02_thp_always_is_fine_when_every_redis_on_the_host_disables_it():
    result = _h02_on_redis_1([THP_ALWAYS])  # the captured redis-1:6379 has disable-thp yes
    assert result.status == PASS, result.message


def test_h02_fails_for_a_redis_that_keeps_thp():
    result = _h02_on_redis_1([THP_ALWAYS, {"path": ["redis", 0, "config", "disable-thp"], "set": "no"}])
    assert result.status == FAIL and "redis-1:6379 disable-thp no" in result.message
    older = _h02_on_redis_1([THP_ALWAYS, {"path": ["redis", 0, "config", "disable-thp"], "delete": True}])
    assert older.status == FAIL and "has no disable-thp (before Redis 6.2)" in older.message


def test_h02_is_skipped_when_the_redis_config_was_not_read():
    result = _h02_on_redis_1(
        [
            THP_ALWAYS,
            {"path": ["redis", 0, "config"], "set": {}},
            {"path": ["redis", 0, "unread"], "set": "no SSH"},
        ]
    )
    assert result.status == SKIPPED and "redis-1:6379" in result.message


# ---- HA-07: Redis's default backlog is too small for the default threshold -----------------


def _backlog(size: str) -> dict:
    return {"path": ["redis", 0, "config", "repl-backlog-size"], "set": size}


def test_ha07_fires_on_redis_s_default_backlog():
    results = _results("HA-07", [_backlog("1048576")])  # redis.conf's repl-backlog-size 1mb
    failures = _failures(results)
    assert any("repl-backlog-size 1.0 MB is below 16.0 MB" in m for m in failures), failures


def test_ha07_passes_the_kit_s_own_backlog():
    results = _results("HA-07", [_backlog("67108864")])  # redis_server_repl_backlog_size: 64mb
    assert _passes(results), _failures(results)


# ---- MEM-05: one expiring key is not enough for a volatile-* policy ------------------------

VOLATILE = [{"path": ["redis", i, "config", "maxmemory-policy"], "set": "volatile-lru"} for i in range(3)]
# The ten keys with a TTL in the captured sample; all but the first lose it.
EXPIRING = [0, 1, 7, 8, 9, 10, 11, 14, 15, 16]


def test_mem05_one_key_with_a_ttl_among_many_fails():
    no_ttl = [_ttl(i, -1) for i in EXPIRING[1:]]  # 1 of 19 sampled keys expires
    one_in_info = [{"path": ["redis", i, "info", "db0", "expires"], "set": 1} for i in range(3)]
    results = _results("MEM-05", VOLATILE + no_ttl + one_in_info)
    messages = {r.target: r.message for r in results if r.status == FAIL}
    assert "1 of 19 keys in the whole keyspace (5%, below 10%)" in messages["redis-1:6379"], messages
    # Replicas have no key sample: their own INFO keyspace.
    assert "1 of 19 keys (INFO keyspace)" in messages["redis-2:6379"], messages


def test_mem05_enough_expiring_keys_pass():
    results = _results("MEM-05", VOLATILE)  # 10 of 19
    assert _passes(results) and len([r for r in results if r.status == PASS]) == 3, _failures(results)


def test_mem05_keys_whose_ttl_was_not_read_are_left_out():
    # 9 TTLs unread, 1 of the other 10 expires: 10%, enough; counting the unread as "no TTL" would fail.
    unread = [_ttl(i, None) for i in EXPIRING[1:]]
    results = _results("MEM-05", VOLATILE[:1] + unread)
    assert _passes(results), _failures(results)


# ---- MON-01: every exporter the inventory deploys, not port 9121 alone -----------------------


def _listen(host: int, port: int) -> dict:
    return {"path": ["hosts", host, "listening"], "append": {"address": "10.213.7.11", "port": port}}


def test_mon01_the_redis_exporter_alone_is_not_enough():
    results = _results("MON-01", [_listen(0, 9121)])
    on_redis_1 = [r.message for r in results if r.target == "redis-1" and r.status == FAIL]
    assert sorted(on_redis_1) == [
        "nothing listens on port 9100 (node_exporter): the host on redis-1 is not monitored",
        "nothing listens on port 9355 (sentinel): Sentinel on redis-1 is not monitored",
    ]


def test_mon01_every_instance_has_its_exporter():
    two = [
        {
            "path": ["hosts", 0, "expected", "exporters", 0],
            "set": {"name": "redis-main", "kind": "redis", "port": 9121},
        },
        {
            "path": ["hosts", 0, "expected", "exporters"],
            "append": {"name": "redis-cache", "kind": "redis", "port": 9122},
        },
    ]
    results = _results("MON-01", two + [_listen(0, p) for p in (9121, 9355, 9100)])
    failures = [r.message for r in results if r.target == "redis-1" and r.status == FAIL]
    assert failures == [
        "nothing listens on port 9122 (redis-cache): Redis instance cache on redis-1 is not monitored"
    ]


def test_mon01_facts_without_the_inventory_s_exporters_fall_back_to_exporter_port():
    older = [{"path": ["hosts", i, "expected", "exporters"], "delete": True} for i in range(3)]
    results = _results("MON-01", older + [_listen(i, 9121) for i in range(3)])
    assert _passes(results), _failures(results)
    results = _results("MON-01", older + [_listen(i, 9121) for i in range(2)])
    assert _failures(results) == [
        "nothing listens on port 9121 (redis_exporter): Redis on redis-3 is not monitored"
    ]


# ---- every source is upstream, none is the kit itself ----------------------------------------

# The kit's own words are no source: its reference catalogue, its policies, its issues, its files.
SELF_CITATIONS = re.compile(
    r"catalogue|kit policy|redis-ops-kit|redisops|\bissue \d+|\.py\b|settings|checks\.md|"
    + "|".join(re.escape(check_id) for check_id in REGISTRY),
    re.IGNORECASE,
)


@pytest.mark.parametrize("check_id", sorted(REGISTRY))
def test_every_check_names_an_upstream_source(check_id):
    source = REGISTRY[check_id].source
    assert len(source) >= 10, f"{check_id} has no source"
    assert not SELF_CITATIONS.search(source), f"{check_id} cites itself or the kit: {source!r}"


def test_the_lab_and_example_inventories_name_the_prefixes_their_keys_start_with():
    """TTL-01 matches at the start of a name: the lab's application keys are app:session:..., which
    the lab's compliance test writes without a TTL to see TTL-01 fail (tests/lab/test_compliance.py)."""
    for inventory in ("lab", "example"):
        path = REPO / "inventories" / inventory / "group_vars" / "all" / "compliance.yml"
        classes = key_classes(yaml.safe_load(path.read_text())["redis_compliance_key_classes"])
        found = key_class("app:session:nottl0", classes)
        assert found is not None and found.ttl_required, inventory


# ---- SEC-16: the vulnerability floor, by INFO and by the installed package ------------------


def _sec16(edits: list[dict]) -> list:
    return [r for r in _results("SEC-16", edits) if r.target == "redis-1:6379"]


def test_sec16_valkey_is_judged_by_its_own_version_against_its_branch():
    valkey = [
        {"path": ["redis", 0, "info", "server_name"], "set": "valkey"},
        {"path": ["redis", 0, "info", "redis_version"], "set": "7.2.4"},
        {"path": ["hosts", 0, "packages"], "set": {}},
    ]
    (old,) = _sec16([*valkey, {"path": ["redis", 0, "info", "valkey_version"], "set": "8.1.3"}])
    (fixed,) = _sec16([*valkey, {"path": ["redis", 0, "info", "valkey_version"], "set": "8.1.4"}])
    assert old.status == FAIL and "branch 8.1 needs Valkey 8.1.4 or later" in old.message
    assert fixed.status == PASS


def test_sec16_a_package_that_is_not_the_running_version_is_not_credited():
    (result,) = _sec16([{"path": ["hosts", 0, "packages", "redis-server"], "set": "5:7.2.4-1~deb12u9"}])
    assert result.status == FAIL and "is not the version that runs (7.0.15)" in result.message


def test_sec16_without_host_facts_a_version_below_the_floor_is_not_condemned():
    (result,) = _sec16([{"path": ["host_facts_gathered"], "set": False}, {"path": ["hosts"], "set": []}])
    assert result.status == SKIPPED and "whether a distribution backport has the fixes" in result.message


def test_debian_versions_order_as_dpkg_orders_them():
    from redisops.compliance.vulnerabilities import DebianVersion as V

    assert V("5:7.0.15-1~deb12u10") > V("5:7.0.15-1~deb12u6") > V("5:7.0.15-1~deb12u5")
    assert V("5:7.0.15-1") > V("5:7.0.15-1~deb12u6")  # ~ sorts before the end
    assert V("5:6.0.16-1") > V("7.2.4-1")  # the epoch first


# ---- PRF-08: the doctor's own sentences --------------------------------------------------------


def test_prf08_a_report_of_spikes_without_an_easy_fix_passes_and_monitoring_off_is_skipped():
    no_fix = (
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do "
        "you Dave?\n\n1. command: 2 latency spikes (average 150ms, mean deviation 10ms, period 3.00 sec). "
        "Worst all time event 160ms.\n\nWhile there are latency events logged, I'm not able to suggest any "
        "easy fix. Please use the Redis community to get some help, providing this report in your help "
        "request.\n"
    )
    off = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance.\n"
    (passed,) = [r for r in _results("PRF-08", [{"path": ["redis", 0, "latency_doctor"], "set": no_fix}])
                 if r.target == "redis-1:6379"]  # fmt: skip
    (skipped,) = [r for r in _results("PRF-08", [{"path": ["redis", 0, "latency_doctor"], "set": off}])
                  if r.target == "redis-1:6379"]  # fmt: skip
    assert passed.status == PASS
    assert skipped.status == SKIPPED and "PRF-02" in skipped.message


# ---- PRF-09 judges memory, PRF-05 length: one finding per key ------------------------------


def test_a_long_and_heavy_key_is_reported_once_by_prf05_and_a_short_heavy_one_by_prf09():
    long_heavy = _key("app:export:all", type="hash", length=80_000, bytes=200 * 1024 * 1024)
    short_heavy = _key("app:profile:42", type="hash", length=10, bytes=50 * 1024 * 1024)
    found = _all_failures([long_heavy, short_heavy])
    about_long = [check for check, message in found if key_label("app:export:all") in message]
    about_short = [check for check, message in found if key_label("app:profile:42") in message]
    assert about_long == ["PRF-05"] and about_short == ["PRF-09"], found


def test_prf09_is_skipped_when_no_key_could_be_weighed():
    unread = [
        {"path": ["redis", 0, "keys", "keys", i, "bytes"], "set": None}
        for i in range(len(base_facts()["redis"][0]["keys"]["keys"]))
    ]
    primary = next(r for r in _results("PRF-09", unread) if r.target == "redis-1:6379")
    assert primary.status == SKIPPED and "MEMORY USAGE could be read for none" in primary.message


# ---- MEM-10: client-output-buffer-limit as CONFIG GET answers it ---------------------------


def test_mem10_reads_each_class_of_the_limits_in_bytes_or_units():
    from redisops.compliance.rules.memory import output_buffer_limits

    assert output_buffer_limits("normal 0 0 0 slave 268435456 67108864 60 pubsub 32mb 8mb 60") == {
        "normal": (0, 0, 0), "replica": (268435456, 67108864, 60), "pubsub": (32 * 1024**2, 8 * 1024**2, 60),
    }  # fmt: skip
    # A soft limit alone still bounds the buffer; Valkey names the class replica.
    limits = "normal 0 0 0 replica 0 64mb 60 pubsub 0 0 0"
    edit = {"path": ["redis", 0, "config", "client-output-buffer-limit"], "set": limits}
    failures = _failures(_results("MEM-10", [edit]))
    assert [m.split(":")[0] for m in failures] == ["client-output-buffer-limit pubsub 0 0"], failures


# ---- MEM-12 and MEM-13: what a server reports --------------------------------------------


def test_mem12_skips_servers_without_evicted_scripts_and_mem13_judges_whichever_field_is_reported():
    (primary, *_) = _results("MEM-12", [])  # the captured Redis 7.0 has no evicted_scripts
    assert primary.status == SKIPPED and "has no evicted_scripts" in primary.message
    only_vm = [
        {"path": ["redis", 0, "info", "used_memory_functions"], "delete": True},
        {"path": ["redis", 0, "info", "used_memory_vm_functions"], "set": 4_000_000},
    ]
    assert any("(used_memory_vm_functions; above" in m for m in _failures(_results("MEM-13", only_vm)))
    neither = [{"path": ["redis", 0, "info", name], "delete": True} for name in
               ("used_memory_functions", "used_memory_vm_functions")]  # fmt: skip
    primary = next(r for r in _results("MEM-13", neither) if r.target == "redis-1:6379")
    assert primary.status == SKIPPED and "reports no functions memory" in primary.message


# ---- CON-05: a rate needs two readings -----------------------------------------------------


def test_con05_is_skipped_without_a_previous_run_even_after_many_connections():
    edits = [{"path": ["redis", 0, "info", "total_connections_received"], "set": 5_000_000}]
    primary = next(r for r in _results("CON-05", edits) if r.target == "redis-1:6379")
    assert primary.status == SKIPPED and "no previous run" in primary.message


def test_con05_passes_a_fast_rise_that_only_added_clients():
    # 3000 connections in 2 minutes, all of them still connected: growth, not churn.
    since = {
        "basis": "previous run", "previous_at": 1795997339.9, "interval_s": 120.0, "started_at": 1795997293.9,
        "counters": {"total_connections_received": 3000}, "reset": [],
    }  # fmt: skip
    edits = [
        {"path": ["redis", 0, "since"], "set": since},
        {"path": ["redis", 0, "info", "connected_clients"], "set": 3100},
    ]
    assert _passes(_results("CON-05", edits)), _failures(_results("CON-05", edits))


# ---- HA-15: a failover's READONLY burst is not a misdirected client -------------------------


def _readonly(since: dict | None) -> list[dict]:
    edits = [{"path": ["redis", 1, "info", "errorstat_READONLY"], "set": {"count": 40}}]
    if since is not None:
        edits.append({"path": ["redis", 1, "since"], "set": since})
    return edits


def _ha15(edits: list[dict]):
    return next(r for r in _results("HA-15", edits) if r.target == "redis-2:6379")


def test_ha15_without_a_previous_run_is_not_judged():
    result = _ha15(_readonly(None))
    assert result.status == SKIPPED and "without a previous run" in result.message, result.message


def test_ha15_a_role_change_since_the_previous_run_excuses_the_burst():
    since = {
        "basis": "previous run", "previous_at": 1795997339.9, "interval_s": 120.0, "started_at": 1795997293.9,
        "counters": {"errorstat_READONLY": 40}, "reset": [], "role_changed": True,
    }  # fmt: skip
    result = _ha15(_readonly(since))
    assert result.status == SKIPPED and "changed role" in result.message, result.message
    result = _ha15(_readonly({**since, "role_changed": False}))
    assert result.status == FAIL and "40 writes refused with READONLY" in result.message, result.message


@pytest.mark.parametrize(
    ("flavor", "version", "package", "installed", "status"),
    [
        ("redis", "8.0.2", "redis-server", "5:8.0.2-3+deb13u3", PASS),  # Debian 13's backport
        ("redis", "8.0.2", "redis-server", "5:8.0.2-3", FAIL),  # before it
        ("valkey", "8.1.1", "valkey-server", "8.1.1+dfsg1-3+deb13u3", PASS),  # +dfsg1: the same release
        ("valkey", "8.1.1", "valkey-server", "8.1.1+dfsg1-3", FAIL),
    ],
)
def test_sec16_debian_13s_backports_count(flavor, version, package, installed, status):
    edits = [
        {"path": ["redis", 0, "info", "server_name"], "set": flavor},
        {"path": ["redis", 0, "info", "redis_version"], "set": "7.2.4" if flavor == "valkey" else version},
        {"path": ["hosts", 0, "packages"], "set": {package: installed}},
    ]
    if flavor == "valkey":
        edits.append({"path": ["redis", 0, "info", "valkey_version"], "set": version})
    (result,) = _sec16(edits)
    assert result.status == status, result.message
