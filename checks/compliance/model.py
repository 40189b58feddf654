"""What a check is, what it reports, and the one registry every check joins.

A check is a pure function of gathered facts: it never connects, never prints. It yields
``Fail`` for each problem it sees, yields nothing when all is well, and raises ``Skip`` when
the facts it needs were not gathered (a replica has no key sample, a scheduled run has no
SSH). The engine turns that into one ``Result`` per check and target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            choices = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {name!r} (choose one of {choices})") from None

    def __str__(self) -> str:
        return self.name.lower()


AREAS = (
    "memory",
    "persistence",
    "connections",
    "performance",
    "security",
    "high-availability",
    "monitoring",
    "keys",
    "host",
    "configuration",
    "profile",
    "cluster",
)
# What a check looks at: one Redis instance, one Sentinel, one host, or the whole cluster.
SCOPES = ("redis", "sentinel", "host", "cluster")


@dataclass(frozen=True)
class Fail:
    """One problem a check found. ``severity`` overrides the check's own (a warn and a
    critical level of the same measure); ``target`` names another target than the one
    checked (cluster checks point at the node at fault)."""

    message: str
    severity: Severity | None = None
    target: str | None = None


class Skip(Exception):
    """The facts this check needs were not gathered for this target."""


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    scope: str
    severity: Severity
    title: str
    rationale: str
    bad: str
    good: str
    remediation: str
    fn: Callable[..., Iterable[Fail]] = field(compare=False, repr=False)
    source: str = ""
    # The servers and versions a version-aware check judges ("" when it judges every one alike).
    applies_to: str = ""

    def doc(self) -> dict[str, str]:
        return {
            "id": self.id,
            "area": self.area,
            "scope": self.scope,
            "severity": str(self.severity),
            "title": self.title,
            "rationale": self.rationale,
            "bad": self.bad,
            "good": self.good,
            "remediation": self.remediation,
            "source": self.source,
            "applies_to": self.applies_to,
        }


REGISTRY: dict[str, Check] = {}
# Ids of checks that were removed, and where their findings went: a waiver or --explain naming one
# is told, not just refused.
RETIRED = {"KEY-02": "KEY-02 was removed: long lists are reported once, by PRF-05 (big_list_items)"}


def no_such_check(check_id: str) -> str:
    """Why an id names no check, in words for the one who wrote it."""
    return (
        RETIRED.get(str(check_id).upper())
        or f"no check has id {check_id!r} (redisops check --list shows them)"
    )


def check(
    id: str,
    *,
    area: str,
    scope: str,
    severity: Severity,
    title: str,
    rationale: str,
    bad: str,
    good: str,
    remediation: str,
    source: str = "",
    applies_to: str = "",
) -> Callable[[Callable], Callable]:
    """Register a check. The function takes ``(facts, ctx)`` and yields ``Fail``."""
    if area not in AREAS:
        raise ValueError(f"{id}: area {area!r} is not one of {AREAS}")
    if scope not in SCOPES:
        raise ValueError(f"{id}: scope {scope!r} is not one of {SCOPES}")

    def register(fn: Callable) -> Callable:
        if id in REGISTRY:
            raise ValueError(f"check id {id} registered twice ({REGISTRY[id].fn.__name__}, {fn.__name__})")
        REGISTRY[id] = Check(
            id=id,
            area=area,
            scope=scope,
            severity=severity,
            title=title[:1].upper() + title[1:],
            rationale=rationale,
            bad=bad,
            good=good,
            remediation=remediation,
            fn=fn,
            source=source,
            applies_to=applies_to,
        )
        return fn

    return register


# What a run says about one check on one target.
PASS, FAIL, WAIVED, SKIPPED, ERROR = "pass", "fail", "waived", "skipped", "error"


@dataclass(frozen=True)
class Result:
    check_id: str
    area: str
    target: str
    status: str
    severity: Severity
    title: str
    message: str = ""
    remediation: str = ""
    waiver: str = ""

    def to_dict(self) -> dict:
        return {
            "check": self.check_id,
            "area": self.area,
            "target": self.target,
            "status": self.status,
            "severity": str(self.severity),
            "title": self.title,
            "message": self.message,
            "remediation": self.remediation,
            "waiver": self.waiver,
        }
