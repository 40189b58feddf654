"""The drill's client load: what applications do, through redis-py's Sentinel support.

Workers, each with its own connections, record every operation (invoke and completion times,
ok / fail / info) so nothing is inferred from aggregate counters:
- a set writer whose writes are confirmed with ``WAIT 1`` and one that does not wait;
- a counter (INCR);
- the guide's use-case patterns (``patterns.PATTERNS`` judges each by its own invariant):
  cache-aside (versions written through, read back), sessions with a TTL (SETEX, then
  ``WAIT 1``), the INCR + EXPIRE rate limiter written the guide's non-atomic way, a
  sliding-window limiter on a sorted set (MULTI/EXEC), a leaderboard (ZINCRBY), a HyperLogLog
  (PFADD), a work queue (a producer's LPUSH of unique items, two BRPOP consumers) and a stream
  with a consumer group (XADD; XREADGROUP, XACK, at least once).

Every key is under the run's prefix (``Keys``), so the drill deletes them all afterwards.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable
from typing import ClassVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedSSLConnection

from redisops.drills.history import Op
from redisops.drills.patterns import CACHE_KEYS, RATE_CLIENTS, RATE_WINDOW_S, SLIDING_WINDOW_MS
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


class _SharedContext:
    """TLS connections whose TLS context is built once per certificate set.

    redis-py builds one per connection, and ssl.create_default_context() loads the system's CA
    store each time: about 30 ms of CPU. The workload's 14 workers reconnect together when a
    primary moves (and open as many links to a sentinel to ask it where), and on a small
    control machine they would queue for 0.3-0.5 s of CPU that the drill would count against
    the failover. An application should build its context once too (docs/drills.md)."""

    _contexts: ClassVar[dict[tuple, ssl.SSLContext]] = {}
    _lock = threading.Lock()

    def _wrap_socket_with_ssl(self, sock):
        key = (self.certfile, self.keyfile, self.ca_certs, self.ca_path, self.check_hostname, self.cert_reqs)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = bool(self.check_hostname)
                context.verify_mode = self.cert_reqs
                if self.certfile or self.keyfile:
                    context.load_cert_chain(self.certfile, self.keyfile, self.certificate_password)
                if self.ca_certs or self.ca_path:
                    context.load_verify_locations(cafile=self.ca_certs, capath=self.ca_path)
                else:
                    context.load_default_certs()
                self._contexts[key] = context
        return context.wrap_socket(sock, server_hostname=self.host)


class SharedTLSConnection(_SharedContext, SentinelManagedSSLConnection):
    """A worker's connection to the primary."""


class SharedTLSSentinelLink(_SharedContext, redis.SSLConnection):
    """A link to a sentinel."""


class Follower:
    """Follows Sentinel's ``+switch-master`` on every sentinel, as applications should (docs/drills.md),
    and opens each worker's next connection to the new primary before the worker needs it.

    A switchover keeps the workers' writes paused on the old primary until every sentinel names
    the new one; the sentinels that did not run the failover announce it a tick after the
    promotion, while writes are still paused. When the paused writes are then refused (the old
    primary is a replica), a worker takes its open connection instead of asking Sentinel and
    connecting then (tens of milliseconds each, 14 workers at once)."""

    def __init__(self, targets: DrillTargets, sentinel_kwargs: dict):
        self.targets = targets
        self.sentinel_kwargs = sentinel_kwargs
        self.pools: list[redis.ConnectionPool] = []
        self.addr: tuple[str, int] | None = None
        self.ready: dict[int, redis.Connection] = {}
        self.warming: threading.Event | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def register(self, pool: redis.ConnectionPool) -> None:
        with self.lock:
            self.pools.append(pool)

    def start(self) -> None:
        for node in self.targets.sentinels:
            thread = threading.Thread(target=self._listen, args=(node,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=2)
        with self.lock:
            for conn in self.ready.values():
                conn.disconnect()
            self.ready = {}

    def _listen(self, node) -> None:
        while not self.stop.is_set():
            link = redis.Redis(host=node.address, port=node.port, **self.sentinel_kwargs)
            if self.targets.tls.get("ssl"):
                link.connection_pool.connection_class = SharedTLSSentinelLink
            try:
                pubsub = link.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe("+switch-master")
                while not self.stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    data = message.get("data") if message else None
                    if isinstance(data, bytes | str):
                        fields = (data.decode() if isinstance(data, bytes) else data).split()
                        if len(fields) == 5 and fields[0] == self.targets.group:
                            self._announce((fields[3], int(fields[4])))
            except (redis.RedisError, OSError):
                self.stop.wait(0.5)  # a sentinel restarting: subscribe again
            finally:
                link.close()

    def _announce(self, addr: tuple[str, int]) -> None:
        with self.lock:
            if addr == self.addr:
                return
            self.addr, stale, self.ready = addr, self.ready, {}
            self.warming = threading.Event()
            pools, done = list(self.pools), self.warming
        for conn in stale.values():
            conn.disconnect()
        threading.Thread(target=self._warm, args=(addr, pools, done), daemon=True).start()

    def _warm(self, addr: tuple[str, int], pools: list, done: threading.Event) -> None:
        for pool in pools:
            if self.stop.is_set():
                break
            conn = pool.make_connection()
            try:
                conn.connect_to(addr)
            except (redis.RedisError, OSError):
                continue
            with self.lock:
                displaced = None if self.addr == addr and not self.stop.is_set() else conn
                if displaced is None:
                    displaced, self.ready[id(pool)] = self.ready.get(id(pool)), conn
            if displaced is not None:
                displaced.disconnect()
            if displaced is conn:
                return
        done.set()

    def take(self, pool: redis.ConnectionPool, wait: float = 0.2) -> redis.Connection | None:
        """The open connection to the announced primary for the worker of ``pool``, if any
        (waiting up to ``wait`` seconds while the connections are being opened)."""
        waited = 0.0
        while True:
            with self.lock:
                conn = self.ready.pop(id(pool), None)
                warming = self.warming
            if conn is not None or warming is None or warming.is_set() or waited >= wait:
                return conn
            self.stop.wait(0.005)
            waited += 0.005


class Keys:
    def __init__(self, prefix: str, run_id: str):
        base = f"{prefix}{run_id}:"
        self.waited = base + "set:waited"
        self.plain = base + "set:plain"
        self.counter = base + "counter"
        self.sessions = base + "session:"
        self.board = base + "board"
        self.queue = base + "queue"
        self.cache = base + "cache:"
        self.ratelimit = base + "rl:"
        self.window = base + "window:"
        self.hll = base + "visitors"
        self.stream = base + "stream"
        self.stream_group = "drill"  # the consumer group (a name inside the stream, not a key)
        self.pattern = base + "*"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keys) and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


class Workload:
    """Start, let it run through the fault, stop; then ``ops`` is the whole history."""

    def __init__(self, targets: DrillTargets, run_id: str, clock: Callable[[], float]):
        self.targets = targets
        self.keys = Keys(targets.key_prefix, run_id)
        self.clock = clock
        self.ops: list[Op] = []
        self._versions: dict[str, int] = {}  # cache-aside: the database's version of each key
        self._stream_pending = True  # the stream consumer re-reads its pending entries first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sentinel = Sentinel(
            [(n.address, n.port) for n in targets.sentinels],
            sentinel_kwargs={**targets.redis_kwargs(targets.sentinel_app), "socket_timeout": SOCKET_TIMEOUT},
            socket_timeout=SOCKET_TIMEOUT,
        )
        if targets.tls.get("ssl"):
            for link in self._sentinel.sentinels:
                link.connection_pool.connection_class = SharedTLSSentinelLink
        self.follower = Follower(
            targets, {**targets.redis_kwargs(targets.sentinel_app), "socket_timeout": SOCKET_TIMEOUT}
        )

    def _client(self) -> redis.Redis:
        """One connection per worker, found through the sentinels on each (re)connect, so each
        operation knows which server answered it."""
        tls = {"connection_class": SharedTLSConnection} if self.targets.tls.get("ssl") else {}
        managed = self._sentinel.master_for(
            self.targets.group,
            **tls,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            **self.targets.redis_kwargs(self.targets.app),
        )
        self.follower.register(managed.connection_pool)
        return redis.Redis(connection_pool=managed.connection_pool, single_connection_client=True)

    def _record(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def _do(self, client: redis.Redis, op: Op, action: Callable[[], object]) -> object:
        try:
            conn = client.connection
            if conn is not None and conn._sock is None:
                # A connection already open to the primary Sentinel announced, else reconnect
                # through the sentinels ourselves: redis-py's send path reconnects a dropped
                # Sentinel-managed connection to its last address (the demoted primary), and a
                # client would then read READONLY forever.
                warm = self.follower.take(client.connection_pool)
                if warm is not None:
                    client.connection = warm
                else:
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
        if client.connection is not None:  # one taken from the follower is not the pool's to close
            client.connection.disconnect()
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

        def write():
            client.execute_command("SETEX", key, 600, "user-session")  # acknowledged from here on
            try:
                op.waited = int(client.execute_command("WAIT", 1, 500))
            except (redis.RedisError, OSError):
                op.waited = 0

        self._do(client, op, write)

    def _board(self, client: redis.Redis, n: int) -> None:
        op = Op("zincrby", self.keys.board, f"player{n % 10}", self.clock())
        self._do(client, op, lambda: client.zincrby(self.keys.board, 1, f"player{n % 10}"))

    def _cache(self, client: redis.Redis, n: int) -> None:
        """Cache-aside, written through: an update writes the database's new version to the cache,
        a read takes the cache's and, on a miss, loads the database's version into it."""
        key = f"{self.keys.cache}{(n // 2) % CACHE_KEYS}"
        if n % 2:
            version = self._versions[key] = self._versions.get(key, 0) + 1
            self._cache_set(client, key, version)
            return
        op = Op("get", key, "", self.clock())
        value = self._do(client, op, lambda: client.get(key))
        if op.outcome == "ok":
            op.value = value or ""
            if value is None and key in self._versions:
                self._cache_set(client, key, self._versions[key])

    def _cache_set(self, client: redis.Redis, key: str, version: int) -> None:
        op = Op("set", key, str(version), self.clock())
        self._do(client, op, lambda: client.set(key, str(version), ex=600))

    def _rate_limit(self, client: redis.Redis, n: int) -> None:
        """The guide's INCR limiter as written there: INCR, then EXPIRE when the INCR made the
        counter. Not atomic: see docs/drills.md for the atomic form. (The TTL outlives the
        window so the drill can read the counters afterwards.)"""
        key = f"{self.keys.ratelimit}{n % RATE_CLIENTS}:{int(self.clock() / RATE_WINDOW_S)}"
        op = Op("incr", key, "", self.clock())
        count = self._do(client, op, lambda: client.incr(key))
        if op.outcome == "ok":
            op.value = str(count)
            if count == 1:
                expire = Op("expire", key, "", self.clock())
                self._do(client, expire, lambda: client.expire(key, 600))

    def _sliding(self, client: redis.Redis, n: int) -> None:
        """A sliding-window limiter: in one MULTI/EXEC, drop the requests older than the window,
        add this one, count the window."""
        key = f"{self.keys.window}{n % RATE_CLIENTS}"
        now_ms = int(self.clock() * 1000)
        member = f"r{n}:{now_ms}"
        op = Op("zadd", key, member, self.clock())

        def request():
            client.execute_command("MULTI")
            try:
                client.execute_command("ZREMRANGEBYSCORE", key, "-inf", f"({now_ms - SLIDING_WINDOW_MS}")
                client.execute_command("ZADD", key, now_ms, member)
                client.execute_command("ZCARD", key)
                client.execute_command("EXPIRE", key, 600)
            except redis.ResponseError:
                # A command refused while queuing: leave the transaction (EXEC would abort it).
                with contextlib.suppress(redis.RedisError, OSError):
                    client.execute_command("DISCARD")
                raise
            return client.execute_command("EXEC")

        self._do(client, op, request)

    def _hll(self, client: redis.Redis, n: int) -> None:
        op = Op("pfadd", self.keys.hll, f"u{n}", self.clock())
        self._do(client, op, lambda: client.pfadd(self.keys.hll, f"u{n}"))

    def _xadd(self, client: redis.Redis, n: int) -> None:
        op = Op("xadd", self.keys.stream, f"e{n}", self.clock())
        self._do(client, op, lambda: client.xadd(self.keys.stream, {"item": f"e{n}"}))

    def _xconsume(self, client: redis.Redis, n: int) -> None:
        """A consumer of the group, at least once: after a start or an error it re-reads its own
        pending entries (id 0), then takes new ones (>); each entry is XACKed once processed. A
        group that is missing (a new stream, or one lost in a failover) is created from 0."""
        key, group = self.keys.stream, self.keys.stream_group
        pending = self._stream_pending
        op = Op("xreadgroup", key, "", self.clock())
        reply = self._do(
            client,
            op,
            lambda: client.xreadgroup(group, "c1", {key: "0" if pending else ">"}, count=1,
                                      block=None if pending else 500),
        )  # fmt: skip
        entries = reply[0][1] if op.outcome == "ok" and reply else []
        if op.outcome != "ok":
            self._stream_pending = True
            if "NOGROUP" in op.error:
                with contextlib.suppress(redis.RedisError, OSError):
                    client.xgroup_create(key, group, id="0", mkstream=True)
            return
        if not entries:  # nothing (left) to take: not an operation worth recording
            with self._lock:
                self.ops.remove(op)
            self._stream_pending = False
            return
        entry_id, fields = entries[0]
        op.value = fields.get("item", "")
        ack = Op("xack", key, op.value, self.clock())
        self._do(client, ack, lambda: client.xack(key, group, entry_id))
        if ack.outcome != "ok":
            self._stream_pending = True

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
        self.follower.start()
        workers = [
            self._set_waited, self._set_plain, self._counter, self._session, self._board,
            self._produce, self._consume, self._consume, self._cache, self._rate_limit,
            self._sliding, self._hll, self._xadd, self._xconsume,
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
        self.follower.close()
        # Consumers may hold an item taken after stop: the history has it either way.
        with self._lock:
            return sorted(self.ops, key=lambda op: op.invoke)


def _scan(client: redis.Redis, prefix: str) -> list[str]:
    return sorted(client.scan_iter(match=prefix + "*", count=1000))


def _ttls(client: redis.Redis, keys: list[str]) -> list[int]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.ttl(key)
    return [int(t) for t in pipe.execute()] if keys else []


def read_final(client: redis.Redis, keys: Keys) -> dict:
    """What the workload's keys hold after the run (``client``: the primary, decode_responses),
    as the pure judgements take it: the sets, counters and queue by name, and each pattern's
    state under its name in ``patterns.PATTERNS``."""
    sessions = _scan(client, keys.sessions)
    counters = _scan(client, keys.ratelimit)
    windows = _scan(client, keys.window)
    cache_keys = [f"{keys.cache}{i}" for i in range(CACHE_KEYS)]
    board = {m: float(s) for m, s in client.zrange(keys.board, 0, -1, withscores=True)}
    queue = client.lrange(keys.queue, 0, -1)
    try:
        pending = int(client.xpending(keys.stream, keys.stream_group)["pending"])
    except redis.ResponseError:  # no stream or no group
        pending = 0
    return {
        "waited": set(client.smembers(keys.waited)),
        "plain": set(client.smembers(keys.plain)),
        "counter": int(client.get(keys.counter) or 0),
        "board": int(sum(board.values())),
        "queue": queue,
        "cache-aside": dict(zip(cache_keys, client.mget(cache_keys), strict=True)),
        "sessions": dict(
            zip((k[len(keys.sessions) :] for k in sessions), _ttls(client, sessions), strict=True)
        ),
        "rate-limit-incr": {
            "prefix": keys.ratelimit,
            "counters": {
                k: (int(v or 0), ttl)
                for k, v, ttl in zip(
                    counters, client.mget(counters) if counters else [], _ttls(client, counters), strict=True
                )
            },
        },
        "sliding-window": {k: client.zrange(k, 0, -1) for k in windows},
        "leaderboard": board,
        "hyperloglog": {"count": int(client.pfcount(keys.hll))},
        "list-queue": {"items": queue},
        "stream-group": {
            "items": [f.get("item", "") for _, f in client.xrange(keys.stream)],
            "pending": pending,
        },
    }


def _node_of(client: redis.Redis) -> str:
    """The server the worker's connection is connected to."""
    conn = client.connection
    return f"{conn.host}:{conn.port}" if conn is not None and conn._sock is not None else ""
