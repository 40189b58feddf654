"""Configuration: the running servers and sentinels against what the inventory says.

The redis_server role renders redis.conf from the inventory; the inventory reader renders the
same template (``expected["config"]``, in the form CONFIG GET answers, secrets and Sentinel's
replicaof left out). A CONFIG SET or SENTINEL SET by hand changes the running process and
leaves the files as they were: only a comparison with the live values finds it.
"""

from __future__ import annotations

from redisops.compliance.facts import RedisFacts, SentinelFacts
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context


def differing(expected: dict[str, str], live: dict[str, str]) -> list[str]:
    """'directive live≠wanted' for each expected directive whose live value differs (blank-
    insensitive, case-insensitive); directives the server does not answer are left out."""
    out = []
    for name, wanted in sorted(expected.items()):
        if name not in live:
            continue
        current = " ".join(str(live[name]).split())
        if current.lower() != " ".join(str(wanted).split()).lower():
            out.append(f"{name} is {current or '(empty)'!r}, the inventory says {wanted or '(empty)'!r}")
    return out


@check(
    "CFG-01",
    area="configuration",
    scope="redis",
    severity=Severity.HIGH,
    title="The running server has the configuration the inventory says",
    rationale="A CONFIG SET by hand (an eviction policy, maxmemory, persistence, bind) changes the running "
    "server and leaves redis.conf as it was: the file looks right while the server misbehaves, and the "
    "next restart silently changes behaviour again. The inventory is the truth; the live server must match.",
    bad="CONFIG SET maxmemory-policy allkeys-random on a data store whose inventory says noeviction",
    good="CONFIG GET answers the values the inventory renders into redis.conf",
    remediation="Rerun site.yml: the redis_server role compares every directive it writes with CONFIG GET "
    "and applies the inventory's value (live, or with a restart when Redis cannot change it live). If the "
    "live value is the one you want, put it in the inventory first.",
    source="Redis docs, CONFIG SET (a change is not written to redis.conf) and CONFIG REWRITE (which "
    "writes it)",
)
def live_config_matches_inventory(facts: RedisFacts, ctx: Context):
    expected = facts.expected.get("config")
    if not expected:
        raise Skip("the targets carry no expected configuration (written by an older kit)")
    for line in differing(expected, facts.config):
        yield Fail(line)


@check(
    "CFG-02",
    area="configuration",
    scope="sentinel",
    severity=Severity.HIGH,
    title="Every sentinel runs each group with the quorum and timers the inventory says",
    rationale="SENTINEL SET changes a group's quorum or timers on one sentinel only and at once: sentinels "
    "that disagree on down-after-milliseconds or the quorum fail over at different moments, or not at all.",
    bad="SENTINEL SET redis-main down-after-milliseconds 60000 on one of three sentinels",
    good="SENTINEL MASTERS answers the inventory's quorum, down-after-milliseconds, failover-timeout and "
    "parallel-syncs on every sentinel",
    remediation="Rerun site.yml: the redis_sentinel role compares each group with SENTINEL MASTERS and "
    "applies the inventory's values with SENTINEL SET.",
    source="Redis docs, Sentinel (configuring Sentinel at runtime)",
)
def sentinel_settings_match_inventory(facts: SentinelFacts, ctx: Context):
    settings = facts.expected.get("settings")
    if not settings:
        raise Skip("the targets carry no expected Sentinel settings (written by an older kit)")
    for group, wanted in sorted(settings.items()):
        live = facts.masters.get(group)
        if live is None:
            continue  # HA checks report a group a sentinel does not monitor
        for line in differing(wanted, live):
            yield Fail(f"group {group}: {line}")
