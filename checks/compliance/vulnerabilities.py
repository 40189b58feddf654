"""The patch-level vulnerability floor of each release branch (SEC-16): the one table of which
release, and which distribution package revision, carries the latest critical security fixes.

An advisory names the CVEs fixed together and, per release branch (major.minor), the first
upstream patch release that carries them; ``None`` says the branch got no fixed release (it was
out of support). ``packages`` gives, per distribution package series, the first revision that
carries the fixes as a backport: distributions keep the server's version string (Debian 12 stays
at 7.0.15) and patch the sources, so INFO alone cannot tell.

Sources of each entry are in ``source``. A branch or package series without an entry is not
judged (the check says so), never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering

from redisops.core.choices import REDIS, VALKEY
from redisops.core.rdb import version_tuple


@dataclass(frozen=True)
class Advisory:
    name: str
    cves: tuple[str, ...]
    # flavour -> branch "major.minor" -> first fixed patch release (None: no fixed release)
    fixed: dict[str, dict[str, str | None]]
    # package series -> first fixed revision; a series is (package, upstream version, revision
    # marker): ("redis-server", "7.0.15", "~deb12u") is Debian 12's redis.
    packages: dict[tuple[str, str, str], str] = field(default_factory=dict)
    source: str = ""


ADVISORIES: tuple[Advisory, ...] = (
    Advisory(
        name="October 2025 Lua fixes (RediShell)",
        cves=("CVE-2025-49844", "CVE-2025-46817", "CVE-2025-46818", "CVE-2025-46819"),
        fixed={
            REDIS: {
                "6.2": "6.2.20",
                # Out of support: the maintainers declined a 7.0.16 (redis/redis#14346).
                "7.0": None,
                "7.2": "7.2.11",
                "7.4": "7.4.6",
                "8.0": "8.0.4",
                "8.2": "8.2.2",
            },
            # Valkey 7.2's release with these fixes was not established from a source: not judged.
            VALKEY: {"8.0": "8.0.6", "8.1": "8.1.4"},
        },
        packages={
            ("redis-server", "7.0.15", "~deb12u"): "5:7.0.15-1~deb12u6",
            ("redis-server", "8.0.2", "+deb13u"): "5:8.0.2-3+deb13u1",
            ("valkey-server", "8.1.1", "+deb13u"): "8.1.1+dfsg1-3+deb13u1",
        },
        source="Redis release notes 6.2.20, 7.2.11, 7.4.6, 8.0.4, 8.2.2 (Security fixes: CVE-2025-49844, "
        "CVE-2025-46817, CVE-2025-46818, CVE-2025-46819); Valkey release notes 8.0.6 and 8.1.4 (the same "
        "four CVEs); redis/redis#14346 (no 7.0 release); Debian redis changelog 5:7.0.15-1~deb12u6 "
        "(bookworm-security: CVE-2025-46817 / CVE-2025-46818 / CVE-2025-49844 / CVE-2025-46819), "
        "5:8.0.2-3+deb13u1 and valkey 8.1.1+dfsg1-3+deb13u1 (trixie-security: the same four CVEs)",
    ),
)


def branch_of(version: str) -> str:
    numbers = version_tuple(version)
    return f"{numbers[0]}.{numbers[1]}" if len(numbers) >= 2 else ""


@dataclass(frozen=True)
class Floor:
    """What a branch needs: the release (None when no upstream release carries every fix) and the
    CVEs behind it."""

    release: str | None
    cves: tuple[str, ...]


def floor(flavor: str, branch: str) -> Floor | None:
    """The branch's floor over every advisory that names it; None when no advisory does."""
    found = [a for a in ADVISORIES if branch in a.fixed.get(flavor, {})]
    if not found:
        return None
    cves = tuple(c for a in found for c in a.cves)
    releases = [a.fixed[flavor][branch] for a in found]
    if any(r is None for r in releases):
        return Floor(None, cves)
    return Floor(max(releases, key=version_tuple), cves)


def package_floor(package: str, version: str) -> str | None:
    """The first revision of this package's series that carries every recorded fix; None when no
    advisory names the series (the package cannot be judged)."""
    for (name, upstream, marker), fixed in _series():
        if name == package and upstream_version(version) == upstream and marker in version:
            return fixed
    return None


def _series():
    out: dict[tuple[str, str, str], str] = {}
    for advisory in ADVISORIES:
        for series, fixed in advisory.packages.items():
            out[series] = max(out.get(series, fixed), fixed, key=DebianVersion)
    return out.items()


def upstream_version(version: str) -> str:
    """5:7.0.15-1~deb12u6 -> 7.0.15; 8.1.1+dfsg1-3+deb13u3 -> 8.1.1 (a Debian repack suffix such as
    +dfsg1 names the tarball, not another release)."""
    text = version.split(":", 1)[1] if ":" in version else version
    text = text.rsplit("-", 1)[0] if "-" in text else text
    return re.sub(r"[+~](dfsg|ds|repack)\d*$", "", text)


# ---- Debian version order (deb-version(7)): epoch, then upstream and revision compared by parts ----


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    while a or b:
        text_a, a = re.match(r"([^0-9]*)(.*)", a).groups()
        text_b, b = re.match(r"([^0-9]*)(.*)", b).groups()
        for i in range(max(len(text_a), len(text_b))):
            ca = _order(text_a[i]) if i < len(text_a) else 0
            cb = _order(text_b[i]) if i < len(text_b) else 0
            if ca != cb:
                return -1 if ca < cb else 1
        num_a, a = re.match(r"([0-9]*)(.*)", a).groups()
        num_b, b = re.match(r"([0-9]*)(.*)", b).groups()
        if int(num_a or 0) != int(num_b or 0):
            return -1 if int(num_a or 0) < int(num_b or 0) else 1
    return 0


@total_ordering
class DebianVersion:
    """A Debian package version, ordered as dpkg orders them (~ sorts before anything)."""

    def __init__(self, text: str):
        self.text = text.strip()
        epoch, _, rest = self.text.rpartition(":") if ":" in self.text else ("0", "", self.text)
        self.epoch = int(epoch or 0)
        self.upstream, _, self.revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")

    def _cmp(self, other: DebianVersion) -> int:
        if self.epoch != other.epoch:
            return -1 if self.epoch < other.epoch else 1
        return _compare_part(self.upstream, other.upstream) or _compare_part(self.revision, other.revision)

    def __lt__(self, other: DebianVersion) -> bool:
        return self._cmp(other) < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DebianVersion) and self._cmp(other) == 0

    def __hash__(self) -> int:
        return hash(self.text)
