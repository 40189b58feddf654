"""Use-case profiles (core/profiles.py) as the redis_server role resolves and refuses them."""

from __future__ import annotations

import pytest
import yaml

from redisops.core import profiles

from .role_code import MEMTOTAL_MB, SENTINEL_ROLE, F, baseline
from .test_redis_server_role import render, render_conf

HOSTS = ["redis-1", "redis-2", "redis-3"]


def problems(**overrides) -> list[str]:
    role_vars = baseline(redis_server_primary_host="redis-1", **overrides)
    return F.redis_server_problems(role_vars, MEMTOTAL_MB, "10.0.0.1", HOSTS)


def instance(**overrides) -> dict:
    [inst] = F.redis_instances(baseline(**overrides), MEMTOTAL_MB)
    return inst


@pytest.mark.parametrize("name", profiles.PROFILES)
def test_each_profile_accepts_its_own_defaults(name):
    p = profiles.profile(name)
    assert p.maxmemory_policy in p.policies
    assert profiles.problems(name, p.defaults(), {}) == []
    assert problems(redis_server_profile=name) == []


def test_only_a_cache_may_evict_any_key():
    allowing = {n for n in profiles.PROFILES if "allkeys-lru" in profiles.profile(n).policies}
    assert allowing == {"cache"}
    assert profiles.profile("queue").policies == ("noeviction",)


@pytest.mark.parametrize(
    ("name", "policy", "save", "appendonly", "persistent", "lazyfree", "to_write"),
    [
        ("store", "noeviction", True, True, True, False, 1),
        ("cache", "allkeys-lru", False, False, False, True, 0),
        ("session", "volatile-lru", True, True, True, True, 1),
        ("ratelimit", "volatile-ttl", False, False, False, True, 0),
        ("queue", "noeviction", True, True, True, False, 1),
        ("leaderboard", "noeviction", True, True, True, False, 1),
        ("analytics", "noeviction", True, False, True, False, 0),
    ],
)
def test_the_group_profile_sets_the_instance(name, policy, save, appendonly, persistent, lazyfree, to_write):
    inst = instance(redis_server_profile=name)
    assert inst["profile"] == name
    assert inst["maxmemory_policy"] == policy
    assert bool(inst["save"]) is save
    assert inst["appendonly"] is appendonly
    assert inst["persistent"] is persistent
    assert inst["lazyfree"] is lazyfree
    assert inst["min_replicas_to_write"] == to_write


def test_the_default_is_todays_store():
    inst = instance()
    assert inst["profile"] == "store"
    assert (inst["maxmemory_policy"], inst["appendonly"], inst["min_replicas_to_write"]) == (
        "noeviction",
        True,
        1,
    )
    assert inst["save"] == [dict(rule) for rule in profiles.DEFAULT_SAVE]
    # The one change from before profiles: a cut-off primary is fenced within 2 s, not 10 s.
    assert (inst["min_replicas_max_lag"], inst["restart_on_failure"]) == (2, "auto")


def test_an_explicit_variable_wins_over_the_group_profile():
    inst = instance(redis_server_profile="cache", redis_server_maxmemory_policy="allkeys-lfu")
    assert (inst["maxmemory_policy"], inst["appendonly"]) == ("allkeys-lfu", False)


def test_an_instance_profile_wins_over_role_variables_and_its_own_keys_over_both():
    role = {
        "redis_server_maxmemory_policy": "noeviction",
        "redis_server_appendonly": True,
        "redis_server_instances": [
            {"name": "main", "port": 6379},
            {"name": "cache", "port": 6380, "profile": "cache", "maxmemory_policy": "allkeys-lfu"},
        ],
    }
    main, cache = F.redis_instances(baseline(**role), MEMTOTAL_MB)
    assert (main["profile"], main["maxmemory_policy"], main["appendonly"]) == ("store", "noeviction", True)
    assert (cache["profile"], cache["maxmemory_policy"], cache["appendonly"]) == (
        "cache",
        "allkeys-lfu",
        False,
    )
    assert cache["save"] == [] and cache["persistent"] is False


def test_a_queue_that_evicts_is_refused_naming_both_variables():
    found = problems(redis_server_profile="queue", redis_server_maxmemory_policy="allkeys-lru")
    assert len(found) == 1, found
    assert "redis_server_profile is 'queue'" in found[0]
    assert "redis_server_maxmemory_policy 'allkeys-lru'" in found[0]
    assert "use one of noeviction" in found[0]


def test_an_instance_queue_that_evicts_is_refused_naming_the_instance_keys():
    found = problems(
        redis_server_instances=[
            {"name": "jobs", "port": 6379, "profile": "queue", "maxmemory_policy": "volatile-lru"}
        ]
    )
    assert len(found) == 1, found
    assert "redis_server_instances (jobs).profile is 'queue'" in found[0]
    assert "redis_server_instances (jobs).maxmemory_policy 'volatile-lru'" in found[0]


@pytest.mark.parametrize("name", ["store", "queue", "session", "leaderboard", "analytics"])
def test_a_profile_that_must_persist_refuses_no_persistence(name):
    found = problems(redis_server_profile=name, redis_server_save=[], redis_server_appendonly=False)
    assert any(
        "must persist" in p and "redis_server_save" in p and "redis_server_appendonly" in p for p in found
    ), found


def test_a_cache_may_persist_and_may_refuse_writes():
    assert problems(redis_server_profile="cache", redis_server_maxmemory_policy="noeviction") == []
    assert problems(redis_server_profile="cache", redis_server_appendonly=True) == []


def test_an_unknown_profile_names_the_variable_and_the_choices():
    found = problems(redis_server_profile="kafka")
    choices = "store, cache, session, ratelimit, queue, leaderboard, analytics"
    assert found == [f"redis_server_profile is 'kafka': choose one of {choices}"]
    found = problems(redis_server_instances=[{"name": "main", "port": 6379, "profile": "Cache"}])
    assert found and found[0].startswith("redis_server_instances (main).profile is 'Cache'"), found


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("min_replicas_max_lag", 0, "min_replicas_max_lag"),
        ("min_replicas_to_write", 3, "more than the 2 replica(s)"),
        ("min_replicas_to_write", "one", "use a whole number"),
        ("lazyfree", "yes", "not a boolean"),
        ("restart_on_failure", "sometimes", "use auto"),
    ],
)
def test_instance_profile_settings_are_checked(key, value, fragment):
    found = problems(redis_server_instances=[{"name": "main", "port": 6379, key: value}])
    assert any(p.startswith(f"redis_server_instances (main).{key}") and fragment in p for p in found), found


def test_the_config_says_the_profile_and_renders_its_settings():
    _, lines = render_conf(redis_server_profile="cache")
    assert "# Profile cache: values evicted, expired and deleted are freed in a background thread." in lines
    assert "maxmemory-policy allkeys-lru" in lines
    assert {"lazyfree-lazy-eviction yes", "lazyfree-lazy-expire yes", "replica-lazy-flush yes"} <= set(lines)
    assert {"min-replicas-to-write 0", 'save ""', "appendonly no"} <= set(lines)
    _, lines = render_conf()
    assert {"lazyfree-lazy-eviction no", "min-replicas-to-write 1", "appendonly yes"} <= set(lines)


def test_the_unit_of_a_cache_does_not_restart_it_empty():
    unit = render("etc/systemd/system/server@.service.j2", redis_server_profile="cache")
    assert "Restart=no" in unit.splitlines()
    unit = render("etc/systemd/system/server@.service.j2", redis_server_profile="queue")
    assert "Restart=on-failure" in unit.splitlines()


def test_the_profiles_page_is_current():
    import importlib.util

    from .role_code import REPO

    spec = importlib.util.spec_from_file_location("profiles_doc", REPO / "tools" / "profiles_doc.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--check"]) == 0, "docs/profiles.md is stale: run 'python tools/profiles_doc.py'"


def test_the_fence_closes_min_replicas_max_lag_plus_its_delay_or_never():
    assert profiles.fence_closes_s(1, 2) == 2 + profiles.FENCE_DELAY_S
    assert profiles.fence_closes_s(0, 2) is None  # nothing refuses the writes
    assert profiles.fence_closes_s(1, 0) is None  # lag 0 turns min-replicas-to-write off


@pytest.mark.parametrize("name", [p for p in profiles.PROFILES if profiles.profile(p).fenced])
def test_a_fenced_profile_closes_its_fence_within_the_sentinel_roles_down_after(name):
    """store and queue: with the kit's defaults a cut-off primary refuses writes before Sentinel
    can promote a replica (PRO-05 judges the live pair)."""
    sentinel = yaml.safe_load((SENTINEL_ROLE / "defaults" / "main.yml").read_text())
    p = profiles.profile(name)
    closes = profiles.fence_closes_s(p.min_replicas_to_write, p.min_replicas_max_lag)
    assert closes is not None and closes * 1000 <= sentinel["redis_sentinel_down_after_milliseconds"]
    assert instance(redis_server_profile=name)["min_replicas_max_lag"] == p.min_replicas_max_lag == 2
