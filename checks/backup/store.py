"""The backup store on the backup host: names, manifests, retention and metrics.

A backup is a pair in ``STORE/GROUP/``: ``STAMP-HOST.rdb`` and its manifest ``STAMP-HOST.json``.
The RDB file is renamed into place only once complete and verified, and the manifest after it:
a backup exists only when its manifest does, so a failed or partial copy never stands in for
a good one. Everything here but the file operations is a pure function.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from redisops.core.choices import FLAVORS

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<host>[A-Za-z0-9_.-]+)\.json$")
PARTIAL_PREFIX = ".partial-"


class BackupError(Exception):
    """A backup or restore step that failed: the message says which and why."""


# The servers a backup may come from, and the programs that read their RDB files. A manifest
# is data from a host and INFO is what a server says of itself: either names a flavour from
# this table, never a program. Debian names each server's programs after it.
SERVER_PROGRAMS = {f: {"server": f"{f}-server", "check_rdb": f"{f}-check-rdb"} for f in FLAVORS}


def program_for(flavor: object, program: str, where: str = "the manifest's server") -> str:
    """``program`` ("server" or "check_rdb") of a flavour the kit knows, or BackupError."""
    if isinstance(flavor, str) and flavor in SERVER_PROGRAMS:
        return SERVER_PROGRAMS[flavor][program]
    raise BackupError(
        f"{where} is {flavor!r}, not one of the servers the kit knows ({', '.join(SERVER_PROGRAMS)}): "
        "refusing to choose a program from it"
    )


# The Sentinel group names the redis_sentinel role accepts (its GROUP_NAME): a group names a
# directory of the store, so nothing else may reach a path.
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_group(name: object, variable: str = "--group") -> str:
    """A group name that is safe in a path and a command line, or BackupError naming ``variable``."""
    if isinstance(name, str) and GROUP_NAME.fullmatch(name):  # fullmatch: "$" allows a final newline
        return name
    raise BackupError(
        f"{variable} {name!r} is not a Sentinel group name: use letters, digits, '.', '_' or '-', "
        "starting with a letter or digit, at most 64 characters (as in redis_sentinel_groups)"
    )


def stamp(epoch: float) -> str:
    return time.strftime(STAMP_FORMAT, time.gmtime(epoch))


def backup_id(group: str, taken_at: float, host: str) -> str:
    return f"{group}/{stamp(taken_at)}-{host}"


@dataclass(frozen=True)
class Stored:
    """One complete backup in the store."""

    id: str
    rdb: Path
    manifest_path: Path
    manifest: dict

    @property
    def taken_at(self) -> float:
        return float(self.manifest["taken_at"])


def list_backups(store: Path, group: str) -> list[Stored]:
    """Complete backups of a group, oldest first (a manifest without its file is not one)."""
    folder = store / check_group(group)
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if not _NAME.match(path.name):
            continue
        rdb = path.with_suffix(".rdb")
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if rdb.is_file():
            found.append(Stored(f"{group}/{path.stem}", rdb, path, manifest))
    return sorted(found, key=lambda b: (b.taken_at, b.id))


def find_backup(store: Path, group: str, wanted: str = "latest") -> Stored:
    backups = list_backups(store, group)
    if not backups:
        raise BackupError(f"no backup of group {group!r} in {store}: take one first (playbooks/backup.yml)")
    if wanted in ("", "latest"):
        return backups[-1]
    for backup in backups:
        if wanted in (backup.id, backup.id.split("/", 1)[1]):
            return backup
    known = ", ".join(b.id for b in backups[-5:])
    raise BackupError(f"no backup {wanted!r} of group {group!r}; the newest are: {known}")


def to_keep(taken: Sequence[tuple[str, float]], hourly: int, daily: int) -> set[str]:
    """Which backups retention keeps: the newest of each of the last ``hourly`` hours that have
    one, and of each of the last ``daily`` days (UTC) that have one; the newest always.

    ``taken`` is (id, epoch) pairs in any order.
    """
    newest_first = sorted(taken, key=lambda t: t[1], reverse=True)
    keep: set[str] = set()
    if newest_first:
        keep.add(newest_first[0][0])
    for size, bucket in ((hourly, 3600), (daily, 86400)):
        seen: set[int] = set()
        for ident, epoch in newest_first:
            slot = int(epoch // bucket)
            if slot in seen:
                continue
            if len(seen) >= size:
                break
            seen.add(slot)
            keep.add(ident)
    return keep


def prune(store: Path, group: str, hourly: int, daily: int) -> list[str]:
    """Delete what retention does not keep (manifest first: never a manifest without its file)."""
    backups = list_backups(store, group)
    keep = to_keep([(b.id, b.taken_at) for b in backups], hourly, daily)
    removed = []
    for backup in backups:
        if backup.id not in keep:
            backup.manifest_path.unlink(missing_ok=True)
            backup.rdb.unlink(missing_ok=True)
            removed.append(backup.id)
    return removed


def remove_partials(folder: Path, older_than_s: float = 0.0, now: float | None = None) -> list[str]:
    """Leftovers of copies that died half-way (never a backup: they have no manifest)."""
    now = time.time() if now is None else now
    gone = []
    for path in folder.glob(PARTIAL_PREFIX + "*") if folder.is_dir() else []:
        try:
            if now - path.stat().st_mtime >= older_than_s:
                path.unlink()
                gone.append(path.name)
        except FileNotFoundError:
            pass
    return gone


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes, mode: int = 0o640) -> None:
    tmp = path.with_name(f"{PARTIAL_PREFIX}{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_CHECK_COUNTS = {
    "keys": re.compile(r"(\d+) keys read"),
    "expires": re.compile(r"(\d+) expires"),
    "already_expired": re.compile(r"(\d+) already expired"),
    # When the snapshot was made (the RDB's own ctime field) and the replication offset in it.
    "ctime": re.compile(r"AUX FIELD ctime = '(\d+)'"),
    "repl_offset": re.compile(r"AUX FIELD repl-offset = '(\d+)'"),
}


def parse_check_rdb(output: str) -> dict:
    """redis-check-rdb's verdict and counts, from its output."""
    ok = "RDB looks OK" in output and "--- RDB ERROR DETECTED ---" not in output
    counts = {}
    for name, pattern in _CHECK_COUNTS.items():
        m = pattern.search(output)
        counts[name] = int(m.group(1)) if m else None
    error = ""
    if not ok:
        lines = output.splitlines()
        marker = next((i for i, ln in enumerate(lines) if "RDB ERROR DETECTED" in ln), None)
        detail = lines[marker + 1] if marker is not None and marker + 1 < len(lines) else ""
        error = detail.strip() or "redis-check-rdb did not say the file looks OK"
    return {"ok": ok, **counts, "error": error}


def check_rdb(path: Path, binary: str = "redis-check-rdb", timeout: float = 3600) -> dict:
    """Verify an RDB file with Redis's own checker (reads the whole file, checks its CRC)."""
    try:
        proc = subprocess.run(
            [binary, str(path)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        tools = binary.rsplit("/", 1)[-1].split("-", 1)[0]
        raise BackupError(f"{binary} not found: install {tools}-tools on this host") from None
    verdict = parse_check_rdb(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        verdict["ok"] = False
        verdict["error"] = verdict["error"] or f"{binary} exited {proc.returncode}"
    return verdict


def verify_stored(backup: Stored, binary: str = "", full: bool = True) -> dict:
    """A stored backup is whole: its size and checksum as in the manifest, and Redis can read it.

    ``full=False`` skips redis-check-rdb: the SHA-256 proves the bytes are those the checker
    accepted when the backup was stored (and loading checks the file's CRC again)."""
    m = backup.manifest
    size = backup.rdb.stat().st_size
    if size != m["size"]:
        raise BackupError(f"backup {backup.id} is damaged: {size} bytes on disk, {m['size']} in its manifest")
    digest = sha256_file(backup.rdb)
    if digest != m["sha256"]:
        raise BackupError(
            f"backup {backup.id} is damaged: its sha256 is {digest[:16]}..., the manifest says "
            f"{m['sha256'][:16]}...; restore another one (redisops backup list)"
        )
    if not full:
        return {"ok": True, "keys": m.get("keys"), "expires": m.get("expires"), "error": "", "full": False}
    # The checker of the server the backup came from (manifests before it was recorded: Redis).
    verdict = check_rdb(backup.rdb, binary or program_for(m.get("server", "redis"), "check_rdb"))
    if not verdict["ok"]:
        raise BackupError(f"backup {backup.id} is not a valid RDB file: {verdict['error']}")
    return verdict


# The metrics file's series: name -> (type, help, the field of a run's summary it reports).
METRICS = {
    "redisops_backup_last_success_timestamp_seconds": (
        "gauge", "When the newest good backup was taken.", "last_success"),
    "redisops_backup_last_run_timestamp_seconds": ("gauge", "When the last run ended.", "last_run"),
    "redisops_backup_last_run_success": ("gauge", "1 if the last run stored a good backup.", "ok"),
    "redisops_backup_last_size_bytes": ("gauge", "Size of the newest good backup.", "size"),
    "redisops_backup_last_keys": ("gauge", "Keys in the newest good backup.", "keys"),
    "redisops_backup_last_duration_seconds": ("gauge", "How long the last run took.", "duration"),
    "redisops_backup_stored": ("gauge", "Backups kept in the store.", "stored"),
}  # fmt: skip
_SERIES = re.compile(r'^(?P<name>[a-z_]+)\{group="(?P<group>[^"\\]*)"\} (?P<value>\S+)$')


def metrics_text(groups: Iterable[dict]) -> str:
    """Prometheus text for node_exporter's textfile collector, one series per Sentinel group."""
    groups = list(groups)
    lines = []
    for name, (kind, help_text, field) in METRICS.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for g in groups:
            value = g.get(field)
            if value is None:
                continue
            lines.append(
                f'{name}{{group="{g["group"]}"}} {float(value):.6g}'
                if field not in ("last_success", "last_run")
                else f'{name}{{group="{g["group"]}"}} {float(value):.3f}'
            )
    return "\n".join(lines) + "\n"


def parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """The inverse of ``metrics_text``: {group: {field: value}}; lines it does not know are ignored."""
    fields = {name: spec[2] for name, spec in METRICS.items()}
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        found = _SERIES.match(line.strip())
        if not found or found["name"] not in fields:
            continue
        try:
            value = float(found["value"])
        except ValueError:
            continue
        out.setdefault(found["group"], {})[fields[found["name"]]] = value
    return out
