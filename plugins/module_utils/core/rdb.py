"""The RDB format each server release writes, and which formats a release can load.

A full resync, a restore and DUMP/RESTORE all move data in the format of the server that wrote
it; a server loads the formats up to its own, with one exception: formats 12 to 79 are Redis's
own (7.4 on), which Valkey reserves and never loads, and 80 on are Valkey's (9.0 on).
"""

from __future__ import annotations

import re

from .choices import REDIS, VALKEY

# The format each release writes, which is also the newest it loads, from the release on
# (major, minor): Redis from redis/librdb's src/redisver.h (7.4 to 8.4 write 12, 8.6 writes 13),
# Valkey from valkey's src/rdb.h (7.2 to 8.x keep to 11, the last open-source Redis format; 9.0
# moved to 80, past the range it reserves for Redis).
FORMATS = {
    REDIS: ((8, 6, 13), (7, 4, 12), (7, 2, 11), (7, 0, 10), (5, 0, 9), (4, 0, 8), (3, 2, 7), (2, 6, 6)),
    VALKEY: ((9, 2, 81), (9, 0, 80), (7, 2, 11)),
}
# Past these releases the format is not known yet: judging it would be a guess.
LAST_KNOWN = {REDIS: (8, 6), VALKEY: (9, 2)}
OPEN_FORMATS_MAX = 11  # the formats both servers write and load
REDIS_ONLY_MAX = 79  # 12-79: Redis's own formats, which Valkey does not load


def version_tuple(text) -> tuple[int, ...]:
    """'8.1.1' -> (8, 1, 1), Debian's '5:8.0.2-3' -> (8, 0, 2): the first three numbers after
    any epoch; () without any."""
    text = re.sub(r"^\s*\d+:", "", str(text or ""))
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def rdb_format(flavor: str, version) -> int | None:
    """The format a server writes (None when the kit does not know it)."""
    numbers = version_tuple(version)
    table = FORMATS.get(flavor)
    if not table or len(numbers) < 2 or numbers[:2] > LAST_KNOWN[flavor]:
        return None
    return next((fmt for major, minor, fmt in table if numbers[:2] >= (major, minor)), None)


def newest_known(flavor: str) -> str:
    """The version of the newest release whose format the kit knows."""
    return ".".join(map(str, LAST_KNOWN[flavor])) + ".0"


def loads(flavor: str, version, fmt: int) -> bool | None:
    """Whether the server loads a snapshot of format ``fmt`` (None: its own format is not known)."""
    own = rdb_format(flavor, version)
    if own is None:
        return None
    if fmt <= OPEN_FORMATS_MAX:
        return fmt <= own
    if fmt <= REDIS_ONLY_MAX:
        return flavor == REDIS and fmt <= own
    return flavor == VALKEY and fmt <= own


def refusal(flavor: str, version, fmt: int) -> str:
    """Why the server does not load format ``fmt``, as the end of a sentence naming the server."""
    own = rdb_format(flavor, version)
    if flavor == VALKEY and OPEN_FORMATS_MAX < fmt <= REDIS_ONLY_MAX:
        return f"does not load Redis's format {fmt} (it writes {own}; Valkey reserves 12-79 for Redis)"
    if flavor == REDIS and fmt > REDIS_ONLY_MAX:
        return f"does not load Valkey's format {fmt} (it writes {own}; formats from 80 on are Valkey's)"
    return f"loads format {own} at most"
