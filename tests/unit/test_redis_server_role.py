"""Structure of roles/redis_server, and its templates rendered by Ansible's own templating engine.

No host and no playbook: the templates are rendered in-process with ansible's Templar and the
role's filter plugins, the way the template action renders them (trim_blocks on).
"""

from __future__ import annotations

import functools
import hashlib

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from redisops.collection import plugins_ready

from .role_code import MEMTOTAL_MB, OPS, PASSWORDS, ROLE, F, baseline

TEMPLATES = ROLE / "templates"
MANAGED_HEADER = "{{ ansible_managed | comment }}"
APP_PASSWORD = "application-secret-0123456789"


def _yaml(relative: str):
    return yaml.safe_load((ROLE / relative).read_text())


# --- Structure ------------------------------------------------------------------------


def test_password_options_are_no_log():
    options = _yaml("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    passwords = [name for name in options if name.endswith("_password")]
    assert len(passwords) == 6
    assert [name for name in passwords if options[name].get("no_log") is not True] == []


ALL_TEMPLATES = sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.j2"))


def test_the_role_has_its_templates():
    assert "etc/redis/redis.conf.j2" in ALL_TEMPLATES
    assert "etc/redis/users.acl.j2" in ALL_TEMPLATES
    assert len(ALL_TEMPLATES) >= 7


@pytest.mark.parametrize("template", [t for t in ALL_TEMPLATES if t != "etc/redis/users.acl.j2"])
def test_templates_start_with_the_ansible_managed_header(template):
    lines = (TEMPLATES / template).read_text().splitlines()
    # An interpreter line must stay first (firewall.nft.j2 is run as '#!/usr/sbin/nft -f').
    if lines[0].startswith("#!"):
        lines = lines[1:]
    assert lines[0] == MANAGED_HEADER


def test_the_acl_template_has_no_header_but_a_jinja_comment():
    # Redis ACL files cannot hold comments, so the explanation is a Jinja comment.
    text = (TEMPLATES / "etc/redis/users.acl.j2").read_text()
    assert text.startswith("{#")
    assert MANAGED_HEADER not in text


# --- Rendering --------------------------------------------------------------------------


@functools.cache
def _builtin_users_source() -> dict:
    # Loaded like Ansible loads role vars: the Jinja strings in it are trusted templates that
    # the engine renders (lazily) against the other variables.
    role_vars = DataLoader().load_from_file(str(ROLE / "vars" / "main.yml"), trusted_as_template=True)
    return {
        name: role_vars[name] for name in ("__redis_server_builtin_users", "__redis_server_acl_builtin_users")
    }


@functools.cache
def _templar_ready() -> bool:
    plugins_ready()  # the collection's filters (redisops.kit.*), as in a playbook
    return True


def render(template: str, inventory_hostname: str = "redis-2", **overrides) -> str:
    _templar_ready()
    variables = baseline(**overrides)
    assert F.redis_server_problems(variables, MEMTOTAL_MB) == [], "the test's variables must be valid"
    variables.update(
        ansible_managed="Ansible managed",
        inventory_hostname=inventory_hostname,
        hostvars={"redis-1": {"ansible_host": "10.0.0.11"}, "redis-2": {"ansible_host": "10.0.0.12"}},
        __redis_server_primaries={"main": "redis-1"},
        __redis_server_instance=F.redis_instances(variables, MEMTOTAL_MB)[0],
        **_builtin_users_source(),
        __redis_server_inspect_users=variables.get("__redis_server_inspect_users", []),
    )
    templar = Templar(loader=DataLoader(), variables=variables)
    source = trust_as_template((TEMPLATES / template).read_text())
    # The template action's defaults: trim_blocks on, backslashes kept as written.
    return templar.template(source, escape_backslashes=False, overrides={"trim_blocks": True})


def render_conf(**kwargs) -> tuple[str, list[str]]:
    text = render("etc/redis/redis.conf.j2", **kwargs)
    return text, text.splitlines()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_redis_conf_defaults():
    _, lines = render_conf()
    assert lines[:3] == ["#", "# Ansible managed", "#"]
    for line in [
        "daemonize no",
        "supervised systemd",
        'logfile "/var/log/redis/instance-main.log"',
        'dir "/var/lib/redis/main"',
        "bind 10.0.0.1 127.0.0.1",
        "protected-mode yes",
        # Secure by default: TLS only, client certificates required, the kit's cipher policy.
        "port 0",
        "tls-port 6379",
        "tls-auth-clients yes",
        "tls-replication yes",
        'tls-protocols "TLSv1.2 TLSv1.3"',
        f'tls-ciphers "{STRONG_CIPHERS}"',
        f'tls-ciphersuites "{STRONG_SUITES}"',
        "tls-prefer-server-ciphers yes",
        "maxclients 10000",
        'aclfile "/etc/redis/main/users.acl"',
        "enable-debug-command no",
        "maxmemory 4gb",
        "maxmemory-policy noeviction",
        "appendonly yes",
        "appendfsync everysec",
        'appenddirname "appendonlydir"',
        "repl-backlog-size 64mb",
        "repl-diskless-sync yes",
        'masteruser "replicator"',
        f'masterauth "{PASSWORDS["redis_server_replication_password"]}"',
        "replicaof 10.0.0.11 6379",
    ]:
        assert line in lines, line
    assert [line for line in lines if line.startswith("save ")] == [
        "save 3600 1",
        "save 300 100",
        "save 60 10000",
    ]


def test_redis_conf_tls_off_is_an_explicit_opt_out_with_no_tls_directive_left():
    _, lines = render_conf(redis_server_tls_mode="off")
    assert "port 6379" in lines
    assert "replicaof 10.0.0.11 6379" in lines
    assert not any(line.startswith("tls-") for line in lines)
    assert not any(line.startswith("rename-command") for line in lines)


def test_redis_conf_blank_lines_are_single_and_the_file_ends_with_one():
    for kwargs in [{}, {"inventory_hostname": "redis-1"}, {"redis_server_tls_mode": "both"}]:
        text, _ = render_conf(**kwargs)
        assert "\n\n\n" not in text, kwargs
        assert text.endswith("\n\n") and not text.endswith("\n\n\n"), kwargs


def test_redis_conf_every_directive_appears_once_except_repeatable_ones():
    _, lines = render_conf(redis_server_rename_commands={"FLUSHALL": "", "DEBUG": "DEBUG-b7e1"})
    keys = [line.split()[0] for line in lines if line and not line.startswith("#")]
    repeated = {k for k in keys if keys.count(k) > 1}
    assert repeated <= {"save", "rename-command"}


def test_redis_conf_parses_back_to_the_intended_values():
    text, _ = render_conf()
    conf = OPS.parse_conf(text)
    assert conf["masterauth"] == [[PASSWORDS["redis_server_replication_password"]]]
    assert OPS.config_set_value(conf["save"]) == "3600 1 300 100 60 10000"
    assert conf["replicaof"] == [["10.0.0.11", "6379"]]


STRONG_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)
STRONG_SUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"


def test_redis_conf_cipher_policy_follows_the_inventory():
    _, lines = render_conf(
        redis_server_tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256:!aNULL",
        redis_server_tls_ciphersuites="TLS_AES_128_GCM_SHA256",
        redis_server_tls_prefer_server_ciphers=False,
    )
    assert 'tls-ciphers "ECDHE-RSA-AES128-GCM-SHA256:!aNULL"' in lines
    assert 'tls-ciphersuites "TLS_AES_128_GCM_SHA256"' in lines
    assert "tls-prefer-server-ciphers no" in lines


def test_redis_conf_tls_only():
    _, lines = render_conf(redis_server_tls_mode="only", redis_server_tls_auth_clients="yes")
    for line in [
        "port 0",
        "tls-port 6379",
        'tls-cert-file "/etc/redis/tls/redis.crt"',
        'tls-key-file "/etc/redis/tls/redis.key"',
        'tls-ca-cert-file "/etc/redis/tls/ca.crt"',
        "tls-auth-clients yes",
        "tls-replication yes",
        'tls-protocols "TLSv1.2 TLSv1.3"',
        "replicaof 10.0.0.11 6379",
    ]:
        assert line in lines, line


def test_redis_conf_tls_both_replicates_over_the_tls_port():
    _, lines = render_conf(redis_server_tls_mode="both")
    assert "port 6379" in lines
    assert "tls-port 16379" in lines
    assert "tls-auth-clients yes" in lines
    assert "replicaof 10.0.0.11 16379" in lines


def test_redis_conf_client_certificates_can_be_made_optional_by_the_inventory():
    _, lines = render_conf(redis_server_tls_mode="both", redis_server_tls_auth_clients="optional")
    assert "tls-auth-clients optional" in lines
    assert "replicaof 10.0.0.11 16379" in lines


def test_redis_conf_tls_both_without_tls_replication_replicates_over_the_plain_port():
    _, lines = render_conf(redis_server_tls_mode="both", redis_server_tls_replication=False)
    assert "tls-replication no" in lines
    assert "replicaof 10.0.0.11 6379" in lines


def test_redis_conf_the_primary_has_no_replicaof():
    _, lines = render_conf(inventory_hostname="redis-1")
    assert not any(line.startswith("replicaof") for line in lines)
    assert 'masteruser "replicator"' in lines


def test_redis_conf_without_snapshots():
    _, lines = render_conf(redis_server_profile="cache", redis_server_save=[], redis_server_appendonly=False)
    assert [line for line in lines if line.startswith("save")] == ['save ""']
    assert "appendonly no" in lines
    assert "# Persistence: RDB snapshots." in lines


def test_redis_conf_rename_commands_are_quoted_and_sorted():
    _, lines = render_conf(redis_server_rename_commands={"FLUSHALL": "", "DEBUG": "DEBUG-b7e1"})
    assert [line for line in lines if line.startswith("rename-command")] == [
        'rename-command DEBUG "DEBUG-b7e1"',
        'rename-command FLUSHALL ""',
    ]


def test_redis_conf_maxmemory_in_redis_units():
    _, lines = render_conf(redis_server_maxmemory="256mb")
    assert "maxmemory 256mb" in lines
    _, lines = render_conf(redis_server_maxmemory=1000)
    assert "maxmemory 1000" in lines


def test_redis_conf_quotes_a_password_with_special_characters():
    password = 'quote" back\\slash -0123456789'
    text, lines = render_conf(redis_server_replication_password=password)
    assert 'masterauth "quote\\" back\\\\slash -0123456789"' in lines
    assert OPS.parse_conf(text)["masterauth"] == [[password]]


def test_users_acl():
    app_users = [
        {"name": "app", "password": APP_PASSWORD, "keys": ["app:*"]},
        {"name": "reader", "password": "reader-secret-0123456789", "commands": ["+get", "+ping"]},
    ]
    text = render("etc/redis/users.acl.j2", redis_server_acl_users=app_users)
    lines = text.splitlines()
    assert lines[0] == "user default off ~* &* +@all"
    assert [line.split()[1] for line in lines] == [
        "default", "admin", "replicator", "sentinel", "monitor", "compliance", "backup", "app", "reader",
    ]  # fmt: skip
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "nopass" not in text
    assert all(line.startswith("user ") for line in lines), "ACL files cannot hold comments or blank lines"
    for password in [*PASSWORDS.values(), APP_PASSWORD, "reader-secret-0123456789"]:
        assert password not in text
        assert f"#{_sha256(password)}" in text.split()
    assert lines[1] == f"user admin on #{_sha256(PASSWORDS['redis_server_admin_password'])} ~* &* +@all"
    assert lines[2].endswith("resetkeys resetchannels -@all +psync +replconf +ping")
    assert "&__sentinel__:hello" in lines[3].split()
    assert lines[4].split()[4] == "%R~*"
    # The compliance checks' user reads and cannot write; CONFIG GET (masterauth) and ACL LIST
    # (every hash) are the on-host reader's alone.
    assert lines[5].split()[4] == "%R~*" and "+info" in lines[5].split()
    assert not {"+@all", "+config", "+config|get", "+config|set", "+acl", "+acl|list"} & set(lines[5].split())
    # The backups' user starts snapshots and reads no key.
    assert lines[6].endswith("resetkeys resetchannels -@all +ping +info +role +bgsave +lastsave +dbsize")
    assert lines[7] == f"user app on #{_sha256(APP_PASSWORD)} ~app:* resetchannels +@all -@dangerous +role"
    assert lines[8].endswith("resetkeys resetchannels +get +ping")
    assert "-@dangerous" not in lines[8]


def test_users_acl_without_application_users():
    text = render("etc/redis/users.acl.j2")
    assert len(text.splitlines()) == 7
    assert all(line.startswith("user ") for line in text.splitlines())


def test_users_acl_has_the_readers_user_by_its_hash_only():
    digest = _sha256("made-on-the-host")
    vars_main = DataLoader().load_from_file(str(ROLE / "vars" / "main.yml"))
    reader = {
        "name": "inspector",
        "password_hash": digest,
        "commands": vars_main["__redis_server_inspect_commands"],
    }
    lines = render("etc/redis/users.acl.j2", __redis_server_inspect_users=[reader]).splitlines()
    assert (
        lines[7] == f"user inspector on #{digest} resetkeys resetchannels -@all +ping +config|get +acl|list"
    )
    # Nobody else on the network may read masterauth or the hashes.
    for line in lines[:7]:
        if line.split()[1] == "default":  # off: no client can be it (its rights are for the AOF)
            assert line.split()[2] == "off", line
        elif line.split()[1] != "admin":
            assert not {"+config|get", "+acl|list", "+@all"} & set(line.split()), line
