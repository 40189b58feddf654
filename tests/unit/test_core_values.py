"""The core's sizes, exit codes, secret settings and RDB formats."""

from __future__ import annotations

import pytest

from redisops.core import exits, rdb, secrets, sizes


@pytest.mark.parametrize(
    ("text", "size"),
    [("1000", 1000), ("100mb", 100 * 1024**2), ("1GB", 1024**3), ("2k", 2000), (" 64 kb ", 65536), ("0", 0)],
)
def test_redis_units_are_read_as_redis_reads_them(text, size):
    assert sizes.parse(text) == size


@pytest.mark.parametrize("text", ["", "ten", "1tb", "1.5gb", "-1", "50%", "1 0"])
def test_what_is_no_size_is_none(text):
    assert sizes.parse(text) is None


def test_a_sign_only_when_asked_for():
    assert sizes.parse("-1", negative=True) == -1


@pytest.mark.parametrize(
    ("n", "text"), [(1024**3, "1gb"), (100 * 1024**2, "100mb"), (2048, "2kb"), (1000, "1000")]
)
def test_sizes_are_written_as_config_rewrite_writes_them(n, text):
    assert sizes.config_form(n) == text
    assert sizes.parse(text) == n


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (3, "3 B"),
        (512 * 1024, "512 KB"),
        (4 * 1024**2, "4.0 MB"),
        (950 * 1024**2, "950 MB"),
        (1.5 * 1024**3, "1.5 GB"),
    ],
)
def test_sizes_in_messages(n, text):
    assert sizes.human(n) == text


def test_exit_codes_are_distinct():
    codes = [
        exits.OK,
        exits.FAIL,
        exits.ERROR,
        exits.HEAL_FAILED,
        exits.USAGE,
        exits.INTERRUPTED,
        exits.PIPE_CLOSED,
    ]
    assert codes == [0, 1, 2, 3, 64, 130, 141]
    # The help texts describe every code, in that order.
    assert [code for code, _ in exits.DESCRIPTIONS] == codes


@pytest.mark.parametrize(
    "name",
    ["masterauth", "PrimaryAuth", "requirepass", "tls-key-file-pass", "sentinel-pass", "auth-pass", "x-pass"],
)
def test_secret_settings(name):
    assert secrets.is_secret_setting(name)


def test_ordinary_settings_are_not_secret():
    assert not any(
        secrets.is_secret_setting(n) for n in ("maxmemory", "masteruser", "tls-key-file", "passive")
    )


@pytest.mark.parametrize(
    ("flavor", "version", "fmt"),
    [
        ("redis", "2.8.24", 6),
        ("redis", "4.0.14", 8),
        ("redis", "6.2.14", 9),
        ("redis", "7.0.15", 10),
        ("redis", "7.2.5", 11),
        ("redis", "7.4.1", 12),
        ("redis", "8.0.2", 12),
        ("redis", "8.6.0", 13),
        ("redis", "9.0.0", None),  # newer than the kit knows: not guessed
        ("redis", "5:8.0.2-3", 12),  # Debian's package version, epoch first
        ("valkey", "7.2.5", 11),
        ("valkey", "8.1.1", 11),
        ("valkey", "9.0.0", 80),
        ("valkey", "9.2.1", 81),
        ("valkey", "9.4.0", None),
        ("valkey", "7.0.0", None),  # no such Valkey
        ("redis", "", None),
        ("keydb", "6.3.4", None),
    ],
)
def test_the_format_each_release_writes(flavor, version, fmt):
    assert rdb.rdb_format(flavor, version) == fmt


@pytest.mark.parametrize(
    ("flavor", "version", "fmt", "loads"),
    [
        ("redis", "7.0.15", 10, True),
        ("redis", "7.0.15", 11, False),
        ("valkey", "8.1.1", 11, True),
        ("valkey", "8.1.1", 12, False),  # Redis 7.4's and 8's own format
        ("valkey", "9.0.0", 12, False),
        ("valkey", "9.0.0", 11, True),
        ("redis", "8.6.0", 80, False),  # Valkey 9's
        ("redis", "8.6.0", 13, True),
        ("redis", "9.0.0", 10, None),  # its own format is not known
    ],
)
def test_which_formats_a_release_loads(flavor, version, fmt, loads):
    assert rdb.loads(flavor, version, fmt) is loads


def test_why_a_release_does_not_load_a_format():
    assert rdb.refusal("redis", "7.0.15", 11) == "loads format 10 at most"
    assert "Valkey reserves 12-79 for Redis" in rdb.refusal("valkey", "8.1.1", 12)
    assert "Valkey's" in rdb.refusal("redis", "8.0.2", 80)


def test_the_newest_release_known_is_one_whose_format_is_known():
    for flavor in rdb.FORMATS:
        assert rdb.rdb_format(flavor, rdb.newest_known(flavor)) is not None


def test_the_pki_directory_defaults_under_the_control_nodes_home(monkeypatch):
    from redisops.core.pki import pki_dir

    monkeypatch.setenv("HOME", "/home/sre")
    assert pki_dir(None) == pki_dir("") == "/home/sre/.redisops/pki"
    assert pki_dir("/srv/redisops/pki") == "/srv/redisops/pki"
