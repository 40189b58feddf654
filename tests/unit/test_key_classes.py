"""Key classes (redis_compliance_key_classes): checked before any run, matched by the start of a name."""

from __future__ import annotations

import pytest

from redisops.compliance.settings import KEY_CLASSES, KeyClass, key_class, key_classes, thresholds


def test_the_default_classes_are_the_guides_key_names():
    assert [c.prefix for c in KEY_CLASSES] == [
        "user:",
        "session:",
        "cache:",
        "rate_limit:",
        "leaderboard:",
        "queue:",
    ]
    assert {c.prefix for c in KEY_CLASSES if c.ttl_required} == {"session:", "cache:", "rate_limit:"}


def test_the_longest_matching_prefix_wins_and_only_the_start_counts():
    classes = key_classes([{"prefix": "app:"}, {"prefix": "app:session:", "ttl_required": True}])
    assert key_class("app:session:1", classes).prefix == "app:session:"
    assert key_class("app:user:1", classes).prefix == "app:"
    assert key_class("user:7:app:session:", classes) is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"prefix": "x:"}, "must be a list"),
        ([{"prefix": ""}], "redis_compliance_key_classes[0].prefix"),
        ([{"prefix": "q:", "kinds": ["queue"]}], "redis_compliance_key_classes[0].kinds ['queue']"),
        ([{"prefix": "s:", "ttl_required": "yes"}], "ttl_required is 'yes'"),
        ([{"prefix": "s:", "ttl_max_s": -1}], "ttl_max_s is -1"),
        ([{"prefix": "s:", "ttl": 5}], "unknown key(s) ttl"),
        ([{"prefix": "s:"}, {"prefix": "s:"}], "names prefix s: twice"),
    ],
)
def test_a_wrong_class_names_the_variable_and_the_fix(value, fragment):
    with pytest.raises(ValueError, match=None) as err:
        key_classes(value)
    assert fragment in str(err.value)


def test_classes_ride_with_the_thresholds_and_temporary_prefixes_is_retired():
    limits = thresholds({"key_classes": [{"prefix": "app:cache:", "kinds": "string", "ttl_required": True}]})
    assert limits.key_classes == (KeyClass("app:cache:", ("string",), True, 0),)
    with pytest.raises(ValueError) as err:
        thresholds({"temporary_prefixes": ["session:"]})
    assert "redis_compliance_key_classes replaced it" in str(err.value)
