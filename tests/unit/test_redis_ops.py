"""The role's module helpers (plugins/module_utils/redis_ops.py): config parsing, masking, redis-cli argv.

No server: RedisCli.call is only run against a missing binary and small fake redis-cli scripts.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from .role_code import OPS, F

HASH = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"  # sha256("password")


# --- split_args -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("save 3600 1", ["save", "3600", "1"]),
        ("   maxmemory     100mb   ", ["maxmemory", "100mb"]),
        ("a\tb", ["a", "b"]),
        ('masterauth "a\\x41b\\nc"', ["masterauth", "aAb\nc"]),
        ('x "\\r\\t\\a\\b"', ["x", "\r\t\a\b"]),
        ('x "quote\\" and back\\\\slash"', ["x", 'quote" and back\\slash']),
        ("x 'single \"double\" inside'", ["x", 'single "double" inside']),
        ("x 'it\\'s'", ["x", "it's"]),
        ("x 'no \\n escape'", ["x", "no \\n escape"]),
        ('rename-command FLUSHALL ""', ["rename-command", "FLUSHALL", ""]),
        ('save ""', ["save", ""]),
        ('""', [""]),
        ("", []),
        ("   ", []),
        ('dir "/var/lib/redis/main"', ["dir", "/var/lib/redis/main"]),
        ('tls-protocols "TLSv1.2 TLSv1.3"', ["tls-protocols", "TLSv1.2 TLSv1.3"]),
    ],
)
def test_split_args(line, expected):
    assert OPS.split_args(line) == expected


@pytest.mark.parametrize(
    "value",
    ["/var/lib/redis", 'pa"ss', "back\\slash", "two\nlines", "cr\r tab\t", "\x01\x7f", "  spaces  ", ""],
)
def test_split_args_reads_back_what_redis_quote_writes(value):
    assert OPS.split_args(f"masterauth {F.redis_quote(value)}") == ["masterauth", value]


def test_split_args_reads_back_non_ascii_values():
    assert OPS.split_args(f"masterauth {F.redis_quote('pässword')}") == ["masterauth", "pässword"]


def test_split_args_backslash_x_without_hex_digits_like_sdssplitargs():
    assert OPS.split_args('x "\\xZZ"') == ["x", "xZZ"]


# --- parse_conf / changed_directives / config_set_value ----------------------------------

CONF = """\
# Redis configuration
  # an indented comment

Port 6379
save 3600 1
save 300 100
SAVE 60 10000
maxmemory 100mb
rename-command FLUSHALL ""
masterauth "p\\"w"
"""


def test_parse_conf_ignores_comments_and_lower_cases_keys_and_keeps_repeated_lines():
    assert OPS.parse_conf(CONF) == {
        "port": [["6379"]],
        # save's lines are one value: CONFIG REWRITE writes them on one line.
        "save": [["3600", "1", "300", "100", "60", "10000"]],
        "maxmemory": [["100mb"]],
        "rename-command": [["FLUSHALL", ""]],
        "masterauth": [['p"w']],
    }


def test_parse_conf_of_nothing():
    assert OPS.parse_conf("") == {}
    assert OPS.parse_conf("# only a comment\n\n") == {}


def test_changed_directives_ignores_order_comments_and_blank_lines():
    reordered = """\
maxmemory 100mb
# Moved around, comments changed.
masterauth "p\\"w"

rename-command FLUSHALL ""
save 3600 1
save 300 100
save 60 10000
port 6379
"""
    assert OPS.changed_directives(CONF, reordered) == []


def test_changed_directives_names_a_changed_value():
    assert OPS.changed_directives(CONF, CONF.replace("maxmemory 100mb", "maxmemory 200mb")) == ["maxmemory"]


def test_changed_directives_names_a_changed_repeated_directive():
    assert OPS.changed_directives(CONF, CONF.replace("save 300 100\n", "")) == ["save"]


def test_changed_directives_names_added_and_removed_directives():
    added = CONF + "replicaof 10.0.0.11 6379\n"
    assert OPS.changed_directives(CONF, added) == ["replicaof"]
    assert OPS.changed_directives(added, CONF) == ["replicaof"]
    assert OPS.changed_directives("", CONF) == sorted(OPS.parse_conf(CONF))


def test_changed_directives_are_sorted():
    new = CONF.replace("6379", "6380").replace("100mb", "1gb")
    assert OPS.changed_directives(CONF, new) == ["maxmemory", "port"]


def test_config_set_value_joins_repeated_lines():
    assert OPS.config_set_value(OPS.parse_conf(CONF)["save"]) == "3600 1 300 100 60 10000"
    assert OPS.config_set_value([["3600", "1"], ["300", "100"]]) == "3600 1 300 100"


def test_config_set_value_of_an_empty_save():
    assert OPS.config_set_value(OPS.parse_conf('save ""')["save"]) == ""
    assert OPS.config_set_value([[""]]) == ""
    assert OPS.config_set_value([["100mb"]]) == "100mb"


# --- mask_config / mask_acl ---------------------------------------------------------------


def test_mask_config_masks_secrets_only():
    text = 'port 6379\nmasterauth "x"\n  requirepass secret\nMasterAuth other\nmasteruser "replicator"\n'
    assert OPS.mask_config(text) == (
        "port 6379\n"
        "masterauth ********\n"
        "  requirepass ********\n"
        "MasterAuth ********\n"
        'masteruser "replicator"\n'
    )


def test_mask_config_keeps_the_presence_of_a_trailing_newline():
    assert OPS.mask_config('masterauth "x"') == "masterauth ********"
    assert OPS.mask_config('masterauth "x"\n') == "masterauth ********\n"
    assert OPS.mask_config("") == ""


def test_mask_config_leaves_a_bare_secret_key_alone():
    # Nothing to hide when there is no value.
    assert OPS.mask_config("masterauth\n") == "masterauth\n"


def test_mask_acl_masks_hashes_and_cleartext_passwords():
    text = (
        "user default off resetchannels -@all\n"
        f"user admin on #{HASH} ~* &* +@all\n"
        "user app on >cleartext ~app:* +@all -@dangerous\n"
    )
    assert OPS.mask_acl(text) == (
        "user default off resetchannels -@all\n"
        "user admin on ******** ~* &* +@all\n"
        "user app on ******** ~app:* +@all -@dangerous\n"
    )


def test_mask_acl_keeps_the_presence_of_a_trailing_newline():
    assert OPS.mask_acl("user default off resetchannels -@all") == "user default off resetchannels -@all"
    assert OPS.mask_acl(f"user a on #{HASH}\n") == "user a on ********\n"


def test_mask_acl_output_never_contains_the_hash():
    assert HASH not in OPS.mask_acl(f"user a on #{HASH} #{HASH}\n")


# --- RedisCli.argv --------------------------------------------------------------------

PASSWORD = "never-on-the-command-line-0123456789"


def test_argv_plain_connection_with_user():
    cli = OPS.RedisCli({"host": "10.0.0.11", "port": 6379, "user": "admin", "password": PASSWORD})
    assert cli.argv("INFO", "replication") == [
        "redis-cli", "--no-auth-warning", "-h", "10.0.0.11", "-p", "6379", "--user", "admin",
        "INFO", "replication",
    ]  # fmt: skip


def test_argv_tls_connection():
    conn = {
        "host": "127.0.0.1",
        "port": 16379,
        "tls": True,
        "cacert": "/etc/redis/tls/ca.crt",
        "cert": "/etc/redis/tls/redis.crt",
        "key": "/etc/redis/tls/redis.key",
        "user": "admin",
        "password": PASSWORD,
    }
    cli = OPS.RedisCli(conn, binary="/usr/bin/redis-cli")
    assert cli.argv("PING") == [
        "/usr/bin/redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", "16379",
        "--tls", "--cacert", "/etc/redis/tls/ca.crt", "--cert", "/etc/redis/tls/redis.crt",
        "--key", "/etc/redis/tls/redis.key",
        "--user", "admin", "PING",
    ]  # fmt: skip


def test_argv_defaults_to_loopback_without_tls_or_user():
    assert OPS.RedisCli({"port": 6379}).argv("PING") == [
        "redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", "6379", "PING",
    ]  # fmt: skip
    assert OPS.RedisCli({"host": None, "port": 6379, "tls": False, "cacert": "/x"}).argv() == [
        "redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", "6379",
    ]  # fmt: skip


def test_argv_tls_without_files_only_adds_tls():
    assert OPS.RedisCli({"port": 6379, "tls": True}).argv()[-1] == "--tls"


@pytest.mark.parametrize("tls", [False, True])
def test_argv_never_contains_the_password(tls):
    conn = {"port": 6379, "tls": tls, "cacert": "/ca", "user": "admin", "password": PASSWORD}
    argv = OPS.RedisCli(conn).argv("INFO")
    assert all(PASSWORD not in arg for arg in argv)
    assert "-a" not in argv and "--pass" not in argv


# --- RedisCli.call --------------------------------------------------------------------


def test_call_with_a_missing_binary_is_a_redis_cli_error():
    cli = OPS.RedisCli({"port": 6379, "password": PASSWORD}, binary="/nonexistent/redis-cli")
    with pytest.raises(OPS.RedisCliError):
        cli.call("PING")


def _fake_cli(tmp_path: Path, body: str) -> str:
    path = tmp_path / "redis-cli"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_call_passes_the_password_in_the_environment_only(tmp_path):
    binary = _fake_cli(tmp_path, 'printf "%s\\n" "auth=$REDISCLI_AUTH" "$@"')
    out = OPS.RedisCli({"port": 6379, "user": "admin", "password": PASSWORD}, binary=binary).call("PING")
    lines = out.splitlines()
    assert lines[0] == f"auth={PASSWORD}"
    assert lines[1:] == ["--no-auth-warning", "-h", "127.0.0.1", "-p", "6379", "--user", "admin", "PING"]


def test_call_without_password_sets_no_auth(tmp_path, monkeypatch):
    monkeypatch.delenv("REDISCLI_AUTH", raising=False)
    binary = _fake_cli(tmp_path, 'echo "auth=${REDISCLI_AUTH-unset}"')
    assert OPS.RedisCli({"port": 6379}, binary=binary).call("PING") == "auth=unset"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('echo "Could not connect to Redis at 127.0.0.1:6379: Connection refused" >&2; exit 1', "Could not"),
        ('echo "Could not connect to Redis at 127.0.0.1:6379: Connection refused" >&2', "Could not"),
        ("exit 3", "redis-cli exited 3"),
        ('echo "WRONGPASS invalid username-password pair" >&2', "authentication failed for user 'admin'"),
        ('echo "NOAUTH Authentication required."', "authentication failed"),
        ('echo "ERR unknown command"', "ERR unknown command"),
        ('echo "NOPERM this user has no permissions"', "NOPERM"),
        ('echo "READONLY You can\'t write against a read only replica."', "READONLY"),
    ],
)
def test_call_turns_failures_into_redis_cli_errors(tmp_path, body, message):
    conn = {"port": 6379, "user": "admin", "password": PASSWORD}
    cli = OPS.RedisCli(conn, binary=_fake_cli(tmp_path, body))
    with pytest.raises(OPS.RedisCliError, match=message) as info:
        cli.call("PING")
    assert PASSWORD not in str(info.value)


def test_call_times_out_as_a_redis_cli_error(tmp_path):
    cli = OPS.RedisCli({"port": 6379}, binary=_fake_cli(tmp_path, "exec sleep 5"))
    with pytest.raises(OPS.RedisCliError, match="no answer within"):
        cli.call("PING", timeout=0.2)


def test_call_returns_stripped_output(tmp_path):
    cli = OPS.RedisCli({"port": 6379}, binary=_fake_cli(tmp_path, 'printf "\\nPONG\\n\\n"'))
    assert cli.call("PING") == "PONG"


def test_secret_argument_travels_through_stdin_not_the_command_line(tmp_path):
    binary = _fake_cli(tmp_path, 'printf "%s\\n" "$@"; printf "stdin=%s\\n" "$(cat)"')
    cli = OPS.RedisCli({"port": 6379, "user": "admin", "password": PASSWORD}, binary=binary)
    out = cli.call("CONFIG", "SET", "masterauth", secret_arg="replication-secret-123")
    argv, stdin = out.splitlines()[:-1], out.splitlines()[-1]
    assert "-x" in argv, "redis-cli must read the last argument from stdin"
    assert argv[-3:] == ["CONFIG", "SET", "masterauth"]
    assert not any("replication-secret-123" in a for a in argv)
    assert stdin == "stdin=replication-secret-123"


@pytest.mark.parametrize(
    ("stderr", "error"),
    [
        ("Could not connect to Redis at 127.0.0.1:6379: Connection refused", "RedisDownError"),
        ("AUTH failed: WRONGPASS invalid username-password pair or user is disabled.", "RedisAuthError"),
    ],
)
def test_down_and_refused_servers_are_told_apart(tmp_path, stderr, error):
    binary = _fake_cli(tmp_path, f'echo "{stderr}" >&2; exit 1')
    with pytest.raises(getattr(OPS, error)):
        OPS.RedisCli({"port": 6379}, binary=binary).call("PING")


def test_masked_diff_still_shows_that_a_secret_changed():
    old = 'masterauth "old-secret"\nport 6379\n'
    new = 'masterauth "new-secret"\nport 6379\n'
    assert OPS.mask_config(new, old) == "masterauth ********(changed)\nport 6379\n"
    assert OPS.mask_config(old, old) == "masterauth ********\nport 6379\n"
    acl_old = "user app on #" + "a" * 64 + " ~app:*\n"
    acl_new = "user app on #" + "b" * 64 + " ~app:*\n"
    assert OPS.mask_acl(acl_new, acl_old) == "user app on ********(changed) ~app:*\n"
    assert "b" * 64 not in OPS.mask_acl(acl_new, acl_old)


def test_sentinel_secrets_are_masked_and_a_changed_one_says_so():
    before = (
        'port 0\nsentinel sentinel-pass "peer secret"\nsentinel auth-pass g1 s3cret\n'
        "sentinel monitor g1 10.0.0.1 6379 2\n"
    )
    masked = OPS.mask_config(before)
    assert "peer secret" not in masked and "s3cret" not in masked
    assert "sentinel sentinel-pass ********" in masked and "sentinel auth-pass g1 ********" in masked
    assert "sentinel monitor g1 10.0.0.1 6379 2" in masked
    after = OPS.mask_config(before.replace("s3cret", "n3w"), before)
    assert "sentinel auth-pass g1 ********(changed)" in after
    assert "sentinel sentinel-pass ********\n" in after


def test_flat_redis_cli_maps_become_dicts():
    text = "name\ng1\nip\n10.0.0.1\nflags\nmaster\nname\ng2\nip\n10.0.0.2\nannounce\n"
    assert OPS.pairs_to_dicts(text) == [
        {"name": "g1", "ip": "10.0.0.1", "flags": "master"},
        {"name": "g2", "ip": "10.0.0.2", "announce": ""},
    ]
    assert OPS.pairs_to_dicts("") == []


def test_acl_list_maps_users_to_their_rules():
    text = "user admin on #abc ~* &* +@all\nuser default off resetchannels -@all\n"
    assert OPS.acl_list(text) == {"admin": "on #abc ~* &* +@all", "default": "off resetchannels -@all"}


@pytest.mark.parametrize("arg", ["plain", 'with "quotes"', "back\\slash", "#" + "a" * 64, "+sentinel|myid"])
def test_stdin_quoting_round_trips_through_the_config_parser(arg):
    assert OPS.split_args(OPS.quote_arg(arg)) == [arg]


def test_user_lines_in_a_config_file_show_no_hash():
    digest = "a" * 64
    text = f"port 0\nuser admin reset on #{digest} ~* &* +@all\n"
    masked = OPS.mask_config(text)
    assert digest not in masked and "user admin reset on ******** ~* &* +@all" in masked
    changed = OPS.mask_config(text.replace(digest, "b" * 64), text)
    assert "user admin reset on ********(changed) ~* &* +@all" in changed


def test_parse_conf_reads_valkeys_rewritten_names_as_the_kits():
    """What Valkey 8.1's CONFIG REWRITE writes after a failover is the same configuration."""
    kit = "save 3600 1\nsave 300 100\nmasteruser replicator\nmasterauth pw\nslowlog-max-len 1024\n"
    rewritten = (
        "# Generated by CONFIG REWRITE\nsave 3600 1 300 100\nprimaryuser replicator\nprimaryauth pw\n"
        "commandlog-slow-execution-max-len 1024\n"
    )
    assert OPS.parse_conf(kit) == OPS.parse_conf(rewritten)
    assert OPS.changed_directives(kit, rewritten.replace("primaryauth pw", "primaryauth new")) == [
        "masterauth"
    ]


# --- The live configuration against the wanted one ------------------------------------------


def test_wanted_live_reads_the_file_as_config_get_answers():
    text = (
        "maxmemory 256mb\nrepl-backlog-size 64mb\nsave 3600 1\nsave 300 100\nappendonly yes\n"
        'dir "/var/lib/redis/main"\nreplicaof 10.0.0.1 6379\nrename-command KEYS ""\n'
        "latency-tracking-info-percentiles 50 99 99.9\nmaxmemory-policy NoEviction\n"
    )
    wanted = OPS.wanted_live(text)
    assert wanted["maxmemory"] == str(256 * 1024**2)
    assert wanted["repl-backlog-size"] == str(64 * 1024**2)
    assert wanted["save"] == "3600 1 300 100"
    assert wanted["maxmemory-policy"] == "noeviction"
    assert wanted["dir"] == "/var/lib/redis/main"
    # Sentinel owns replicaof; CONFIG GET cannot read rename-command.
    assert "replicaof" not in wanted and "rename-command" not in wanted


def test_config_drift_names_the_directive_the_live_and_the_wanted_value():
    wanted = OPS.wanted_live('maxmemory 256mb\nmaxmemory-policy noeviction\nsave ""\nappendonly yes\n')
    live = {
        "maxmemory": str(256 * 1024**2),
        "maxmemory-policy": "allkeys-random",
        "save": "",
        "appendonly": "yes",
    }
    assert OPS.config_drift(wanted, live) == [
        {"directive": "maxmemory-policy", "live": "allkeys-random", "wanted": "noeviction"}
    ]


def test_config_drift_ignores_directives_the_server_does_not_know_and_reads_valkey_names():
    wanted = OPS.wanted_live("appenddirname appendonlydir\nmasteruser replicator\n")
    assert OPS.config_drift(wanted, {"primaryuser": "replicator"}) == []
    assert OPS.config_drift(wanted, {"primaryuser": "someone"})[0]["directive"] == "masteruser"


STRONG_CIPHERS = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"


def test_wanted_live_keeps_the_case_of_tls_ciphers_and_reads_the_cipher_policy():
    text = (
        f'tls-ciphers "{STRONG_CIPHERS}"\ntls-ciphersuites "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"\n'
        "tls-prefer-server-ciphers yes\n"
    )
    wanted = OPS.wanted_live(text)
    assert wanted == {
        "tls-ciphers": STRONG_CIPHERS,  # OpenSSL's names are case-sensitive: never lower-cased
        "tls-ciphersuites": "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
        "tls-prefer-server-ciphers": "yes",
    }
    live = {"tls-ciphers": STRONG_CIPHERS, "tls-ciphersuites": wanted["tls-ciphersuites"],
            "tls-prefer-server-ciphers": "yes"}  # fmt: skip
    assert OPS.config_drift(wanted, live) == []


def test_config_drift_sees_a_cipher_policy_weakened_by_hand():
    wanted = OPS.wanted_live(f'tls-ciphers "{STRONG_CIPHERS}"\ntls-prefer-server-ciphers yes\n')
    live = {"tls-ciphers": "DEFAULT", "tls-prefer-server-ciphers": "no"}
    assert OPS.config_drift(wanted, live) == [
        {"directive": "tls-ciphers", "live": "DEFAULT", "wanted": STRONG_CIPHERS},
        {"directive": "tls-prefer-server-ciphers", "live": "no", "wanted": "yes"},
    ]
    # A change of case names other (or no) ciphers for OpenSSL: it is drift too.
    lower = {"tls-ciphers": STRONG_CIPHERS.lower()}
    assert [d["directive"] for d in OPS.config_drift(wanted, lower)] == ["tls-ciphers"]


def test_config_drift_never_shows_a_secret():
    wanted = OPS.wanted_live('masterauth "wanted-secret-0123456789"\n')
    drift = OPS.config_drift(wanted, {"masterauth": "live-secret-0123456789"})
    assert drift == [{"directive": "masterauth", "live": OPS.MASK, "wanted": OPS.MASK + "(changed)"}]


def test_socket_drift():
    assert OPS.socket_drift(["10.0.0.1", "-::1"], [6379], {"10.0.0.1:6379"}) is None
    assert OPS.socket_drift(["10.0.0.1", "-::1"], [6379], {"10.0.0.1:6379", "[::1]:6379"}) is None
    # The probe: bind ::0 left an IPv6-only wildcard socket behind.
    drift = OPS.socket_drift(["10.0.0.1", "127.0.0.1"], [0, 16379], {"[::]:16379"})
    assert drift == {
        "directive": "listening sockets",
        "live": "[::]:16379",
        "wanted": "10.0.0.1:16379 127.0.0.1:16379",
    }
    # A socket more than wanted (a plain port opened by hand) is drift too.
    assert OPS.socket_drift(["127.0.0.1"], [6379, 0], {"127.0.0.1:6379", "[::]:6379"}) is not None
    assert OPS.socket_drift(["redis.example"], [6379], set()) is None
