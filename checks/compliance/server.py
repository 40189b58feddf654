"""Which server a target is, Redis or Valkey, and which version; and what that version writes.

Pure functions of a target's INFO (the server section is enough), shared by the checks, the
reports and the drills. Valkey answers ``server_name:valkey`` and ``valkey_version``, and also
``redis_version:7.2.4``: that is the Redis version it is compatible with, the same in every
Valkey release, so it is never taken for Valkey's own version. Redis 7 and 8 have
``redis_version`` only. Sentinels answer the same fields as their servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from redisops.core import rdb
from redisops.core.choices import REDIS, VALKEY
from redisops.core.rdb import version_tuple

_NAMES = {REDIS: "Redis", VALKEY: "Valkey"}


@dataclass(frozen=True)
class Server:
    """What a target runs: ``flavor`` redis or valkey ('' when INFO names neither), its own
    ``version`` ('' when not reported) and ``mode`` (standalone, sentinel, cluster)."""

    flavor: str = ""
    version: str = ""
    mode: str = ""

    def __str__(self) -> str:
        if not self.flavor:
            return "unknown server"
        return f"{self.flavor} {self.version or '(version unknown)'}"

    @property
    def name(self) -> str:
        """For messages: Redis, Valkey (or the name the server gave)."""
        return _NAMES.get(self.flavor, self.flavor or "the server")

    @property
    def numbers(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    def at_least(self, flavor: str, version: str) -> bool:
        """This flavour, at this version or later."""
        return self.flavor == flavor and bool(self.numbers) and self.numbers >= version_tuple(version)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Server:
        data = data or {}
        return cls(*(str(data.get(k) or "") for k in ("flavor", "version", "mode")))


def identify(info: Mapping[str, Any]) -> Server:
    """The server behind an INFO reply (parsed, as redis-py returns it)."""
    name = str(info.get("server_name") or "").strip().lower()
    if not name and info.get("valkey_version"):
        name = VALKEY
    if name:
        # A server that names itself reports its own version beside redis_version.
        version = info.get(f"{name}_version")
    elif info.get("redis_version"):
        name, version = REDIS, info.get("redis_version")
    else:
        version = None
    mode = info.get("server_mode") or info.get("redis_mode") or ""
    return Server(name, "" if version is None else str(version), str(mode))


# What a server's release writes and loads is the core's (redisops.core.rdb), also used by the
# roles' flavour migration; these take a Server.


def rdb_format(server: Server) -> int | None:
    """The RDB format the server writes (None when the kit does not know it)."""
    return rdb.rdb_format(server.flavor, server.version)


def newest_known(flavor: str) -> Server:
    """The newest release of a server whose RDB format the kit knows."""
    return Server(flavor, rdb.newest_known(flavor))


def loads_rdb(server: Server, fmt: int) -> bool | None:
    """Whether the server can load a snapshot of RDB format ``fmt`` (None: not known)."""
    return rdb.loads(server.flavor, server.version, fmt)
