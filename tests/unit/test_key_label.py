"""key_label: key names in findings show at most two segments and a hash, never the whole name
(a session id is a login token)."""

from __future__ import annotations

import hashlib

import pytest

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, key_label
from redisops.compliance.settings import thresholds

from .checks_fixtures import apply_edits, base_facts


def _hash8(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("app:session:abc123", "app:session:#" + _hash8("app:session:abc123")),
        ("app:user:4:profile", "app:user:#" + _hash8("app:user:4:profile")),
        ("cache:x", "cache:#" + _hash8("cache:x")),
        ("counter:", "counter:#" + _hash8("counter:")),
        ("tmp1", "tmp…#" + _hash8("tmp1")),
        ("ab", "ab…#" + _hash8("ab")),
        ("", "…#" + _hash8("")),
    ],
)
def test_keeps_two_segments_at_most_and_hashes_the_rest(name, label):
    assert key_label(name) == label


def test_the_hash_is_of_the_whole_name():
    assert (
        key_label("app:session:abc123")
        == "app:session:#" + hashlib.sha256(b"app:session:abc123").hexdigest()[:8]
    )
    assert key_label("app:session:abc123") != key_label("app:session:abc124")


def test_never_shows_what_follows_the_second_segment():
    token = "8f3a9c2b7d1e4f60"
    for name in (f"session:{token}", f"app:session:{token}", f"app:session:{token}:data", token):
        assert token not in key_label(name)


def test_is_stable_and_handles_unicode():
    assert key_label("app:ключ:значение") == key_label("app:ключ:значение")
    assert key_label("app:ключ:значение").startswith("app:ключ:#")
    assert key_label("ключ").startswith("клю…#")


def _rename(index: int, name: str) -> dict:
    return {"path": ["redis", 0, "keys", "keys", index, "name"], "set": name}


@pytest.mark.parametrize(
    ("check_id", "edits"),
    [
        # 4 of 19 names without namespace: 79% < 90%.
        ("KEY-01", [_rename(i, f"s3cr3t{i}token") for i in range(4)]),
        (
            "TTL-01",
            [
                _rename(1, "session:s3cr3t8f3a"),
                {"path": ["redis", 0, "keys", "keys", 1, "ttl_ms"], "set": -1},
            ],
        ),
        (
            "PRF-05",
            [
                {
                    "path": ["redis", 0, "keys", "keys"],
                    "append": {
                        "name": "app:session:s3cr3t",
                        "type": "string",
                        "ttl_ms": 1,
                        "length": 4194304,
                    },
                }
            ],
        ),
    ],
)
def test_findings_show_labels_not_key_names(check_id, edits):
    data = apply_edits(base_facts(), edits)
    names = [k["name"] for k in data["redis"][0]["keys"]["keys"]]
    results = run_checks(ClusterFacts.from_dict(data), thresholds(None), only=[check_id]).results
    messages = [r.message for r in results if r.status == "fail"]
    assert messages, [(r.status, r.message) for r in results]
    for message in messages:
        assert "#" in message
        for name in names:
            assert name not in message, (name, message)
