"""A content digest of a Redis dataset (or the keys under a pattern), the same on any server
that holds the same data: every key's name, type and value in a canonical form, binary-safe.

DEBUG DIGEST would do it on the server, but DEBUG is off by default (enable-debug-command no)
and the kit keeps it off; this reads with ordinary commands instead (SCAN, never KEYS), so it
works with the kit's admin user. Expiry times are not part of it: they are compared apart
(PEXPIRETIME on a sample), because a copy taken later may already have lost expired keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

_STREAM_BATCH = 1000


def _frame(*parts: bytes) -> bytes:
    """Length-prefixed, so no two different values frame to the same bytes."""
    return b"".join(len(p).to_bytes(8, "big") + p for p in parts)


def _b(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def key_value(conn, key: bytes, kind: str) -> bytes:
    """One key's value in canonical form (``conn`` returns bytes: decode_responses off)."""
    if kind == "string":
        return _frame(conn.get(key) or b"")
    if kind == "hash":
        items = sorted(conn.hgetall(key).items())
        return _frame(*(x for kv in items for x in kv))
    if kind == "list":
        return _frame(*conn.lrange(key, 0, -1))
    if kind == "set":
        return _frame(*sorted(conn.smembers(key)))
    if kind == "zset":
        pairs = conn.zrange(key, 0, -1, withscores=True, score_cast_func=bytes)
        return _frame(*(x for m, s in pairs for x in (m, s)))
    if kind == "stream":
        out, start = [], b"-"
        while True:
            batch = conn.xrange(key, min=start, max=b"+", count=_STREAM_BATCH)
            for entry_id, fields in batch:
                out.append(_frame(entry_id, *(x for kv in sorted(fields.items()) for x in kv)))
            if len(batch) < _STREAM_BATCH:
                break
            start = b"(" + batch[-1][0]
        return _frame(*out)
    raise ValueError(f"key type {kind!r} is not digested")


def keys_under(conn, pattern: str = "*", count: int = 1000) -> list[bytes]:
    return sorted(set(conn.scan_iter(match=pattern, count=count)))


def digest(conn, pattern: str = "*", keys: Iterable[bytes] | None = None) -> dict:
    """{"keys": N, "sha256": ..., "types": {type: count}} of the keys under ``pattern``."""
    h = hashlib.sha256()
    types: dict[str, int] = {}
    names = sorted(keys) if keys is not None else keys_under(conn, pattern)
    n = 0
    for key in names:
        kind = _b(conn.type(key)).decode()
        if kind == "none":  # expired or deleted since the scan
            continue
        h.update(_frame(key, kind.encode(), key_value(conn, key, kind)))
        types[kind] = types.get(kind, 0) + 1
        n += 1
    return {"keys": n, "sha256": h.hexdigest(), "types": dict(sorted(types.items()))}


def expiry_sample(conn, keys: Iterable[bytes]) -> dict[bytes, int]:
    """PEXPIRETIME of each key (-1 no expiry, -2 gone): absolute, so equal on a faithful copy."""
    pipe = conn.pipeline(transaction=False)
    keys = list(keys)
    for key in keys:
        pipe.execute_command("PEXPIRETIME", key)
    return dict(zip(keys, (int(v) for v in pipe.execute()), strict=True))
