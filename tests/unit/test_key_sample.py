"""The key sample's budget and walk (gather.share_budget, gather.sample_database), without a
server: a fake SCAN over a list of names. tests/integration/test_gather_local.py runs it on a real
redis-server."""

from __future__ import annotations

import random

import pytest

from redisops.compliance.gather import keyspace_sizes, sample_database, share_budget


class FakeScan:
    """SCAN over a fixed table: the cursor is a position (any integer is taken modulo the size,
    as Redis masks it), 0 again at the end."""

    def __init__(self, names: list[str]):
        self.names, self.calls = names, 0

    def scan(self, cursor: int, count: int):
        self.calls += 1
        start = cursor % len(self.names) if self.names else 0
        end = min(start + count, len(self.names))
        return (0 if end >= len(self.names) else end), self.names[start:end]


@pytest.mark.parametrize(
    ("sizes", "budget", "shares"),
    [
        ({0: 100_000}, 1000, {0: 1000}),
        ({0: 100_000, 3: 40}, 1000, {0: 960, 3: 40}),  # a small database whole, the rest to db 0
        ({0: 5000, 1: 5000}, 1000, {0: 500, 1: 500}),
        ({0: 10, 1: 20}, 1000, {0: 10, 1: 20}),  # never beyond a database's size
        ({0: 9, 1: 9, 2: 9}, 2, {1: 1, 2: 1}),  # fewer keys to spend than databases
    ],
)
def test_the_budget_is_shared_over_every_database(sizes, budget, shares):
    assert share_budget(sizes, budget) == shares
    assert sum(share_budget(sizes, budget).values()) <= budget


def test_databases_come_from_info_keyspace():
    info = {
        "db0": {"keys": 18, "expires": 10},
        "db3": {"keys": 2},
        "db4": {"keys": 0},
        "dbx": {},
        "role": "master",
    }
    assert keyspace_sizes(info) == {0: 18, 3: 2}


def test_a_large_database_is_sampled_from_a_random_cursor_within_the_budget():
    names = [f"k{i}" for i in range(1000)]
    picks = []
    for seed in range(5):
        client = FakeScan(names)
        got, whole = sample_database(client, 100, len(names), 30, random.Random(seed))
        assert len(got) == 100 == len(set(got)) and not whole
        assert client.calls <= 100 // 30 + 2  # bounded by the budget, not the keyspace
        picks.append(got[0])
    assert len(set(picks)) > 1  # not the same first key every time


def test_the_walk_goes_on_from_cursor_0_and_stops_after_one_pass():
    names = [f"k{i}" for i in range(50)]

    class Late(random.Random):
        def getrandbits(self, k):  # the very last position: the table's end comes at once
            return 49

    client = FakeScan(names)
    got, whole = sample_database(client, 45, 60, 10, Late())  # INFO said 60 keys, 50 are left
    assert len(got) == 45 and not whole
    client = FakeScan(names)
    got, _ = sample_database(client, 60, 61, 10, Late())
    assert sorted(got) == sorted(names) and client.calls <= 7  # one pass, not forever


def test_a_database_within_the_budget_is_read_whole():
    names = [f"k{i}" for i in range(40)]
    got, whole = sample_database(FakeScan(names), 100, 40, 7, random.Random(1))
    assert got == names and whole
    # Grown past its share since INFO: a sample after all.
    got, whole = sample_database(FakeScan(names), 30, 30, 7, random.Random(1))
    assert len(got) == 30 and not whole
