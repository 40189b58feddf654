"""Runs ON a Redis host (python3, standard library only) and prints its facts as JSON.

Shipped by the gatherer as one command over the host connection, so a host costs one round
trip. Reads only: /proc, /sys, stat(), ``ss``, ``systemctl is-*``, ``openssl x509``, ``dpkg-query``
and, of each Sentinel config file, the directives in SENTINEL_DIRECTIVES (never a password line).
Argument: JSON {"files": [...], "units": [...], "certs": [...], "sentinel_confs": [...]}.
"""

import calendar
import grp
import json
import os
import pwd
import re
import subprocess
import sys
import time


def read(path, default=""):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return default


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def name_of(table, ident):
    try:
        return table(ident)[0]
    except KeyError:
        return str(ident)


def processes():
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        comm = read(f"/proc/{pid}/comm")
        if comm not in ("redis-server", "redis-sentinel", "valkey-server", "valkey-sentinel"):
            continue
        status = read(f"/proc/{pid}/status")
        uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
        swap = re.search(r"^VmSwap:\s+(\d+) kB", status, re.M)
        limits = re.search(r"^Max open files\s+(\S+)", read(f"/proc/{pid}/limits"), re.M)
        args = read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        out.append(
            {
                "name": comm,
                "pid": int(pid),
                "user": name_of(pwd.getpwuid, int(uid.group(1))) if uid else "",
                "nofile": int(limits.group(1)) if limits and limits.group(1).isdigit() else 0,
                "swap_bytes": int(swap.group(1)) * 1024 if swap else 0,
                "args": args,
            }
        )
    return out


def files(paths):
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except PermissionError:
            out.append({"path": path, "exists": None, "error": "permission denied"})
            continue
        except OSError:
            out.append({"path": path, "exists": False})
            continue
        out.append(
            {
                "path": path,
                "exists": True,
                "owner": name_of(pwd.getpwuid, st.st_uid),
                "group": name_of(grp.getgrgid, st.st_gid),
                "mode": f"{st.st_mode & 0o7777:04o}",
            }
        )
    return out


def units(names):
    out = {}
    for unit in names:
        out[unit] = {
            "active": run("systemctl", "is-active", unit) or "unknown",
            "enabled": run("systemctl", "is-enabled", unit) or "unknown",
        }
    return out


def listening():
    out = []
    for line in run("ss", "-Htlnp").splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        address, _, port = parts[3].rpartition(":")
        proc = re.search(r'"([^"]+)"', line)
        out.append(
            {"address": address.strip("[]"), "port": int(port), "process": proc.group(1) if proc else ""}
        )
    return out


def certificates(paths):
    out = []
    for path in paths:
        text = run("openssl", "x509", "-noout", "-enddate", "-in", path)
        if not text.startswith("notAfter="):
            out.append({"path": path, "not_after": 0, "error": "unreadable or not a certificate"})
            continue
        when = time.strptime(text.split("=", 1)[1].replace("GMT", "").strip(), "%b %d %H:%M:%S %Y")
        out.append({"path": path, "not_after": calendar.timegm(when), "error": ""})
    return out


# The server packages whose version says which fixes a distribution backported (SEC-16).
PACKAGES = ("redis-server", "redis-sentinel", "valkey-server", "valkey-sentinel")
# What leaves the host of a Sentinel config file: these directives' values only.
SENTINEL_DIRECTIVES = ("deny-scripts-reconfig",)


def packages():
    """Installed server packages and their versions (dpkg systems; {} elsewhere)."""
    out = {}
    fmt = "${Package}\t${Version}\t${db:Status-Abbrev}\n"
    for line in run("dpkg-query", "-W", "-f", fmt, *PACKAGES).splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].startswith("ii"):
            out[parts[0]] = parts[1]
    return out


def sentinel_settings(paths):
    """Per Sentinel config file: {directive: value} for SENTINEL_DIRECTIVES ('' when absent), or
    {"error": why}."""
    out = {}
    for path in paths:
        try:
            with open(path) as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            out[path] = {"error": exc.strerror or "unreadable"}
            continue
        found = {name: "" for name in SENTINEL_DIRECTIVES}
        for line in lines:
            words = line.split()
            if len(words) == 3 and words[0].lower() == "sentinel" and words[1].lower() in found:
                found[words[1].lower()] = words[2].strip('"').lower()
        out[path] = found
    return out


def selected(text):
    found = re.search(r"\[(\w+)\]", text)
    return found.group(1) if found else text


def main():
    want = json.loads(sys.argv[1])
    meminfo = read("/proc/meminfo")
    total = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)
    container = run("systemd-detect-virt", "--container")
    print(
        json.dumps(
            {
                "container": "" if container in ("", "none") else container,
                "sysctl": {
                    key: read("/proc/sys/" + key.replace(".", "/"))
                    for key in ("vm.overcommit_memory", "net.core.somaxconn", "vm.swappiness")
                },
                "thp": {
                    key: selected(read(f"/sys/kernel/mm/transparent_hugepage/{key}"))
                    for key in ("enabled", "defrag")
                },
                "mem_total_bytes": int(total.group(1)) * 1024 if total else 0,
                "processes": processes(),
                "files": files(want.get("files", [])),
                "units": units(want.get("units", [])),
                "listening": listening(),
                "certificates": certificates(want.get("certs", [])),
                "packages": packages(),
                "sentinel_conf": sentinel_settings(want.get("sentinel_confs", [])),
                "now": time.time(),
            }
        )
    )


main()
