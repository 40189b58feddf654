"""An application's writes through Sentinel with redis-py: TLS, a client certificate, an ACL user.

Configuration from the environment (docs/clients.md has the table); passwords are read from the
files that REDIS_PASSWORD_FILE and REDIS_SENTINEL_PASSWORD_FILE name. The argument is how long to
write, in seconds (default 60); SIGTERM ends the run early. One line per write:

    2026-01-01T12:00:00.000Z ok 42 10.0.0.12:6379     (the counter, the server that took the write)
    2026-01-01T12:00:00.100Z error ConnectionError: ...

Exits 0 when the last write succeeded.
"""

import contextlib
import os
import signal
import sys
import time
from datetime import UTC, datetime

import redis
from redis.sentinel import Sentinel


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        sys.exit(f"{name} is not set (see docs/clients.md)")
    return value


def secret(name: str) -> str:
    """A password from the file the variable names: never on a command line."""
    with open(env(name)) as f:
        return f.read().strip()


def connect() -> redis.Redis:
    # The CA that signed the servers' and sentinels' certificates, and the application's own
    # certificate. redis-py checks the server's certificate and that it names the address
    # connected to (the kit's certificates carry each host's name and IP address).
    tls = {
        "ssl": True,
        "ssl_ca_certs": env("REDIS_TLS_CA"),
        "ssl_certfile": env("REDIS_TLS_CERT"),
        "ssl_keyfile": env("REDIS_TLS_KEY"),
    }
    sentinels = [address.rsplit(":", 1) for address in env("REDIS_SENTINELS").split(",")]
    sentinel = Sentinel(
        [(host, int(port)) for host, port in sentinels],
        # The sentinels have ACL users of their own (redis_sentinel_client_users).
        sentinel_kwargs={
            "username": env("REDIS_SENTINEL_USERNAME"),
            "password": secret("REDIS_SENTINEL_PASSWORD_FILE"),
            "socket_timeout": 1.0,
            **tls,
        },
    )
    # A client whose pool asks the sentinels for the primary each time it connects.
    return sentinel.master_for(
        env("REDIS_MASTER_NAME", "redis-main"),
        username=env("REDIS_USERNAME"),
        password=secret("REDIS_PASSWORD_FILE"),
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        decode_responses=True,
        **tls,
    )


def reconnect(conn) -> None:
    """A connection the client keeps: connect() asks the sentinels where the primary is.

    Left alone, redis-py reconnects such a connection to its last address (the old primary)
    and reads READONLY once that one is back as a replica, until the client is recreated."""
    conn.disconnect()
    # No primary yet (failover under way): the next write tries again.
    with contextlib.suppress(redis.ConnectionError):
        conn.connect()


def primary_moved(exc: redis.RedisError) -> bool:
    """The connection is gone, or its server is no longer the primary: READONLY (a replica now)
    or NOREPLICAS (a primary whose replicas left it, as in a failover; the kit's
    min-replicas-to-write refuses the write)."""
    return isinstance(exc, redis.ConnectionError | redis.TimeoutError | redis.ReadOnlyError) or (
        "NOREPLICAS" in str(exc)
    )


def write(client: redis.Redis, key: str) -> tuple[int, str]:
    """INCR, and the server that took it (CLIENT INFO's laddr, over the same connection)."""
    if client.connection is not None:  # REDIS_ONE_CONNECTION: both go over the kept connection
        return client.incr(key), client.client_info()["laddr"]
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.client_info()
    count, info = pipe.execute()
    return count, info["laddr"]


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    key = env("REDIS_COUNTER_KEY", "app:clients:python")
    client = connect()
    if os.environ.get("REDIS_ONE_CONNECTION") == "1":
        # One connection for every command (what a worker that must know its server does).
        client = redis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    deadline = time.monotonic() + seconds
    ok = errors = 0
    last_ok = False
    while time.monotonic() < deadline and not stopped:
        try:
            count, server = write(client, key)
            ok, last_ok = ok + 1, True
            print(f"{now()} ok {count} {server}", flush=True)
        except redis.RedisError as exc:
            errors, last_ok = errors + 1, False
            print(f"{now()} error {type(exc).__name__}: {exc}", flush=True)
            if primary_moved(exc):
                # The next command must ask the sentinels where the primary is.
                if client.connection is not None:
                    reconnect(client.connection)
                else:
                    client.connection_pool.disconnect()
        time.sleep(0.1)
    print(f"{now()} done ok={ok} errors={errors} last={'ok' if last_ok else 'error'}", flush=True)
    return 0 if last_ok else 1


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


if __name__ == "__main__":
    sys.exit(main())
