"""A planned switchover of a Sentinel group's primary: no acknowledged write lost, no full resync,
and clients kept waiting (not failing) for a fraction of a second.

Every planned move of a primary goes through here: the redis_switchover module (rolling restart,
flavour migration) and the manual-failover drill. The caller gives small adapters, for the primary,
for one sentinel (the one asked to fail over) and, to time the failover, for the replica Sentinel
will promote, so the same sequence runs over redis-cli on the host and over redis-py on the control
machine.

Where the time goes. Sentinel promotes a replica (REPLICAOF NO ONE) two or three of its timer ticks
(50-100 ms each) after SENTINEL FAILOVER, but sees the promotion only in its next INFO of that
replica, and during a failover it sends INFO once a second, the first at the first tick. So the
promotion is seen about 1.1 s after the failover starts, whatever the client does, and the
remaining replicas are reconfigured (another INFO each) before the leader ends the failover and
clients that read SENTINEL MASTERS (redis-py) see the new address, about 2 s in all. Writes are
paused for all of that. This module takes the two waits out:

- **timing**: Sentinel's last INFO of the replica it will promote is read from SENTINEL REPLICAS
  (``info-refresh``), and SENTINEL FAILOVER is sent when that INFO is ``FIRE_AGE_MS`` old: the
  next one is then due just after the promotion, so Sentinel sees it a few ticks in. Sentinel
  refreshes every other replica at the first tick, with the offset it holds while writes are
  paused, so the timed replica must win on ``replica-priority`` alone: it is lowered by one below
  the others' for the switchover (and set back after), before the INFO the timing waits for.
  That sentinel reads its replicas every 10 s, so the wait for the moment would take 5 s on
  average: its ``info-period`` is set to 1 s (SENTINEL DEBUG, Sentinel 7.0+) for the switchover,
  as Sentinel itself reads them during a failover, and set back after;
- **ending**: once Sentinel has seen the promotion, this server and the replicas can follow the
  new primary at once, so Sentinel need not wait to see them do it: its ``failover-timeout`` is
  set to 1 ms for a tick (the failover ends, ``+failover-end-for-timeout``, ``+switch-master``)
  and set back.

The sequence:

1. hold the primary's replication PING (``repl-ping-replica-period``) for the duration, which
   makes one unlikely to fall inside the pause. A PING is written to the replication stream even
   while clients are paused; one that lands after Sentinel has promoted a replica puts the old
   primary (and any replica that got it) one PING ahead of the new primary, and their next sync
   is a full one;
2. lower the promoted replica's priority and wait for the moment (writes are not paused yet);
3. CLIENT PAUSE WRITE: clients wait, they do not fail;
4. wait until every online replica holds the primary's offset (read from each replica when the
   caller can reach them, else from their acknowledgements);
5. SENTINEL FAILOVER (a lost answer or INPROG counts as started unless Sentinel shows none);
   once Sentinel has seen the promotion, REPLICAOF the new primary here and on the other
   replicas (a partial resync: the offsets are equal), end the failover, and wait until the
   adapter's ``primary()`` (the module: the sentinel asked; the drill: every sentinel) and the
   asked sentinel's SENTINEL MASTER name the new primary;
6. resume (the paused writes get READONLY and their clients ask Sentinel again), drop the other
   clients, restore the PING period and the priority, CONFIG REWRITE.

Any failure before the failover resumes writes here; after it, writes stay paused until the
pause ends by itself, since this server may still be a primary.

Standard library only (see this package's __init__).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Protocol

# The PING goes out when a once-a-second counter is a multiple of the period: with 3600 one falls
# inside a switchover (the hold lasts up to ALIGN_TIMEOUT_S) well under once in a hundred
# switchovers; at the default 10 s, one in every five or so.
HOLD_PING_PERIOD_S = 3600

# Sentinel's INFO period outside a failover (sentinel.c, sentinel_info_period) and inside one.
INFO_PERIOD_MS = 10000
FAILOVER_INFO_PERIOD_MS = 1000
# Age of Sentinel's last INFO of the replica it will promote when SENTINEL FAILOVER reaches it:
# the next INFO is due 1000 - FIRE_AGE_MS later. Sentinel's timer ticks every 50-100 ms and
# sends REPLICAOF NO ONE at the third tick after the command, so the second is at most 200 ms
# in: an INFO due later goes out at the third tick (after the promotion, on the same link) or
# the fourth. Due earlier, it could go out before the promotion and the next one is a second
# later: the switchover still works, slowly.
FIRE_AGE_MS = 780
# How long to wait for that moment (Sentinel reads each replica once per INFO_PERIOD_MS, or
# once per FAILOVER_INFO_PERIOD_MS while the switchover sets its info-period so).
ALIGN_TIMEOUT_S = 12.0
# The switchover's connections to the servers (CLIENT SETNAME): the slowlog check tells its
# reconfiguration (REPLICAOF, CONFIG REWRITE) from the applications' commands by this name.
CLIENT_NAME = "redisops-switchover"
# The roles' smallest failover-timeout: below it, one left over from a switchover that could
# not set it back (1 ms), the switchover refuses to start.
MIN_FAILOVER_TIMEOUT_MS = 2000


class SwitchoverError(Exception):
    """The switchover stopped. ``resumed``: writes were resumed on the old primary, which is
    still the primary; otherwise they stay paused until the pause ends by itself."""

    def __init__(self, message: str, resumed: bool):
        super().__init__(message)
        self.resumed = resumed


class Primary(Protocol):
    def replication(self) -> dict[str, str]:
        """INFO replication, every field as a string (slaveN as 'ip=...,port=...,state=...')."""

    def config_get(self, name: str) -> str: ...

    def call(self, *args: str) -> None:
        """Run a command; raise on an error reply or a lost connection."""


class Server(Protocol):
    """A replica of the group."""

    def replication(self) -> dict[str, str]: ...

    def config_get(self, name: str) -> str: ...

    def call(self, *args: str) -> None: ...


class Sentinel(Protocol):
    """The sentinel asked to fail over (the failover's leader)."""

    def primary(self, group: str) -> tuple[str, str] | None:
        """(ip, port) of the group's primary as Sentinel names it to clients (None: no answer)."""

    def failover(self, group: str) -> str:
        """SENTINEL FAILOVER: 'OK', or the error Sentinel answered."""

    def master(self, group: str) -> dict[str, str]:
        """SENTINEL MASTER: its fields ('ip', 'port', 'failover-timeout', ...)."""

    def replicas(self, group: str) -> list[dict[str, str]]:
        """SENTINEL REPLICAS: each replica's fields ('ip', 'port', 'flags', 'slave-priority',
        'slave-repl-offset', 'run-id', 'info-refresh', ...)."""

    def set(self, group: str, option: str, value: str) -> None:
        """SENTINEL SET; raise on an error reply."""

    def debug(self, *args: str) -> dict[str, str]:
        """SENTINEL DEBUG (Sentinel 7.0+): with no argument its timing parameters ('info-period',
        ...), else sets them; raise on an error reply."""


def online_replicas(info: dict[str, str]) -> list[dict[str, str]]:
    """The online replicas' fields (ip, port, offset...), from the primary's INFO replication."""
    out = []
    for key, value in info.items():
        if key.startswith("slave") and key[5:].isdigit():
            fields = dict(part.split("=", 1) for part in str(value).split(",") if "=" in part)
            if fields.get("state") == "online":
                out.append(fields)
    return out


def replica_offsets(info: dict[str, str]) -> list[int]:
    """Acknowledged offsets of the online replicas, from the primary's INFO replication."""
    return [int(fields.get("offset", 0)) for fields in online_replicas(info)]


def record(reply: object) -> dict[str, str]:
    """One instance of SENTINEL MASTER / REPLICAS as strings: from a flat field, value list (RESP2)
    or a map (RESP3)."""
    if isinstance(reply, dict):
        return {str(k): str(v) for k, v in reply.items()}
    items = list(reply) if isinstance(reply, list | tuple) else []
    return {str(k): str(v) for k, v in zip(items[::2], items[1::2], strict=False)}


def _role(server: Primary) -> str | None:
    """This server's role now, None when it does not answer."""
    try:
        return server.replication().get("role")
    except Exception:
        return None


def problems(
    info: dict[str, str], named: tuple[str, str] | None, group: str, address: str, replicas: int
) -> list[str]:
    """Why this server cannot be switched over now (empty: it can)."""
    if info.get("role") != "master" or not named or named[0] != address:
        shown = ":".join(named) if named else "no primary"
        return [f"this server is not the primary of {group} (Sentinel names {shown})"]
    # Every replica must be online: Sentinel may pick any of them, and one still syncing holds old data.
    online = replica_offsets(info)
    connected = int(info.get("connected_slaves", 0) or 0)
    if len(online) < replicas or connected != len(online):
        return [
            f"the primary of {group} has {len(online)} online replica(s) of {replicas} expected "
            f"({connected} connected): a switchover now could promote a replica that is behind; wait "
            "until all are in sync"
        ]
    return []


def _int(value: object, default: int = 0) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def candidates(views: list[dict[str, str]]) -> list[dict[str, str]]:
    """The replicas Sentinel may promote, best first, as Sentinel ranks them (sentinel.c,
    sentinelSelectSlave): not down or disconnected, priority not 0; then the lowest priority, the
    largest offset, the smallest run id."""
    usable = [
        v
        for v in views
        if not {"s_down", "o_down", "disconnected"} & set(str(v.get("flags", "")).split(","))
        and _int(v.get("slave-priority"), 100) != 0
    ]
    return sorted(
        usable,
        key=lambda v: (
            _int(v.get("slave-priority"), 100),
            -_int(v.get("slave-repl-offset")),
            (str(v.get("run-id") or "~")).lower(),
        ),
    )


def lead_priority(target: dict[str, str], views: list[dict[str, str]]) -> int | None:
    """The replica-priority that makes ``target`` Sentinel's choice whatever the offsets say:
    one below every other candidate's (None: it already is; 0 when no priority can, as
    priority 0 means never)."""
    others = [_int(v.get("slave-priority"), 100) for v in candidates(views) if v is not target]
    mine = _int(target.get("slave-priority"), 100)
    if not others or mine < min(others):
        return None
    return max(min(others) - 1, 0)


def fire_in(age_ms: int, overhead_ms: float, fire_age_ms: int = FIRE_AGE_MS) -> float | None:
    """Seconds to wait before starting the pause, for Sentinel's last INFO of the replica to be
    ``fire_age_ms`` old when SENTINEL FAILOVER arrives, ``overhead_ms`` after the pause starts.
    None: that moment has passed for this INFO; wait for the next one."""
    wait = fire_age_ms - overhead_ms - age_ms
    return wait / 1000 if wait >= 0 else None


def switch_over(
    primary: Primary,
    sentinel: Sentinel,
    group: str,
    address: str,
    replicas: int,
    pause_ms: int = 15000,
    catch_up_timeout: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    server: Callable[[str, str], Server] | None = None,
    timed: bool = True,
    align_timeout: float = ALIGN_TIMEOUT_S,
    on_pause: Callable[[], None] | None = None,
) -> dict:
    """Move the primary of ``group`` away from this server (``address`` as Sentinel knows it).
    ``server(ip, port)`` reaches a replica (to lower its priority); ``timed`` False sends
    SENTINEL FAILOVER at once and lets Sentinel end the failover at its own pace (the path
    before timing, which the benchmark measures beside it). ``on_pause`` is called just before
    writes are paused (a drill's fault time).

    Returns {"new_primary": "ip:port", "paused_s", "timed": whether the failover was timed,
    "waited_s": seconds spent before the pause, "steps": seconds from the pause to each step
    (caught_up, failover, ending, named, listed, resumed)}; raises SwitchoverError."""
    period = "10"
    held = False
    lowered: tuple[Server, str] | None = None  # the replica whose priority is lowered, and its own
    own_timeout = ""  # the sentinel's failover-timeout for the group
    period_set: str | None = None  # the sentinel's info-period, while it may be changed
    timeout_set: str | None = None  # set when the failover-timeout may have been changed
    notes: list[str] = []
    warnings: list[str] = []  # what went wrong without stopping the switchover
    readers: list[tuple[Server, tuple[str, str]]] = []  # each online replica, read directly
    followers: list[Server] = []  # the replicas pointed at the new primary here

    def restore() -> None:
        nonlocal held, timeout_set, period_set
        if period_set is not None:
            try:
                sentinel.debug("info-period", period_set)
                period_set = None
            except Exception as exc:  # harmless (Sentinel's own period in a failover): a warning
                left = (
                    f"the sentinel asked may still read its replicas every {FAILOVER_INFO_PERIOD_MS} ms "
                    f"({exc}): set it back with SENTINEL DEBUG info-period {period_set} (a restart does)"
                )
                if left not in warnings:
                    warnings.append(left)
        if timeout_set is not None:
            try:
                sentinel.set(group, "failover-timeout", timeout_set)
                timeout_set = None
            except Exception as exc:
                notes.append(
                    f"failover-timeout of {group} may still be 1 ms on the sentinel asked ({exc}): set it "
                    f"back with SENTINEL SET {group} failover-timeout {timeout_set} (site.yml does)"
                )
        if held:
            try:
                primary.call("CONFIG", "SET", "repl-ping-replica-period", period)
                held = False
            except Exception as exc:
                notes.append(
                    f"repl-ping-replica-period may still be {HOLD_PING_PERIOD_S} ({exc}): "
                    f"set it back to {period}"
                )
        restore_priority()

    def restore_priority() -> None:
        nonlocal lowered
        if lowered is not None:
            replica, priority = lowered
            try:
                replica.call("CONFIG", "SET", "replica-priority", priority)
                replica.call("CONFIG", "REWRITE")
                lowered = None
            except Exception as exc:
                notes.append(
                    f"the chosen replica's replica-priority may still be lowered ({exc}): "
                    f"set it back to {priority}"
                )

    def stop(message: str, resume: bool, now: str = "which is still the primary") -> SwitchoverError:
        # Every change comes back in every case: a PING now costs at most a full resync.
        restore()
        message = "; ".join([message, *notes])
        if resume:
            try:
                primary.call("CLIENT", "UNPAUSE")
            except Exception:
                return SwitchoverError(f"{message}; resuming writes failed too", resumed=False)
            return SwitchoverError(f"{message}; writes were resumed on {address}, {now}", True)
        return SwitchoverError(
            f"{message}; Sentinel was asked to fail over, so writes stay paused on {address} (the pause ends "
            f"by itself after {pause_ms} ms): check SENTINEL MASTER {group} and make this server a replica "
            "of the primary Sentinel names",
            resumed=False,
        )

    began = clock()
    started = began
    aligned = False
    steps: dict[str, float] = {}

    def step(name: str) -> None:
        steps.setdefault(name, round(clock() - started, 3))

    try:
        period = primary.config_get("repl-ping-replica-period") or period
        held = True  # set before the call: a lost answer may still have changed it
        primary.call("CONFIG", "SET", "repl-ping-replica-period", str(HOLD_PING_PERIOD_S))
        before = sentinel.master(group)
        epoch_before = _int(before.get("config-epoch"), -1)
        if timed:
            own_timeout = before.get("failover-timeout") or ""
            if _int(own_timeout, MIN_FAILOVER_TIMEOUT_MS) < MIN_FAILOVER_TIMEOUT_MS:
                # Left so by a switchover that could not set it back: Sentinel would abandon this
                # failover (and any it leads) right after promoting a replica.
                raise stop(
                    f"the sentinel asked has failover-timeout {own_timeout} ms for {group}, below "
                    f"{MIN_FAILOVER_TIMEOUT_MS}: set it back (site.yml does) before a switchover",
                    True,
                )
            readers = _readers(primary.replication(), server)
            if server is not None and not readers:
                warnings.append(
                    "the replicas could not be read directly: their acknowledgements were waited for"
                )
            views = sentinel.replicas(group)
            ranked = candidates(views)
            priority = lead_priority(ranked[0], views) if ranked else 0
            if priority and server is None:  # it must lead on priority and cannot be reached
                priority = 0
            if priority:
                where = f"{ranked[0]['ip']}:{ranked[0]['port']}"
                try:
                    replica = server(str(ranked[0]["ip"]), str(ranked[0]["port"]))
                    own = replica.config_get("replica-priority") or str(ranked[0].get("slave-priority", 100))
                    lowered = (replica, own)  # before the call: a lost answer may still have changed it
                    replica.call("CONFIG", "SET", "replica-priority", str(priority))
                except Exception as exc:  # untimed then: as fast as Sentinel alone makes it
                    restore_priority()
                    if notes:
                        raise stop(f"cannot lower the replica-priority of {where}: {exc}", True) from exc
                    warnings.append(f"untimed: cannot lower the replica-priority of {where} ({exc})")
                    priority = 0
            if priority != 0:
                info_period = INFO_PERIOD_MS
                try:
                    # Sentinel names its parameters in capitals (INFO-PERIOD, PING-PERIOD...).
                    params = {str(k).lower(): v for k, v in sentinel.debug().items()}
                    own_period = _int(params.get("info-period"), INFO_PERIOD_MS)
                    info_period = min(own_period, FAILOVER_INFO_PERIOD_MS)
                    if own_period > FAILOVER_INFO_PERIOD_MS:
                        period_set = str(own_period)  # before the call: a lost answer may have set it
                        sentinel.debug("info-period", str(FAILOVER_INFO_PERIOD_MS))
                except Exception as exc:  # before 7.0, or not allowed: the wait is longer
                    info_period = INFO_PERIOD_MS
                    warnings.append(
                        f"Sentinel's info-period could not be shortened for the switchover ({exc}): "
                        "waited for its 10-second INFO"
                    )
                aligned = _wait_for_the_moment(
                    sentinel,
                    group,
                    ranked[0],
                    None if priority is None else str(priority),
                    clock,
                    sleep,
                    align_timeout,
                    round_trips=3 + len(readers),
                    period_ms=info_period,
                )
        if on_pause is not None:
            on_pause()
        started = clock()
        primary.call("CLIENT", "PAUSE", str(pause_ms), "WRITE")
        deadline = clock() + catch_up_timeout
        while True:
            info = primary.replication()
            target, offsets = int(info.get("master_repl_offset", 0)), replica_offsets(info)
            if readers and len(readers) == len(offsets):
                # What each replica has applied: a replica acknowledges only once a second, and
                # the primary asks for acks (WAIT's GETACK) only once writes resume.
                offsets = [_int(r.replication().get("master_repl_offset"), -1) for r, _ in readers]
            if len(offsets) >= replicas and min(offsets) >= target:
                step("caught_up")
                break
            if clock() > deadline:
                raise stop(
                    f"the replicas did not catch up within {catch_up_timeout} s ({offsets} < {target})", True
                )
            sleep(0.005)
    except SwitchoverError:
        raise
    except Exception as exc:  # the adapters' errors (redis-cli, redis-py): resume here
        raise stop(f"switchover refused before the failover started: {exc}", True) from exc
    try:
        answer = sentinel.failover(group).strip()
    except Exception as exc:  # sent, maybe carried out: the answer is what was lost
        answer = f"no answer ({exc})"
    step("failover")
    if answer != "OK":
        # A clear refusal resumes here. A lost answer, or INPROG (a failover already running),
        # may mean a replica is being promoted: then writes must stay paused.
        if answer.startswith("INPROG") or answer.startswith("no answer"):
            if _failover_started(sentinel, group, epoch_before):
                warnings.append(f"Sentinel answered {answer!r}, but a failover of {group} is running")
            else:
                raise stop(f"Sentinel did not fail over: {answer}", True)
        else:
            raise stop(f"Sentinel refused to fail over: {answer}", True)
    # From here on the failover runs: never resume writes while this server is still a primary.
    deadline = started + pause_ms / 1000 - 1
    unread = ""
    named: tuple[str, str] | None = None
    while True:
        try:
            listed = sentinel.master(group) if timed else {}
            if (
                timed
                and timeout_set is None
                and own_timeout
                and listed.get("failover-state") == "reconf_slaves"
            ):
                # Promoted and seen: point the other replicas at the new primary, as Sentinel is
                # about to (a command it queues as the failover ends can be dropped with the old
                # links), and end the failover now rather than once Sentinel has seen each follow.
                promoted = next(
                    (v for v in sentinel.replicas(group) if "promoted" in str(v.get("flags", "")).split(",")),
                    None,
                )
                if promoted is not None:
                    where = (str(promoted.get("ip")), str(promoted.get("port")))
                    # This server first: the sentinels that did not run the failover switch at
                    # the leader's next hello and read it at once; found still a primary, they
                    # would read it again only 10 s later (and call it unhealthy till then).
                    # (tried again, and reported, once the failover has ended)
                    with contextlib.suppress(Exception):
                        primary.call("REPLICAOF", *where)
                    for reader, addr in readers:
                        if addr != where:
                            try:
                                reader.call("REPLICAOF", *where)
                                followers.append(reader)
                            except Exception as exc:  # Sentinel points it there itself, later
                                warnings.append(
                                    f"{addr[0]}:{addr[1]} was left for Sentinel to repoint ({exc})"
                                )
                    timeout_set = own_timeout  # before the call: a lost answer may have set it
                    sentinel.set(group, "failover-timeout", "1")
                    step("ending")
            named = sentinel.primary(group)
            if named and named[0] != address:
                step("named")
                if not timed:
                    break
                # What SENTINEL MASTERS readers (redis-py) get: the leader's, once its failover ended.
                if listed.get("ip") == named[0] and str(listed.get("port")) == str(named[1]):
                    step("listed")
                    break
        except Exception as exc:  # a sentinel restarting or slow: ask again until the deadline
            unread = f" (the last question failed: {exc})"
        if clock() > deadline:
            raise stop(
                f"Sentinel did not name another primary in time{unread}",
                _role(primary) == "slave",
                "now a replica (demoted once Sentinel had promoted a replica)",
            )
        sleep(0.005)
    paused_s = 0.0
    unpaused = False
    try:
        for attempt in range(3):  # (again, when timed: a no-op then)
            try:
                primary.call("REPLICAOF", named[0], named[1])
                break
            except Exception:
                if attempt == 2:
                    raise
                sleep(0.2)
        # The paused writes now meet a replica: READONLY, and their clients ask Sentinel again.
        primary.call("CLIENT", "UNPAUSE")
        unpaused = True
        paused_s = round(clock() - started, 3)
        step("resumed")
        # Set back what the switchover changed (it reports, never raises), then write the file:
        # restarted, this server must come up as a replica, and with the PING period it had (a
        # rewrite while it is held would pin the default in the file).
        restore()
        primary.call("CONFIG", "REWRITE")
        for follower in followers:  # as Sentinel's own REPLICAOF does
            try:
                follower.call("CONFIG", "REWRITE")
            except Exception as exc:
                warnings.append(f"a replica pointed at the new primary did not rewrite its config: {exc}")
        primary.call("CLIENT", "KILL", "TYPE", "normal")
        primary.call("CLIENT", "KILL", "TYPE", "pubsub")
        if notes:
            raise RuntimeError("; ".join(notes))
    except Exception as exc:
        if unpaused:  # writes run on (as a replica of the new primary): say what was left
            restore()
            raise SwitchoverError(
                "; ".join([f"the switchover to {named[0]}:{named[1]} finished, but {exc}", *notes]), True
            ) from exc
        notes.clear()
        raise stop(
            f"demoting this server failed: {exc}",
            _role(primary) == "slave",  # not when it may still be a primary
            f"now a replica of {named[0]}:{named[1]}",
        ) from exc
    return {
        "new_primary": f"{named[0]}:{named[1]}",
        "warnings": warnings,
        "paused_s": paused_s,
        "timed": aligned,
        "waited_s": round(started - began, 3),
        "steps": steps,
    }


def _failover_started(sentinel: Sentinel, group: str, epoch_before: int) -> bool:
    """Whether a failover of ``group`` is running or has happened since ``epoch_before`` (True
    when Sentinel cannot tell: writes then stay paused, the safe side)."""
    try:
        master = sentinel.master(group)
    except Exception:
        return True
    flags = str(master.get("flags", "")).split(",")
    return "failover_in_progress" in flags or _int(master.get("config-epoch"), -1) > epoch_before


def _readers(
    info: dict[str, str], server: Callable[[str, str], Server] | None
) -> list[tuple[Server, tuple[str, str]]]:
    """A way to read each online replica's own offset, or [] (then the primary's view of their
    acknowledgements is used)."""
    if server is None:
        return []
    readers = []
    try:
        for fields in online_replicas(info):
            reader = server(fields["ip"], fields["port"])
            reader.replication()
            readers.append((reader, (fields["ip"], fields["port"])))
    except Exception:  # a replica the control side cannot reach: fall back to the acks
        return []
    return readers


def _wait_for_the_moment(
    sentinel: Sentinel,
    group: str,
    target: dict[str, str],
    priority: str | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    timeout: float,
    round_trips: int = 3,
    period_ms: int = INFO_PERIOD_MS,
) -> bool:
    """Sleep until Sentinel's last INFO of ``target`` (one that shows ``priority``, when given)
    is old enough for the failover to be timed (``fire_in``); Sentinel reads it every
    ``period_ms``. False: no such moment within ``timeout``; the switchover then goes on
    untimed, as fast as Sentinel makes it alone."""
    where = (str(target.get("ip")), str(target.get("port")))
    deadline = clock() + timeout
    while clock() < deadline:
        asked = clock()
        views = sentinel.replicas(group)
        view = next((v for v in views if (str(v.get("ip")), str(v.get("port"))) == where), None)
        rtt_ms = (clock() - asked) * 1000
        if view is None:
            return False
        age = _int(view.get("info-refresh"), period_ms) + rtt_ms / 2
        # CLIENT PAUSE, INFO replication of the primary (and of each replica read directly: they
        # hold the primary's offset at once), SENTINEL FAILOVER.
        seen = priority is None or str(view.get("slave-priority")) == priority
        wait = fire_in(int(age), round_trips * rtt_ms) if seen else None
        if wait is not None:
            sleep(wait)
            return True
        # Until just after the next INFO is due (at most a second: a replica whose link is down
        # is read every second).
        sleep(min(max((period_ms - age) / 1000 + 0.01, 0.01), 1.0, max(deadline - clock(), 0.0)))
    return False
