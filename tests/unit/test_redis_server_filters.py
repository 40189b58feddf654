"""The redis_server role's pure logic (plugins/filter/redis_server.py): no server, no network, no root."""

from __future__ import annotations

import hashlib

import pytest

from .role_code import MEMTOTAL_MB, F, baseline

RedisVarError = F.RedisVarError

MB = 1024**2
GB = 1024**3


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- redis_bytes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (123456, 123456),
        ("100mb", 100 * MB),
        ("1gb", GB),
        ("1GB", GB),
        ("1000", 1000),
        ("2k", 2000),
        ("2kb", 2048),
        ("3m", 3_000_000),
        ("5g", 5_000_000_000),
        (" 64mb ", 64 * MB),
    ],
)
def test_redis_bytes_reads_bytes_and_redis_units(value, expected):
    assert F.redis_bytes(value) == expected


def test_redis_bytes_share_of_ram_is_split_across_instances():
    assert F.redis_bytes("50%", memtotal_mb=MEMTOTAL_MB) == 4 * GB
    assert F.redis_bytes("50%", memtotal_mb=MEMTOTAL_MB, instances=2) == 2 * GB
    assert F.redis_bytes("100%", memtotal_mb=1024, instances=4) == 256 * MB
    assert F.redis_bytes("25%", memtotal_mb=MEMTOTAL_MB, instances=0) == 2 * GB


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        ("lots", {}),
        ("1.5gb", {}),
        ("-5mb", {}),
        ("150%", {"memtotal_mb": MEMTOTAL_MB}),
        ("0%", {"memtotal_mb": MEMTOTAL_MB}),
        ("half%", {"memtotal_mb": MEMTOTAL_MB}),
        (True, {}),
        (False, {}),
        ("50%", {}),
    ],
)
def test_redis_bytes_refuses_what_is_not_a_size(value, kwargs):
    with pytest.raises(RedisVarError):
        F.redis_bytes(value, **kwargs)


def test_redis_var_error_is_a_value_error():
    assert issubclass(RedisVarError, ValueError)


# --- redis_memory -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (104857600, "100mb"),
        (1073741824, "1gb"),
        (1024, "1kb"),
        (1000, "1000"),
        (0, "0"),
        (1536 * MB, "1536mb"),
        (2 * GB, "2gb"),
        (1025, "1025"),
        ("2048", "2kb"),
    ],
)
def test_redis_memory_writes_what_config_rewrite_writes(value, expected):
    assert F.redis_memory(value) == expected


@pytest.mark.parametrize("text", ["100mb", "1gb", "1kb", "1000", "0", "64mb", "3gb", "1536mb", "1025"])
def test_redis_memory_of_redis_bytes_round_trips_canonical_sizes(text):
    assert F.redis_memory(F.redis_bytes(text)) == text


@pytest.mark.parametrize("value", [0, 1, 1000, 1024, 4097, 100 * MB, 7 * GB, 3 * GB + 1])
def test_redis_bytes_of_redis_memory_is_the_same_number(value):
    assert F.redis_bytes(F.redis_memory(value)) == value


# --- redis_quote / redis_yesno ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/var/lib/redis", '"/var/lib/redis"'),
        ('pa"ss', '"pa\\"ss"'),
        ("back\\slash", '"back\\\\slash"'),
        ("two\nlines", '"two\\nlines"'),
        ("cr\rtab\t", '"cr\\rtab\\t"'),
        ("\x01", '"\\x01"'),
        ("é", '"\\xc3\\xa9"'),
        ("", '""'),
        (6379, '"6379"'),
    ],
)
def test_redis_quote_double_quotes_with_c_escapes(value, expected):
    assert F.redis_quote(value) == expected


def test_redis_quote_bell_and_backspace_like_sdscatrepr():
    assert F.redis_quote("\a\b") == '"\\a\\b"'


@pytest.mark.parametrize(
    ("value", "expected"), [(True, "yes"), (False, "no"), (1, "yes"), (0, "no"), ("local", "local")]
)
def test_redis_yesno(value, expected):
    assert F.redis_yesno(value) == expected


# --- redis_instances ----------------------------------------------------------------


def test_redis_instances_defaults_resolve_paths_and_ports():
    [inst] = F.redis_instances(baseline(), MEMTOTAL_MB)
    assert inst["name"] == "main"
    assert (inst["port"], inst["plain_port"], inst["tls_port"]) == (6379, 0, 6379)  # TLS only by default
    assert inst["conf_dir"] == "/etc/redis/main"
    assert inst["conf_file"] == "/etc/redis/main/redis.conf"
    assert inst["acl_file"] == "/etc/redis/main/users.acl"
    assert inst["data_dir"] == "/var/lib/redis/main"
    assert inst["log_file"] == "/var/log/redis/instance-main.log"
    assert inst["unit"] == "redis-server@main.service"
    assert inst["maxmemory_bytes"] == 4 * GB
    assert inst["maxmemory_policy"] == "noeviction"
    assert inst["persistent"] is True


@pytest.mark.parametrize(
    ("mode", "instance", "plain_port", "tls_port"),
    [
        ("off", {"name": "main", "port": 6379}, 6379, 0),
        ("off", {"name": "main", "port": 6379, "tls_port": 7000}, 6379, 0),
        ("both", {"name": "main", "port": 6379}, 6379, 16379),
        ("both", {"name": "main", "port": 6379, "tls_port": 6390}, 6379, 6390),
        ("only", {"name": "main", "port": 6379}, 0, 6379),
        ("only", {"name": "main", "port": 6379, "tls_port": 7000}, 0, 6379),
    ],
)
def test_redis_instances_ports_follow_tls_mode(mode, instance, plain_port, tls_port):
    role_vars = baseline(redis_server_tls_mode=mode, redis_server_instances=[instance])
    [inst] = F.redis_instances(role_vars, MEMTOTAL_MB)
    assert (inst["plain_port"], inst["tls_port"]) == (plain_port, tls_port)


def test_redis_instances_instance_overrides_win_over_role_wide_settings():
    role_vars = baseline(
        redis_server_maxmemory="1gb",
        redis_server_conf_dir="/srv/conf",
        redis_server_data_dir="/srv/data",
        redis_server_log_dir="/srv/log",
        redis_server_instances=[
            {"name": "main", "port": 6379},
            {
                "name": "cache",
                "port": "6380",
                "maxmemory": "256mb",
                "maxmemory_policy": "allkeys-lru",
                "save": [],
                "appendonly": False,
                "maxclients": 100,
                "replica_priority": 0,
            },
        ],
    )
    main, cache = F.redis_instances(role_vars, MEMTOTAL_MB)
    assert main["maxmemory_bytes"] == GB
    assert main["maxmemory_policy"] == "noeviction"
    assert main["maxclients"] == 10000
    assert main["replica_priority"] == 100
    assert main["persistent"] is True
    assert cache["port"] == 6380
    assert cache["maxmemory_bytes"] == 256 * MB
    assert cache["maxmemory_policy"] == "allkeys-lru"
    assert cache["maxclients"] == 100
    assert cache["replica_priority"] == 0
    assert cache["persistent"] is False
    assert cache["conf_file"] == "/srv/conf/cache/redis.conf"
    assert cache["acl_file"] == "/srv/conf/cache/users.acl"
    assert cache["data_dir"] == "/srv/data/cache"
    assert cache["log_file"] == "/srv/log/instance-cache.log"


def test_redis_instances_share_of_ram_is_split_between_instances():
    role_vars = baseline(
        redis_server_instances=[{"name": "a", "port": 6379}, {"name": "b", "port": 6380}],
    )
    assert [i["maxmemory_bytes"] for i in F.redis_instances(role_vars, MEMTOTAL_MB)] == [2 * GB, 2 * GB]


@pytest.mark.parametrize(("maxclients", "nofile"), [(10, 65535), (10000, 65535), (100000, 100032)])
def test_redis_instances_nofile_fits_maxclients(maxclients, nofile):
    [inst] = F.redis_instances(baseline(redis_server_maxclients=maxclients), MEMTOTAL_MB)
    assert inst["nofile"] == nofile
    assert inst["nofile"] >= maxclients + 32


@pytest.mark.parametrize(
    ("save", "appendonly", "persistent"),
    [
        ([{"seconds": 60, "changes": 1}], False, True),
        ([], True, True),
        ([], False, False),
        (None, False, True),  # null: the store profile's save rules
    ],
)
def test_redis_instances_persistent_flag(save, appendonly, persistent):
    role_vars = baseline(redis_server_save=save, redis_server_appendonly=appendonly)
    [inst] = F.redis_instances(role_vars, MEMTOTAL_MB)
    assert inst["persistent"] is persistent


# --- redis_server_problems ----------------------------------------------------------


def test_baseline_variables_have_no_problems():
    assert F.redis_server_problems(baseline(), MEMTOTAL_MB) == []


APP_PASSWORD = "application-secret-0123456789"

WRONG = [
    pytest.param(
        {"redis_server_maxmemory_policy": "lru"}, "redis_server_maxmemory_policy 'lru'", id="policy"
    ),
    pytest.param(
        {"redis_server_instances": [{"name": "main", "port": 6379, "maxmemory_policy": "lru"}]},
        "redis_server_instances (main).maxmemory_policy",
        id="instance-policy",
    ),
    pytest.param(
        {"redis_server_admin_password": ""}, "redis_server_admin_password is not set", id="no-admin-password"
    ),
    pytest.param(
        {"redis_server_replication_password": "short"},
        "redis_server_replication_password is shorter than 16",
        id="short-password",
    ),
    pytest.param(
        {"redis_server_sentinel_password": "x" * 20, "redis_server_password_min_length": 24},
        "redis_server_sentinel_password is shorter than 24",
        id="password-min-length",
    ),
    pytest.param({"redis_server_admin_user": "bad name"}, "redis_server_admin_user", id="bad-user-name"),
    pytest.param({"redis_server_instances": []}, "redis_server_instances is empty", id="no-instances"),
    pytest.param(
        {"redis_server_instances": [{"name": "main", "port": 6379}, {"name": "main", "port": 6380}]},
        "redis_server_instances: two instances are named 'main'",
        id="duplicate-names",
    ),
    pytest.param(
        {"redis_server_instances": [{"name": "a", "port": 6379}, {"name": "b", "port": 6379}]},
        "redis_server_instances: two instances (or TLS ports) use port 6379",
        id="duplicate-ports",
    ),
    pytest.param(
        {
            "redis_server_tls_mode": "both",
            "redis_server_instances": [
                {"name": "a", "port": 6379, "tls_port": 6380},
                {"name": "b", "port": 6380},
            ],
        },
        "redis_server_instances: two instances (or TLS ports) use port 6380",
        id="tls-port-collides",
    ),
    pytest.param(
        {
            "redis_server_tls_mode": "both",
            "redis_server_instances": [{"name": "a", "port": 6379}, {"name": "b", "port": 16379}],
        },
        "use port 16379",
        id="implicit-tls-port-collides",
    ),
    pytest.param(
        {"redis_server_instances": [{"name": "main", "port": 6379, "tls": True}]},
        "redis_server_instances[0] has unknown key(s) ['tls']",
        id="unknown-instance-key",
    ),
    pytest.param(
        {"redis_server_instances": [{"name": "Main!", "port": 6379}]},
        "redis_server_instances[0].name 'Main!'",
        id="invalid-instance-name",
    ),
    pytest.param(
        {"redis_server_instances": [{"name": "main"}]},
        "redis_server_instances[0] needs a name and a port",
        id="instance-without-port",
    ),
    pytest.param(
        {"redis_server_instances": [{"name": "main", "port": 70000}]},
        "redis_server_instances[0].port 70000 is outside 1-65535",
        id="port-out-of-range",
    ),
    pytest.param(
        {"redis_server_instances": [{"name": "main", "port": "http"}]},
        "redis_server_instances[0].port 'http' is not a port number",
        id="port-not-a-number",
    ),
    pytest.param(
        {"redis_server_firewall_extra_ports": [6379]},
        "redis_server_firewall_extra_ports",
        id="extra-port-collides",
    ),
    pytest.param({"redis_server_appendfsync": "sometimes"}, "redis_server_appendfsync", id="appendfsync"),
    pytest.param({"redis_server_loglevel": "chatty"}, "redis_server_loglevel", id="loglevel"),
    pytest.param(
        {"redis_server_save": [{"seconds": 0, "changes": 1}]}, "redis_server_save[0]", id="save-zero"
    ),
    pytest.param({"redis_server_save": ["900 1"]}, "redis_server_save[0]", id="save-string"),
    pytest.param(
        {"redis_server_save": [{"seconds": 60, "changes": 1}, {"seconds": 60}]},
        "redis_server_save[1]",
        id="save-missing-changes",
    ),
    pytest.param({"redis_server_maxmemory": 0}, "redis_server_maxmemory is 0", id="maxmemory-zero"),
    pytest.param({"redis_server_maxmemory": "lots"}, "redis_server_maxmemory", id="maxmemory-not-a-size"),
    pytest.param(
        {"redis_server_maxmemory": "90%"}, "redis_server_maxmemory: the instances", id="no-fork-headroom"
    ),
    pytest.param(
        {"redis_server_maxmemory": "7gb"}, "redis_server_maxmemory_allow_no_fork_headroom", id="fork-7gb"
    ),
    pytest.param({"redis_server_bind": []}, "redis_server_bind is empty", id="bind-empty"),
    pytest.param(
        {"redis_server_bind": ["0.0.0.0"]},
        "redis_server_bind ['0.0.0.0'] listens on every",
        id="bind-wildcard-v4",
    ),
    pytest.param(
        {"redis_server_bind": ["127.0.0.1", "-::*"]},
        "redis_server_bind ['127.0.0.1', '-::*'] listens",
        id="bind-wildcard-v6",
    ),
    pytest.param(
        {"redis_server_client_networks": ["10.1.0.0/16", "office"]},
        "redis_server_client_networks: 'office'",
        id="client-network",
    ),
    pytest.param(
        {"redis_server_acl_users": [{"name": "app"}]},
        "redis_server_acl_users[0] (app) has no password",
        id="app-user-without-password",
    ),
    pytest.param(
        {"redis_server_acl_users": [{"password": APP_PASSWORD}]},
        "redis_server_acl_users[0] needs a name",
        id="app-user-without-name",
    ),
    pytest.param(
        {"redis_server_acl_users": [{"name": "default", "password": APP_PASSWORD}]},
        "redis_server_acl_users[0]: the 'default' user",
        id="app-user-default",
    ),
    pytest.param(
        {"redis_server_acl_users": [{"name": "app", "password": "short"}]},
        "redis_server_acl_users[0] (app): password shorter than 16",
        id="app-user-short-password",
    ),
    pytest.param(
        {"redis_server_acl_users": [{"name": "app", "password": APP_PASSWORD, "role": "rw"}]},
        "redis_server_acl_users[0] (app) has unknown key(s) ['role']",
        id="app-user-unknown-key",
    ),
    pytest.param(
        {"redis_server_acl_users": [{"name": "app", "password": APP_PASSWORD, "commands": ["get"]}]},
        "redis_server_acl_users[0] (app).commands: 'get'",
        id="app-user-bad-command-rule",
    ),
    pytest.param(
        {"redis_server_acl_users": [{"name": "bad name", "password": APP_PASSWORD}]},
        "redis_server_acl_users[0].name 'bad name'",
        id="app-user-bad-name",
    ),
    pytest.param(
        {
            "redis_server_acl_users": [
                {"name": "app", "password": APP_PASSWORD},
                {"name": "app", "password": APP_PASSWORD},
            ]
        },
        "redis_server_acl_users",
        id="duplicate-acl-users",
    ),
    pytest.param(
        {"redis_server_rename_commands": {"CONFIG": ""}},
        "redis_server_rename_commands: CONFIG cannot be renamed",
        id="rename-config",
    ),
    pytest.param(
        {"redis_server_rename_commands": {"replicaof": "x"}},
        "redis_server_rename_commands: replicaof cannot be renamed",
        id="rename-replicaof-lower-case",
    ),
    pytest.param({"redis_server_tls_mode": "on"}, "redis_server_tls_mode 'on'", id="tls-mode"),
    pytest.param(
        {"redis_server_tls_mode": "only", "redis_server_tls_pki_dir": ""},
        "redis_server_tls_pki_dir",
        id="tls-without-certificate-source",
    ),
    pytest.param(
        {"redis_server_tls_mode": "both", "redis_server_tls_ca_cert": "/srv/pki/ca.crt"},
        "redis_server_tls_ca_cert, redis_server_tls_cert and redis_server_tls_key go together",
        id="tls-some-own-files",
    ),
    pytest.param(
        {"redis_server_tls_mode": "only", "redis_server_tls_auth_clients": "maybe"},
        "redis_server_tls_auth_clients",
        id="tls-auth-clients",
    ),
]


@pytest.mark.parametrize(("overrides", "expected"), WRONG)
def test_wrong_variables_are_refused_naming_the_variable(overrides, expected):
    problems = F.redis_server_problems(baseline(**overrides), MEMTOTAL_MB)
    assert any(expected in p for p in problems), f"{expected!r} not in {problems}"


def test_duplicate_acl_user_names_are_refused():
    role_vars = baseline(redis_server_acl_users=[{"name": "admin", "password": APP_PASSWORD}])
    problems = F.redis_server_problems(role_vars, MEMTOTAL_MB)
    assert any(p.startswith("ACL user 'admin' is defined twice (redis_server_acl_users") for p in problems)


def test_wildcard_bind_is_accepted_when_allowed():
    role_vars = baseline(redis_server_bind=["0.0.0.0"], redis_server_bind_allow_wildcard=True)
    assert F.redis_server_problems(role_vars, MEMTOTAL_MB) == []


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"redis_server_maxmemory_allow_no_fork_headroom": True}, id="allowed"),
        pytest.param(
            {"redis_server_profile": "cache", "redis_server_save": [], "redis_server_appendonly": False},
            id="persistence-off",
        ),
    ],
)
def test_no_fork_headroom_passes_when_accepted_or_not_persisting(overrides):
    role_vars = baseline(redis_server_maxmemory="90%", **overrides)
    assert F.redis_server_problems(role_vars, MEMTOTAL_MB) == []


@pytest.mark.parametrize(
    ("maxmemory", "ok"), [("75%", True), ("76%", False), ("6gb", True), ("6145mb", False)]
)
def test_fork_headroom_limit_is_three_quarters_of_ram(maxmemory, ok):
    problems = F.redis_server_problems(baseline(redis_server_maxmemory=maxmemory), MEMTOTAL_MB)
    assert (problems == []) is ok, problems


def test_fork_headroom_counts_every_instance_on_the_host():
    role_vars = baseline(
        redis_server_maxmemory="3gb",
        redis_server_instances=[{"name": "a", "port": 6379}, {"name": "b", "port": 6380}],
    )
    assert F.redis_server_problems(role_vars, MEMTOTAL_MB) == []
    role_vars["redis_server_maxmemory"] = "4gb"
    problems = F.redis_server_problems(role_vars, MEMTOTAL_MB)
    assert any(
        p.startswith("redis_server_maxmemory: the instances on this host may use 8192 MB") for p in problems
    )


def test_share_of_ram_without_memory_facts_is_a_problem_not_a_crash():
    problems = F.redis_server_problems(baseline(), None)
    assert problems and all(p.startswith("redis_server_maxmemory") for p in problems), problems


def test_tls_with_own_files_needs_no_pki_dir():
    role_vars = baseline(
        redis_server_tls_mode="only",
        redis_server_tls_pki_dir="",
        redis_server_tls_ca_cert="/srv/pki/ca.crt",
        redis_server_tls_cert="/srv/pki/redis.crt",
        redis_server_tls_key="/srv/pki/redis.key",
    )
    assert F.redis_server_problems(role_vars, MEMTOTAL_MB) == []


def test_tls_port_beyond_65535_is_refused():
    role_vars = baseline(
        redis_server_tls_mode="both", redis_server_instances=[{"name": "main", "port": 60000}]
    )
    problems = F.redis_server_problems(role_vars, MEMTOTAL_MB)
    assert any("redis_server_instances[0]" in p and "70000" in p for p in problems), problems


def test_non_numeric_instance_tls_port_is_a_message_not_a_crash():
    role_vars = baseline(
        redis_server_tls_mode="both", redis_server_instances=[{"name": "main", "port": 6379, "tls_port": "x"}]
    )
    problems = F.redis_server_problems(role_vars, MEMTOTAL_MB)
    assert any("redis_server_instances[0]" in p for p in problems), problems


def test_non_numeric_instance_maxclients_is_a_message_not_a_crash():
    role_vars = baseline(redis_server_instances=[{"name": "main", "port": 6379, "maxclients": "many"}])
    problems = F.redis_server_problems(role_vars, MEMTOTAL_MB)
    assert any("redis_server_instances[0]" in p for p in problems), problems


def test_instance_save_override_is_validated():
    role_vars = baseline(
        redis_server_instances=[{"name": "main", "port": 6379, "save": [{"seconds": 0, "changes": 1}]}]
    )
    problems = F.redis_server_problems(role_vars, MEMTOTAL_MB)
    assert any("redis_server_instances" in p and "save" in p for p in problems), problems


# --- redis_current_primary ------------------------------------------------------------

ADDRESSES = {"redis-1": "10.0.0.11", "redis-2": "10.0.0.12", "redis-3": "10.0.0.13"}


def _live(**states) -> dict:
    """host=None (not running), "master", or the address it follows (a replica)."""
    live = {}
    for host, state in states.items():
        host = host.replace("_", "-")
        info = {"address": ADDRESSES[host], "running": state is not None}
        if state == "master":
            info["role"] = "master"
        elif state is not None:
            info.update(role="slave", master_host=state)
        live[host] = info
    return live


def test_no_server_running_means_the_inventory_primary():
    live = _live(redis_1=None, redis_2=None, redis_3=None)
    assert F.redis_current_primary(live, "redis-1") == {"host": "redis-1", "source": "inventory"}


def test_empty_live_means_the_inventory_primary():
    assert F.redis_current_primary({}, "redis-1") == {"host": "redis-1", "source": "inventory"}


def test_rerun_after_failover_keeps_the_new_primary():
    live = _live(redis_1="10.0.0.12", redis_2="master", redis_3="10.0.0.12")
    assert F.redis_current_primary(live, "redis-1") == {"host": "redis-2", "source": "live"}


def test_the_one_running_master_is_the_primary_even_when_it_is_alone():
    live = _live(redis_1=None, redis_2=None, redis_3="master")
    assert F.redis_current_primary(live, "redis-1") == {"host": "redis-3", "source": "live"}


def test_replicas_following_one_of_our_hosts_name_it_while_it_is_down():
    live = _live(redis_1=None, redis_2="10.0.0.13", redis_3=None)
    assert F.redis_current_primary(live, "redis-1") == {"host": "redis-3", "source": "live"}


def test_replicas_following_a_stranger_fall_back_to_the_inventory():
    live = _live(redis_1=None, redis_2="192.0.2.1", redis_3="192.0.2.1")
    assert F.redis_current_primary(live, "redis-1") == {"host": "redis-1", "source": "inventory"}


def test_a_fresh_lone_master_does_not_rival_the_followed_master():
    live = _live(redis_1="master", redis_2="10.0.0.13", redis_3="master")
    assert F.redis_current_primary(live, "redis-1") == {"host": "redis-3", "source": "live"}


def test_fresh_masters_nobody_follows_keep_the_inventory_primary():
    live = _live(redis_1="master", redis_2="master", redis_3=None)
    assert F.redis_current_primary(live, "redis-1") == {"host": "redis-1", "source": "inventory"}


def test_two_masters_with_followers_is_split_brain_and_refused():
    live = _live(redis_1="master", redis_2="10.0.0.11", redis_3="master")
    live["redis-4"] = {"address": "10.0.0.14", "running": True, "role": "slave", "master_host": "10.0.0.13"}
    with pytest.raises(RedisVarError, match="more than one primary") as info:
        F.redis_current_primary(live, "redis-1")
    assert "redis-1" in str(info.value) and "redis-3" in str(info.value)


# --- redis_primaries ----------------------------------------------------------------


HOSTVARS = {h: {"ansible_host": a} for h, a in ADDRESSES.items()}


def _results(**roles) -> list[dict]:
    """redis_info results looped over (host, instance 'main'): (role, master_host), or None if down."""
    results = []
    for host, state in roles.items():
        host = host.replace("_", "-")
        item = [host, {"name": "main"}]
        if state is None:
            results.append({"item": item, "running": False, "reason": "Could not connect"})
            continue
        role, master_host = state
        result = {"item": item, "running": True, "role": role}
        if master_host:
            result["master_host"] = master_host
        results.append(result)
    return results


def test_redis_primaries_reads_every_hosts_results():
    results = _results(
        redis_1=("slave", "10.0.0.12"), redis_2=("master", None), redis_3=("slave", "10.0.0.12")
    )
    assert F.redis_primaries(results, HOSTVARS, ["main"], "redis-1") == {"main": "redis-2"}


def test_redis_primaries_first_deploy_and_unknown_instances_use_the_inventory():
    results = _results(redis_1=None, redis_2=None, redis_3=("master", None))
    # 'main' runs on redis-3 only; 'cache' runs nowhere yet.
    assert F.redis_primaries(results, HOSTVARS, ["main", "cache"], "redis-1") == {
        "main": "redis-3",
        "cache": "redis-1",
    }


def test_redis_primaries_with_no_server_answering_uses_the_inventory():
    results = _results(redis_1=None, redis_2=None, redis_3=None)
    assert F.redis_primaries(results, HOSTVARS, ["main"], "redis-1") == {"main": "redis-1"}


# --- redis_acl_line -------------------------------------------------------------------


def test_redis_acl_line_full_user():
    user = {
        "name": "app",
        "password": "secret",
        "keys": ["app:*", "%R~*", "~cache:*"],
        "channels": ["chan"],
        "commands": ["+get", "+set"],
    }
    line = F.redis_acl_line(user, ["+@all", "-@dangerous"])
    assert line == f"user app on #{_sha256('secret')} ~app:* %R~* ~cache:* &chan +get +set"
    assert "secret" not in line.replace(_sha256("secret"), "")


def test_redis_acl_line_without_keys_channels_or_commands():
    line = F.redis_acl_line({"name": "app", "password": "secret"})
    assert line == f"user app on #{_sha256('secret')} resetkeys resetchannels -@all"


def test_redis_acl_line_default_commands_apply_only_without_commands():
    defaults = ["+@all", "-@dangerous"]
    assert F.redis_acl_line({"name": "a", "password": "secret"}, defaults).endswith(
        "resetchannels +@all -@dangerous"
    )
    assert F.redis_acl_line({"name": "a", "password": "secret", "commands": ["+ping"]}, defaults).endswith(
        "resetchannels +ping"
    )


def test_redis_acl_line_disabled_user_is_off():
    line = F.redis_acl_line({"name": "old", "password": "secret", "enabled": False})
    assert line.startswith("user old off #")


@pytest.mark.parametrize("password", ["secret", "a-much-longer-secret-for-production", 'we"ird pass'])
def test_redis_acl_line_never_contains_the_cleartext_password(password):
    line = F.redis_acl_line({"name": "app", "password": password, "keys": ["*"]}, ["+@all"])
    assert password not in line
    assert f"#{_sha256(password)}" in line.split(" ")
    assert "nopass" not in line


# --- redis_replica_connection ---------------------------------------------------------


@pytest.mark.parametrize(
    ("plain", "tls", "tls_replication", "port", "over_tls"),
    [
        (0, 6379, True, 6379, True),  # TLS only
        (6379, 16379, True, 16379, True),  # both: replicas announce their TLS port
        (6379, 16379, False, 6379, False),  # both, replication in the clear
        (6379, 0, True, 6379, False),  # no TLS at all
    ],
)
def test_redis_replica_connection_follows_the_port_replicas_announce(
    plain, tls, tls_replication, port, over_tls
):
    inst = {"plain_port": plain, "tls_port": tls}
    conn = F.redis_replica_connection(inst, "/etc/redis/tls", "admin", "pw", tls_replication)
    assert (conn["port"], conn["tls"]) == (port, over_tls)
    assert ("cert" in conn) is over_tls and conn["user"] == "admin"


# --- redis_local_connection -----------------------------------------------------------


def test_redis_local_connection_tls_only_instance():
    [inst] = F.redis_instances(baseline(redis_server_tls_mode="only"), MEMTOTAL_MB)
    conn = F.redis_local_connection(inst, "/etc/redis/tls", "admin", "pw")
    assert conn == {
        "host": "127.0.0.1",
        "port": 6379,
        "tls": True,
        "user": "admin",
        "password": "pw",
        "cacert": "/etc/redis/tls/ca.crt",
        "cert": "/etc/redis/tls/redis.crt",
        "key": "/etc/redis/tls/redis.key",
    }


@pytest.mark.parametrize("mode", ["off", "both"])
def test_redis_local_connection_plain_port_when_there_is_one(mode):
    [inst] = F.redis_instances(baseline(redis_server_tls_mode=mode), MEMTOTAL_MB)
    conn = F.redis_local_connection(inst, "/etc/redis/tls", "admin", "pw")
    assert conn == {"host": "127.0.0.1", "port": 6379, "tls": False, "user": "admin", "password": "pw"}


# --- redis_firewall_sources -------------------------------------------------------------


def test_redis_firewall_sources_split_by_family_deduplicated_and_sorted():
    hostvars = {
        "redis-2": {"ansible_host": "10.0.0.12"},
        "redis-1": {"ansible_host": "10.0.0.11"},
        "redis-6": {"ansible_host": "fd00::1"},
    }
    networks = ["192.168.1.0/24", "10.0.0.11", "fd00:1::/64", "192.168.1.5/24", "10.0.0.12/32", "2001:db8::7"]
    assert F.redis_firewall_sources(hostvars, ["redis-1", "redis-2", "redis-6"], networks) == {
        "v4": ["10.0.0.11", "10.0.0.12", "192.168.1.0/24"],
        "v6": ["2001:db8::7", "fd00::1", "fd00:1::/64"],
    }


def test_redis_firewall_sources_only_hosts():
    hostvars = {"redis-1": {"ansible_host": "10.0.0.11"}}
    assert F.redis_firewall_sources(hostvars, ["redis-1"], []) == {"v4": ["10.0.0.11"], "v6": []}


@pytest.mark.parametrize(
    "hostvars",
    [{"redis-1": {"ansible_host": "redis-1.example.org"}}, {"redis-1": {}}],
    ids=["hostname", "no-ansible-host"],
)
def test_redis_firewall_sources_refuses_a_host_without_an_ip(hostvars):
    with pytest.raises(RedisVarError, match="ansible_host"):
        F.redis_firewall_sources(hostvars, ["redis-1"], [])


def test_filter_module_registers_every_filter():
    filters = F.FilterModule().filters()
    assert set(filters) == {
        "redis_bytes",
        "redis_pki_dir",
        "redis_memory",
        "redis_quote",
        "redis_yesno",
        "redis_instances",
        "redis_server_problems",
        "redis_current_primary",
        "redis_acl_line",
        "redis_local_connection",
        "redis_builtin_users",
        "redis_replica_connection",
        "redis_primaries",
        "redis_topology",
        "redis_firewall_sources",
        "redis_certs_due",
        "redis_client_certs",
        "redis_rdb_format",
        "redis_migration_problems",
        "redis_inspect_problems",
        "redis_inspect_authorized_keys",
        "redis_inspect_targets",
        "redis_inspect_target_file",
    }
    assert all(callable(f) for f in filters.values())


# --- redis_certs_due ----------------------------------------------------------------

HOST_SANS = ["DNS:redis-1", "DNS:localhost", "IP:127.0.0.1", "IP:10.0.0.11"]


def _cert_info(**fields) -> dict:
    return {"item": {"name": "redis-1", "sans": HOST_SANS}, **fields}


def test_certs_due_when_missing_expiring_or_for_other_names():
    valid = _cert_info(subject_alt_name=list(reversed(HOST_SANS)), valid_at={"renew": True})
    missing = _cert_info(failed=True, msg="No such file")
    expiring = _cert_info(subject_alt_name=HOST_SANS, valid_at={"renew": False})
    moved = _cert_info(subject_alt_name=[*HOST_SANS[:3], "IP:10.0.0.99"], valid_at={"renew": True})
    assert F.redis_certs_due([valid]) == []
    assert F.redis_certs_due([missing]) == [{"name": "redis-1", "sans": HOST_SANS, "exists": False}]
    assert F.redis_certs_due([expiring]) == [{"name": "redis-1", "sans": HOST_SANS, "exists": True}]
    assert F.redis_certs_due([moved]) == [{"name": "redis-1", "sans": HOST_SANS, "exists": True}]


def test_client_certificates_one_per_consumer_and_application_client_auth_only():
    users = [{"name": "shop", "password": "x"}, {"name": "legacy", "password": "y", "tls_client_cert": False}]
    certs = F.redis_client_certs(users)
    assert [c["name"] for c in certs] == [
        "redisops-control", "redisops-exporter", "redisops-backup", "redisops-compliance", "redisops-inspect",
        "app-shop",
    ]  # fmt: skip
    assert all(c["usage"] == ["clientAuth"] and c["dir"] == "clients" for c in certs)
    assert certs[-1]["sans"] == ["DNS:app-shop"]
    assert [c["name"] for c in F.redis_client_certs(None)] == list(F.KIT_CLIENTS)


def test_client_certificates_renew_like_host_certificates():
    [control] = F.redis_client_certs([])[:1]
    expiring = {"item": control, "subject_alt_name": control["sans"], "valid_at": {"renew": False}}
    valid = {"item": control, "subject_alt_name": control["sans"], "valid_at": {"renew": True}}
    assert F.redis_certs_due([valid]) == []
    assert F.redis_certs_due([expiring]) == [{**control, "exists": True}]


def test_ansible_host_must_be_an_ip_address():
    role_vars = baseline()
    assert F.redis_server_problems(role_vars, MEMTOTAL_MB, "10.0.0.11") == []
    problems = F.redis_server_problems(role_vars, MEMTOTAL_MB, "redis-1.example.org")
    assert any(p.startswith("ansible_host 'redis-1.example.org' is not an IP address") for p in problems)


def test_valkey_flavor_picks_units_binaries_and_paths():
    [inst] = F.redis_instances(baseline(redis_server_flavor="valkey"), MEMTOTAL_MB)
    assert inst["unit"] == "valkey-server@main.service"
    assert inst["server_bin"] == "/usr/bin/valkey-server"
    assert inst["conf_file"] == "/etc/valkey/main/valkey.conf"
    assert inst["data_dir"] == "/var/lib/valkey/main"
    assert inst["log_file"] == "/var/log/valkey/instance-main.log"
    # The same instance under Redis is what a switch replaces.
    assert inst["other_units"] == ["redis-server@main.service"]
    [redis] = F.redis_instances(baseline(), MEMTOTAL_MB)
    assert (redis["unit"], redis["conf_file"], redis["other_units"]) == (
        "redis-server@main.service",
        "/etc/redis/main/redis.conf",
        ["valkey-server@main.service"],
    )


def test_unknown_flavor_is_refused_by_name():
    problems = F.redis_server_problems(baseline(redis_server_flavor="keydb"), MEMTOTAL_MB)
    assert any("redis_server_flavor is 'keydb'" in p and "redis or valkey" in p for p in problems)


@pytest.mark.parametrize(
    ("flavor", "version", "rdb"),
    [
        ("redis", "6.2.14", 9),
        ("redis", "7.0.15", 10),
        ("redis", "7.2.5", 11),
        ("redis", "7.4.1", 12),
        ("redis", "8.0.2", 12),
        ("valkey", "7.2.5", 11),
        ("valkey", "8.0.1", 11),
        ("valkey", "8.1.1", 11),
        ("redis", "8.6.1", 13),
        ("valkey", "9.0.0", 80),
        ("valkey", "9.4.0", None),  # not known to the kit: refused rather than guessed
        ("redis", "5:7.0.15-1", 10),  # apt's version, epoch first
        ("redis", "", None),
    ],
)
def test_rdb_format_of_each_server(flavor, version, rdb):
    assert F.redis_rdb_format(flavor, version) == rdb


def test_migration_from_redis_7_0_to_valkey_8_is_possible():
    source = {"flavor": "redis", "version": "7.0.15"}
    targets = {h: {"flavor": "valkey", "version": "8.0.1"} for h in ("redis-1", "redis-2")}
    assert F.redis_migration_problems(source, targets) == []


def test_migration_from_redis_8_to_valkey_is_refused_naming_the_formats():
    source = {"flavor": "redis", "version": "8.0.2"}
    [problem] = F.redis_migration_problems(source, {"redis-2": {"flavor": "valkey", "version": "8.1.1"}})
    assert problem.startswith("redis-2: valkey 8.1.1 reads RDB format 11 at most")
    assert "writes format 12" in problem and "redis_server_flavor" in problem


def test_migration_judges_what_each_server_loads_not_only_the_format_numbers():
    # Valkey 9 writes format 80 but still loads Redis 7.2's 11; never Redis 8's 12.
    valkey_9 = {"redis-2": {"flavor": "valkey", "version": "9.0.0"}}
    assert F.redis_migration_problems({"flavor": "redis", "version": "7.2.5"}, valkey_9) == []
    [problem] = F.redis_migration_problems({"flavor": "redis", "version": "8.0.2"}, valkey_9)
    assert problem.startswith("redis-2: valkey 9.0.0 does not read format 12")
    # Redis 8.6 writes 13, which 8.4 cannot load.
    older = {"redis-2": {"flavor": "redis", "version": "8.4.0"}}
    [problem] = F.redis_migration_problems({"flavor": "redis", "version": "8.6.0"}, older)
    assert problem.startswith("redis-2: redis 8.4.0 reads RDB format 12 at most")


def test_migration_to_an_uninstallable_server_is_refused():
    source = {"flavor": "redis", "version": "7.0.15"}
    [problem] = F.redis_migration_problems(source, {"redis-1": {"flavor": "valkey", "version": ""}})
    assert "redis-1: valkey (not installable)" in problem
