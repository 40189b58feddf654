"""The application examples of docs/clients.md on the lab: each writes through the sentinels with
TLS, its client certificate and its ACL user while the primary is killed (or failed over by
hand), and must write to the new primary afterwards, with no error left once the old primary is
back as a replica.

The committed files run as they are: docs/clients/python/app.py with the venv's Python,
docs/clients/node after 'npm ci' in a copy, docs/clients/go after 'go mod download' in a copy
(skipped, naming what is missing, without node and npm or without go and its module proxy).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import BIN, REPO, SERVER, deploy_site, lab_ssh
from .test_redis_sentinel import GROUP, SENTINEL_PORT, healthy, master_state, sentinel, wait_for
from .test_redis_server import client

EXAMPLES = REPO / "docs" / "clients"
PORT = 6379
LINE = re.compile(r"^(\S+Z) (ok|error) (.*)$")
KEY_PREFIX = "app:clients:test:"  # under the lab application user's keys (app:*)


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    return deploy_site(lab, lab_paths)


@pytest.fixture(scope="module")
def app_env(deployed, lab_paths) -> dict[str, str]:
    """What the lab inventory gives its application user 'app' (redis_server_acl_users and
    redis_sentinel_client_users): the files, never a password in the environment itself."""
    state = lab_paths.state_dir
    return {
        **os.environ,
        "REDIS_SENTINELS": ",".join(f"{h.address}:{SENTINEL_PORT}" for h in deployed.hosts),
        "REDIS_MASTER_NAME": GROUP,
        "REDIS_USERNAME": "app",
        "REDIS_PASSWORD_FILE": str(state / "secrets" / "redis_app"),
        "REDIS_SENTINEL_USERNAME": "app",
        "REDIS_SENTINEL_PASSWORD_FILE": str(state / "secrets" / "sentinel_app"),
        "REDIS_TLS_CA": str(state / "pki" / "ca.crt"),
        "REDIS_TLS_CERT": str(state / "pki" / "clients" / "app-app.crt"),
        "REDIS_TLS_KEY": str(state / "pki" / "clients" / "app-app.key"),
    }


# ---- the examples, ready to run ---------------------------------------------------------------


def _copy(name: str, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp(name) / name
    shutil.copytree(EXAMPLES / name, work, ignore=shutil.ignore_patterns("node_modules"))
    return work


def _setup(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def node_app(tmp_path_factory) -> tuple[list[str], Path]:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the Node.js example needs {' and '.join(missing)} (Debian: nodejs, npm)")
    work = _copy("node", tmp_path_factory)
    proc = _setup(["npm", "ci", "--no-audit", "--no-fund"], work, timeout=600)
    assert proc.returncode == 0, f"npm ci failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return ["node", "app.js"], work


@pytest.fixture(scope="module")
def go_app(tmp_path_factory) -> tuple[list[str], Path]:
    if shutil.which("go") is None:
        pytest.skip("the Go example needs the Go toolchain (go) and its module proxy: go is not installed")
    work = _copy("go", tmp_path_factory)
    try:
        proc = _setup(["go", "mod", "download"], work, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("the Go example needs its modules: 'go mod download' did not finish in 300 s")
    if proc.returncode != 0:
        pytest.skip(
            f"the Go example needs its modules: 'go mod download' failed: {proc.stderr.strip()[-500:]}"
        )
    for step in (["go", "mod", "tidy"], ["go", "build", "-o", "client", "."]):
        proc = _setup(step, work, timeout=600)
        assert proc.returncode == 0, f"{' '.join(step)} failed:\n{proc.stderr[-3000:]}"
    return [str(work / "client")], work


# ---- a running example and what it printed ------------------------------------------------------


@dataclass
class Write:
    at: float  # epoch seconds, from the line's timestamp
    ok: bool
    server: str  # address:port of the server that took it ('' for an error)
    text: str


@dataclass
class Run:
    name: str
    proc: subprocess.Popen
    out: Path
    err: Path
    returncode: int | None = None
    writes: list[Write] = field(default_factory=list)

    def read(self) -> list[Write]:
        writes = []
        for line in self.out.read_text().splitlines():
            m = LINE.match(line)
            if not m:
                continue  # the client's own events (ioredis 'error' events), the summary
            at = datetime.fromisoformat(m.group(1)).timestamp()
            ok = m.group(2) == "ok"
            server = m.group(3).split()[-1] if ok else ""
            writes.append(Write(at, ok, server, line))
        self.writes = writes
        return writes

    def ok_on(self, server: str, after: float = 0.0) -> list[Write]:
        return [w for w in self.read() if w.ok and w.server == server and w.at > after]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
        self.read()

    def output(self, tail: int = 60) -> str:
        lines = self.out.read_text().splitlines()[-tail:]
        return (
            f"--- {self.name}: last lines\n"
            + "\n".join(lines)
            + f"\n--- stderr\n{self.err.read_text()[-2000:]}"
        )


def start(name: str, args: list[str], cwd: Path, env: dict[str, str], tmp_path: Path, **extra: str) -> Run:
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    # Long enough for any failover here; each run is ended with SIGTERM once the lab is whole.
    proc = subprocess.Popen(
        [*args, "600"],
        cwd=cwd,
        env={**env, "REDIS_COUNTER_KEY": f"{KEY_PREFIX}{name}", **extra},
        stdout=out.open("w"),
        stderr=err.open("w"),
    )
    return Run(name, proc, out, err)


# ---- the lab side ---------------------------------------------------------------------------


def primary(lab_paths, lab) -> str:
    return master_state(lab_paths, lab.hosts[0])["ip"]


def kill_command(unit: str) -> str:
    """SIGKILL to the unit's main process, as the drills' kill-primary does."""
    return f'pid=$(systemctl show -p MainPID --value {unit}); [ "$pid" -gt 0 ] && kill -s KILL "$pid"'


def settled(lab_paths, lab) -> bool:
    """Every sentinel has seen each replica report itself a replica, its link up. healthy() is
    not enough right after a failover: a sentinel that last saw a restarted server as a primary
    (it looks at replicas every 10 s) turns the replica a SENTINEL FAILOVER has just promoted
    straight back into a replica, and the failover times out (seen on the lab)."""
    for host in lab.hosts:
        for replica in sentinel(lab_paths, host.address).sentinel_slaves(GROUP):
            if replica["role-reported"] != "slave" or replica["master-link-status"] != "ok":
                return False
            if replica["is_sdown"] or replica["is_disconnected"]:
                return False
    return True


@dataclass
class Timeline:
    old: str  # address:port of the primary before
    new: str = ""
    fault_done: float = 0.0  # the kill (or SENTINEL FAILOVER) has returned
    switched: float = 0.0  # a sentinel first named the new primary
    whole: float = 0.0  # every sentinel and server agrees again, the old primary a replica


def writing(runs: list[Run], server: str) -> None:
    for run in runs:
        wait_for(
            f"{run.name} writing to {server}",
            lambda run=run: run.proc.poll() is None and len(run.ok_on(server)) >= 5,
            timeout=30,
        )


def fail_over(runs: list[Run], lab, lab_paths, fault) -> Timeline:
    """Let the examples write, break the primary with ``fault`` (the old primary's host), wait
    for the new primary and for the old one to follow it, let them write a little longer, stop."""
    old_address = primary(lab_paths, lab)
    old_host = next(h for h in lab.hosts if h.address == old_address)
    t = Timeline(old=f"{old_address}:{PORT}")
    try:
        wait_for(
            "a settled Sentinel group", lambda: healthy(lab_paths, lab.hosts) and settled(lab_paths, lab), 60
        )
        writing(runs, t.old)
        fault(old_host)
        t.fault_done = time.time()
        new_address = wait_for(
            "a new primary",
            lambda: (ip := primary(lab_paths, lab)) != old_address and ip,
            timeout=60,
            interval=0.1,
        )
        t.switched, t.new = time.time(), f"{new_address}:{PORT}"
        # The killed server comes back (systemd would start it 15 s later anyway) and Sentinel
        # turns it into a replica: the moment a client still bound to it would read READONLY.
        lab_ssh(old_host.name, f"systemctl start {SERVER.server_unit()}")
        wait_for(
            "the old primary following the new one", lambda: healthy(lab_paths, lab.hosts, new_address), 120
        )
        t.whole = time.time()
        time.sleep(3)
    finally:
        for run in runs:
            run.stop()
        lab_ssh(old_host.name, f"systemctl start {SERVER.server_unit()}", check=False)
    return t


def check_followed(run: Run, t: Timeline, move_within: float | None = None) -> float:
    """The example wrote to the old primary, then to the new one, never again to the old one,
    and without a single error once the old primary was a replica. Returns the time from its
    last write on the old primary to its first on the new one."""
    show = run.output()
    assert run.returncode == 0, f"{run.name} exited {run.returncode}\n{show}"
    before = [w for w in run.writes if w.ok and w.server == t.old and w.at <= t.fault_done]
    assert before, f"{run.name} never wrote to the old primary {t.old}\n{show}"
    late_old = [w.text for w in run.writes if w.ok and w.server == t.old and w.at > t.switched]
    assert not late_old, f"{run.name}: writes taken by the old primary after the failover: {late_old[:5]}"
    on_new = [w for w in run.writes if w.ok and w.server == t.new and w.at > t.fault_done]
    assert on_new, f"{run.name} never wrote to the new primary {t.new}\n{show}"
    after_whole = [w for w in run.writes if w.at > t.whole]
    assert len(after_whole) >= 10, f"{run.name}: too few writes after the lab was whole\n{show}"
    bad = [w.text for w in after_whole if not (w.ok and w.server == t.new)]
    assert not bad, f"{run.name}: errors after the old primary rejoined as a replica: {bad[:5]}\n{show}"
    if move_within is not None:
        assert on_new[0].at - t.switched <= move_within, (
            f"{run.name} moved {on_new[0].at - t.switched:.1f} s after the sentinels named {t.new}\n{show}"
        )
    last_old = [w for w in run.writes if w.ok and w.server == t.old][-1]
    gap = on_new[0].at - last_old.at
    print(f"{run.name}: last write on {t.old} to first on {t.new}: {gap:.1f} s")
    return gap


@pytest.fixture
def cleanup_keys(lab_paths, deployed):
    """The examples' counters go when the test is over (as the application user: its keys)."""
    yield
    names = ("python", "python-one-connection", "node", "go")
    client(lab_paths, primary(lab_paths, deployed), user="app").delete(*(f"{KEY_PREFIX}{n}" for n in names))


# ---- the tests ----------------------------------------------------------------------------


def kill(host) -> None:
    lab_ssh(host.name, kill_command(SERVER.server_unit()))


def python_runs(app_env, tmp_path) -> list[Run]:
    args = [str(BIN / "python"), str(EXAMPLES / "python" / "app.py")]
    return [
        start("python", args, REPO, app_env, tmp_path),
        # The trap's case: a client that keeps one connection (the example's reconnect).
        start("python-one-connection", args, REPO, app_env, tmp_path, REDIS_ONE_CONNECTION="1"),
    ]


def test_python_follows_a_killed_primary(deployed, lab_paths, app_env, tmp_path, cleanup_keys):
    runs = python_runs(app_env, tmp_path)
    t = fail_over(runs, deployed, lab_paths, kill)
    for run in runs:
        assert check_followed(run, t) < 30


def test_node_follows_a_killed_primary(deployed, lab_paths, app_env, node_app, tmp_path, cleanup_keys):
    args, cwd = node_app
    run = start("node", args, cwd, app_env, tmp_path)
    t = fail_over([run], deployed, lab_paths, kill)
    assert check_followed(run, t) < 30


def test_go_follows_a_killed_primary(deployed, lab_paths, app_env, go_app, tmp_path, cleanup_keys):
    args, cwd = go_app
    run = start("go", args, cwd, app_env, tmp_path)
    t = fail_over([run], deployed, lab_paths, kill)
    assert check_followed(run, t) < 30


def test_clients_follow_a_manual_failover(deployed, lab_paths, app_env, tmp_path, request, cleanup_keys):
    """SENTINEL FAILOVER leaves the old primary up: it answers NOREPLICAS until Sentinel turns it
    into a replica. Each example moves when the sentinels name the new primary, not later."""
    runs = python_runs(app_env, tmp_path)
    for name, fixture in (("node", "node_app"), ("go", "go_app")):
        try:
            args, cwd = request.getfixturevalue(fixture)
        except pytest.skip.Exception:
            continue  # the test of that client says why
        runs.append(start(name, args, cwd, app_env, tmp_path))

    def manual(host) -> None:
        sentinel(lab_paths, deployed.hosts[0].address).execute_command("SENTINEL", "FAILOVER", GROUP)

    t = fail_over(runs, deployed, lab_paths, manual)
    for run in runs:
        check_followed(run, t, move_within=3.5)
