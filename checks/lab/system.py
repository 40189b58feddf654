"""Reading the machine's own state: processes, mounts, namespaces, links.

Parsing is pure (tested on captured text); the thin readers below feed it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...]


def container_root_of(argv: Iterable[str]) -> str | None:
    """The ``-D``/``--directory`` of a systemd-nspawn command line, else None."""
    args = list(argv)
    if not args or not os.path.basename(args[0]).endswith("systemd-nspawn"):
        return None
    for i, arg in enumerate(args):
        if arg in ("-D", "--directory") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--directory="):
            return arg.split("=", 1)[1]
    return None


def containers_under(processes: Iterable[Process], prefix: Path) -> dict[int, str]:
    """pid -> container root, for every systemd-nspawn whose root lies under ``prefix``."""
    found = {}
    for proc in processes:
        root = container_root_of(proc.argv)
        if root and Path(root).is_relative_to(prefix):
            found[proc.pid] = root
    return found


def mounts_under(mountinfo: str, prefix: Path) -> list[str]:
    """Mount points under ``prefix`` from /proc/self/mountinfo text, deepest first."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        # mountinfo escapes spaces and the like as octal: \040
        point = fields[4].encode().decode("unicode_escape")
        if Path(point).is_relative_to(prefix):
            points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def links_named(links_json: str, names: Iterable[str] = (), prefixes: Iterable[str] = ()) -> list[str]:
    """Interface names from ``ip -j link`` that are one of ``names`` or start with a prefix."""
    wanted, starts = set(names), tuple(prefixes)
    result = []
    for link in json.loads(links_json or "[]"):
        name = link.get("ifname", "")
        if name in wanted or (starts and name.startswith(starts)):
            result.append(name)
    return result


def read_processes(proc: Path = Path("/proc")) -> list[Process]:
    processes = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            argv = tuple(a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0"))
            processes.append(Process(int(entry.name), argv))
    return processes


def read_mountinfo() -> str:
    return Path("/proc/self/mountinfo").read_text()


def run(cmd: list[str], *, check: bool = True, env: Mapping[str, str] | None = None) -> str:
    """Run a command; return its stdout. Raise with its stderr if it fails and ``check``."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc.stdout


def netns_names(prefix: str) -> list[str]:
    out = run(["ip", "-j", "netns", "list"], check=False)
    names = [n.get("name", "") for n in json.loads(out or "[]")]
    # A namespace whose bind mount was lost still leaves its file behind.
    run_netns = Path("/run/netns")
    if run_netns.is_dir():
        names += [p.name for p in run_netns.iterdir()]
    return sorted({n for n in names if n.startswith(prefix)})


def is_pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def is_namespace_init(status: str) -> bool:
    """True for PID 1 of a nested PID namespace (a container's init), from /proc/PID/status."""
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            ids = line.split()[1:]
            return len(ids) >= 2 and ids[-1] == "1"
    return False


def root_upperdir(mountinfo: str) -> str | None:
    """The overlay upperdir behind a process's ``/``, from its /proc/PID/mountinfo."""
    upper = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[4] != "/" or " - overlay " not in line:
            continue
        options = line.split(" - ", 1)[1].split()[-1]
        for option in options.split(","):
            if option.startswith("upperdir="):
                upper = option.split("=", 1)[1]
    return upper  # the last mount on / is the one in effect


def container_inits_under(prefix: Path, proc: Path = Path("/proc")) -> dict[int, str]:
    """pid -> overlay upperdir, for container inits whose root is an overlay under ``prefix``.

    Finds containers whose systemd-nspawn is gone (killed with SIGKILL, its init lives on).
    """
    found = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not is_namespace_init((entry / "status").read_text()):
                continue
            upper = root_upperdir((entry / "mountinfo").read_text())
        except OSError:
            continue
        if upper and Path(upper).is_relative_to(prefix):
            found[int(entry.name)] = upper
    return found
