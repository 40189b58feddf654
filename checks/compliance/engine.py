"""The engine: every registered check over the gathered facts, then the waivers.

Pure: facts in, results out. One ``Result`` per check and target (pass, fail, waived,
skipped), plus an ``error`` result per target that could not be read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from redisops.compliance import rules  # noqa: F401 - importing registers every check
from redisops.compliance.facts import ClusterFacts, server_of
from redisops.compliance.model import (
    ERROR,
    FAIL,
    PASS,
    REGISTRY,
    SKIPPED,
    WAIVED,
    Check,
    Fail,
    Result,
    Severity,
    Skip,
)
from redisops.compliance.settings import Context, Thresholds
from redisops.compliance.waivers import Waiver, match_waiver
from redisops.core import exits

# The pseudo-checks a run reports when it could not read a target.
UNREACHABLE = {
    "redis": "GATHER-REDIS",
    "sentinel": "GATHER-SENTINEL",
    "host": "GATHER-HOST",
    "backup host": "GATHER-BACKUP-HOST",
}


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # expired waivers, facts not gathered
    started: float = 0.0  # when the facts were gathered
    duration: float = 0.0  # gathering plus judging
    targets: list[str] = field(default_factory=list)  # every Redis, Sentinel and host read (or tried)
    # Which server each Redis and Sentinel target that was read runs: {flavor, version, mode}.
    servers: dict[str, dict[str, str]] = field(default_factory=dict)

    def failing(self, at_least: Severity = Severity.INFO) -> list[Result]:
        return [r for r in self.results if r.status == FAIL and r.severity >= at_least]

    def errors(self) -> list[Result]:
        return [r for r in self.results if r.status == ERROR]

    def exit_code(self, fail_on: Severity) -> int:
        if self.errors():
            return exits.ERROR
        return exits.FAIL if self.failing(fail_on) else exits.OK

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in (PASS, FAIL, WAIVED, SKIPPED, ERROR)}
        for r in self.results:
            out[r.status] += 1
        return out


class _SkipOnLook:
    """Configuration or ACL that was not read: any look at it skips the check (never a silent pass)."""

    def __init__(self, why: str):
        super().__init__()
        self.why = why

    def _skip(self, *args, **kwargs):
        raise Skip(self.why)

    __getitem__ = __contains__ = __iter__ = __len__ = __bool__ = _skip


class _Unread(_SkipOnLook, dict):
    get = items = keys = values = _SkipOnLook._skip


class _UnreadList(_SkipOnLook, list):
    pass


def judged_facts(cluster: ClusterFacts) -> ClusterFacts:
    """The cluster as the checks see it: a target whose configuration and ACL were not read
    (facts.unread) has them replaced by values that skip whichever check looks at them."""

    def blind(facts):
        if not facts.unread:
            return facts
        why = f"configuration and ACL of {facts.target} not read: {facts.unread}"
        extra = {"config": _Unread(why)} if hasattr(facts, "config") else {}
        return replace(facts, acl=_UnreadList(why), **extra)

    if not any(f.unread for f in (*cluster.redis, *cluster.sentinels)):
        return cluster
    return replace(
        cluster, redis=[blind(f) for f in cluster.redis], sentinels=[blind(f) for f in cluster.sentinels]
    )


def _targets_for(check: Check, cluster: ClusterFacts) -> Iterable[tuple[str, object]]:
    if check.scope == "redis":
        return [(f.target, f) for f in cluster.redis if not f.error]
    if check.scope == "sentinel":
        return [(f.target, f) for f in cluster.sentinels if not f.error]
    if check.scope == "host":
        return [(f.target, f) for f in cluster.hosts if not f.error]
    return [("cluster", cluster)]


def _evaluate(check: Check, target: str, facts, ctx: Context) -> list[Result]:
    base = {"check_id": check.id, "area": check.area, "title": check.title}
    try:
        found: list[Fail] = list(check.fn(facts, ctx) or [])
    except Skip as why:
        return [Result(**base, target=target, status=SKIPPED, severity=check.severity, message=str(why))]
    except Exception as exc:  # a bug in one check must not hide the others
        return [
            Result(
                **base,
                target=target,
                status=ERROR,
                severity=check.severity,
                message=f"the check itself failed: {type(exc).__name__}: {exc}",
            )
        ]
    if not found:
        return [Result(**base, target=target, status=PASS, severity=check.severity)]
    return [
        Result(
            **base,
            target=f.target or target,
            status=FAIL,
            severity=f.severity if f.severity is not None else check.severity,
            message=f.message,
            remediation=check.remediation,
        )
        for f in found
    ]


def run_checks(
    cluster: ClusterFacts,
    thresholds: Thresholds | None = None,
    waivers: Iterable[Waiver] = (),
    only: Iterable[str] | None = None,
    today: str | None = None,
) -> Report:
    started = time.time()
    read = cluster
    cluster = judged_facts(cluster)
    ctx = Context(thresholds=thresholds or Thresholds(), cluster=cluster)
    report = Report(
        started=cluster.gathered_at or started,
        targets=[f.target for f in (*cluster.redis, *cluster.sentinels, *cluster.hosts, *cluster.backups)],
        servers={
            t.target: server_of(t).to_dict() for t in (*cluster.redis, *cluster.sentinels) if not t.error
        },
    )
    wanted = set(only) if only else None
    kinds = (("redis", cluster.redis), ("sentinel", cluster.sentinels), ("host", cluster.hosts),
             ("backup host", cluster.backups))  # fmt: skip
    for kind, items in kinds:
        for facts in items:
            if facts.error:
                report.results.append(
                    Result(
                        check_id=UNREACHABLE[kind],
                        area="monitoring",
                        target=facts.target,
                        status=ERROR,
                        severity=Severity.CRITICAL,
                        title=f"{kind} target could be read",
                        message=facts.error,
                        remediation="Make the target reachable with the inventory's address, port, "
                        "TLS files and credentials, then run the checks again.",
                    )
                )
    for facts in (*cluster.redis, *cluster.sentinels):
        for gap in facts.gaps:
            report.results.append(
                Result(
                    check_id="GATHER-PARTIAL",
                    area="monitoring",
                    target=facts.target,
                    status=ERROR,
                    severity=Severity.HIGH,
                    title="every section of the target could be read",
                    message=gap,
                    remediation="Give the checks' user the rights redis_server's compliance user has "
                    "(or undo a rename of the command); for the configuration and ACL, rerun site.yml so "
                    "the host has its reader (and compliance_timer.yml for the scheduled run's key). The "
                    "checks that need the missing section were skipped.",
                )
            )
    unread = [f.target for f in (*read.redis, *read.sentinels) if f.unread and not f.error]
    if unread:
        report.notes.append(
            f"configuration and ACL were not read on {len(unread)} target(s) ({', '.join(unread)}): the "
            "checks that need them are skipped, not passed (run with host access, or give the scheduled "
            "run its SSH key to the on-host reader)"
        )
    if not cluster.host_facts_gathered:
        report.notes.append("host facts were not gathered: host checks are skipped")
    for check in sorted(REGISTRY.values(), key=lambda c: c.id):
        if wanted is not None and check.id not in wanted:
            continue
        if check.scope == "host" and not cluster.host_facts_gathered:
            report.results.append(
                Result(
                    check_id=check.id,
                    area=check.area,
                    target="hosts",
                    status=SKIPPED,
                    severity=check.severity,
                    title=check.title,
                    message="host facts were not gathered",
                )
            )
            continue
        for target, facts in _targets_for(check, cluster):
            report.results.extend(_evaluate(check, target, facts, ctx))
    waivers = list(waivers)
    today = today or time.strftime("%Y-%m-%d", time.gmtime(started))
    used: set = set()
    for i, result in enumerate(report.results):
        if result.status != FAIL:
            continue
        waiver, expired = match_waiver(waivers, result.check_id, result.target, today)
        if waiver:
            used.add(waiver)
        if waiver and not expired:
            report.results[i] = Result(
                **{**result.__dict__, "status": WAIVED, "waiver": waiver.justification}
            )
        elif waiver and expired:
            note = (
                f"waiver for {waiver.check} on {waiver.target} expired on {waiver.expires}: no longer waived"
            )
            if note not in report.notes:
                report.notes.append(note)
    for waiver in waivers:
        if waiver not in used and waiver.expires >= today:
            report.notes.append(
                f"waiver for {waiver.check} on {waiver.target} matched no finding: remove it once the "
                "finding is gone for good"
            )
    report.duration = cluster.gather_seconds + (time.time() - started)
    return report
