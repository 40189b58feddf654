"""Whether a Sentinel group is healthy: one judgement for the role's gates, the drills' preflight,
the checks and the tests.

What each sentinel says (``SentinelView``) and, when read, what each server says (``ServerView``)
go in; a ``Verdict`` comes out, with every problem found, each of a kind, about a sentinel or a
server (or the group), in words. Fields that were not read are None and not judged: the role's
gate reads SENTINEL MASTERS (flags, peers, linked replicas) but no server, the drills read
CKQUORUM, the named primary and every server's INFO replication.

Healthy means: every sentinel answers, its CKQUORUM is OK, it monitors the group and sees the
primary unflagged, the other sentinels and the replicas; the sentinels name one primary; that
server, and only it, is a primary; every other server follows it over a link that is up and is
not far behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .topology import address, agreement

# The kinds of problem, for callers that act on some and not others.
SILENT = "silent"  # a sentinel does not answer
NO_QUORUM = "no-quorum"  # CKQUORUM is not OK: a failover could not be authorised now
UNMONITORED = "unmonitored"  # a sentinel does not monitor the group
PRIMARY_FLAGGED = "primary-flagged"  # the sentinel flags the primary (s_down, o_down, disconnected)
FEW_SENTINELS = "sentinels"  # a sentinel sees another number of peers than there are
FEW_REPLICAS = "replicas"  # a sentinel sees fewer linked replicas than there are (or stale ones)
DISAGREE = "disagree"  # the sentinels name different primaries
NO_PRIMARY = "no-primary"  # no sentinel names a primary
NOT_ONE_PRIMARY = "not-one-primary"  # the servers answering as primary are not the one named
LINK_DOWN = "link-down"  # a replica's link to its primary is not up (or it does not answer)
ASTRAY = "astray"  # a replica follows another server than the primary
LAGGING = "lagging"  # a replica is too far behind the primary

# Sentinel's flags that mean an instance is not seen (SENTINEL MASTERS / REPLICAS / SENTINELS).
DOWN_FLAGS = ("s_down", "o_down", "disconnected")


def flags(text) -> set[str]:
    """Sentinel's comma-separated flags as a set."""
    return {f.strip() for f in str(text or "").split(",") if f.strip()}


def quorum_ok(answer) -> bool:
    """SENTINEL CKQUORUM's answer: OK when enough sentinels are reachable to authorise a failover."""
    return str(answer).startswith("OK")


def link_up(info: Mapping) -> bool:
    """A replica's INFO replication: its link to the primary is up."""
    return info.get("master_link_status") == "up"


def sentinel_sees_replica_linked(replica: Mapping) -> bool:
    """One entry of SENTINEL REPLICAS: a replica that is up and linked to the primary (num-slaves
    counts those marked down or disconnected too)."""
    return replica.get("flags") == "slave" and replica.get("master-link-status") == "ok"


@dataclass(frozen=True)
class Problem:
    kind: str
    about: str  # the sentinel or server at fault; '' for the group
    text: str  # what is wrong, without naming who
    message: str  # the whole sentence


@dataclass(frozen=True)
class SentinelView:
    """What one sentinel says about the group. None: not read, not judged."""

    name: str
    answered: bool = True
    monitors: bool | None = None
    primary: str | None = None  # 'ip:port'
    flags: str | None = None
    other_sentinels: int | None = None
    replicas: int | None = None  # listed, whatever their state (num-slaves)
    linked_replicas: int | None = None  # up and linked
    linked_replica_addrs: tuple[str, ...] | None = None
    ckquorum: str | None = None

    @classmethod
    def from_master(cls, name: str, master: Mapping | None, ckquorum=None) -> SentinelView:
        """From the group's entry of SENTINEL MASTERS (None: not monitored); redis_sentinel_info's
        ok-replicas and ok-replica-addrs when it added them."""
        if not master:
            return cls(name, monitors=False, ckquorum=ckquorum)
        addrs = master.get("ok-replica-addrs")
        return cls(
            name,
            monitors=True,
            primary=address(master.get("ip"), master.get("port")),
            flags=str(master.get("flags", "")),
            other_sentinels=int(master.get("num-other-sentinels", 0)),
            replicas=int(master.get("num-slaves", 0)),
            linked_replicas=int(master["ok-replicas"]) if "ok-replicas" in master else None,
            linked_replica_addrs=tuple(addrs) if addrs is not None else None,
            ckquorum=ckquorum,
        )


@dataclass(frozen=True)
class ServerView:
    """What one server of the group says (INFO replication). ``role`` None: it did not answer."""

    addr: str  # 'ip:port', as the sentinels name it
    role: str | None = None
    follows: str | None = None  # 'host:port' of its primary, for a replica
    link: str | None = None  # master_link_status
    offset: int | None = None  # master_repl_offset, or slave_repl_offset for a replica

    @classmethod
    def from_info(cls, addr: str, info: Mapping | None) -> ServerView:
        info = info or {}
        role = info.get("role") or None
        if role == "slave":
            follows = address(info.get("master_host"), info.get("master_port"))
            return cls(
                addr, role, follows, info.get("master_link_status"), int(info.get("slave_repl_offset", 0))
            )
        offset = info.get("master_repl_offset")
        return cls(addr, role, None, info.get("master_link_status"), None if offset is None else int(offset))


@dataclass(frozen=True)
class Verdict:
    problems: tuple[Problem, ...]
    primary: str | None  # the primary every sentinel that names one names

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def messages(self) -> list[str]:
        return [p.message for p in self.problems]

    def of(self, *kinds: str) -> list[Problem]:
        return [p for p in self.problems if p.kind in kinds]


def _sentinel(kind: str, view: SentinelView, text: str) -> Problem:
    return Problem(kind, view.name, text, f"sentinel on {view.name}: {text}")


def sentinel_problems(
    view: SentinelView, group: str, sentinels: int, replicas: int, spare: str = "", exact: bool = False
) -> list[Problem]:
    """Why one sentinel's view of ``group`` is not healthy, with ``sentinels`` sentinels and
    ``replicas`` replicas in the group.

    ``spare`` ('address:port') is a replica about to be replaced: it need not be linked, every
    other replica must (a flavour switch needs this for the old primary: once demoted, a Redis 7
    server cannot load a Valkey primary's RDB if it missed the partial resync). ``exact``: more
    peers or replicas than there are is a problem too (stale entries Sentinel never forgets
    raise the majority it needs); otherwise only fewer is.
    """
    if not view.answered:
        return [Problem(SILENT, view.name, "does not answer", f"sentinel on {view.name} does not answer")]
    out = []
    if view.ckquorum is not None and not quorum_ok(view.ckquorum):
        out.append(_sentinel(NO_QUORUM, view, f"CKQUORUM {group}: {view.ckquorum}"))
    if view.monitors is False:
        return [*out, _sentinel(UNMONITORED, view, f"group {group} is not monitored")]
    if view.flags is not None and flags(view.flags) - {"master"}:
        out.append(_sentinel(PRIMARY_FLAGGED, view, f"primary flags {view.flags}"))
    peers = view.other_sentinels
    if peers is not None and (peers < sentinels - 1 or (exact and peers != sentinels - 1)):
        out.append(_sentinel(FEW_SENTINELS, view, f"sees {peers} other sentinels of {sentinels - 1}"))
    linked = view.linked_replica_addrs
    if spare and spare != view.primary and linked is not None:
        usable, needed, besides = len([a for a in linked if a != spare]), replicas - 1, f" besides {spare}"
    else:
        usable = view.linked_replicas if view.linked_replicas is not None else view.replicas
        needed, besides = replicas, ""
    if usable is not None and (usable < needed or (exact and usable != needed)):
        out.append(_sentinel(FEW_REPLICAS, view, f"sees {usable} healthy replicas of {needed}{besides}"))
    return out


def server_problems(
    primary: str, servers: Iterable[ServerView], max_lag_bytes: int | None = None
) -> list[Problem]:
    """Why the servers are not one primary (``primary``, the one the sentinels name) followed by
    every other server over a link that is up, at most ``max_lag_bytes`` behind."""
    servers = list(servers)
    out = []
    masters = [s.addr for s in servers if s.role == "master"]
    if masters != [primary]:
        text = f"servers answering as primary: {masters or 'none'} (sentinels name {primary})"
        out.append(Problem(NOT_ONE_PRIMARY, "", text, text))
    head = next((s.offset for s in servers if s.addr == primary), None)
    for s in servers:
        if s.addr == primary:
            continue
        if s.link != "up":
            kind, text = LINK_DOWN, f"link {s.link or 'unreachable'}"
        elif s.follows != primary:
            kind, text = ASTRAY, f"follows {s.follows}"
        elif (
            max_lag_bytes is not None
            and None not in (head, s.offset)
            and abs(s.offset - head) > max_lag_bytes
        ):
            kind, text = LAGGING, f"is {head - s.offset} bytes behind"
        else:
            continue
        sep = ": " if kind == LINK_DOWN else " "
        out.append(Problem(kind, s.addr, text, f"replica {s.addr}{sep}{text}"))
    return out


def judge(
    group: str,
    sentinels: Iterable[SentinelView],
    servers: Iterable[ServerView] | None = None,
    expect_sentinels: int | None = None,
    expect_replicas: int = 0,
    spare: str = "",
    exact: bool = False,
    max_lag_bytes: int | None = None,
) -> Verdict:
    """The group's health: every sentinel's view (see sentinel_problems; ``expect_sentinels``
    defaults to the views given), whether they name one primary, and, when ``servers`` were read,
    whether the servers are what the sentinels say (see server_problems)."""
    sentinels = list(sentinels)
    count = len(sentinels) if expect_sentinels is None else expect_sentinels
    problems = []
    for view in sentinels:
        problems += sentinel_problems(view, group, count, expect_replicas, spare, exact)
    agreed = agreement({v.name: v.primary for v in sentinels if v.answered})
    if len(agreed.named) > 1:
        text = f"the sentinels name different primaries: {agreed.views}"
        problems.append(Problem(DISAGREE, "", text, text))
    elif servers is not None and not agreed.named:
        text = f"no sentinel names a primary of group {group}"
        problems.append(Problem(NO_PRIMARY, "", text, text))
    if servers is not None and agreed.agreed:
        problems += server_problems(agreed.agreed, servers, max_lag_bytes)
    return Verdict(tuple(problems), agreed.agreed)


# ---- the gate: is a group safe to touch? --------------------------------------------------
# ``results``: what redis_sentinel_info (or redis_sentinel_gate) read from each sentinel: 'item'
# (its name), 'running', 'masters' (group -> SENTINEL MASTER fields, with ok-replicas) and
# 'ckquorum' (group -> the CKQUORUM answer).


def gate_problems(
    results: Iterable[Mapping], group: str, sentinels: int, replicas: int, spare: str = ""
) -> list[str]:
    """Why the group is not safe to touch: every sentinel answers, CKQUORUM is OK on each, they
    name one primary, and each sees the other sentinels and every replica (but ``spare``, see
    sentinel_problems). Empty when safe."""
    views = [
        SentinelView.from_master(
            res.get("item"),
            (res.get("masters") or {}).get(group),
            (res.get("ckquorum") or {}).get(group, "not monitored"),
        )
        if res.get("running")
        else SentinelView(res.get("item"), answered=False)
        for res in results
    ]
    return judge(group, views, expect_sentinels=sentinels, expect_replicas=replicas, spare=spare).messages


def gate_epoch(results: Iterable[Mapping], group: str) -> int:
    """The newest configuration epoch of ``group`` any sentinel reported (SENTINEL MASTERS
    config-epoch; 0 when none did). Every failover or switchover raises it: a sentinel that reports
    an older one has not yet heard of the last switch."""
    epochs = []
    for res in results:
        master = (res.get("masters") or {}).get(group) or {}
        try:
            epochs.append(int(master.get("config-epoch", 0)))
        except (TypeError, ValueError):
            continue
    return max(epochs, default=0)


def gate_current(result: Mapping, group: str, epoch: int) -> bool:
    """Whether one sentinel's view of ``group`` is at least as new as ``epoch``."""
    master = (result.get("masters") or {}).get(group) or {}
    try:
        return int(master.get("config-epoch", 0)) >= int(epoch)
    except (TypeError, ValueError):
        return False


def gate_settled(results: list[Mapping], group: str, sentinels: int, replicas: int, spare: str = "") -> bool:
    """Whether a read of every sentinel shows the group safe to touch and every sentinel at the
    newest configuration epoch any of them reported (right after a switchover one may still name
    the old primary while the others name the new one)."""
    epoch = gate_epoch(results, group)
    return all(gate_current(res, group, epoch) for res in results) and not gate_problems(
        results, group, sentinels, replicas, spare
    )
