"""The redis_sentinel_gate module's reader (plugins/modules/redis_sentinel_gate.py): replies over a
kept RESP connection read as redis_ops.sentinel_health reads redis-cli's, and each failure as
RedisCli raises it. The lab's rolling restart and restore run the module for real."""

from __future__ import annotations

import pytest

from .role_code import OPS, PLUGINS, _load_by_path

G = _load_by_path(PLUGINS / "modules" / "redis_sentinel_gate.py", "redis_sentinel_gate_under_test")


class Scripted:
    def __init__(self, replies: dict):
        self.replies, self.closed = replies, 0

    def call(self, *args):
        reply = self.replies[args]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def close(self):
        self.closed += 1


def reader(replies: dict):
    cli = G.KeptCli({"port": 26379})
    cli.client = Scripted(replies)
    return cli


MASTER = ["name", "redis-main", "ip", "10.0.0.2", "port", "6379", "flags", "master", "num-slaves", "2",
          "num-other-sentinels", "2", "config-epoch", "4"]  # fmt: skip
REPLICA = ["name", "10.0.0.3:6379", "ip", "10.0.0.3", "port", "6379", "flags", "slave",
           "master-link-status", "ok"]  # fmt: skip
OTHER = [field.replace("10.0.0.3", "10.0.0.1") for field in REPLICA]


def test_a_sentinel_reads_as_redis_cli_would_print_it():
    cli = reader({
        ("SENTINEL", "MYID"): "f" * 40,
        ("SENTINEL", "MASTERS"): [MASTER],
        ("SENTINEL", "REPLICAS", "redis-main"): [REPLICA, OTHER],
        ("SENTINEL", "CKQUORUM", "redis-main"): "OK 3 usable Sentinels. Quorum and failover authorization...",
    })  # fmt: skip
    found = OPS.sentinel_health(cli)
    master = found["masters"]["redis-main"]
    assert found["running"] and master["ip"] == "10.0.0.2" and master["config-epoch"] == "4"
    assert master["ok-replicas"] == 2 and found["ckquorum"]["redis-main"].startswith("OK 3")


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (G.RespError("WRONGPASS invalid username-password pair"), "RedisAuthError"),
        (G.RespError("NOPERM this user has no permissions"), "RedisCliError"),
        (ConnectionRefusedError("Connection refused"), "RedisDownError"),
        (TimeoutError("timed out"), "RedisDownError"),
    ],
)
def test_each_failure_is_raised_as_redis_cli_raises_it(error, raised):
    cli = reader({("SENTINEL", "MYID"): error})
    with pytest.raises(G.RedisCliError) as caught:
        cli.call("SENTINEL", "MYID")
    assert type(caught.value).__name__ == raised
    assert cli.client.closed == (1 if raised == "RedisDownError" else 0)  # reopened next read


def test_nested_and_empty_replies_flatten_to_lines():
    assert G._lines([["a", None], 3, []]) == ["a", "", "3"]
