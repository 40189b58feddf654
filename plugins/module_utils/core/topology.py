"""A Sentinel group's shape: majorities, and which primary the sentinels name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

# Below three sentinels (or with exactly two) a failover cannot be authorised after one loss.
MIN_SENTINELS = 3


def majority(count: int) -> int:
    """How many of ``count`` sentinels a failover needs to be authorised (and a quorum should be)."""
    return count // 2 + 1


def address(ip, port) -> str:
    """'ip:port', as Sentinel names a primary and replicas name whom they follow."""
    return f"{ip}:{port}"


@dataclass(frozen=True)
class Agreement:
    """What the sentinels that name a primary say: ``views`` maps each of them to the primary it
    names ('ip:port'); sentinels that did not answer, or do not monitor the group, are left out."""

    views: dict[str, str] = field(default_factory=dict)

    @property
    def named(self) -> list[str]:
        """The distinct primaries named, in order."""
        return sorted(set(self.views.values()))

    @property
    def unanimous(self) -> bool:
        return len(self.named) == 1

    @property
    def agreed(self) -> str | None:
        """The primary, when every sentinel that names one names the same."""
        return self.named[0] if self.unanimous else None

    @property
    def majority(self) -> tuple[str, int] | None:
        """The primary more than half of these sentinels name, with how many name it."""
        if not self.views:
            return None
        top, count = Counter(self.views.values()).most_common(1)[0]
        return (top, count) if count * 2 > len(self.views) else None

    def dissent(self, primary: str) -> dict[str, str]:
        """The sentinels that name another primary than ``primary``."""
        return {who: named for who, named in self.views.items() if named != primary}


def agreement(views: Mapping[str, str | None]) -> Agreement:
    """``views``: sentinel -> the primary it names, or None (no answer, group not monitored)."""
    return Agreement({who: named for who, named in views.items() if named})
