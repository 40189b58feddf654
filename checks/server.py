"""Which server a target is, Redis or Valkey, and which version; and what that version writes.

Pure functions of a target's INFO (the server section is enough), shared by the checks, the
reports and the drills. Valkey answers ``server_name:valkey`` and ``valkey_version``, and also
``redis_version:7.2.4``: that is the Redis version it is compatible with, the same in every
Valkey release, so it is never taken for Valkey's own version. Redis 7 and 8 have
``redis_version`` only. Sentinels answer the same fields as their servers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

REDIS, VALKEY = "redis", "valkey"
_NAMES = {REDIS: "Redis", VALKEY: "Valkey"}

# The RDB format each release writes, which is also the newest it loads, from the release on
# (major, minor): Redis from redis/librdb's src/redisver.h (7.4 to 8.4 write 12, 8.6 writes 13),
# Valkey from valkey's src/rdb.h (7.2 to 8.x keep to 11, the last open-source Redis format; 9.0
# moved to 80, past the range 12-79 it reserves for Redis's own formats).
_RDB_FORMATS = {
    REDIS: ((8, 6, 13), (7, 4, 12), (7, 2, 11), (7, 0, 10), (5, 0, 9), (4, 0, 8), (3, 2, 7), (2, 6, 6)),
    VALKEY: ((9, 2, 81), (9, 0, 80), (7, 2, 11)),
}
# Past these releases the format is not known yet: judging it would be a guess.
_LAST_KNOWN = {REDIS: (8, 6), VALKEY: (9, 2)}
_OPEN_FORMATS_MAX = 11  # the formats both servers write and load
_REDIS_ONLY_MAX = 79  # 12-79: Redis's own formats, which Valkey does not load


def version_tuple(text: Any) -> tuple[int, ...]:
    """'8.1.1' -> (8, 1, 1); the first three numbers of any version text, () without any."""
    return tuple(int(n) for n in re.findall(r"\d+", str(text or ""))[:3])


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


def rdb_format(server: Server) -> int | None:
    """The RDB format the server writes (None when the kit does not know it)."""
    numbers = server.numbers
    table = _RDB_FORMATS.get(server.flavor)
    if not table or len(numbers) < 2 or numbers[:2] > _LAST_KNOWN[server.flavor]:
        return None
    return next((fmt for major, minor, fmt in table if numbers[:2] >= (major, minor)), None)


def newest_known(flavor: str) -> Server:
    """The newest release of a server whose RDB format the kit knows."""
    return Server(flavor, ".".join(map(str, _LAST_KNOWN[flavor])) + ".0")


def loads_rdb(server: Server, fmt: int) -> bool | None:
    """Whether the server can load a snapshot of RDB format ``fmt`` (None: not known).

    Both load every open format up to their own; Redis's formats from 12 on load only in a
    Redis at least as new, Valkey's from 80 on only in a Valkey at least as new."""
    own = rdb_format(server)
    if own is None:
        return None
    if fmt <= _OPEN_FORMATS_MAX:
        return fmt <= own
    if fmt <= _REDIS_ONLY_MAX:
        return server.flavor == REDIS and fmt <= own
    return server.flavor == VALKEY and fmt <= own
