"""Issue 20, part 2: every input that can hurt the cluster is refused before any host changes, with
a message naming the variable and the fix. One test per rule, with inputs that pass and that fail;
the rules live once in plugins/filter/redis_server.py and the roles' filters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from .role_code import MEMTOTAL_MB, SENTINEL_RENDERED, SF, F, baseline, sentinel_baseline

REPO = Path(__file__).resolve().parents[2]
HOSTS = ["redis-1", "redis-2", "redis-3"]


def _load(role: str, name: str):
    spec = importlib.util.spec_from_file_location(
        f"{name}_under_test", REPO / "plugins" / "filter" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPORTER = _load("redis_exporter", "redis_exporter")
BACKUP = _load("redis_backup", "redis_backup")
COMPLIANCE = _load("redis_compliance", "redis_compliance")


def server(hosts=HOSTS, addresses=None, **overrides) -> list[str]:
    role_vars = baseline(**{"redis_server_primary_host": "redis-1", **overrides})
    return F.redis_server_problems(role_vars, MEMTOTAL_MB, "10.0.0.1", hosts, addresses)


def sentinel(addresses=None, **overrides) -> list[str]:
    role_vars = sentinel_baseline(**{**SENTINEL_RENDERED, **overrides})
    return SF.redis_sentinel_problems(role_vars, HOSTS, "10.0.0.1", [6379], addresses)


EXPORTER_GOOD = {
    "redis_exporter_listen_address": "10.0.0.5", "redis_exporter_listen_allow_wildcard": False,
    "redis_exporter_port_base": 9121, "redis_exporter_sentinel_port": 9355, "redis_exporter_node_port": 9100,
    "redis_exporter_node_exporter": True, "redis_exporter_firewall": True,
    "redis_exporter_scrape_networks": ["10.0.0.1/32"], "redis_exporter_scrape_networks_allow_any": False,
    "redis_exporter_redis_user": "monitor", "redis_exporter_redis_password": "x" * 32,
    "redis_exporter_sentinel_user": "monitor", "redis_exporter_sentinel_password": "y" * 32,
    "redis_exporter_user": "redisops-exporter", "redis_exporter_conf_dir": "/etc/redisops-exporter",
    "redis_exporter_textfile_dir": "/var/lib/prometheus/node-exporter",
    "server_vars": {"redis_server_instances": [{"name": "main", "port": 6379}],
                    "redis_server_tls_mode": "only"},
    "sentinel_vars": {"redis_sentinel_port": 26379, "redis_sentinel_tls_port": 36379,
                      "redis_sentinel_tls_mode": "only"},
    "redis_server_firewall_extra_ports": [26379],
    "redis_exporter_tls_cert": "/pki/clients/redisops-exporter.crt",
    "redis_exporter_tls_key": "/pki/clients/redisops-exporter.key",
    "in_redis": True, "in_sentinel": True, "tls": True, "tls_files": {},
}  # fmt: skip


def exporter(**overrides) -> list[str]:
    return EXPORTER.redis_exporter_problems({**EXPORTER_GOOD, **overrides})


def named(problems: list[str], variable: str) -> bool:
    return any(variable in p for p in problems)


def test_the_baselines_pass():
    assert server() == []
    assert sentinel() == []
    assert exporter() == []


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry", ["0.0.0.0", "::", "::0", "0:0::0", "*", "-::*", "-0.0.0.0", "::*", "::ffff:0.0.0.0"]
)
def test_an_address_meaning_every_address_needs_the_opt_in(entry):
    assert named(server(redis_server_bind=[entry]), "redis_server_bind_allow_wildcard")
    assert server(redis_server_bind=[entry], redis_server_bind_allow_wildcard=True) == []
    if not entry.startswith("-") and "*" not in entry:
        assert named(sentinel(redis_sentinel_bind=[entry]), "redis_sentinel_bind_allow_wildcard")
        assert sentinel(redis_sentinel_bind=[entry], redis_sentinel_bind_allow_wildcard=True) == []
        assert named(exporter(redis_exporter_listen_address=entry), "redis_exporter_listen_allow_wildcard")
        assert exporter(redis_exporter_listen_address=entry, redis_exporter_listen_allow_wildcard=True) == []


@pytest.mark.parametrize("entry", ["10.0.0.1", "-::1", "127.0.0.1", "2001:db8::5", "-10.0.0.1"])
def test_explicit_addresses_pass_with_redis_optional_dash(entry):
    assert server(redis_server_bind=[entry, "127.0.0.1"]) == []


@pytest.mark.parametrize(
    "bind", [["redis-1.lan"], ["10.0.0.256"], ["10.0.0.1 127.0.0.1"], "10.0.0.1", [6379]]
)
def test_bind_entries_are_parsed_as_addresses(bind):
    assert named(server(redis_server_bind=bind), "redis_server_bind")
    assert named(sentinel(redis_sentinel_bind=bind), "redis_sentinel_bind")


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "0::0/0"])
def test_a_network_of_every_address_needs_its_own_opt_in(network):
    assert named(server(redis_server_client_networks=[network]), "redis_server_client_networks_allow_any")
    assert server(redis_server_client_networks=[network], redis_server_client_networks_allow_any=True) == []
    assert named(
        exporter(redis_exporter_scrape_networks=[network]), "redis_exporter_scrape_networks_allow_any"
    )
    assert (
        exporter(redis_exporter_scrape_networks=[network], redis_exporter_scrape_networks_allow_any=True)
        == []
    )


@pytest.mark.parametrize("network", ["10.0.0.0/33", "office", "10.0.0.0/8 10.1.0.0/16", 10])
def test_networks_are_parsed_as_cidr(network):
    assert named(server(redis_server_client_networks=[network]), "redis_server_client_networks")
    assert server(redis_server_client_networks=["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]) == []


def test_two_inventory_hosts_with_one_address_are_refused():
    same = {"redis-1": "10.0.0.1", "redis-2": "10.0.0.2", "backup-1": "10.0.0.1"}
    assert named(
        server(addresses=same), "inventory hosts backup-1, redis-1 have the same ansible_host 10.0.0.1"
    )
    assert named(sentinel(addresses=same), "same ansible_host")
    assert server(addresses={"redis-1": "10.0.0.1", "redis-2": "10.0.0.2", "redis-3": ""}) == []
    # The same address written two ways is still one address.
    assert named(server(addresses={"a": "2001:db8::1", "b": "2001:DB8:0::1"}), "same ansible_host")


# --- ports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", [70000, 0, -1, "abc", True])
def test_firewall_extra_ports_are_ports(port):
    assert named(server(redis_server_firewall_extra_ports=[port]), "redis_server_firewall_extra_ports[0]")


def test_firewall_extra_ports_are_listed_once_and_never_a_redis_port():
    assert named(server(redis_server_firewall_extra_ports=[26379, 26379]), "lists port 26379 twice")
    assert named(server(redis_server_firewall_extra_ports=[6379]), "redis_server_firewall_extra_ports")
    assert server(redis_server_firewall_extra_ports=[26379, 36379]) == []


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"redis_exporter_port_base": 6379}, "Redis instance main"),
        ({"redis_exporter_sentinel_port": 26379}, "redis_sentinel_port"),
        ({"redis_exporter_node_port": 9121}, "redis_exporter_port_base + 0"),
        ({"redis_exporter_node_port": 9355}, "redis_exporter_sentinel_port"),
        ({"redis_exporter_port_base": 70000}, "redis_exporter_port_base"),
        ({"redis_exporter_port_base": 65535, "server_vars": {"redis_server_instances": [
            {"name": "a", "port": 6379}, {"name": "b", "port": 6380}]}}, "beyond 65535"),
    ],
)  # fmt: skip
def test_exporter_ports_never_collide_with_redis_sentinel_or_each_other(overrides, variable):
    assert named(exporter(**overrides), variable)


def test_sentinel_in_the_firewall_extra_ports_is_its_own_port_not_a_collision():
    assert exporter(redis_server_firewall_extra_ports=[26379]) == []
    both = {"redis_sentinel_port": 26379, "redis_sentinel_tls_port": 36379, "redis_sentinel_tls_mode": "both"}
    assert named(exporter(sentinel_vars=both, redis_exporter_sentinel_port=36379), "redis_sentinel_tls_port")


# --- ACL rules and booleans ---------------------------------------------------------------------

APP = {"name": "app", "password": "application-secret-0123456789"}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"keys": ["app:* nopass +@all"]}, ".keys"),
        ({"keys": ["app:\n*"]}, ".keys"),
        ({"keys": "app:*"}, ".keys must be a list"),
        ({"keys": ["%X~app:*"]}, ".keys"),
        ({"keys": [""]}, ".keys"),
        ({"channels": ["news allchannels"]}, ".channels"),
        ({"commands": ["+@all nopass"]}, ".commands"),
        ({"commands": ["+get\t+set"]}, ".commands"),
        ({"enabled": "no"}, ".enabled"),
        ({"enabled": 0}, ".enabled"),
    ],
)
def test_acl_rules_are_one_word_each_and_enabled_a_real_boolean(change, fragment):
    problems = server(redis_server_acl_users=[{**APP, **change}])
    assert any(p.startswith("redis_server_acl_users[0] (app)") and fragment in p for p in problems), problems


def test_good_acl_rules_pass():
    user = {**APP, "keys": ["app:*", "~cache:*", "%R~report:*"], "channels": ["app:*"],
            "commands": ["+@read", "-flushall", "+client|setname"], "enabled": False}  # fmt: skip
    assert server(redis_server_acl_users=[user]) == []


def test_default_commands_are_command_rules():
    assert named(
        server(redis_server_app_default_commands=["+@all -@dangerous"]), "redis_server_app_default_commands"
    )


@pytest.mark.parametrize(
    "name",
    [
        "redis_server_firewall",
        "redis_server_protected_mode",
        "redis_server_appendonly",
        "redis_server_tls_replication",
        "redis_server_bind_allow_wildcard",
        "redis_server_tls_replace_ca",
    ],
)
@pytest.mark.parametrize("value", ["no", "false", "yes", 0, 1, None])
def test_server_booleans_are_real_booleans(name, value):
    if value is None and name == "redis_server_appendonly":
        pytest.skip("null takes the profile's value (test_profiles)")
    assert named(server(**{name: value}), f"{name} is")


@pytest.mark.parametrize("name", ["redis_sentinel_allow_fewer_than_three", "redis_sentinel_resolve_hostnames",
                                  "redis_sentinel_tls_replication"])  # fmt: skip
def test_sentinel_booleans_are_real_booleans(name):
    assert named(sentinel(**{name: "no"}), f"{name} is")


def test_exporter_booleans_are_real_booleans():
    assert named(exporter(redis_exporter_firewall="no"), "redis_exporter_firewall is")


def test_an_instance_appendonly_and_restart_on_failure_are_booleans():
    assert named(server(redis_server_instances=[{"name": "main", "port": 6379, "appendonly": "no"}]),
                 "redis_server_instances[0].appendonly")  # fmt: skip
    assert named(server(redis_server_restart_on_failure="no"), "redis_server_restart_on_failure")
    assert server(redis_server_restart_on_failure=False) == []


def test_enable_debug_command_is_a_quoted_word():
    assert named(server(redis_server_enable_debug_command=False), "redis_server_enable_debug_command")
    assert server(redis_server_enable_debug_command="local") == []


# --- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["a" * 20 + "\n", "a" * 20 + "\x00", "a" * 20 + "\x1b[0m"])
def test_passwords_have_no_control_characters(password):
    assert named(
        server(redis_server_admin_password=password), "redis_server_admin_password contains a control"
    )
    assert named(server(redis_server_acl_users=[{**APP, "password": password}]), "(app).password contains")
    assert named(sentinel(redis_sentinel_peer_password=password), "redis_sentinel_peer_password contains")


def test_quoted_passwords_may_hold_spaces_but_environment_files_may_not():
    spaced = "a secret with spaces in it"
    assert server(redis_server_replication_password=spaced) == []  # masterauth is quoted
    for bad in (spaced, 'a"quoted"secret-0123456', "a$dollar-secret-0123456", "back\\slash-secret-01234"):
        assert named(
            exporter(redis_exporter_redis_password=bad), "redis_exporter_redis_password contains whitespace"
        )
    assert exporter(redis_exporter_redis_password="Abc.123,xyz:456-789_0") == []


@pytest.mark.parametrize("minimum", [8, 15, 0, "few", 2000])
def test_a_password_minimum_below_16_is_itself_refused(minimum):
    assert named(server(redis_server_password_min_length=minimum), "redis_server_password_min_length")
    assert named(sentinel(redis_sentinel_password_min_length=minimum), "redis_sentinel_password_min_length")


def test_passwords_are_never_shorter_than_16_whatever_the_minimum():
    problems = server(redis_server_password_min_length=8, redis_server_admin_password="x" * 10)
    assert named(problems, "redis_server_admin_password is shorter than 16")
    assert named(server(redis_server_admin_password=12345678901234567890), "must be a string")
    assert named(
        exporter(redis_exporter_sentinel_password="short"), "redis_exporter_sentinel_password is shorter"
    )


# --- TLS and certificates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocols", ["TLSv1 TLSv1.1", "TLSv1.1", "", "SSLv3 TLSv1.2", "tlsv1.2", ["TLSv1.2"]]
)
def test_tls_protocols_are_only_1_2_and_1_3(protocols):
    assert named(server(redis_server_tls_protocols=protocols), "redis_server_tls_protocols")
    assert named(sentinel(redis_sentinel_tls_protocols=protocols), "redis_sentinel_tls_protocols")


@pytest.mark.parametrize("protocols", ["TLSv1.2 TLSv1.3", "TLSv1.3", "TLSv1.2"])
def test_modern_tls_protocols_pass(protocols):
    assert server(redis_server_tls_protocols=protocols) == []


def test_the_tls_defaults_are_secure_and_the_opt_outs_stay_valid():
    defaults = baseline()
    assert (defaults["redis_server_tls_mode"], defaults["redis_server_tls_auth_clients"]) == ("only", "yes")
    for mode in ("off", "both", "only"):
        for clients in ("yes", "optional", "no"):
            assert server(redis_server_tls_mode=mode, redis_server_tls_auth_clients=clients) == []


@pytest.mark.parametrize(
    ("ciphers", "why"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        (None, "is empty"),
        ("ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384", "characters"),
        ("ECDHE-RSA-AES128-GCM-SHA256,HIGH", "characters"),
        ('HIGH"; rm', "characters"),
        ("ECDHE-RSA-AES128-GCM-SHA256::HIGH", "empty entry"),
        ("HIGH:!", "empty entry"),
        ("NULL-SHA256", "weak"),
        ("HIGH:aNULL", "weak"),
        ("eNULL", "weak"),
        ("EXP-RC4-MD5", "weak"),
        ("EXPORT", "weak"),
        ("ECDHE-RSA-RC4-SHA", "weak"),
        ("RC4-MD5", "weak"),
        ("DES-CBC3-SHA", "weak"),
        ("ECDHE-RSA-DES-CBC3-SHA", "weak"),
        ("ADH-AES256-GCM-SHA384", "weak"),
        ("LOW:HIGH", "weak"),
        ("ECDHE+AESGCM:+RC4", "weak"),
    ],
)
def test_weak_or_malformed_cipher_lists_are_refused_with_the_variable_and_the_fix(ciphers, why):
    for problems, name in (
        (server(redis_server_tls_ciphers=ciphers), "redis_server_tls_ciphers"),
        (sentinel(redis_sentinel_tls_ciphers=ciphers), "redis_sentinel_tls_ciphers"),
    ):
        [problem] = [p for p in problems if p.startswith(name)]
        assert why in problem and "ECDHE-ECDSA-AES256-GCM-SHA384" in problem, problem


@pytest.mark.parametrize(
    "ciphers",
    [
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE+AESGCM:ECDHE+CHACHA20",
        "HIGH:!aNULL:!eNULL:!MD5:!RC4:!DES:!3DES:!EXPORT",
        "ECDHE-RSA-AES128-GCM-SHA256:-RC4",
    ],
)
def test_strong_cipher_lists_and_negated_weak_names_pass(ciphers):
    assert server(redis_server_tls_ciphers=ciphers) == []
    assert sentinel(redis_sentinel_tls_ciphers=ciphers) == []


@pytest.mark.parametrize(
    "suites",
    ["", "TLS_AES_128_CCM_8_SHA256", "tls_aes_256_gcm_sha384", "TLS_AES_256_GCM_SHA384:HIGH",
     "TLS_AES_256_GCM_SHA384:!TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256", 13],
)  # fmt: skip
def test_tls13_suites_are_known_names_only(suites):
    assert named(server(redis_server_tls_ciphersuites=suites), "redis_server_tls_ciphersuites")
    assert named(sentinel(redis_sentinel_tls_ciphersuites=suites), "redis_sentinel_tls_ciphersuites")


def test_prefer_server_ciphers_is_a_real_boolean():
    assert named(
        server(redis_server_tls_prefer_server_ciphers="no"), "redis_server_tls_prefer_server_ciphers"
    )
    assert named(
        sentinel(redis_sentinel_tls_prefer_server_ciphers="yes"), "redis_sentinel_tls_prefer_server_ciphers"
    )


def test_an_application_user_may_opt_out_of_its_client_certificate_with_a_real_boolean():
    user = {"name": "shop", "password": "s" * 32}
    assert server(redis_server_acl_users=[{**user, "tls_client_cert": False}]) == []
    assert named(server(redis_server_acl_users=[{**user, "tls_client_cert": "no"}]), "tls_client_cert")


@pytest.mark.parametrize(
    ("problems_of", "cert", "key", "settings"),
    [
        (lambda s: EXPORTER.redis_exporter_problems({**EXPORTER_GOOD, **s}),
         "redis_exporter_tls_cert", "redis_exporter_tls_key", {}),
        (BACKUP.redis_backup_problems, "redis_backup_tls_cert", "redis_backup_tls_key", {"tls": True}),
        (COMPLIANCE.redis_compliance_problems, "redis_compliance_tls_cert", "redis_compliance_tls_key",
         {"tls": True}),
    ],
)  # fmt: skip
def test_own_tls_files_need_each_consumer_s_own_client_certificate(problems_of, cert, key, settings):
    """With the inventory's own TLS files the role issues no client certificate: the consumer's
    variables default to empty, and validation names them."""
    [problem] = problems_of({**settings, cert: "", key: ""})
    assert f"{cert} and {key} are empty" in problem and "clientAuth" in problem, problem
    [problem] = problems_of({**settings, cert: "/own/c.crt", key: ""})
    assert problem.startswith(f"{key} is empty"), problem
    assert problems_of({**settings, cert: "/own/c.crt", key: "/own/c.key"}) == []
    # Without TLS nothing is needed.
    assert problems_of({**settings, "tls": False, cert: "", key: ""}) == []


@pytest.mark.parametrize(
    ("days", "renew", "ok"),
    [
        (365, 30, True),
        (365, 364, True),
        (365, 365, False),
        (365, 400, False),
        (0, 30, False),
        (365, 0, False),
    ],
)
def test_certificates_renew_before_they_expire(days, renew, ok):
    problems = server(redis_server_tls_cert_days=days, redis_server_tls_renew_days=renew)
    assert (problems == []) is ok, problems
    if not ok:
        assert named(problems, "redis_server_tls_")


# --- numbers and sizes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bad", "good"),
    [
        ("redis_server_maxclients", -5, 100),
        ("redis_server_maxclients", 0, "2048"),
        ("redis_server_timeout", -1, 300),
        ("redis_server_tcp_keepalive", 100000, 60),
        ("redis_server_tcp_backlog", 0, 1024),
        ("redis_server_somaxconn", 10, 8192),
        ("redis_server_maxmemory_samples", 0, 10),
        ("redis_server_slowlog_log_slower_than", -2, -1),
        ("redis_server_slowlog_max_len", -1, 2048),
        ("redis_server_latency_monitor_threshold", -1, 0),
        ("redis_server_min_replicas_max_lag", 0, 30),
        ("redis_server_replica_priority", -1, 0),
        ("redis_server_repl_diskless_sync_delay", 3600, 0),
        ("redis_server_restart_sec", -1, 5),
        ("redis_server_maxclients", "many", 10000),
        ("redis_server_maxclients", True, 10000),
    ],
)
def test_numbers_are_whole_and_in_range(name, bad, good):
    assert named(server(**{name: bad}), name)
    assert server(**{name: good}) == []


def test_instance_overrides_are_in_range_too():
    assert named(server(redis_server_instances=[{"name": "main", "port": 6379, "maxclients": -5}]),
                 "redis_server_instances[0].maxclients")  # fmt: skip
    assert named(server(redis_server_instances=[{"name": "main", "port": 6379, "replica_priority": -1}]),
                 "redis_server_instances[0].replica_priority")  # fmt: skip


@pytest.mark.parametrize(
    ("hosts", "to_write", "ok"),
    [
        (HOSTS, 2, True),
        (HOSTS, 3, False),
        (HOSTS, 99, False),
        (HOSTS[:1], 1, False),
        (HOSTS[:1], 0, True),
        (HOSTS, -1, False),
    ],
)
def test_min_replicas_to_write_fits_the_replicas_of_the_group(hosts, to_write, ok):
    problems = server(
        hosts=hosts, redis_server_primary_host=hosts[0], redis_server_min_replicas_to_write=to_write
    )
    assert (problems == []) is ok, problems
    if not ok:
        assert named(problems, "redis_server_min_replicas_to_write")


@pytest.mark.parametrize(("size", "ok"), [("64mb", True), ("16kb", True), (1048576, True), ("1gb", True),
                                          ("lots", False), ("10%", False), ("1kb", False), ("32gb", False),
                                          (True, False), ("-5mb", False)])  # fmt: skip
def test_repl_backlog_size_is_parsed_as_a_size(size, ok):
    problems = server(redis_server_repl_backlog_size=size)
    assert (problems == []) is ok, problems


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"redis_sentinel_down_after_milliseconds": 3_600_000}, "redis_sentinel_down_after_milliseconds"),
        ({"redis_sentinel_failover_timeout": 10**10}, "redis_sentinel_failover_timeout"),
        ({"redis_sentinel_parallel_syncs": 500}, "redis_sentinel_parallel_syncs"),
        ({"redis_sentinel_restart_sec": -1}, "redis_sentinel_restart_sec"),
        (
            {"redis_sentinel_groups": [{"name": "g", "parallel_syncs": 1000}]},
            "redis_sentinel_groups[0] (g).parallel_syncs",
        ),
        ({"redis_sentinel_loglevel": "chatty"}, "redis_sentinel_loglevel"),
        ({"redis_sentinel_tls_auth_clients": True}, "redis_sentinel_tls_auth_clients"),
        ({"redis_sentinel_announce_ip": "0.0.0.0"}, "redis_sentinel_announce_ip"),
        ({"redis_sentinel_announce_ip": "sentinel one"}, "redis_sentinel_announce_ip"),
        (
            {"redis_sentinel_notification_script": "/usr/local/bin/notify me"},
            "redis_sentinel_notification_script",
        ),
    ],
)
def test_sentinel_settings_in_range(overrides, variable):
    assert named(sentinel(**overrides), variable)


def test_an_announced_host_name_needs_announce_hostnames():
    assert sentinel(redis_sentinel_announce_ip="10.0.0.9") == []
    assert named(sentinel(redis_sentinel_announce_ip="s1.example.org"), "redis_sentinel_announce_ip")
    assert sentinel(redis_sentinel_announce_ip="s1.example.org", redis_sentinel_announce_hostnames=True) == []


# --- service users, paths and names --------------------------------------------------------------


@pytest.mark.parametrize("user", ["root", "0", 0, "Redis User", "-redis", "r" * 40, "redis;rm"])
def test_service_users_are_never_root_and_plain_names(user):
    assert named(server(redis_server_user=user), "redis_server_user")
    assert named(sentinel(redis_sentinel_user=user), "redis_sentinel_user")
    assert named(exporter(redis_exporter_user=user), "redis_exporter_user")
    assert named(BACKUP.redis_backup_problems({"redis_backup_user": user}), "redis_backup_user")
    assert named(
        COMPLIANCE.redis_compliance_problems({"redis_compliance_user": user}), "redis_compliance_user"
    )


def test_service_groups_are_never_root():
    assert named(server(redis_server_group="root"), "redis_server_group is root")
    assert named(sentinel(redis_sentinel_group="root"), "redis_sentinel_group is root")


@pytest.mark.parametrize("path", ["etc/redis", "/etc/re dis", "/etc/redis/../shadow", '/etc/"redis"', ""])
def test_paths_on_the_hosts_are_absolute_and_plain(path):
    assert named(server(redis_server_conf_dir=path), "redis_server_conf_dir")
    assert named(sentinel(redis_sentinel_data_dir=path), "redis_sentinel_data_dir")
    assert named(exporter(redis_exporter_conf_dir=path), "redis_exporter_conf_dir")


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"redis_server_rename_commands": {"FLUSHALL X": ""}}, "redis_server_rename_commands"),
        ({"redis_server_rename_commands": {"FLUSHALL": "a b"}}, "redis_server_rename_commands"),
        ({"redis_server_rename_commands": ["FLUSHALL"]}, "redis_server_rename_commands"),
        ({"redis_server_repl_diskless_load": "always"}, "redis_server_repl_diskless_load"),
        ({"redis_server_appenddirname": "../aof"}, "redis_server_appenddirname"),
    ],
)
def test_names_that_reach_config_lines(overrides, variable):
    assert named(server(**overrides), variable)


def test_exporter_users_are_acl_names():
    assert named(exporter(redis_exporter_redis_user="mon itor"), "redis_exporter_redis_user")


# --- backup and compliance ---------------------------------------------------------------------


def test_backup_settings():
    good = {
        "redis_backup_hourly": 24,
        "redis_backup_daily": 7,
        "redis_backup_save_timeout": 3600,
        "redis_backup_randomized_delay_sec": 300,
        "redis_backup_timer_enabled": True,
        "redis_backup_user": "redisops-backup",
        "redis_backup_store_dir": "/var/lib/redisops-backup/store",
    }
    assert BACKUP.redis_backup_problems(good) == []
    # -e redis_backup_timer_enabled=false, docs/backups.md's on-demand form, gives the string "false".
    assert BACKUP.redis_backup_problems({**good, "redis_backup_timer_enabled": "false"}) == []
    assert named(BACKUP.redis_backup_problems({**good, "redis_backup_timer_enabled": "no"}), "timer_enabled")
    assert named(BACKUP.redis_backup_problems({**good, "redis_backup_hourly": 0}), "redis_backup_hourly")
    assert named(BACKUP.redis_backup_problems({**good, "redis_backup_store_dir": "store"}), "store_dir")


def test_compliance_settings():
    good = {"redis_compliance_history_days": 30, "redis_compliance_user": "redisops",
            "redis_compliance_state_dir": "/var/lib/redisops"}  # fmt: skip
    assert COMPLIANCE.redis_compliance_problems(good) == []
    assert named(
        COMPLIANCE.redis_compliance_problems({**good, "redis_compliance_history_days": -1}), "history_days"
    )


def test_names_with_a_trailing_newline_are_refused():
    """'$' in a pattern matches before a final newline: every name rule matches the whole value."""
    from .role_code import SF

    assert not F.USER_NAME.fullmatch("app\n") and F.USER_NAME.fullmatch("app")
    assert not F.INSTANCE_NAME.fullmatch("main\n")
    assert not SF.GROUP_NAME.fullmatch("redis-main\n") and SF.GROUP_NAME.fullmatch("redis-main")
