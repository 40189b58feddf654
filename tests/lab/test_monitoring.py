"""Monitoring on the lab: an exporter per Redis and per Sentinel, node_exporter with the kit's
metrics files, reachable only from the scrape network; a real Prometheus on the control node
loads the alert rules as the role installs them, scrapes the lab, and after a real kill-primary
fault the primary-count and replication alerts go pending or firing, then clear after healing."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest
import redis
import yaml

from tests.promql_names import KNOWN_METRICS

from .conftest import BIN, INVENTORY, REPO, ensure_backup, lab_ssh, playbook_failure, redisops, run_playbook
from .test_redis_sentinel import healthy, master_state, wait_for
from .test_redis_server import client

PROMETHEUS = shutil.which("prometheus")
# The alerts a killed primary must raise, and that must clear once the drill has healed it.
FAULT_ALERTS = {"RedisDown", "RedisReplicationLinkDown", "RedisNoPrimary"}


def _get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    """site.yml (the monitoring play included), a healthy group, an off-host backup and one
    scheduled compliance run: every metrics file the rules read is there."""
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    wait_for("a healthy Sentinel group", lambda: healthy(lab_paths, lab.hosts), timeout=60)
    ensure_backup()
    proc = run_playbook("playbooks/compliance_timer.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    lab_ssh(lab.hosts[-1].name, "systemctl start redisops-check.service")
    # db0 has a key to count; written to the primary Sentinel names: earlier modules' drills and
    # failovers leave it on any host, and a replica refuses the write (READONLY).
    client(lab_paths, master_state(lab_paths, lab.hosts[0])["ip"]).set("app:monitoring:probe", "1")
    return lab


@pytest.fixture(scope="module")
def prometheus(deployed, tmp_path_factory):
    """Prometheus on the control node (loopback only), scraping every second, with the kit's
    rules installed by playbooks/alert_rules.yml: every ``for`` shortened to 2 s for the test."""
    if PROMETHEUS is None:
        pytest.fail("prometheus is not installed: apt-get install prometheus (.ci/run does)")
    tmp = tmp_path_factory.mktemp("prometheus")
    defaults = yaml.safe_load((REPO / "roles" / "redis_exporter" / "defaults" / "main.yml").read_text())
    overrides = {name: "2s" for name in defaults if name.endswith("_for")}
    overrides |= {"redis_exporter_rules_dir": str(tmp / "rules"), "redis_exporter_prometheus_service": ""}
    (tmp / "vars.json").write_text(json.dumps(overrides))
    (tmp / "inventory.yml").write_text(
        yaml.safe_dump(
            {
                "prometheus": {
                    "hosts": {
                        "control": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": str(BIN / "python"),
                        }
                    }
                }
            }
        )
    )
    proc = run_playbook(
        "-i", str(tmp / "inventory.yml"), "playbooks/alert_rules.yml", "-e", f"@{tmp / 'vars.json'}"
    )
    assert proc.returncode == 0, playbook_failure(proc)
    rules = tmp / "rules" / "redis-ops-kit.rules.yml"
    assert "for: 2s" in rules.read_text()
    redisops(
        "monitoring", "targets", "-i", str(INVENTORY), "--dir", str(tmp / "sd"), "--rules", str(rules),
        "--interval", "1",
    )  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp / 'sd' / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("Prometheus to be ready", lambda: _ready(base), timeout=60)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ready(base: str) -> bool:
    try:
        return "Ready" in _get(f"{base}/-/ready", timeout=2)
    except OSError:
        return False


def api(base: str, path: str) -> dict:
    data = json.loads(_get(f"{base}/api/v1/{path}"))
    assert data["status"] == "success", data
    return data["data"]


def alerts(base: str) -> set[tuple[str, str]]:
    return {(a["labels"]["alertname"], a["state"]) for a in api(base, "alerts")["alerts"]}


def test_an_exporter_per_redis_and_sentinel_with_the_monitoring_user(deployed, lab_paths):
    for host in deployed.hosts:
        units = "redisops-exporter@redis-main redisops-exporter@sentinel prometheus-node-exporter"
        assert lab_ssh(host.name, f"systemctl is-active {units}").stdout.split() == ["active"] * 3
        redis_metrics = _get(f"http://{host.address}:9121/metrics")
        assert "\nredis_up 1\n" in redis_metrics and "redis_instance_info{" in redis_metrics
        sentinel_metrics = _get(f"http://{host.address}:9355/metrics")
        assert "\nredis_up 1\n" in sentinel_metrics and "\nredis_sentinel_masters 1\n" in sentinel_metrics
        assert "redis_sentinel_master_ok_sentinels{master_address=" in sentinel_metrics
        # Listening on the inventory address only, never on every address.
        listening = lab_ssh(host.name, "ss -Htln").stdout
        for port in (9121, 9355, 9100):
            assert f"{host.address}:{port} " in listening, listening
            assert f"0.0.0.0:{port} " not in listening and f"*:{port} " not in listening, listening
        # The password is in a root-only file, never on a command line.
        env = lab_ssh(host.name, "stat -c '%U %a' /etc/redisops-exporter/redis-main.env").stdout.strip()
        assert env == "root 600", env
        args = lab_ssh(host.name, "ps -eo args").stdout
        from .test_redis_server import secret

        assert secret(lab_paths, "redis_mon") not in args and secret(lab_paths, "sentinel_mon") not in args
        user = lab_ssh(host.name, "grep -h ^REDIS_USER= /etc/redisops-exporter/*.env").stdout.split()
        assert user == ["REDIS_USER=monitor", "REDIS_USER=monitor"], user
    # The user the exporters log in as can read, not write.
    monitor = client(lab_paths, deployed.hosts[0].address, user="monitor")
    assert monitor.info("server")["redis_version"]
    with pytest.raises(redis.exceptions.NoPermissionError):
        monitor.set("monitoring:probe", "x")
    # node_exporter on the backup host serves the backup metrics file.
    backup = deployed.extra[0]
    assert 'redisops_backup_last_run_success{group="redis-main"} 1' in _get(
        f"http://{backup.address}:9100/metrics"
    )


def test_the_exporter_ports_admit_only_the_scrape_network(deployed):
    """From another lab host (not a scrape network) the exporter ports are closed."""
    first, other = deployed.hosts[0], deployed.hosts[1]
    probe = (
        'python3 -c "import socket,sys; s=socket.socket(); s.settimeout(2); '
        f"sys.exit(s.connect_ex(('{first.address}', 9121)) == 0)\""
    )
    assert lab_ssh(other.name, probe, check=False).returncode == 0  # 0: could not connect
    rules = lab_ssh(first.name, "nft list table inet redis_ops_kit_exporter").stdout
    assert "9100" in rules and "9121" in rules and "9355" in rules, rules


def test_the_redis_exporters_reach_their_own_host_only(deployed):
    """redis_exporter's /scrape?target= would carry the monitoring credentials anywhere: the
    exporters' user may open connections to its own host only (nftables output rule)."""
    first, other = deployed.hosts[0], deployed.hosts[1]

    def connect(address: str, port: int) -> int:
        probe = f"exec 3<>/dev/tcp/{address}/{port}"
        return lab_ssh(
            first.name,
            f"setpriv --reuid=redisops-exporter --regid=redisops-exporter --clear-groups -- "
            f"timeout 5 bash -c '{probe}'",
            check=False,
        ).returncode

    assert connect(first.address, 6379) == 0
    assert connect("127.0.0.1", 6379) == 0
    assert connect(other.address, 6379) == 1  # refused at once by the host's own rule
    assert lab_ssh(first.name, f"timeout 5 bash -c 'exec 3<>/dev/tcp/{other.address}/6379'").returncode == 0
    # Through the exporter itself: another host as the target is never reached.
    scraped = _get(f"http://{first.address}:9121/scrape?target=rediss://{other.address}:6379", timeout=30)
    assert "redis_up 0" in scraped, scraped[-2000:]


def test_node_exporter_answers_only_loopback_and_the_scrape_network(deployed):
    """node_exporter's unit has IPAddressDeny=any and IPAddressAllow= loopback and the scrape network
    (the control node), enforced by the lab's systemd: it still answers the control node."""
    first = deployed.hosts[0]
    out = lab_ssh(
        first.name, "systemctl show -p IPAddressAllow -p IPAddressDeny prometheus-node-exporter"
    ).stdout
    props = dict(line.split("=", 1) for line in out.splitlines())
    assert set(props["IPAddressDeny"].split()) >= {"0.0.0.0/0", "::/0"}
    allowed = {n.removesuffix("/32") for n in props["IPAddressAllow"].split()}
    assert allowed == {"127.0.0.0/8", "::1/128", deployed.gateway}
    assert "node_textfile_scrape_error" in _get(f"http://{first.address}:9100/metrics", timeout=30)


def test_prometheus_scrapes_every_exporter_and_nothing_fires_on_a_healthy_lab(prometheus):
    def all_up():
        targets = api(prometheus, "targets")["activeTargets"]
        return len(targets) == 10 and all(t["health"] == "up" for t in targets) and targets

    targets = wait_for("every target up", all_up, timeout=60)
    jobs = sorted(t["labels"]["job"] for t in targets)
    assert jobs == ["node"] * 4 + ["redis"] * 3 + ["redis_sentinel"] * 3
    assert {t["labels"]["group"] for t in targets if t["labels"]["job"] == "redis"} == {"redis-main"}
    time.sleep(5)  # a few rule evaluations on the scraped series
    assert alerts(prometheus) == set(), api(prometheus, "alerts")
    ok = api(prometheus, "query?query=redis_sentinel_master_ok_sentinels")["result"]
    assert [r["value"][1] for r in ok] == ["3"] * 3, ok
    # Every metric the rules and the dashboard read (their unit tests hold them to this list) is
    # really served by the lab's exporters and metrics files.
    served = set(api(prometheus, "label/__name__/values"))
    assert sorted(KNOWN_METRICS - served) == [], sorted(served)
    # Every panel of the dashboard shows something on the lab (Grafana's variables filled in).
    dashboard = json.loads((REPO / "monitoring" / "grafana" / "redis-sentinel.json").read_text())
    panels = [p for top in dashboard["panels"] for p in (top, *top.get("panels", []))]
    empty = []
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "1m").replace('=~"$group"', '=~".*"')
            if not api(prometheus, "query?" + urllib.parse.urlencode({"query": expr}))["result"]:
                empty.append((panel["title"], expr))
    assert empty == [], empty


def test_a_killed_primary_raises_the_primary_and_replication_alerts_which_clear_after_healing(prometheus):
    seen: set[tuple[str, str]] = set()
    done = threading.Event()

    def watch():
        while not done.is_set():
            with contextlib.suppress(OSError):
                seen.update(alerts(prometheus))
            done.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        proc = redisops(
            "drill", "failover", "--scenario", "kill-primary", "--no-site-check", check=False, timeout=600
        )
        assert proc.returncode == 0, playbook_failure(proc)

        def cleared():
            return not {name for name, _ in alerts(prometheus)} & FAULT_ALERTS

        wait_for("the fault's alerts to clear", cleared, timeout=90)
    finally:
        done.set()
        watcher.join(timeout=5)
    raised = {name for name, state in seen if state in ("pending", "firing")}
    assert raised >= FAULT_ALERTS, seen
    assert ("RedisDown", "firing") in seen, seen


def test_an_exporter_left_over_from_a_removed_instance_is_stopped_and_removed(deployed):
    """An exporter whose instance is no longer in the inventory (here: one for a made-up instance
    'gone', started by hand on another port) is stopped, disabled and its file removed."""
    host = deployed.hosts[1].name
    conf = "/etc/redisops-exporter"
    make = (
        f"sed 's/:9121$/:9131/' {conf}/redis-main.env > {conf}/redis-gone.env && "
        f"chmod 600 {conf}/redis-gone.env && systemctl enable --now redisops-exporter@redis-gone"
    )
    lab_ssh(host, make)
    assert lab_ssh(host, "systemctl is-active redisops-exporter@redis-gone").stdout.strip() == "active"
    proc = run_playbook("playbooks/monitoring.yml", "--limit", host)
    assert proc.returncode == 0, playbook_failure(proc)
    look = (
        "systemctl is-active redisops-exporter@redis-gone; "
        f"systemctl is-enabled redisops-exporter@redis-gone; ls {conf}"
    )
    state = lab_ssh(host, look, check=False).stdout.split()
    assert state[:2] == ["inactive", "disabled"], state
    assert "redis-gone.env" not in state and "redis-main.env" in state, state
    assert lab_ssh(host, "systemctl is-active redisops-exporter@redis-main").stdout.strip() == "active"
