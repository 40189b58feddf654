"""A Sentinel-aware write load that records every operation, to count what a fault or a
restart cost: acknowledged writes lost, and how long clients saw errors.

Each write adds a new member to one set (SADD KEY n). A write the server acknowledged must
be in the set afterwards; one that failed or timed out is indeterminate and may or may not be.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import redis
from redis.sentinel import Sentinel


@dataclass
class Op:
    n: int
    invoked: float
    completed: float
    ok: bool
    error: str = ""


@dataclass
class WriteHistory:
    ops: list[Op] = field(default_factory=list)

    @property
    def acknowledged(self) -> set[int]:
        return {op.n for op in self.ops if op.ok}

    @property
    def failed(self) -> list[Op]:
        return [op for op in self.ops if not op.ok]

    def error_window(self) -> float:
        """Seconds from the first failed write's start to the end of the last failed write (0 if none)."""
        failed = self.failed
        if not failed:
            return 0.0
        return max(op.completed for op in failed) - min(op.invoked for op in failed)

    def longest_gap(self) -> float:
        """The longest time between two acknowledged writes: how long no write got through."""
        done = sorted(op.completed for op in self.ops if op.ok)
        return max((b - a for a, b in itertools.pairwise(done)), default=0.0)

    def lost(self, members: set[int]) -> set[int]:
        return self.acknowledged - members

    def summary(self, members: set[int]) -> dict:
        return {
            "writes": len(self.ops),
            "acknowledged": len(self.acknowledged),
            "failed_or_indeterminate": len(self.failed),
            "acknowledged_lost": len(self.lost(members)),
            "error_window_s": round(self.error_window(), 3),
            "longest_gap_s": round(self.longest_gap(), 3),
        }


class SetWriter:
    """Writes SADD key 1, 2, 3... through the group's current primary from a background thread."""

    def __init__(self, sentinels: list[tuple[str, int]], group: str, key: str, sentinel_kwargs: dict,
                 redis_kwargs: dict, interval: float = 0.002):  # fmt: skip
        self.group, self.key, self.interval = group, key, interval
        self.sentinel = Sentinel(
            sentinels,
            sentinel_kwargs={"socket_timeout": 2, **sentinel_kwargs},
            socket_timeout=2,
            **redis_kwargs,
        )
        self.history = WriteHistory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="set-writer", daemon=True)

    def _run(self) -> None:
        primary = self.sentinel.master_for(self.group)
        n = 0
        while not self._stop.is_set():
            n += 1
            invoked = time.monotonic()
            try:
                primary.sadd(self.key, n)
                self.history.ops.append(Op(n, invoked, time.monotonic(), True))
            except (redis.exceptions.RedisError, OSError) as exc:
                self.history.ops.append(Op(n, invoked, time.monotonic(), False, type(exc).__name__))
                time.sleep(0.05)
            time.sleep(self.interval)

    def __enter__(self) -> SetWriter:
        self.primary().delete(self.key)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def primary(self) -> redis.Redis:
        return self.sentinel.master_for(self.group)

    def members(self) -> set[int]:
        return {int(m) for m in self.primary().smembers(self.key)}
