"""The on-host reader (redis_server's files/redisops-inspect, imported by path): masking and RESP2
parsing; the gatherer's choice of how to run it and how its answer becomes facts; the engine
skipping, never passing, checks whose facts were not read."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import json

import pytest

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, RedisFacts, SentinelFacts
from redisops.compliance.gather import (
    HOST,
    NONE,
    SSH,
    apply_inspection,
    inspect_path,
    parse_inspection,
    ssh_command,
)
from redisops.compliance.model import PASS, SKIPPED
from redisops.core import secrets
from tests.unit.role_code import REPO, SF, F

READER_PATH = REPO / "roles" / "redis_server" / "files" / "redisops-inspect"
HASH = "a" * 64


def _load_reader():
    loader = importlib.machinery.SourceFileLoader("redisops_inspect_under_test", str(READER_PATH))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


R = _load_reader()


# ---- masking -------------------------------------------------------------------------------


def test_every_secret_setting_is_masked_and_presence_kept():
    masked = R.mask_config(
        {
            "masterauth": "s3cret",
            "primaryauth": "s3cret",
            "requirepass": "",
            "tls-key-file-pass": "k3y",
            "tls-client-key-file-pass": "k3y",
            "masteruser": "replicator",
            "maxmemory": "100",
        }
    )
    assert masked == {
        "masterauth": "(set)",
        "primaryauth": "(set)",
        "requirepass": "",
        "tls-key-file-pass": "(set)",
        "tls-client-key-file-pass": "(set)",
        "masteruser": "replicator",
        "maxmemory": "100",
    }


def test_acl_hashes_and_clear_passwords_are_masked():
    line = f"user app on #{HASH} >plain-secret ~app:* &* +@all -@dangerous"
    assert R.mask_acl_line(line) == "user app on #<hash> #<hash> ~app:* &* +@all -@dangerous"
    assert R.mask_acl_line("user default off nopass resetchannels -@all") == (
        "user default off nopass resetchannels -@all"
    )
    upper = f"user x on #{HASH.upper()} -@all"
    assert HASH.upper() not in R.mask_acl_line(upper)


def test_the_reader_masks_every_setting_the_core_calls_secret():
    # The reader runs on hosts without the kit's Python, so it keeps a list of its own.
    for name in (*secrets.SECRET_KEYS, *secrets.SENTINEL_SECRET_KEYS, "a-new-password"):
        assert R.is_secret_setting(name) == secrets.is_secret_setting(name), name
    assert R.SECRET_SUFFIXES == secrets.SECRET_SUFFIXES


# ---- RESP2 -----------------------------------------------------------------------------------


def _reply(raw: bytes):
    return R.read_reply(io.BytesIO(raw))


def test_resp2_replies():
    assert _reply(b"+OK\r\n") == "OK"
    assert _reply(b":42\r\n") == 42
    assert _reply(b"$5\r\nhello\r\n") == "hello"
    assert _reply(b"$0\r\n\r\n") == ""
    assert _reply(b"$-1\r\n") is None
    assert _reply(b"*-1\r\n") is None
    assert _reply(b"*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n") == ["bind", "127.0.0.1"]
    assert _reply(b"*2\r\n*1\r\n:1\r\n$3\r\na\nb\r\n") == [[1], "a\nb"]  # a newline inside a bulk string


def test_resp2_errors_are_values_so_an_array_keeps_the_rest():
    error = _reply(b"-NOPERM this user has no permissions\r\n")
    assert isinstance(error, R.ReplyError) and "NOPERM" in str(error)
    mixed = _reply(b"*2\r\n-ERR x\r\n+OK\r\n")
    assert isinstance(mixed[0], R.ReplyError) and mixed[1] == "OK"


@pytest.mark.parametrize("raw", [b"", b"+OK", b"$5\r\nhel", b"$5\r\nhelloXY", b"?x\r\n", b"*2\r\n+OK\r\n"])
def test_resp2_truncated_or_unknown_replies_are_protocol_errors(raw):
    with pytest.raises(R.ProtocolError):
        _reply(raw)


def test_commands_are_encoded_as_bulk_arrays():
    assert R.encode_command("CONFIG", "GET", "*") == b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n"
    assert R.pairs(["a", "1", "b", "2"]) == {"a": "1", "b": "2"}
    with pytest.raises(R.ProtocolError):
        R.pairs(["a"])


def test_no_target_is_a_failed_run_with_a_reason(tmp_path, capsys):
    assert R.main([str(tmp_path)]) == 2
    assert "no target" in json.loads(capsys.readouterr().out)["error"]


def test_an_unreadable_password_file_is_that_targets_error(tmp_path, capsys):
    (tmp_path / "redis-main.json").write_text(
        json.dumps({"kind": "redis", "name": "main", "port": 1, "password_file": str(tmp_path / "missing")})
    )
    assert R.main([str(tmp_path)]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["targets"][0]["name"] == "main" and "password file" in out["targets"][0]["error"]


# ---- the gatherer's choice of path -------------------------------------------------------------

KEY = {
    "key": "/etc/redisops/inspect/id_ed25519",
    "user": "redisops-inspect",
    "known_hosts": "/etc/redisops/kh",
}


def test_host_access_wins_then_the_key_then_nothing():
    assert inspect_path(True, KEY) == HOST
    assert inspect_path(True, {}) == HOST
    assert inspect_path(False, KEY) == SSH
    assert inspect_path(False, {**KEY, "known_hosts": ""}) == NONE  # never trust a host key on first use
    assert inspect_path(False, {}) == NONE


def test_the_ssh_command_pins_host_keys_and_runs_nothing_interactive():
    argv = ssh_command({**KEY, "port": 2222}, "10.0.0.11")
    text = " ".join(argv)
    assert "StrictHostKeyChecking=yes" in text and "UserKnownHostsFile=/etc/redisops/kh" in text
    assert "BatchMode=yes" in text and "IdentitiesOnly=yes" in text and "-T" in argv
    assert argv[-2:] == ["--", "10.0.0.11"] and argv[argv.index("-p") + 1] == "2222"


def _cluster() -> ClusterFacts:
    return ClusterFacts(
        redis=[RedisFacts(target="redis-1:6379", host="redis-1", instance="main", address="a", port=6379)],
        sentinels=[SentinelFacts(target="redis-1:26379", host="redis-1", address="a", port=26379)],
    )


def test_without_any_path_the_facts_are_marked_unread():
    cluster = _cluster()
    apply_inspection(cluster, NONE, {})
    assert all(f.unread and not f.gaps for f in (*cluster.redis, *cluster.sentinels))


def test_the_readers_answer_becomes_the_facts():
    answer = json.dumps(
        {
            "targets": [
                {
                    "kind": "redis",
                    "name": "main",
                    "config": {"masterauth": "(set)"},
                    "acl": ["user a on #<hash>"],
                },
                {"kind": "sentinel", "name": "main", "config": {}, "acl": ["user s on #<hash>"], "error": ""},
            ],
            "error": "",
        }
    )
    cluster = _cluster()
    apply_inspection(cluster, SSH, {"redis-1": parse_inspection(answer)})
    redis, sentinel = cluster.redis[0], cluster.sentinels[0]
    assert redis.config == {"masterauth": "(set)"} and redis.acl == ["user a on #<hash>"] and not redis.unread
    assert sentinel.acl == ["user s on #<hash>"] and not sentinel.unread


def test_a_reader_that_failed_is_a_gap_and_leaves_the_facts_unread():
    cluster = _cluster()
    answer = {
        ("redis", "main"): {"kind": "redis", "name": "main", "error": "redis on port 6379 refused: WRONGPASS"}
    }
    apply_inspection(cluster, HOST, {"redis-1": answer})
    assert "WRONGPASS" in cluster.redis[0].unread and cluster.redis[0].gaps
    assert "does not know sentinel" in cluster.sentinels[0].unread
    cluster = _cluster()
    apply_inspection(cluster, SSH, {"redis-1": {"error": "cannot run the reader"}})
    assert cluster.redis[0].unread == "cannot run the reader" and cluster.sentinels[0].gaps


def test_an_answer_with_an_unmasked_hash_is_refused():
    answer = {"targets": [{"kind": "redis", "name": "main", "acl": [f"user a on #{HASH}"]}], "error": ""}
    with pytest.raises(ValueError, match="unmasked"):
        parse_inspection(json.dumps(answer))


# ---- the engine: unread is skipped, never passed ---------------------------------------------


def test_checks_that_need_unread_facts_are_skipped_not_passed():
    cluster = _cluster()
    cluster.redis[0].info = {"role": "master", "redis_version": "7.2.4"}
    cluster.host_facts_gathered = False
    apply_inspection(cluster, NONE, {})
    report = run_checks(cluster, only=["SEC-01", "SEC-06", "SEC-11", "SEC-13"])
    by_id = {r.check_id: r for r in report.results}
    for check_id in ("SEC-01", "SEC-06", "SEC-11", "SEC-13"):
        assert by_id[check_id].status == SKIPPED, by_id[check_id]
        assert "not read" in by_id[check_id].message
    assert not [r for r in report.results if r.status == PASS]
    assert any("not read on 2 target(s)" in n for n in report.notes)
    # What was gathered is unchanged (a --dump-facts of it stays plain JSON).
    assert json.dumps(cluster.to_dict())


# ---- the roles' rules ----------------------------------------------------------------------------


def test_the_reader_variables_are_validated():
    good = {
        "redis_server_inspect_user": "redisops-inspect",
        "redis_server_inspect_acl_user": "inspector",
        "redis_server_inspect_authorized_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0= redisops@mon-1"],
        "redis_server_inspect_tls_cert": "/home/ops/.redisops/pki/clients/redisops-inspect.crt",
        "redis_server_inspect_tls_key": "/home/ops/.redisops/pki/clients/redisops-inspect.key",
    }
    assert F.redis_inspect_problems(good) == []
    bad = {
        "redis_server_inspect_user": "root",
        "redis_server_inspect_acl_user": "admin",
        "redis_server_admin_user": "admin",
        "redis_server_inspect_authorized_keys": ['command="sh" ssh-ed25519 AAAA', "ssh-ed25519 AAAA\nx"],
        "redis_server_inspect_tls_key": "relative/key",
    }
    problems = " | ".join(F.redis_inspect_problems(bad))
    for name in (
        "inspect_user",
        "already another user",
        "authorized_keys[0]",
        "authorized_keys[1]",
        "tls_key",
    ):
        assert name in problems


def test_authorized_keys_force_the_reader():
    text = F.redis_inspect_authorized_keys(
        ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0= redisops@mon-1"], "/usr/local/libexec/redisops-inspect"
    )
    assert text == (
        'restrict,command="/usr/local/libexec/redisops-inspect" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0= '
        "redisops@mon-1\n"
    )
    with pytest.raises(F.RedisVarError):
        F.redis_inspect_authorized_keys(['from="*" ssh-ed25519 AAAA'], "/usr/local/libexec/redisops-inspect")


def test_acl_line_from_a_hash_and_the_sentinel_user():
    line = F.redis_acl_line({"name": "inspector", "password_hash": HASH, "commands": ["-@all", "+acl|list"]})
    assert line == f"user inspector on #{HASH} resetkeys resetchannels -@all +acl|list"
    with pytest.raises(F.RedisVarError):
        F.redis_acl_line({"name": "inspector", "password_hash": "not-a-hash"})
    assert SF.redis_sentinel_inspect_user("inspector", "") == []
    (user,) = SF.redis_sentinel_inspect_user("inspector", HASH)
    assert user == {"name": "inspector", "rules": f"reset on #{HASH} -@all +auth +ping +acl|list"}
    assert "+acl|list" not in SF.MONITOR_RULES


def test_the_scheduled_run_pins_the_host_keys_read_by_ansible():
    import base64

    loader = importlib.machinery.SourceFileLoader(
        "redis_compliance_filters_under_test",
        str(REPO / "plugins" / "filter" / "redis_compliance.py"),
    )
    C = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(C)
    key = base64.b64encode(b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0= root@redis-1\n").decode()
    hostvars = {
        "redis-1": {"ansible_host": "10.0.0.11", "__key": {"content": key}},
        "redis-2": {"ansible_host": "10.0.0.12"},
    }
    lines = C.redis_compliance_known_hosts(hostvars, ["redis-1", "redis-2"], "__key")
    assert lines == ["10.0.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0="]
    settings = {"redis_compliance_inspect": True, "redis_compliance_inspect_known_hosts": lines}
    assert C.redis_compliance_problems(settings) == []
    assert C.redis_compliance_problems({**settings, "redis_compliance_inspect_known_hosts": []})
    assert C.redis_compliance_problems(
        {**settings, "redis_compliance_inspect_known_hosts": ["@cert-authority * x"]}
    )


def test_the_cli_needs_pinned_host_keys_for_the_readers_key():
    from redisops.cli import build_parser
    from redisops.compliance.run import inspect_settings

    parse = build_parser().parse_args
    assert inspect_settings(parse(["check"])) == {}
    with pytest.raises(ValueError, match="known-hosts"):
        inspect_settings(parse(["check", "--inspect-key", "/k"]))
    got = inspect_settings(parse(["check", "--inspect-key", "/k", "--inspect-known-hosts", "/kh"]))
    assert got == {"key": "/k", "known_hosts": "/kh", "user": "redisops-inspect"}


def test_each_instance_is_described_to_the_reader_without_a_secret():
    files = F.redis_inspect_targets(
        [{"name": "main", "plain_port": 0, "tls_port": 6379},
         {"name": "cache", "plain_port": 6380, "tls_port": 0}],
        "/etc/redis-ops-kit/inspect.d", "/etc/redis-ops-kit/inspect", "inspector",
        "/etc/redis-ops-kit/inspect/inspector.pass",
    )  # fmt: skip
    by_path = {f["path"]: json.loads(f["content"]) for f in files}
    tls = by_path["/etc/redis-ops-kit/inspect.d/redis-main.json"]
    assert (tls["port"], tls["tls"], tls["cert"]) == (6379, True, "/etc/redis-ops-kit/inspect/client.crt")
    plain = by_path["/etc/redis-ops-kit/inspect.d/redis-cache.json"]
    assert (plain["port"], plain["tls"], plain["cert"]) == (6380, False, "")
    assert all(
        f["mode"] == "0644" and "password" not in f["content"].replace("password_file", "") for f in files
    )


def test_the_reader_needs_a_certificate_of_its_own_when_the_inventory_brings_its_pki():
    own_pki = {"redis_server_tls_mode": "only", "redis_server_inspect_tls_cert": "",
               "redis_server_inspect_tls_key": ""}  # fmt: skip
    problems = F.redis_inspect_problems(own_pki)
    assert any("redis_server_inspect_tls_cert and redis_server_inspect_tls_key" in p for p in problems)
    assert F.redis_inspect_problems({**own_pki, "redis_server_tls_mode": "off"}) == []
