"""Issue 20 on the lab: Sentinel's own firewall table (a sentinel-only host included), the
exporters over HTTPS with authentication (enabled for this module, then turned off again), and
the restore verification's sandbox on the backup host."""

from __future__ import annotations

import json
import shlex
import ssl
import urllib.error
import urllib.request
import warnings

import pytest

from redisops.backup.scratch import sandbox_command
from redisops.lab import plan as P

from .conftest import INVENTORY, deploy_site, lab_ssh, playbook_failure, run_playbook
from .test_redis_server import outsider  # noqa: F401 (a fixture)

SENTINEL_PORT = 26379
SENTINEL_TABLE = "inet redis_ops_kit_sentinel"


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    return deploy_site(lab, lab_paths)


def _connect_from_netns(ns: str, address: str, port: int) -> int:
    """bash's exit status: 0 connected, 1 refused (the packet reached the host), 124 timed out
    (dropped on the way: the firewall)."""
    import subprocess

    return subprocess.run(
        ["ip", "netns", "exec", ns, "timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"],
        capture_output=True,
        check=False,
    ).returncode


# ------------------------------------------------------------------ Sentinel's own firewall table


def _admitted_v4(rules: str) -> list:
    """The allowed_v4 set's elements as address ranges (nft merges neighbours into a-b ranges)."""
    import ipaddress
    import re

    block = rules.split("set allowed_v4", 1)[1].split("}", 1)[0] + "}"
    found = re.search(r"elements = \{([^}]*)\}", block)
    spans = []
    for element in found.group(1).split(",") if found else []:
        element = element.strip()
        if "-" in element:
            low, high = (ipaddress.ip_address(x.strip()) for x in element.split("-"))
        elif "/" in element:
            net = ipaddress.ip_network(element, strict=False)
            low, high = net[0], net[-1]
        else:
            low = high = ipaddress.ip_address(element)
        spans.append(_Span(low, high))
    return spans


class _Span:
    def __init__(self, low, high):
        self.low, self.high = low, high

    def __contains__(self, address: str) -> bool:
        import ipaddress

        return self.low <= ipaddress.ip_address(address) <= self.high

    def __repr__(self) -> str:
        return f"{self.low}-{self.high}"


def test_every_sentinel_has_its_own_table_and_the_server_table_no_longer_holds_its_port(deployed):
    for host in deployed.hosts:
        rules = lab_ssh(host.name, f"nft list table {SENTINEL_TABLE}").stdout
        assert f"tcp dport {SENTINEL_PORT} ip saddr @allowed_v4 accept" in rules, rules
        assert f"tcp dport {SENTINEL_PORT} counter" in rules and "drop" in rules, rules
        assert str(SENTINEL_PORT) not in lab_ssh(host.name, "nft list table inet redis_ops_kit").stdout
        state = lab_ssh(host.name, "systemctl is-enabled redis-ops-kit-sentinel-firewall.service").stdout
        assert state.strip() == "enabled"


@pytest.fixture
def sentinel_only_host(deployed, tmp_path):
    """The backup host (no Redis server) put in group 'sentinel' by an extra inventory, and given
    the role's firewall alone: a sentinel-only host as the role firewalls it. Removed afterwards."""
    extra = tmp_path / "sentinel-only.yml"
    extra.write_text(json.dumps({"sentinel": {"hosts": {P.BACKUP_HOST: {}}}}))
    play = tmp_path / "sentinel-firewall.yml"
    play.write_text(
        json.dumps(
            [{"name": "Sentinel's firewall alone", "hosts": P.BACKUP_HOST, "gather_facts": False,
              "tasks": [{"name": "Firewall", "ansible.builtin.include_role": {
                  "name": "redisops.kit.redis_sentinel", "tasks_from": "firewall.yml"}}]}]
        )
    )  # fmt: skip
    proc = run_playbook("-i", str(INVENTORY), "-i", str(extra), str(play))
    assert proc.returncode == 0, playbook_failure(proc)
    # A second run changes nothing: the rules are reloaded only when they change.
    again = run_playbook("-i", str(INVENTORY), "-i", str(extra), str(play))
    assert again.returncode == 0 and "changed=0" in again.stdout, playbook_failure(again)
    yield next(h for h in deployed.all_hosts if h.name == P.BACKUP_HOST)
    lab_ssh(
        P.BACKUP_HOST,
        "systemctl disable --now redis-ops-kit-sentinel-firewall.service; "
        "rm -f /etc/systemd/system/redis-ops-kit-sentinel-firewall.service "
        "/etc/redis-ops-kit/sentinel-firewall.nft; "
        f"systemctl daemon-reload; nft delete table {SENTINEL_TABLE} 2>/dev/null; true",
        check=False,
    )


def test_a_sentinel_only_host_admits_sentinel_only_from_the_allowed_sources(
    deployed, sentinel_only_host, outsider  # noqa: F811
):  # fmt: skip
    target = sentinel_only_host
    rules = lab_ssh(target.name, f"nft list table {SENTINEL_TABLE}").stdout
    # The cluster's hosts and the lab's client network (the control node), and no one else.
    allowed = {h.address for h in deployed.all_hosts} | {deployed.gateway}
    admitted = _admitted_v4(rules)
    for address in allowed:
        assert any(address in span for span in admitted), (address, rules)
    assert f"tcp dport {SENTINEL_PORT}" in rules and "drop" in rules
    # Nothing listens there: an admitted source is refused (1), an outsider's packets are dropped (124).
    assert _connect_from_netns(outsider, target.address, SENTINEL_PORT) == 124
    peer = deployed.hosts[0]
    probe = f"timeout 3 bash -c 'exec 3<>/dev/tcp/{target.address}/{SENTINEL_PORT}'"
    assert lab_ssh(peer.name, probe, check=False).returncode == 1
    # SSH is untouched.
    assert _connect_from_netns(outsider, target.address, 22) == 0


# --------------------------------------------------------------- exporters over HTTPS with auth

WEB_USER = "prometheus"
WEB_PASSWORD = "lab-scrape-password-0123456789"


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # the control node's Python 3.11; libxcrypt makes $2b$

    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**12))


@pytest.fixture(scope="module")
def web_tls(deployed, tmp_path_factory):
    """monitoring.yml with HTTPS and basic auth on the Redis hosts (the backup host has no host
    certificate of the kit's PKI), and again without once the module is done, so the other
    modules keep scraping plain HTTP."""
    settings = tmp_path_factory.mktemp("web") / "web.json"
    settings.write_text(
        json.dumps(
            {"redis_exporter_web_tls": True, "redis_exporter_web_auth_user": WEB_USER,
             "redis_exporter_web_auth_password_hash": _bcrypt(WEB_PASSWORD)}
        )
    )  # fmt: skip
    proc = run_playbook("playbooks/monitoring.yml", "--limit", "redis", "-e", f"@{settings}")
    assert proc.returncode == 0, playbook_failure(proc)
    yield deployed
    proc = run_playbook("playbooks/monitoring.yml", "--limit", "redis")
    assert proc.returncode == 0, playbook_failure(proc)


def _https(url: str, context: ssl.SSLContext, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_node_exporter_wants_basic_auth_over_https_with_the_kits_ca(web_tls, lab_paths):
    pki = lab_paths.state_dir / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    for host in web_tls.hosts:
        url = f"https://{host.address}:9100/metrics"
        assert _https(url, context) == 401
        assert _https(url, context, (WEB_USER, "wrong-password-0123456789")) == 401
        assert _https(url, context, (WEB_USER, WEB_PASSWORD)) == 200
        with pytest.raises(urllib.error.URLError):  # plain HTTP is gone
            urllib.request.urlopen(f"http://{host.address}:9100/metrics", timeout=5)


def test_redis_exporter_serves_https_and_wants_the_kits_client_certificate(web_tls, lab_paths):
    """Bookworm's redis_exporter (1.45) has no basic auth: a client certificate stands in for it."""
    pki = lab_paths.state_dir / "pki"
    anonymous = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    client = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    client.load_cert_chain(
        str(pki / "clients" / "redisops-control.crt"), str(pki / "clients" / "redisops-control.key")
    )
    for host in web_tls.hosts:
        for port in (9121, 9355):
            url = f"https://{host.address}:{port}/metrics"
            with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionResetError)):
                _https(url, anonymous)
            assert _https(url, client) == 200


# ------------------------------------------------------------- restore verification's sandbox

PROBE = (
    "import json, os, socket\n"
    "def can_write(path):\n"
    "    try:\n"
    "        open(path, 'w').close(); os.unlink(path); return True\n"
    "    except OSError:\n"
    "        return False\n"
    "s = socket.socket(); s.settimeout(2)\n"
    "print(json.dumps({'interfaces': [n for _, n in socket.if_nameindex()], 'uid': os.getuid(),\n"
    "                  'scratch': can_write(os.environ['SCRATCH'] + '/probe'),\n"
    "                  'state': can_write(os.environ['STATE'] + '/probe'),\n"
    "                  'tmp_private': not os.path.exists('/tmp/redisops-host-marker'),\n"
    "                  'reach': s.connect_ex((os.environ['PEER'], 22))}))\n"
)


def test_the_restore_verification_runs_without_network_and_writes_only_its_scratch(deployed):
    run = run_playbook("playbooks/backup_timer.yml", "-e", "redis_backup_timer_enabled=false")
    assert run.returncode == 0, playbook_failure(run)
    state, user = "/var/lib/redisops-backup", "redisops-backup"
    scratch = f"{state}/scratch"
    env = {"SCRATCH": scratch, "STATE": state, "PEER": deployed.hosts[0].address}
    line = sandbox_command(user, scratch, ["/usr/bin/python3", "-c", PROBE], env)
    lab_ssh(P.BACKUP_HOST, "touch /tmp/redisops-host-marker")
    try:
        out = lab_ssh(P.BACKUP_HOST, line).stdout
    finally:
        lab_ssh(P.BACKUP_HOST, "rm -f /tmp/redisops-host-marker", check=False)
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["interfaces"] == ["lo"]  # PrivateNetwork: loopback only
    assert seen["reach"] != 0  # no route to the Redis hosts
    assert seen["scratch"] is True and seen["state"] is False
    assert seen["tmp_private"] is True
    uid = lab_ssh(P.BACKUP_HOST, f"id -u {shlex.quote(user)}").stdout.strip()
    assert str(seen["uid"]) == uid
