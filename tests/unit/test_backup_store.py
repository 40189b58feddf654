"""The backup store's pure parts: choosing the source, retention, the store's rules, the
checker's verdict, the transfer frame and the metrics."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest

from redisops.backup import store as S
from redisops.backup.take import checker_for, choose_source, receive

PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.eE+-]+$')


def _state(host, role, link="up", offset=100, loading=0):
    return {"host": host, "role": role, "link": link, "offset": offset, "loading": loading}


def test_the_most_advanced_healthy_replica_is_the_source():
    states = [
        _state("r1", "master", None, 500),
        _state("r2", "slave", offset=480),
        _state("r3", "slave", offset=499),
    ]
    assert choose_source(states)["host"] == "r3"
    # A replica that is down, loading or cut off from its primary is not a source.
    states = [_state("r1", "master"), _state("r2", "slave", link="down", offset=900),
              _state("r3", "slave", loading=1, offset=900), _state("r4", "slave", offset=10)]  # fmt: skip
    assert choose_source(states)["host"] == "r4"


def test_the_primary_only_when_no_replica_is_healthy():
    states = [_state("r1", "master"), _state("r2", "slave", link="down"), {"host": "r3", "role": None}]
    assert choose_source(states)["host"] == "r1"


def test_two_primaries_or_nobody_is_refused():
    with pytest.raises(S.BackupError, match="r1, r2 all claim to be primary"):
        choose_source([_state("r1", "master"), _state("r2", "master"), _state("r3", "slave")])
    with pytest.raises(S.BackupError, match=r"r1 \(Connection refused\)"):
        choose_source([{"host": "r1", "role": None, "error": "Connection refused"}])


def test_retention_keeps_the_newest_per_hour_and_per_day():
    # A backup every 20 minutes for 10 days.
    taken = [(f"b{i}", 1_700_000_000 + i * 1200) for i in range(720)]
    keep = S.to_keep(taken, hourly=24, daily=7)
    newest = max(taken, key=lambda t: t[1])
    assert newest[0] in keep
    hours = {int(t // 3600) for i, t in taken if i in keep}
    days = {int(t // 86400) for i, t in taken if i in keep}
    assert len(days) == 7 and len(keep) <= 24 + 7
    # Each kept one is the newest of its hour or day.
    for ident, t in taken:
        if ident in keep:
            same_hour = [u for _, u in taken if int(u // 3600) == int(t // 3600)]
            same_day = [u for _, u in taken if int(u // 86400) == int(t // 86400)]
            assert t in (max(same_hour), max(same_day))
    assert len(hours) >= 24
    assert S.to_keep([], 24, 7) == set()
    assert S.to_keep(taken, hourly=1, daily=0) == {newest[0]}


def _store(tmp_path, stamps, host="redis-2"):
    folder = tmp_path / "g"
    folder.mkdir(exist_ok=True)
    for t in stamps:
        name = f"{S.stamp(t)}-{host}"
        (folder / f"{name}.rdb").write_bytes(b"x")
        (folder / f"{name}.json").write_text(json.dumps({"taken_at": t, "size": 1}))
    return folder


def test_only_a_file_with_its_manifest_is_a_backup(tmp_path):
    folder = _store(tmp_path, [1_700_000_000, 1_700_003_600])
    (folder / "20231114T230000Z-redis-3.json").write_text(json.dumps({"taken_at": 1}))  # no file
    (folder / f"{S.PARTIAL_PREFIX}20231114T240000Z-redis-2.rdb").write_bytes(b"half")
    (folder / "20231114T250000Z-redis-2.rdb").write_bytes(b"no manifest")
    ids = [b.id for b in S.list_backups(tmp_path, "g")]
    assert ids == ["g/20231114T221320Z-redis-2", "g/20231114T231320Z-redis-2"]
    assert S.find_backup(tmp_path, "g").id == ids[-1]
    assert S.find_backup(tmp_path, "g", "20231114T221320Z-redis-2").id == ids[0]
    with pytest.raises(S.BackupError, match="no backup 'nope'"):
        S.find_backup(tmp_path, "g", "nope")
    with pytest.raises(S.BackupError, match="take one first"):
        S.find_backup(tmp_path, "other")
    assert S.remove_partials(folder) == [f"{S.PARTIAL_PREFIX}20231114T240000Z-redis-2.rdb"]


def test_prune_removes_what_retention_drops_manifest_first(tmp_path):
    folder = _store(tmp_path, [1_700_000_000 + i * 600 for i in range(12)])  # 2 hours of 10-minute backups
    removed = S.prune(tmp_path, "g", hourly=24, daily=0)
    kept = S.list_backups(tmp_path, "g")
    assert len(removed) == 12 - len(kept) and 2 <= len(kept) <= 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        n for b in kept for n in (b.rdb.name, b.manifest_path.name)
    )


GOOD = """[offset 0] Checking RDB file dump.rdb
[offset 27] AUX FIELD redis-ver = '7.0.15'
[offset 53] AUX FIELD ctime = '1796293477'
[offset 154] AUX FIELD repl-offset = '87083'
[offset 89] Checksum OK
[offset 89] \\o/ RDB looks OK! \\o/
[info] 206 keys read
[info] 67 expires
[info] 1 already expired
"""
BAD = """[offset 0] Checking RDB file dump.rdb
--- RDB ERROR DETECTED ---
[offset 4186] Internal error in RDB reading offset 0, function at rdb.c:2850 -> Wrong RDB checksum
[additional info] While doing: check-sum
"""


def test_the_checkers_verdict():
    assert S.parse_check_rdb(GOOD) == {
        "ok": True, "keys": 206, "expires": 67, "already_expired": 1, "ctime": 1796293477,
        "repl_offset": 87083, "error": "",
    }  # fmt: skip
    bad = S.parse_check_rdb(BAD)
    assert not bad["ok"] and "Wrong RDB checksum" in bad["error"]


def _frame(data: bytes, sha: str | None = None) -> io.BytesIO:
    head = json.dumps({"size": len(data), "mtime": 1.0}).encode() + b"\n"
    tail = json.dumps({"sha256": sha or hashlib.sha256(data).hexdigest()}).encode() + b"\n"
    return io.BytesIO(head + data + tail)


def test_the_transfer_frame(tmp_path):
    data = bytes(range(256)) * 5000
    got = receive(_frame(data), tmp_path / "a", chunk=4096)
    assert got["size"] == len(data) and (tmp_path / "a").read_bytes() == data
    with pytest.raises(S.BackupError, match="damaged"):
        receive(_frame(data, sha="0" * 64), tmp_path / "b")
    cut = _frame(data).getvalue()[:1000]
    with pytest.raises(S.BackupError, match=r"stopped after \d+ of 1280000 bytes"):
        receive(io.BytesIO(cut), tmp_path / "c")
    with pytest.raises(S.BackupError, match="the sender refused: instance 'x'"):
        receive(io.BytesIO(b'{"error": "instance \'x\' is not one this host backs up"}\n'), tmp_path / "d")
    with pytest.raises(S.BackupError, match="instead of a header"):
        receive(io.BytesIO(b"Permission denied\n"), tmp_path / "e")


def test_metrics_are_valid_prometheus_text():
    text = S.metrics_text(
        [
            {"group": "g1", "last_success": 1.7e9, "last_run": 1.7e9 + 5, "ok": 1, "size": 10, "keys": 3,
             "duration": 1.5, "stored": 4},
            {"group": "g2", "last_success": None, "last_run": 1.7e9, "ok": 0, "size": None, "keys": None,
             "duration": 0.2, "stored": 0},
        ]
    )  # fmt: skip
    samples = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert samples and all(PROM_LINE.match(ln) for ln in samples), text
    assert 'redisops_backup_last_run_success{group="g2"} 0' in samples
    assert 'redisops_backup_last_success_timestamp_seconds{group="g1"} 1700000000.000' in samples
    assert not any('group="g2"' in ln and "last_success" in ln for ln in samples)


@pytest.mark.parametrize(
    ("flavor", "server", "checker"),
    [("redis", "redis-server", "redis-check-rdb"), ("valkey", "valkey-server", "valkey-check-rdb")],
)
def test_server_programs_come_from_a_fixed_table(flavor, server, checker):
    assert S.program_for(flavor, "server") == server and S.program_for(flavor, "check_rdb") == checker
    assert checker_for(flavor) == checker


@pytest.mark.parametrize(
    "flavor",
    ["sh", "/bin/sh", "../bin/sh", "redis-server", "Redis", "redis ", "keydb", "", None, 1, ["redis"]],
)
def test_a_flavour_from_a_manifest_or_info_never_names_a_program(flavor):
    with pytest.raises(
        S.BackupError, match=r"the manifest's server is .* not one of the servers the kit knows"
    ):
        S.program_for(flavor, "server")
    with pytest.raises(S.BackupError, match="the source server's INFO server_name is"):
        checker_for(flavor)


def test_verify_refuses_a_manifest_naming_another_checker(tmp_path):
    rdb = tmp_path / "20240101T000000Z-r1.rdb"
    rdb.write_bytes(b"REDIS0011")
    manifest = {"size": 9, "sha256": hashlib.sha256(b"REDIS0011").hexdigest(), "server": "/tmp/evil"}
    backup = S.Stored("g/20240101T000000Z-r1", rdb, tmp_path / "m.json", manifest)
    with pytest.raises(S.BackupError, match="'/tmp/evil', not one of the servers"):
        S.verify_stored(backup)


@pytest.mark.parametrize("name", ["redis-main", "a", "R1.cache_2", "9" + "x" * 63])
def test_group_names_the_sentinel_role_accepts_pass(name):
    assert S.check_group(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../etc",
        "a/b",
        ".x",
        "-x",
        "_x",
        "a b",
        "a;b",
        "a\nb",
        "redis-main\n",
        "a" * 65,
        None,
        7,
        "grüppe",
    ],
)
def test_other_group_names_are_refused_naming_the_variable(name):
    with pytest.raises(S.BackupError, match=r"^redis_restore_from_group .* is not a Sentinel group name"):
        S.check_group(name, "redis_restore_from_group")


@pytest.mark.parametrize("name", ["redis-main", "a", "9.x_y-z", "a" * 64, "a" * 65, "-a", "a b", "a/b", "ü"])
def test_the_group_rule_is_the_sentinel_roles(name):
    from .role_code import SF

    assert bool(S.GROUP_NAME.fullmatch(name)) == bool(SF.GROUP_NAME.fullmatch(name))


def test_the_scratch_server_sanitizes_every_payload_and_listens_on_a_socket_only(tmp_path):
    from redisops.backup.scratch import scratch_config

    lines = scratch_config(tmp_path).splitlines()
    assert "sanitize-dump-payload yes" in lines
    assert "port 0" in lines and f"unixsocket {tmp_path}/redis.sock" in lines


def test_the_backup_hosts_packages_are_named_after_known_flavours_only():
    from redisops.backup.config import flavors

    def config(*names):
        return {
            "groups": [
                {
                    "name": "redis-main",
                    "servers": [{"host": f"r{i}", "flavor": n} for i, n in enumerate(names)],
                }
            ]
        }

    assert flavors(config("valkey", "redis", "redis")) == ["redis", "valkey"]
    with pytest.raises(S.BackupError, match="redis_server_flavor of r1 is 'keydb'"):
        flavors(config("redis", "keydb"))
