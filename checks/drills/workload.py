"""The drill's client load: what applications do, through redis-py's Sentinel support.

Workers, each with its own connections, record every operation (invoke and completion times,
ok / fail / info) so nothing is inferred from aggregate counters:
- a set writer whose writes are confirmed with ``WAIT 1`` and one that does not wait;
- a counter (INCR), sessions with a TTL (SETEX), a leaderboard (ZINCRBY);
- a work queue: a producer (LPUSH of unique items) and two consumers (BRPOP).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from redisops.drills.history import Op
from redisops.drills.targets import DrillTargets

SOCKET_TIMEOUT = 1.0
PACE = 0.01  # seconds between a worker's operations: a steady load, not a benchmark
# Errors that prove the write was refused, not applied (the rest are indeterminate).
REFUSED = (
    "READONLY",
    "NOREPLICAS",
    "MASTERDOWN",
    "LOADING",
    "NOAUTH",
    "WRONGPASS",
    "NOPERM",
    "connecting to",  # "Error 111 connecting to ...": never sent
    "No master found",  # no sentinel named a primary: never sent
)


def classify(exc: BaseException) -> str:
    """'fail' when the write certainly did not happen, 'info' when it may have."""
    text = f"{type(exc).__name__} {exc}"
    if isinstance(exc, redis.TimeoutError):
        return "info"
    if any(marker in text for marker in REFUSED) or isinstance(exc, redis.ResponseError):
        return "fail"
    return "info"  # connection lost after the command was sent


class Keys:
    def __init__(self, prefix: str, run_id: str):
        base = f"{prefix}{run_id}:"
        self.waited = base + "set:waited"
        self.plain = base + "set:plain"
        self.counter = base + "counter"
        self.sessions = base + "session:"
        self.board = base + "board"
        self.queue = base + "queue"
        self.pattern = base + "*"


class Workload:
    """Start, let it run through the fault, stop; then ``ops`` is the whole history."""

    def __init__(self, targets: DrillTargets, run_id: str, clock: Callable[[], float]):
        self.targets = targets
        self.keys = Keys(targets.key_prefix, run_id)
        self.clock = clock
        self.ops: list[Op] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sentinel = Sentinel(
            [(n.address, n.port) for n in targets.sentinels],
            sentinel_kwargs={**targets.redis_kwargs(targets.sentinel_app), "socket_timeout": SOCKET_TIMEOUT},
            socket_timeout=SOCKET_TIMEOUT,
        )

    def _client(self) -> redis.Redis:
        """One connection per worker, found through the sentinels on each (re)connect, so each
        operation knows which server answered it."""
        managed = self._sentinel.master_for(
            self.targets.group,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            **self.targets.redis_kwargs(self.targets.app),
        )
        return redis.Redis(connection_pool=managed.connection_pool, single_connection_client=True)

    def _record(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def _do(self, client: redis.Redis, op: Op, action: Callable[[], object]) -> object:
        try:
            conn = client.connection
            if conn is not None and conn._sock is None:
                # Reconnect through the sentinels ourselves: redis-py's send path reconnects a
                # dropped Sentinel-managed connection to its last address (the demoted primary),
                # and a client would then read READONLY forever.
                conn.connect()
            result = action()
            op.outcome = "ok"
            return result
        except (redis.RedisError, OSError) as exc:
            op.outcome = classify(exc)
            op.error = f"{type(exc).__name__}: {str(exc)[:120]}"
            return None
        finally:
            op.complete = self.clock()
            op.node = _node_of(client)
            self._record(op)

    def _loop(self, step: Callable[[redis.Redis, int], None]) -> None:
        client = self._client()
        n = 0
        while not self._stop.is_set():
            n += 1
            step(client, n)
            self._stop.wait(PACE)
        client.close()

    # ---- workers ------------------------------------------------------------------------

    def _set_waited(self, client: redis.Redis, n: int) -> None:
        op = Op("sadd", self.keys.waited, f"w{n}", self.clock())

        def write():
            added = client.sadd(self.keys.waited, f"w{n}")  # acknowledged from here on
            try:
                op.waited = int(client.execute_command("WAIT", 1, 500))
            except (redis.RedisError, OSError):
                op.waited = 0  # acknowledged, but no replica confirmed it
            return added

        self._do(client, op, write)

    def _set_plain(self, client: redis.Redis, n: int) -> None:
        op = Op("sadd", self.keys.plain, f"p{n}", self.clock())
        self._do(client, op, lambda: client.sadd(self.keys.plain, f"p{n}"))

    def _counter(self, client: redis.Redis, n: int) -> None:
        op = Op("incr", self.keys.counter, "", self.clock())
        self._do(client, op, lambda: client.incr(self.keys.counter))

    def _session(self, client: redis.Redis, n: int) -> None:
        key = f"{self.keys.sessions}{n}"
        op = Op("setex", key, str(n), self.clock())
        self._do(client, op, lambda: client.setex(key, 600, "user-session"))

    def _board(self, client: redis.Redis, n: int) -> None:
        op = Op("zincrby", self.keys.board, f"player{n % 10}", self.clock())
        self._do(client, op, lambda: client.zincrby(self.keys.board, 1, f"player{n % 10}"))

    def _produce(self, client: redis.Redis, n: int) -> None:
        op = Op("lpush", self.keys.queue, f"job{n}", self.clock())
        self._do(client, op, lambda: client.lpush(self.keys.queue, f"job{n}"))

    def _consume(self, client: redis.Redis, n: int) -> None:
        op = Op("brpop", self.keys.queue, "", self.clock())
        reply = self._do(client, op, lambda: client.brpop([self.keys.queue], timeout=0.5))
        if op.outcome == "ok":
            if reply:
                op.value = reply[1]
            else:  # nothing to take: not an operation worth recording
                with self._lock:
                    self.ops.remove(op)

    def start(self) -> Workload:
        workers = [
            self._set_waited, self._set_plain, self._counter, self._session, self._board,
            self._produce, self._consume, self._consume,
        ]  # fmt: skip
        for worker in workers:
            thread = threading.Thread(target=self._loop, args=(worker,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Op]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        # Consumers may hold an item taken after stop: the history has it either way.
        with self._lock:
            return sorted(self.ops, key=lambda op: op.invoke)


def _node_of(client: redis.Redis) -> str:
    """The server the worker's connection is connected to."""
    conn = client.connection
    return f"{conn.host}:{conn.port}" if conn is not None and conn._sock is not None else ""
