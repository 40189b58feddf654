"""Sizes: as Redis reads them (100mb), as CONFIG REWRITE writes them, and as messages show them."""

from __future__ import annotations

import re

# Redis's units (memtoll): k, m and g count in thousands, kb, mb and gb in 1024s; case is ignored.
UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
_SIZE = re.compile(r"^\s*(-?\d+)\s*([kmg]?b?)\s*$", re.IGNORECASE)


def parse(text, negative: bool = False) -> int | None:
    """Bytes from a size in Redis units ('100mb', '1gb', '1000'); None when ``text`` is no such size.

    ``negative``: accept a sign, as CONFIG GET may answer (-1 for 'no limit')."""
    match = _SIZE.match(str(text))
    if not match or (match.group(1).startswith("-") and not negative):
        return None
    return int(match.group(1)) * UNITS[match.group(2).lower()]


def config_form(value: int) -> str:
    """A byte count as CONFIG REWRITE writes it (``100mb``, ``1gb``, ``1000``): a file written
    this way and the server's rewrite of it stay identical."""
    value = int(value)
    for unit, size in (("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def human(n: float) -> str:
    """Bytes for a message: 950 MB, 1.5 GB (powers of 1024, as Redis counts); one decimal below
    100 MB, where a whole number would hide most of the difference."""
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1024:
            return f"{n:.1f} {unit}" if unit == "MB" and n < 100 else f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
