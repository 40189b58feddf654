"""Runs on the host (python3, standard library only): what the redis_exporter role would otherwise
ask in one task each. Argument: JSON {"packages": [...], "user": NAME, "conf_dir": DIR, "units": [...]}."""

import json
import os
import pwd
import subprocess
import sys


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


want = json.loads(sys.argv[1])
status = run("dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *want["packages"])
installed = {line.split()[0] for line in status.splitlines() if line.endswith(" installed")}
try:
    pwd.getpwnam(want["user"])
    user = True
except KeyError:
    user = False
try:
    envs = sorted(f[: -len(".env")] for f in os.listdir(want["conf_dir"]) if f.endswith(".env"))
except OSError:
    envs = []
print(
    json.dumps(
        {
            "missing_packages": [p for p in want["packages"] if p not in installed],
            "stock_masked": run("systemctl", "is-enabled", "prometheus-redis-exporter.service") == "masked",
            "user": user,
            "envs": envs,
            "units": {
                u: {"active": run("systemctl", "is-active", u), "enabled": run("systemctl", "is-enabled", u)}
                for u in want["units"]
            },
        }
    )
)
