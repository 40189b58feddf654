"""Role redis_sentinel and the full topology on the lab: one primary, two replicas, three sentinels.

Everything is read back from the live sentinels and servers over TLS with the lab's users.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from redisops.core import health
from redisops.lab import plan as P
from redisops.lab.workload import SetWriter

from .conftest import (
    INVENTORY,
    SERVER,
    assert_unchanged,
    lab_ssh,
    playbook_failure,
    recap,
    redisops,
    run_playbook,
)
from .test_redis_server import client, secret

GROUP = "redis-main"
SENTINEL_PORT = 26379
SENTINEL_SECRETS = {"admin": "sentinel_admin", "app": "sentinel_app", "monitor": "sentinel_mon"}


def tls_options(paths: P.LabPaths) -> dict:
    pki = paths.state_dir / "pki"
    return {
        "ssl": True,
        "ssl_ca_certs": str(pki / "ca.crt"),
        "ssl_certfile": str(pki / "clients" / "redisops-control.crt"),
        "ssl_keyfile": str(pki / "clients" / "redisops-control.key"),
    }


def sentinel(paths: P.LabPaths, address: str, user: str | None = "admin", password: str | None = None, **kw):
    """A redis-py connection to one sentinel over TLS (admin unless told otherwise)."""
    if password is None and user is not None:
        password = secret(paths, SENTINEL_SECRETS[user])
    options = dict(
        host=address,
        port=SENTINEL_PORT,
        username=user,
        password=password,
        socket_timeout=5,
        socket_connect_timeout=5,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        **tls_options(paths),
    )
    options.update(kw)
    return redis.Redis(**options)


def master_state(paths, host) -> dict:
    return sentinel(paths, host.address).sentinel_master(GROUP)


def ckquorum(paths, host) -> str:
    return sentinel(paths, host.address).execute_command("SENTINEL", "CKQUORUM", GROUP)


def primary_named(paths, hosts) -> dict[str, str]:
    return {h.name: master_state(paths, h)["ip"] for h in hosts}


def sentinel_processes(hosts) -> dict[str, str]:
    """Main PID and start time of every sentinel (a restart changes both)."""
    cmd = f"systemctl show -p MainPID -p ExecMainStartTimestampMonotonic {SERVER.sentinel_unit}"
    return {h.name: lab_ssh(h.name, cmd).stdout for h in hosts}


def run_ids(paths, hosts) -> dict[str, str]:
    return {h.name: client(paths, h.address).info("server")["run_id"] for h in hosts}


def wait_for(what: str, predicate, timeout: float = 60, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (redis.exceptions.RedisError, OSError) as exc:
            last = exc
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def healthy(paths, hosts, primary_address: str | None = None) -> bool:
    """Every sentinel names one primary, sees exactly the others and both replicas (no stale
    entries), and has its quorum; that server alone is a primary and the others follow it over a
    link that is up. The kit's own judgement (redisops.core.health), as the role's gate and the
    drills use it."""
    states = {h.name: master_state(paths, h) for h in hosts}
    sentinels = [health.SentinelView.from_master(h.name, states[h.name], ckquorum(paths, h)) for h in hosts]
    # The servers as the sentinels name them: each host at the port the named primary has.
    port = states[hosts[0].name]["port"]
    servers = [
        health.ServerView.from_info(f"{h.address}:{port}", client(paths, h.address).info("replication"))
        for h in hosts
    ]
    verdict = health.judge(GROUP, sentinels, servers, expect_replicas=len(hosts) - 1, exact=True)
    return verdict.ok and (primary_address is None or verdict.primary.rsplit(":", 1)[0] == primary_address)


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    """site.yml once: servers and sentinels (fresh lab or already deployed)."""
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy Sentinel group", lambda: healthy(lab_paths, lab.hosts), timeout=30)
    return lab


# ------------------------------------------------------------------------- topology


def test_every_sentinel_agrees_and_has_its_quorum(deployed, lab_paths):
    hosts = deployed.hosts
    named = primary_named(lab_paths, hosts)
    assert len(set(named.values())) == 1, named
    primary_address = next(iter(named.values()))
    assert primary_address in {h.address for h in hosts}
    for host in hosts:
        conn = sentinel(lab_paths, host.address)
        assert ckquorum(lab_paths, host).startswith("OK 3 usable Sentinels"), host.name
        peers = {s["ip"] for s in conn.sentinel_sentinels(GROUP)}
        assert peers == {h.address for h in hosts if h is not host}
        replicas = conn.sentinel_slaves(GROUP)
        assert {r["ip"] for r in replicas} == {h.address for h in hosts if h.address != primary_address}
        assert all(r["flags"] == "slave" and r["master-link-status"] == "ok" for r in replicas)
        state = master_state(lab_paths, host)
        assert (state["quorum"], state["down-after-milliseconds"]) == (2, 5000)
        assert (state["failover-timeout"], state["parallel-syncs"]) == (60000, 1)


def test_sentinel_config_on_the_hosts(deployed, lab_paths):
    for host in deployed.hosts:
        out = lab_ssh(
            host.name,
            f"stat -c '%U %G %a' {SERVER.sentinel_conf_dir} {SERVER.sentinel_conf}; "
            f"systemctl is-enabled {SERVER.sentinel_unit} {SERVER.stock_sentinel_unit}.service; "
            f"ps -o user= -C {SERVER.sentinel_proc}; grep -c '^sentinel myid ' {SERVER.sentinel_conf}",
            check=False,
        ).stdout.split("\n")
        owner = f"{SERVER.user} {SERVER.group}"
        assert out[:2] == [f"{owner} 750", f"{owner} 640"]
        assert out[2:4] == ["enabled", "masked"]
        assert out[4].strip() == SERVER.user and out[5] == "1"
        text = lab_ssh(host.name, f"cat {SERVER.sentinel_conf}").stdout
        # Only hashes of the Sentinel users' passwords; no secret of the lab in clear but the two
        # Sentinel must send (its peer password and the Redis password), in a file only redis reads.
        for name in ("sentinel_admin", "sentinel_mon", "sentinel_app"):
            assert secret(lab_paths, name) not in text
        assert "user default off" in text and "deny-scripts-reconfig yes" in text


def test_a_sentinel_aware_client_writes_to_the_primary_and_reads_from_a_replica(deployed, lab_paths):
    app_sentinel = {
        "username": "app",
        "password": secret(lab_paths, "sentinel_app"),
        **tls_options(lab_paths),
    }
    app_redis = {"username": "app", "password": secret(lab_paths, "redis_app"), **tls_options(lab_paths)}
    group = Sentinel(
        [(h.address, SENTINEL_PORT) for h in deployed.hosts],
        sentinel_kwargs={**app_sentinel, "socket_timeout": 2},
        socket_timeout=2,
        **app_redis,
    )
    primary = group.master_for(GROUP)
    token = f"via-sentinel-{time.time_ns()}"
    primary.set("app:sentinel-check", token)
    address, _port = group.discover_master(GROUP)
    assert client(lab_paths, address).info("replication")["role"] == "master"
    replica = group.slave_for(GROUP)
    assert wait_for(
        "the replica to have the write", lambda: replica.get("app:sentinel-check") == token.encode()
    )
    assert replica.execute_command("ROLE")[0] == b"slave"


def test_sentinel_refuses_unauthenticated_and_unprivileged_clients(deployed, lab_paths):
    host = deployed.hosts[0]
    anonymous = sentinel(lab_paths, host.address, user=None, password=None)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.sentinel_masters()
    with pytest.raises(redis.exceptions.AuthenticationError):
        sentinel(lab_paths, host.address, user="app", password="wrong-password-0123456789").ping()
    app = sentinel(lab_paths, host.address, user="app")
    assert app.sentinel_get_master_addr_by_name(GROUP)
    for command in (
        ("SENTINEL", "SET", GROUP, "quorum", "1"),
        ("SENTINEL", "FAILOVER", GROUP),
        ("SENTINEL", "REMOVE", GROUP),
        ("SENTINEL", "MONITOR", "evil", "10.0.0.1", "6379", "1"),
        ("SENTINEL", "CONFIG", "SET", "announce-ip", "10.0.0.1"),
        ("ACL", "SETUSER", "app", "+@all"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    # TLS only, with client certificates: no certificate, no connection.
    with pytest.raises((redis.exceptions.ConnectionError, OSError)):
        sentinel(lab_paths, host.address, ssl_certfile=None, ssl_keyfile=None).ping()
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(
            host=host.address, port=SENTINEL_PORT, socket_timeout=3, retry=Retry(NoBackoff(), 0)
        ).ping()


# ---------------------------------------------------------------------- idempotence


def test_rerun_changes_nothing(deployed):
    proc = run_playbook("playbooks/site.yml")
    assert_unchanged(proc, deployed.hosts)


def test_failover_then_rerun_keeps_the_new_primary_and_restarts_nothing(deployed, lab_paths):
    hosts = deployed.hosts
    old = next(h for h in hosts if h.address == primary_named(lab_paths, hosts)[hosts[0].name])
    myids = {h.name: sentinel(lab_paths, h.address).execute_command("SENTINEL", "MYID") for h in hosts}
    processes, servers = sentinel_processes(hosts), run_ids(lab_paths, hosts)

    sentinel(lab_paths, hosts[0].address).execute_command("SENTINEL", "FAILOVER", GROUP)
    moved = lambda: {a for a in primary_named(lab_paths, hosts).values()} - {old.address}  # noqa: E731
    new_address = next(iter(wait_for("every sentinel to name a new primary", moved, timeout=60)))
    wait_for("the group to settle on the new primary", lambda: healthy(lab_paths, hosts, new_address), 60)
    new = next(h for h in hosts if h.address == new_address)

    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    said = next(line for line in proc.stdout.splitlines() if "as the sentinels say" in line)
    assert f"main: {new.name}" in said, said
    assert_unchanged(proc, hosts)
    assert set(primary_named(lab_paths, hosts).values()) == {new.address}
    assert client(lab_paths, new.address).info("replication")["role"] == "master"
    old_info = client(lab_paths, old.address).info("replication")
    assert (old_info["role"], old_info["master_host"]) == ("slave", new.address)
    assert {
        h.name: sentinel(lab_paths, h.address).execute_command("SENTINEL", "MYID") for h in hosts
    } == myids
    assert sentinel_processes(hosts) == processes, "a sentinel was restarted"
    assert run_ids(lab_paths, hosts) == servers, "a Redis server was restarted"


def test_a_timer_change_is_applied_live_to_every_sentinel(deployed, lab_paths):
    hosts = deployed.hosts
    processes = sentinel_processes(hosts)
    proc = run_playbook("playbooks/site.yml", "-e", '{"redis_sentinel_down_after_milliseconds": 6000}')
    assert proc.returncode == 0, playbook_failure(proc)
    assert {h.name: master_state(lab_paths, h)["down-after-milliseconds"] for h in hosts} == {
        h.name: 6000 for h in hosts
    }
    for host in hosts:
        conf = lab_ssh(host.name, f"cat {SERVER.sentinel_conf}").stdout
        assert f"sentinel down-after-milliseconds {GROUP} 6000" in conf
    assert sentinel_processes(hosts) == processes, "a timer change restarted a sentinel"
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    assert {master_state(lab_paths, h)["down-after-milliseconds"] for h in hosts} == {5000}
    assert sentinel_processes(hosts) == processes


def test_a_changed_sentinel_password_is_applied_live(deployed, lab_paths):
    """A rotated password of the monitoring user: ACL changed at runtime, the old one refused."""
    hosts = deployed.hosts
    processes = sentinel_processes(hosts)
    new_password = "rotated-monitoring-0123456789abcdef"
    proc = run_playbook(
        "playbooks/site.yml", "-e", json.dumps({"redis_sentinel_monitoring_password": new_password})
    )
    assert proc.returncode == 0, playbook_failure(proc)
    assert new_password not in proc.stdout + proc.stderr
    for host in hosts:
        assert sentinel(lab_paths, host.address, user="monitor", password=new_password).ping()
        with pytest.raises(redis.exceptions.AuthenticationError):
            sentinel(lab_paths, host.address, user="monitor").ping()
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    assert all(sentinel(lab_paths, h.address, user="monitor").ping() for h in hosts)
    assert sentinel_processes(hosts) == processes


def test_a_static_setting_restarts_the_sentinels_one_at_a_time(deployed, lab_paths):
    """loglevel cannot change live: each sentinel is stopped, its file written, started and waited for."""
    hosts = deployed.hosts
    processes = sentinel_processes(hosts)
    myids = {h.name: sentinel(lab_paths, h.address).execute_command("SENTINEL", "MYID") for h in hosts}
    proc = run_playbook("playbooks/site.yml", "-e", "redis_sentinel_loglevel=verbose")
    assert proc.returncode == 0, playbook_failure(proc)
    assert proc.stdout.count("TASK [redisops.kit.redis_sentinel : Stop the sentinel on") == len(hosts)
    after = sentinel_processes(hosts)
    assert all(after[h] != processes[h] for h in processes), "a sentinel kept running with the old setting"
    for host in hosts:
        assert "loglevel verbose" in lab_ssh(host.name, f"cat {SERVER.sentinel_conf}").stdout
    assert {
        h.name: sentinel(lab_paths, h.address).execute_command("SENTINEL", "MYID") for h in hosts
    } == myids
    assert healthy(lab_paths, hosts)
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    assert_unchanged(run_playbook("playbooks/site.yml"), hosts)


def test_a_stopped_sentinel_is_brought_back_and_rejoins(deployed, lab_paths):
    hosts = deployed.hosts
    victim = hosts[-1]
    myid = sentinel(lab_paths, victim.address).execute_command("SENTINEL", "MYID")
    lab_ssh(victim.name, f"systemctl stop {SERVER.sentinel_unit}")
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    assert recap(proc.stdout)[victim.name]["changed"] >= 1
    assert wait_for("the group to be whole again", lambda: healthy(lab_paths, hosts), timeout=30)
    assert sentinel(lab_paths, victim.address).execute_command("SENTINEL", "MYID") == myid


def test_a_rebooted_host_comes_back_and_its_sentinel_rejoins(deployed, lab_paths):
    hosts = deployed.hosts
    primary_address = next(iter(set(primary_named(lab_paths, hosts).values())))
    victim = next(h for h in hosts if h.address != primary_address)
    myid = sentinel(lab_paths, victim.address).execute_command("SENTINEL", "MYID")
    lab_ssh(victim.name, "systemctl poweroff", check=False)
    wait_for(f"{victim.name} to power off", lambda: victim.name not in _running_hosts(), timeout=60)
    redisops("lab", "up", "--hosts", str(len(hosts)))
    # Everything is enabled: the host's server and sentinel rejoin on their own.
    assert wait_for(
        "the group to be whole again", lambda: healthy(lab_paths, hosts, primary_address), timeout=60
    )
    assert sentinel(lab_paths, victim.address).execute_command("SENTINEL", "MYID") == myid
    proc = run_playbook("playbooks/site.yml")
    assert_unchanged(proc, hosts)


def _running_hosts() -> set[str]:
    out = redisops("lab", "status", "--format", "json", check=False).stdout
    return {h["host"] for h in json.loads(out or '{"hosts": []}')["hosts"] if h["container"]}


def test_a_replica_that_left_is_forgotten_by_the_rerun(deployed, lab_paths):
    """Sentinel never forgets a replica by itself; the rerun resets one sentinel at a time."""
    hosts = deployed.hosts
    primary_address = next(iter(set(primary_named(lab_paths, hosts).values())))
    spare = next(h for h in hosts if h.address != primary_address)
    tls = SERVER.tls_dir
    conf = "\n".join([
        "port 0", "tls-port 6390", f"bind {spare.address}", "daemonize yes", "dir /tmp", 'save ""',
        "appendonly no", f"tls-cert-file {tls}/redis.crt", f"tls-key-file {tls}/redis.key",
        f"tls-ca-cert-file {tls}/ca.crt", "tls-replication yes", "masteruser replicator",
        f"masterauth {secret(lab_paths, 'redis_repl')}", f"replicaof {primary_address} 6379",
    ])  # fmt: skip
    # The password goes through stdin into a file only root reads, never onto a command line.
    redisops("lab", "ssh", spare.name, "umask 077; cat > /root/stale-replica.conf", input=conf)
    lab_ssh(spare.name, f"{SERVER.server_proc} /root/stale-replica.conf")
    try:
        wait_for(
            "every sentinel to see the extra replica",
            lambda: all(master_state(lab_paths, h)["num-slaves"] == 3 for h in hosts),
            timeout=40,
        )
    finally:
        lab_ssh(
            spare.name,
            f"pkill -f '{SERVER.server_proc} .*:6390'; rm -f /root/stale-replica.conf",
            check=False,
        )
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    assert "SENTINEL RESET on" in proc.stdout
    assert wait_for("the group to be whole again", lambda: healthy(lab_paths, hosts, primary_address), 30)
    for host in hosts:
        replicas = sentinel(lab_paths, host.address).sentinel_slaves(GROUP)
        assert sorted(f"{r['ip']}:{r['port']}" for r in replicas) == sorted(
            f"{h.address}:6379" for h in hosts if h.address != primary_address
        )
    assert_unchanged(run_playbook("playbooks/site.yml"), hosts)


# ------------------------------------------------------------------ rolling restart


def app_writer(paths: P.LabPaths, hosts, key: str) -> SetWriter:
    return SetWriter(
        [(h.address, SENTINEL_PORT) for h in hosts],
        GROUP,
        key,
        sentinel_kwargs={"username": "app", "password": secret(paths, "sentinel_app"), **tls_options(paths)},
        redis_kwargs={"username": "app", "password": secret(paths, "redis_app"), **tls_options(paths)},
    )


def test_rolling_restart_under_load_restarts_everything_once_and_loses_no_write(deployed, lab_paths):
    hosts = deployed.hosts
    old_primary = next(iter(set(primary_named(lab_paths, hosts).values())))
    epochs = {master_state(lab_paths, h)["config-epoch"] for h in hosts}
    processes, servers = sentinel_processes(hosts), run_ids(lab_paths, hosts)
    with app_writer(lab_paths, hosts, "app:rolling-restart") as writer:
        time.sleep(1)
        proc = run_playbook("playbooks/rolling_restart.yml")
        time.sleep(1)
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("the group to settle", lambda: healthy(lab_paths, hosts), timeout=30)
    members = writer.members()
    report = writer.history.summary(members)
    print(f"rolling restart under load: {report}")
    assert report["acknowledged"] > 500, report
    assert report["acknowledged_lost"] == 0, report
    # Every process restarted exactly once; the primary moved once (one new epoch).
    after_processes, after_servers = sentinel_processes(hosts), run_ids(lab_paths, hosts)
    assert all(after_processes[h] != processes[h] for h in processes), "a sentinel was not restarted"
    assert all(after_servers[h] != servers[h] for h in servers), "a Redis server was not restarted"
    assert proc.stdout.count("TASK [Restart the instance]") == len(hosts)
    assert proc.stdout.count("TASK [Restart the sentinel]") == len(hosts)
    new_primary = next(iter(set(primary_named(lab_paths, hosts).values())))
    assert new_primary != old_primary
    assert {master_state(lab_paths, h)["config-epoch"] for h in hosts} == {max(epochs) + 1}
    # Every replica holds the acknowledged writes too.
    for host in hosts:
        replica_members = {int(m) for m in client(lab_paths, host.address).smembers("app:rolling-restart")}
        assert not writer.history.lost(replica_members) or host.address == new_primary
    assert_unchanged(run_playbook("playbooks/site.yml"), hosts)


def test_rolling_restart_refuses_an_unhealthy_group(deployed, lab_paths):
    hosts = deployed.hosts
    victim = hosts[-1]
    processes = sentinel_processes(hosts)
    lab_ssh(victim.name, f"systemctl stop {SERVER.sentinel_unit}")
    try:
        proc = run_playbook("playbooks/rolling_restart.yml", "-e", "redis_sentinel_gate_timeout_s=3")
        assert proc.returncode != 0
        assert f"sentinel on {victim.name} does not answer" in proc.stdout, proc.stdout[-3000:]
        assert f"the sentinel on {victim.name} could not be read: " in proc.stdout  # and why
        assert "nothing more is changed" in proc.stdout
        assert all(c["changed"] == 0 for c in recap(proc.stdout).values())
        for host in hosts[:-1]:
            assert sentinel_processes([host]) == {host.name: processes[host.name]}
    finally:
        lab_ssh(victim.name, f"systemctl start {SERVER.sentinel_unit}")
    wait_for("the group to be whole again", lambda: healthy(lab_paths, hosts), timeout=30)


# ---------------------------------------------------------------------- bad input

SENTINEL_BAD_INPUTS = [
    ({"redis_sentinel_quorum": 4}, "larger than the 3 sentinels"),
    ({"redis_sentinel_quorum": 1}, "less than a majority"),
    ({"redis_sentinel_groups": [{"name": "redis main"}]}, "redis_sentinel_groups[0] (redis main).name"),
    ({"redis_sentinel_down_after_milliseconds": 300}, "redis_sentinel_down_after_milliseconds 300"),
    ({"redis_sentinel_failover_timeout": 3000}, "failover_timeout 3000 must be longer"),
    ({"redis_sentinel_admin_password": ""}, "redis_sentinel_admin_password is not set"),
    ({"redis_sentinel_auth_password": ""}, "redis_sentinel_auth_password is not set"),
    ({"redis_server_primary_host": "redis-9"}, "redis_server_primary_host 'redis-9'"),
    ({"redis_sentinel_port": 6379}, "redis_sentinel_port (or _tls_port) 6379"),
    (
        {"redis_sentinel_groups": [{"name": "a", "instance": "main"}, {"name": "b", "instance": "main"}]},
        "two groups monitor instance 'main'",
    ),
]


def managed_state(hosts) -> dict[str, str]:
    """Every file Ansible manages (not sentinel.conf, which Sentinel itself rewrites) and the live users."""
    cmd = (
        f"find {SERVER.conf_dir} /etc/redis-ops-kit /etc/systemd/system -type f ! -name sentinel.conf | "
        f"sort | xargs -r md5sum; systemctl show -p MainPID {SERVER.sentinel_unit} {SERVER.server_unit()}"
    )
    return {h.name: lab_ssh(h.name, cmd).stdout for h in hosts}


@pytest.fixture(scope="module")
def before_bad_input(deployed):
    return managed_state(deployed.hosts)


@pytest.mark.parametrize(("extra", "named"), SENTINEL_BAD_INPUTS, ids=[n for _, n in SENTINEL_BAD_INPUTS])
def test_a_wrong_topology_is_refused_before_any_change(deployed, before_bad_input, extra, named, tmp_path):
    extra_file = Path(tmp_path) / "extra.json"
    extra_file.write_text(json.dumps(extra))
    proc = run_playbook("playbooks/site.yml", "-e", f"@{extra_file}")
    assert proc.returncode != 0
    assert named in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    assert all(c["changed"] == 0 for c in recap(proc.stdout).values())
    assert managed_state(deployed.hosts) == before_bad_input


@pytest.mark.parametrize("sentinels", [2, 1])
def test_fewer_than_three_sentinels_are_refused(deployed, before_bad_input, sentinels, tmp_path):
    """An inventory with too few sentinels: refused with the reason, before any change."""
    listing = subprocess.run(
        ["ansible-inventory", "-i", str(INVENTORY), "--list"], capture_output=True, text=True, check=True
    )
    data = json.loads(listing.stdout)
    hostvars = data["_meta"]["hostvars"]
    names = sorted(hostvars)
    inventory = {
        "all": {
            "vars": {k: v for k, v in data.get("all", {}).get("vars", {}).items()},
            "children": {
                "redis": {"hosts": {n: hostvars[n] for n in names}},
                "redis_primary": {"hosts": {names[0]: {}}},
                "sentinel": {"hosts": {n: {} for n in names[:sentinels]}},
            },
        }
    }
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    shutil.copytree(INVENTORY / "group_vars", tmp_path / "group_vars")
    proc = run_playbook("-i", str(tmp_path / "hosts.yml"), "playbooks/site.yml")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"the inventory group 'sentinel' has {sentinels} host(s)" in output, output[-3000:]
    if sentinels == 2:
        assert "2 is never safe" in output
    assert all(c["changed"] == 0 for c in recap(proc.stdout).values())
    assert managed_state(deployed.hosts) == before_bad_input
