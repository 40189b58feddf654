"""A planned switchover of a Sentinel group's primary: no acknowledged write lost, no full resync.

Every planned move of a primary goes through here: the redis_switchover module (rolling restart,
flavour migration) and the manual-failover drill. The caller gives two small adapters, one for the
primary and one for Sentinel, so the same sequence runs over redis-cli on the host and over
redis-py on the control machine.

The sequence, with writes paused only for the handoff:

1. hold the primary's replication PING (``repl-ping-replica-period``) for the duration, which
   makes one unlikely to fall inside the pause. A PING is written to the replication stream even
   while clients are paused; one that lands after Sentinel has promoted a replica puts the old
   primary (and any replica that got it) one PING ahead of the new primary, and their next sync
   is a full one;
2. CLIENT PAUSE WRITE: clients wait, they do not fail;
3. wait until every online replica has acknowledged the primary's offset;
4. SENTINEL FAILOVER, then wait until Sentinel names another primary;
5. do at once what Sentinel would do some seconds later: REPLICAOF the new primary (a partial
   resync: the offsets are equal), restore the PING period, CONFIG REWRITE, drop the clients so
   they ask Sentinel again, resume.

Any failure before the failover resumes writes here; after it, writes stay paused until the
pause ends by itself, since this server may still be a primary.

Standard library only (see this package's __init__).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

# The PING goes out when a once-a-second counter is a multiple of the period: with 3600 one falls
# inside a switchover's pause (1-3 s) well under once in a thousand switchovers; at the default
# 10 s, one in every five or so.
HOLD_PING_PERIOD_S = 3600


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


class Sentinel(Protocol):
    def primary(self, group: str) -> tuple[str, str] | None:
        """(ip, port) of the group's primary as Sentinel names it (None: no answer)."""

    def failover(self, group: str) -> str:
        """SENTINEL FAILOVER: 'OK', or the error Sentinel answered."""


def replica_offsets(info: dict[str, str]) -> list[int]:
    """Acknowledged offsets of the online replicas, from the primary's INFO replication."""
    offsets = []
    for key, value in info.items():
        if key.startswith("slave") and key[5:].isdigit():
            fields = dict(part.split("=", 1) for part in str(value).split(",") if "=" in part)
            if fields.get("state") == "online":
                offsets.append(int(fields.get("offset", 0)))
    return offsets


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
) -> dict:
    """Move the primary of ``group`` away from this server (``address`` as Sentinel knows it).
    Returns {"new_primary": "ip:port", "paused_s": seconds writes were paused}; raises
    SwitchoverError."""
    period = "10"
    held = False

    def stop(message: str, resume: bool, now: str = "which is still the primary") -> SwitchoverError:
        # The period comes back in every case: a PING now costs at most a full resync.
        if held:
            try:
                primary.call("CONFIG", "SET", "repl-ping-replica-period", period)
            except Exception:
                message += (
                    f"; repl-ping-replica-period may still be {HOLD_PING_PERIOD_S}: set it back to {period}"
                )
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

    try:
        period = primary.config_get("repl-ping-replica-period") or period
        held = True  # set before the call: a lost answer may still have changed it
        primary.call("CONFIG", "SET", "repl-ping-replica-period", str(HOLD_PING_PERIOD_S))
        started = clock()
        primary.call("CLIENT", "PAUSE", str(pause_ms), "WRITE")
        deadline = clock() + catch_up_timeout
        while True:
            info = primary.replication()
            target, offsets = int(info.get("master_repl_offset", 0)), replica_offsets(info)
            if len(offsets) >= replicas and min(offsets) >= target:
                break
            if clock() > deadline:
                raise stop(
                    f"the replicas did not catch up within {catch_up_timeout} s ({offsets} < {target})", True
                )
            sleep(0.01)
        answer = sentinel.failover(group)
    except SwitchoverError:
        raise
    except Exception as exc:  # the adapters' errors (redis-cli, redis-py): resume here
        raise stop(f"switchover refused before the failover started: {exc}", True) from exc
    if answer.strip() != "OK":
        raise stop(f"Sentinel refused to fail over: {answer.strip()}", True)
    # From here on the failover runs: never resume writes while this server is still a primary.
    deadline = started + pause_ms / 1000 - 1
    unread = ""
    while True:
        try:
            named = sentinel.primary(group)
        except Exception as exc:  # a sentinel restarting or slow: ask again until the deadline
            named, unread = None, f" (the last question failed: {exc})"
        if named and named[0] != address:
            break
        if clock() > deadline:
            raise stop(f"Sentinel did not name another primary in time{unread}", False)
        sleep(0.02)
    try:
        for attempt in range(3):
            try:
                primary.call("REPLICAOF", named[0], named[1])
                break
            except Exception:
                if attempt == 2:
                    raise
                sleep(0.2)
        primary.call("CONFIG", "SET", "repl-ping-replica-period", period)
        held = False
        primary.call("CONFIG", "REWRITE")
        primary.call("CLIENT", "KILL", "TYPE", "normal")
        primary.call("CLIENT", "KILL", "TYPE", "pubsub")
        primary.call("CLIENT", "UNPAUSE")
    except Exception as exc:
        try:
            still_primary = primary.replication().get("role") == "master"
        except Exception:
            still_primary = True
        raise stop(
            f"demoting this server failed: {exc}",
            not still_primary,
            f"now a replica of {named[0]}:{named[1]}",
        ) from exc
    return {"new_primary": f"{named[0]}:{named[1]}", "paused_s": round(clock() - started, 3)}
