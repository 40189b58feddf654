"""Compliance checks against the deployed lab: clean when it is right, and each deliberate fault
reported by the right check with the right severity; unreachable, wrong-password and
expired-certificate targets reported as such; the scheduled run on a lab host."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .conftest import (
    BIN,
    INVENTORY,
    REPO,
    SERVER,
    deploy_site,
    lab_ssh,
    playbook_failure,
    recap,
    redisops,
    run_playbook,
    tool_env,
)
from .test_redis_sentinel import healthy, wait_for
from .test_redis_server import client, secret

SESSIONS = [f"app:session:nottl{i}" for i in range(3)]
PROM_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.eE+-]+$'
)


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    """site.yml once, a healthy group and an off-host backup before any check runs."""
    return deploy_site(lab, lab_paths, backup=True)


def check(*args: str, timeout: float = 120):
    """redisops check against the lab inventory: (exit code, JSON report or text)."""
    proc = redisops("check", "-i", str(INVENTORY), *args, check=False, timeout=timeout)
    assert proc.returncode in (0, 1, 2), proc.stderr
    return proc


def report_of(*args: str) -> tuple[int, dict]:
    proc = check("--format", "json", *args)
    return proc.returncode, json.loads(proc.stdout)


def failing(report: dict) -> set[tuple[str, str, str]]:
    return {(r["check"], r["target"], r["severity"]) for r in report["results"] if r["status"] == "fail"}


def roles(lab_paths, hosts) -> tuple:
    primary = [h for h in hosts if client(lab_paths, h.address).info("replication")["role"] == "master"]
    assert len(primary) == 1, primary
    return primary[0], [h for h in hosts if h is not primary[0]]


def test_a_healthy_lab_stays_free_of_findings_across_a_failover_and_restarts(deployed, lab_paths, tmp_path):
    """Issue 23's misfires: counters judged since the previous run, a killed primary that rejoins
    with a new replication ID, servers restarted one by one. A run before, a kill-primary drill, a
    rolling restart of every server, a run after with the same state: nothing fails."""
    state = tmp_path / "counters.json"
    code, before = report_of("--state", str(state))
    # What earlier modules left (counters since a server's start, fragmentation after their
    # churn) may be there: below high, and never more afterwards.
    assert code == 0, failing(before)
    proc = redisops("drill", "failover", "--scenario", "kill-primary", check=False, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    proc = run_playbook("playbooks/rolling_restart.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy group", lambda: healthy(lab_paths, deployed.hosts), 120)
    code, after = report_of("--state", str(state))
    new = failing(after) - failing(before)
    assert not new, [r for r in after["results"] if (r["check"], r["target"], r["severity"]) in new]
    assert code == 0


@pytest.mark.flavors
def test_the_deployed_lab_has_no_high_finding(deployed, lab_paths, tmp_path):
    code, report = report_of()
    high = [
        r
        for r in report["results"]
        if r["status"] in ("fail", "error") and r["severity"] in ("high", "critical")
    ]
    assert code == 0 and not high, high
    # Only the lab's documented exceptions are waived, each with its reason.
    waived = {(r["check"], r["waiver"] != "") for r in report["results"] if r["status"] == "waived"}
    assert waived <= {("H-01", True), ("H-09", True)}, waived
    # The lab's instances are the store profile's: its checks judged them, and they passed.
    profile = {(r["check"], r["status"]) for r in report["results"] if r["check"] in ("PRO-01", "PRO-02")}
    assert profile == {("PRO-01", "pass"), ("PRO-02", "pass")}, profile
    # Every target was read, every area judged, hosts included.
    assert report["counts"]["error"] == 0
    targets = {r["target"] for r in report["results"]}
    for host in deployed.hosts:
        assert {host.name, f"{host.name}:6379", f"{host.name}:26379"} <= targets
    # The other formats render from the same run.
    for fmt, name in (("junit", "r.xml"), ("html", "r.html"), ("prometheus", "r.prom"), ("text", "r.txt")):
        proc = check("--format", fmt, "--output", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
    assert ET.parse(tmp_path / "r.xml").getroot().tag == "testsuites"
    assert "Compliance report" in (tmp_path / "r.html").read_text()
    prom = (tmp_path / "r.prom").read_text().splitlines()
    assert all(PROM_LINE.match(line) for line in prom if not line.startswith("#")), prom
    assert (tmp_path / "r.txt").read_text().rstrip().endswith("fail level high: exit 0")
    # The secrets of the lab appear in no report.
    texts = [(tmp_path / n).read_text() for n in ("r.xml", "r.html", "r.prom", "r.txt")]
    texts.append(json.dumps(report))
    for name in (
        "redis_compliance",
        "sentinel_mon",
        "redis_admin",
        "sentinel_admin",
        "redis_repl",
        "redis_app",
    ):
        assert not any(secret(lab_paths, name) in t for t in texts), name


def sturdy(lab_paths, host):
    """An admin client that reconnects: faults such as a rebind or ACL LOAD may drop a connection."""
    return client(
        lab_paths,
        host.address,
        retry=Retry(ExponentialBackoff(cap=1), 5),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


@pytest.fixture
def broken(deployed, lab_paths):
    """Faults across the cluster at runtime, undone afterwards with the values read before."""
    primary, (replica_a, replica_b) = roles(lab_paths, deployed.hosts)
    a, b, p = (sturdy(lab_paths, h) for h in (replica_a, replica_b, primary))
    before_a = a.config_get("maxmemory") | a.config_get("protected-mode")
    before_b = b.config_get("save") | b.config_get("appendonly") | b.config_get("bind")
    stopped = deployed.hosts[-1]
    heal = [
        lambda: lab_ssh(stopped.name, f"systemctl start {SERVER.sentinel_unit}"),
        lambda: sturdy(lab_paths, replica_a).acl_load(),
        lambda: sturdy(lab_paths, primary).acl_load(),
        lambda: sturdy(lab_paths, replica_a).config_set("maxmemory", before_a["maxmemory"]),
        lambda: sturdy(lab_paths, replica_a).config_set("protected-mode", before_a["protected-mode"]),
        lambda: sturdy(lab_paths, replica_b).config_set("bind", before_b["bind"]),
        lambda: sturdy(lab_paths, replica_b).config_set("masterauth", secret(lab_paths, "redis_repl")),
        lambda: sturdy(lab_paths, replica_b).config_set("save", before_b["save"]),
        lambda: sturdy(lab_paths, replica_b).config_set("appendonly", before_b["appendonly"]),
        lambda: sturdy(lab_paths, primary).delete(
            "app:big:blob", *(f"app:session:nottl{i}" for i in range(3))
        ),
        # Counters the faults raised (rejected connections, errors) would outlive them.
        *(lambda h=h: sturdy(lab_paths, h).config_resetstat() for h in deployed.hosts),
    ]
    try:
        # Replica A: an open default user, protected mode off (with it on, Redis refuses remote
        # clients while the default user has no password), no memory limit.
        a.config_set("protected-mode", "no")
        a.acl_setuser("default", enabled=True, nopass=True, commands=["+@all"], keys=["*"])
        a.config_set("maxmemory", "0")
        # Replica B: a wildcard bind, persistence off, and detached from the primary (wrong
        # replication password).
        b.config_set("bind", "* -::*")
        b.config_set("save", "")
        b.config_set("appendonly", "no")
        b.config_set("masterauth", "not-the-replication-password")
        b.client_kill_filter(_type="master")
        # The primary: a big key, sessions without TTL, the application user allowed FLUSHALL.
        p.set("app:big:blob", "x" * (2 * 1024 * 1024))
        for key in SESSIONS:
            p.set(key, "s")
        p.acl_setuser("app", enabled=True, commands=["+flushall"])
        # A sentinel stopped.
        lab_ssh(stopped.name, f"systemctl stop {SERVER.sentinel_unit}")
        wait_for("replica B's link down", lambda: b.info("replication")["master_link_status"] == "down", 30)
        yield {"primary": primary, "a": replica_a, "b": replica_b, "stopped": stopped}
    finally:
        failures = []
        for step in heal:  # every step, even after one fails
            try:
                step()
            except Exception as exc:
                failures.append(repr(exc))
        wait_for("a healthy Sentinel group again", lambda: healthy(lab_paths, deployed.hosts), timeout=90)
        assert not failures, failures


def test_each_fault_is_reported_by_the_right_check_and_severity(broken, lab_paths):
    a, b, p = (f"{broken[k].name}:6379" for k in ("a", "b", "primary"))
    stopped = f"{broken['stopped'].name}:26379"
    # Sentinels need down-after (5 s) to flag the stopped peer.
    time.sleep(6)
    code, report = report_of("--fail-on", "info")
    assert code == 2, "a stopped sentinel is a target that could not be checked"
    found = failing(report)
    expected = {
        ("SEC-01", a, "critical"),  # default user with nopass
        ("SEC-02", a, "high"),
        ("SEC-03", a, "high"),  # protected mode off
        ("SEC-04", b, "high"),  # wildcard bind
        ("MEM-01", a, "high"),  # no maxmemory
        ("PER-01", b, "high"),  # persistence off
        ("HA-01", b, "critical"),  # replica detached
        ("PRF-05", p, "medium"),  # a big key
        ("TTL-01", p, "medium"),  # session keys without TTL
        ("SEC-05", p, "high"),  # application user allowed FLUSHALL
    }
    assert expected <= found, sorted(expected - found)
    errors = {(r["check"], r["target"]) for r in report["results"] if r["status"] == "error"}
    assert ("GATHER-SENTINEL", stopped) in errors, errors
    peers = [r for r in report["results"] if r["check"] == "HA-08" and r["status"] == "fail"]
    assert peers and all(r["severity"] == "high" for r in peers), peers
    # From Ansible: the play fails and its summary names the findings.
    proc = run_playbook("playbooks/compliance.yml")
    assert proc.returncode != 0
    for check_id in ("SEC-01", "HA-01", "TTL-01"):
        assert check_id in proc.stdout, proc.stdout[-3000:]


def test_after_healing_the_checks_are_clean_again(deployed, lab_paths):
    code, report = report_of()
    assert code == 0, failing(report)
    proc = run_playbook("playbooks/compliance.yml")
    assert proc.returncode == 0, playbook_failure(proc)


def test_compliance_from_ansible_decrypts_the_vault_of_the_run(deployed, tmp_path):
    """The lab inventory beside a vault-encrypted group_vars file: the nested redisops (and the
    ansible commands it runs for the host facts) decrypt with the password the run was given,
    which no file, variable or config of theirs names."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.py").symlink_to(REPO / "inventories" / "lab" / "hosts.py")
    shutil.copytree(REPO / "inventories" / "lab" / "group_vars" / "all", inventory / "group_vars" / "all")
    password = tmp_path / "vault-pass"
    password.write_text("lab-vault-test-password\n")
    password.chmod(0o600)
    secret = inventory / "group_vars" / "all" / "vault.yml"
    secret.write_text("vault_canary: only-readable-with-the-password\n")
    vault = subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password), str(secret)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert vault.returncode == 0 and secret.read_text().startswith("$ANSIBLE_VAULT"), vault.stderr
    env = {k: v for k, v in tool_env().items() if "VAULT" not in k}
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), "--vault-password-file", str(password),
         "playbooks/compliance.yml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, playbook_failure(proc)
    assert "Decryption failed" not in proc.stdout + proc.stderr
    assert "lab-vault-test-password" not in proc.stdout + proc.stderr
    # Nothing of the secrets is left behind.
    assert not list(Path(tempfile.gettempdir()).glob("redisops-vault-*"))


def _expired_client_cert(lab_paths, out: Path) -> tuple[str, str]:
    """A client certificate from the lab's own CA that expired yesterday."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pki = lab_paths.state_dir / "pki"
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired-client")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = out / "expired.crt", out / "expired.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return str(cert_path), str(key_path)


def test_unreachable_wrong_password_and_expired_certificate_are_findings(deployed, lab_paths, tmp_path):
    targets = tmp_path / "targets.json"
    assert check("--no-host-facts", "--write-targets", str(targets)).returncode == 0
    assert targets.stat().st_mode & 0o077 == 0
    data = json.loads(targets.read_text())
    redis_targets = [e for e in data["endpoints"] if e["kind"] == "redis"]
    sentinel_targets = [e for e in data["endpoints"] if e["kind"] == "sentinel"]
    # An address in the lab's subnet where no host runs: traffic stays on the lab bridge.
    unreachable = redis_targets[0]
    unreachable["address"] = deployed.hosts[0].address.rsplit(".", 1)[0] + ".99"
    wrong_password = sentinel_targets[1]
    wrong_password["password"] = "definitely-not-the-password"
    expired = redis_targets[1]
    expired["cert"], expired["key"] = _expired_client_cert(lab_paths, tmp_path)
    targets.write_text(json.dumps(data))
    proc = redisops("check", "--targets", str(targets), "--format", "json", check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    errors = {r["target"]: r["message"] for r in json.loads(proc.stdout)["results"] if r["status"] == "error"}
    assert set(errors) == {unreachable["target"], wrong_password["target"], expired["target"]}, errors
    assert re.search(r"did not answer|cannot connect", errors[unreachable["target"]])
    assert "authentication as 'monitor' refused" in errors[wrong_password["target"]]
    assert "TLS handshake" in errors[expired["target"]] and "expired" in errors[expired["target"]]
    assert "definitely-not-the-password" not in proc.stdout + proc.stderr
    # The other targets were still checked.
    assert any(r["status"] == "pass" for r in json.loads(proc.stdout)["results"])


def _timer_fired(host: str) -> bool:
    """The timer has triggered the service, and the run it started ended well and kept history."""
    show = "systemctl show -p LastTriggerUSec --value redisops-check.timer"
    triggered = lab_ssh(host, show, check=False).stdout.strip() not in ("", "n/a", "0")
    result = lab_ssh(host, "systemctl show -p Result --value redisops-check.service", check=False).stdout
    history = lab_ssh(host, "ls /var/lib/redisops/history", check=False).stdout.strip()
    return triggered and result.strip() == "success" and history != ""


def test_the_scheduled_run_on_a_lab_host(deployed, lab_paths):
    host = deployed.hosts[-1].name  # group redis_compliance
    # Every 10 seconds for the test, so the timer itself is seen to fire; the default afterwards.
    fast = [
        "-e",
        json.dumps({"redis_compliance_schedule": "*:*:0/10", "redis_compliance_randomized_delay_sec": 0}),
    ]
    proc = run_playbook("playbooks/compliance_timer.yml", *fast)
    assert proc.returncode == 0, playbook_failure(proc)
    try:
        again = run_playbook("playbooks/compliance_timer.yml", *fast)
        assert recap(again.stdout)[host]["changed"] == 0, again.stdout[-4000:]
        timer = "redisops-check.timer"
        assert lab_ssh(host, f"systemctl is-enabled {timer} && systemctl is-active {timer}").returncode == 0
        wait_for("the timer to start a run that succeeds", lambda: _timer_fired(host), timeout=60)
    finally:
        restore = run_playbook("playbooks/compliance_timer.yml")
        assert restore.returncode == 0, restore.stdout[-3000:]
    # And a run on demand: the same unit the timer starts.
    run = lab_ssh(host, "systemctl start redisops-check.service", check=False)
    journal = "journalctl -u redisops-check.service --no-pager | tail -30"
    assert run.returncode == 0, lab_ssh(host, journal).stdout
    prom = lab_ssh(host, "cat /var/lib/prometheus/node-exporter/redisops_check.prom").stdout.splitlines()
    samples = [line for line in prom if not line.startswith("#")]
    assert samples and all(PROM_LINE.match(line) for line in samples), prom
    assert any(line.startswith("redisops_check_failing{") for line in samples)
    up = [line for line in samples if line.startswith("redisops_check_target_up")]
    assert up and all(line.endswith(" 1") for line in up), up
    last = next(line for line in samples if line.startswith("redisops_check_last_success_timestamp_seconds"))
    assert abs(float(last.split()[1]) - time.time()) < 300
    history = lab_ssh(host, "ls /var/lib/redisops/history").stdout.split()
    assert history and all(name.startswith("check-") and name.endswith(".json") for name in history)
    report = json.loads(lab_ssh(host, f"cat /var/lib/redisops/history/{history[-1]}").stdout)
    assert report["exit_code"] == 0 and report["counts"]["pass"] > 50, report["counts"]
    # Credentials: readable by the service user only, and no secret in the unit or the reports.
    files = "/etc/redisops/targets.json /etc/redisops/tls/client.key"
    stat = lab_ssh(host, f"stat -c '%U %a' {files}").stdout.split()
    assert stat == ["redisops", "400", "redisops", "400"], stat
    kept = "/var/lib/redisops/last.json /var/lib/redisops/counters.json"
    shown = lab_ssh(host, f"systemctl cat redisops-check.service; cat {kept}").stdout
    for name in ("redis_compliance", "sentinel_mon", "redis_admin", "sentinel_admin"):
        assert secret(lab_paths, name) not in shown, name
    # The checks log in as users that can change nothing (not the admins).
    users = json.loads(lab_ssh(host, "cat /etc/redisops/targets.json").stdout)["endpoints"]
    assert {e["username"] for e in users} == {"compliance", "monitor"}
    # The counters the next run judges what rose against (CON-02, PRF-01..03): the service user's
    # file, one entry per Redis target with its server's run id.
    owner = lab_ssh(host, "stat -c %U /var/lib/redisops/counters.json").stdout.strip()
    counters = json.loads(lab_ssh(host, "cat /var/lib/redisops/counters.json").stdout)
    assert owner == "redisops" and counters["kind"] == "redisops-check-counters"
    redis_targets = {e["target"] for e in users if e["kind"] == "redis"}
    assert redis_targets and redis_targets <= set(counters["targets"]), counters["targets"].keys()
    assert all(len(counters["targets"][t]["run_id"]) == 40 for t in redis_targets)
