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
# One systemctl call for every unit: a block of properties per unit, in the order asked for.
stock = "prometheus-redis-exporter.service"
names = [stock, *want["units"]]
shown = run("systemctl", "show", "--property=ActiveState,UnitFileState", "--", *names)
blocks = [dict(line.split("=", 1) for line in b.splitlines() if "=" in line) for b in shown.split("\n\n")]
if len(blocks) != len(names):
    blocks = [{} for _ in names]
states = {
    n: {"active": b.get("ActiveState", ""), "enabled": b.get("UnitFileState", "")}
    for n, b in zip(names, blocks, strict=True)
}
print(
    json.dumps(
        {
            "missing_packages": [p for p in want["packages"] if p not in installed],
            "stock_masked": states[stock]["enabled"] == "masked",
            "user": user,
            "envs": envs,
            "units": {u: states[u] for u in want["units"]},
        }
    )
)
