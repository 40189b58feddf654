"""Waivers: a finding accepted on purpose, by check id and target, with a reason and an end.

A waivers file (YAML or JSON) is a list of ``{check, target, justification, expires}``.
``target`` may be a glob (``redis-*:6379``, ``*``). Every field is required: a waiver
without a justification or an expiry date is refused when the file is read, and an
expired waiver stops waiving and is reported as expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from redisops.compliance.model import no_such_check


class WaiverError(ValueError):
    pass


@dataclass(frozen=True)
class Waiver:
    check: str
    target: str
    justification: str
    expires: str  # YYYY-MM-DD, the last day it applies


def parse_waivers(data, known_checks: set[str] | None = None, source: str = "waivers") -> list[Waiver]:
    if data is None:
        return []
    if isinstance(data, dict) and "waivers" in data:
        data = data["waivers"]
    if not isinstance(data, list):
        raise WaiverError(f"{source}: expected a list of waivers (check, target, justification, expires)")
    out = []
    for i, item in enumerate(data, 1):
        where = f"{source}: waiver {i}"
        if not isinstance(item, dict):
            raise WaiverError(f"{where} is not a mapping")
        missing = [
            k for k in ("check", "target", "justification", "expires") if not str(item.get(k) or "").strip()
        ]
        if missing:
            raise WaiverError(
                f"{where} lacks {', '.join(missing)}: every waiver needs all four, with a reason"
            )
        unknown = set(item) - {"check", "target", "justification", "expires"}
        if unknown:
            raise WaiverError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}")
        check = str(item["check"]).strip()
        if known_checks is not None and check not in known_checks:
            raise WaiverError(f"{where}: {no_such_check(check)}")
        expires = item["expires"]
        try:
            expires = (
                expires.isoformat()
                if isinstance(expires, dt.date)
                else dt.date.fromisoformat(str(expires)).isoformat()
            )
        except ValueError:
            raise WaiverError(f"{where}: expires {item['expires']!r} is not a date (YYYY-MM-DD)") from None
        out.append(Waiver(check, str(item["target"]).strip(), str(item["justification"]).strip(), expires))
    return out


def load_waivers(path: Path, known_checks: set[str] | None = None) -> list[Waiver]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise WaiverError(f"cannot read waivers file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise WaiverError(f"waivers file {path} is not valid YAML: {exc}") from None
    return parse_waivers(data, known_checks, source=str(path))


def match_waiver(waivers: list[Waiver], check: str, target: str, today: str) -> tuple[Waiver | None, bool]:
    """The waiver for this finding (a current one first) and whether it has expired."""
    matching = [w for w in waivers if w.check == check and fnmatchcase(target, w.target)]
    current = [w for w in matching if w.expires >= today]
    if current:
        return current[0], False
    return (matching[0], True) if matching else (None, False)
