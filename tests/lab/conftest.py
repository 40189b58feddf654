"""The lab tier: real hosts brought up with the kit's own CLI, reached over real SSH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from redisops.lab import plan as P

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORY = REPO / "inventories" / "lab"
# testinfra's Ansible backend runs ansible-inventory by name: the venv's tools come first.
os.environ["PATH"] = f"{BIN}:{os.environ['PATH']}"


def redisops(
    *args: str, check: bool = True, timeout: float = 900, input: str | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(BIN / "redisops"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"redisops {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}")
    return proc


def tool_env() -> dict[str, str]:
    """The environment Ansible runs in for the tests."""
    return {**os.environ, "ANSIBLE_FORCE_COLOR": "0"}


@pytest.fixture(scope="session")
def lab_paths() -> P.LabPaths:
    return P.LabPaths(P.state_dir_from_env())


# The matrix (make test-matrix) runs the lab tier on each image and server; bookworm and
# Redis by default.
LAB_IMAGE = os.environ.get("REDISOPS_LAB_IMAGE") or P.DEFAULT_IMAGE
LAB_FLAVOR = os.environ.get("REDISOPS_LAB_FLAVOR") or P.DEFAULT_FLAVOR


@dataclass(frozen=True)
class Server:
    """The names and paths the roles give the server they deploy (redis_server_flavor): unit
    F-server@NAME.service, user F, /etc/F/NAME/F.conf, /var/lib/F/NAME... The kit's own names
    (/etc/redis-ops-kit, redisops*, group redis-main, job labels) do not follow the flavour."""

    flavor: str

    @property
    def user(self) -> str:
        return self.flavor

    @property
    def group(self) -> str:
        return self.flavor

    def server_unit(self, name: str = "main") -> str:
        return f"{self.flavor}-server@{name}.service"

    @property
    def sentinel_unit(self) -> str:
        return f"{self.flavor}-sentinel@main.service"

    # The distribution's stock units, which the roles mask: bare names, as testinfra wants them
    # (it raises on a masked unit named with ".service" instead of answering "not enabled").
    @property
    def stock_server_unit(self) -> str:
        return f"{self.flavor}-server"

    @property
    def stock_sentinel_unit(self) -> str:
        return f"{self.flavor}-sentinel"

    @property
    def server_proc(self) -> str:
        return f"{self.flavor}-server"

    @property
    def sentinel_proc(self) -> str:
        return f"{self.flavor}-sentinel"

    @property
    def conf_dir(self) -> str:
        return f"/etc/{self.flavor}"

    def conf_file(self, name: str = "main") -> str:
        return f"{self.conf_dir}/{name}/{self.flavor}.conf"

    def acl_file(self, name: str = "main") -> str:
        return f"{self.conf_dir}/{name}/users.acl"

    def data_dir(self, name: str = "main") -> str:
        return f"/var/lib/{self.flavor}/{name}"

    @property
    def sentinel_conf_dir(self) -> str:
        return f"{self.conf_dir}/sentinel"

    @property
    def sentinel_conf(self) -> str:
        return f"{self.sentinel_conf_dir}/sentinel.conf"

    @property
    def tls_dir(self) -> str:
        """Its files keep their names on both servers: redis.crt, redis.key, ca.crt."""
        return f"{self.conf_dir}/tls"


SERVER = Server(LAB_FLAVOR)


@pytest.fixture(scope="session")
def lab(lab_paths) -> P.AddressPlan:
    """A running lab of 3 hosts (brought up once; 'lab up' is idempotent): the Sentinel lab's
    hosts, those of the committed inventory. The cluster lab's hosts, if 'lab up --cluster-hosts'
    left any, keep running beside them but are left out (lab_plan has them)."""
    if os.geteuid() != 0:
        pytest.fail("the lab tier needs root: run 'make test' as root")
    redisops("lab", "up", "--hosts", "3", "--image", LAB_IMAGE, "--flavor", LAB_FLAVOR)
    return replace(lab_plan(lab_paths), cluster=())


def lab_plan(lab_paths: P.LabPaths) -> P.AddressPlan:
    """Every host the lab runs, the cluster lab's included."""
    return P.plan_from_state(P.load_state(lab_paths))


def lab_status() -> list[dict]:
    """Each lab host's state (lab status --format json: the hosts, beside the kit's version)."""
    out = redisops("lab", "status", "--format", "json", check=False).stdout
    return json.loads(out or '{"hosts": []}')["hosts"]


def lab_ssh(host: str, command: str, check: bool = True) -> subprocess.CompletedProcess:
    return redisops("lab", "ssh", host, command, check=check, timeout=60)


def run_playbook(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """ansible-playbook from the repository root, with the committed ansible.cfg and inventory."""
    return subprocess.run(
        ["ansible-playbook", *args],
        cwd=REPO,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def failures(output: str, max_lines: int = 40) -> list[str]:
    """Each failed task of an ansible-playbook run: its TASK line and the host's failure, as
    many as there were. The tail of a long run alone can miss a host that failed early."""
    found, task, block = [], "", None
    for line in output.splitlines():
        if block is not None:
            if line.startswith((" ", "\t")) and len(block) < max_lines:
                block.append(line)
                continue
            found.append("\n".join(block))
            block = None
        if line.startswith("TASK ["):
            task = line
        elif line.startswith(("fatal: [", "failed: [")):
            block = [task, line]
    if block is not None:
        found.append("\n".join(block))
    return found


def playbook_failure(proc: subprocess.CompletedProcess, tail: int = 4000) -> str:
    """What an assertion on a failed run shows: every failed task, then the run's tail."""
    head = "\n\n".join(failures(proc.stdout))
    return f"{head}\n\n--- last lines ---\n{proc.stdout[-tail:]}{proc.stderr[-2000:]}"


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    import re

    counts = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M):
        counts[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return counts


def assert_unchanged(proc: subprocess.CompletedProcess, hosts) -> None:
    """The playbook succeeded, ran on every one of ``hosts`` and changed nothing anywhere (the
    backup host, which site.yml's monitoring play reaches too, included)."""
    assert proc.returncode == 0, playbook_failure(proc)
    counts = recap(proc.stdout)
    assert {h.name for h in hosts} <= set(counts), counts
    assert {h: c["changed"] for h, c in counts.items()} == dict.fromkeys(counts, 0), proc.stdout[-4000:]


BACKUP_METRICS = "/var/lib/prometheus/node-exporter/redisops_backup.prom"


def deploy_site(lab: P.AddressPlan, lab_paths: P.LabPaths, backup: bool = False) -> P.AddressPlan:
    """site.yml, then a healthy Sentinel group, and with ``backup`` a good off-host backup: what
    most modules' ``deployed`` fixture wants before its first test."""
    from .test_redis_sentinel import healthy, wait_for  # a test module: not at conftest's import

    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy Sentinel group", lambda: healthy(lab_paths, lab.hosts), timeout=60)
    if backup:
        ensure_backup()
    return lab


def ensure_backup() -> None:
    """A good off-host backup of the lab's group, as PER-03 (critical) and so the drills' preflight
    want: when the backup host has none yet, it is set up with its timer off and backs up once."""
    have = lab_ssh("backup-1", f"grep -q '^redisops_backup_last_success' {BACKUP_METRICS}", check=False)
    if have.returncode == 0:
        return
    for args in (("playbooks/backup_timer.yml", "-e", "redis_backup_timer_enabled=false"),
                 ("playbooks/backup.yml",)):  # fmt: skip
        proc = run_playbook(*args)
        assert proc.returncode == 0, playbook_failure(proc)
