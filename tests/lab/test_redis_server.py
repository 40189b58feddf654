"""Role redis_server on the lab: deployed by site.yml, then checked from the outside.

Values are read back from the live servers over TLS with the lab's users; files,
units and sockets through testinfra over the committed inventory.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import pytest
import redis
import testinfra
from redis.backoff import NoBackoff
from redis.retry import Retry

from redisops.lab import plan as P

from .conftest import INVENTORY, SERVER, assert_unchanged, lab_ssh, playbook_failure, recap, run_playbook

ADMIN = "admin"
PORT = 6379


def secret(paths: P.LabPaths, name: str) -> str:
    return (paths.state_dir / "secrets" / name).read_text().strip()


@pytest.fixture(scope="module")
def deployed(lab, lab_paths):
    """site.yml run once against the lab (fresh or already deployed)."""
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    # No warning on the documented deploy (a warning nobody acts on teaches people to ignore them).
    assert "WARNING]" not in proc.stdout + proc.stderr and "Warning" not in proc.stderr, proc.stderr[-3000:]
    counts = recap(proc.stdout)
    assert sorted(counts) == sorted(h.name for h in lab.all_hosts)  # monitoring: the backup host too
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in counts.values())
    return lab


def client(
    paths: P.LabPaths, address: str, user: str = ADMIN, password: str | None = None, **kw
) -> redis.Redis:
    """A redis-py client over TLS with the control node's client certificate."""
    pki = paths.state_dir / "pki"
    if password is None and user is not None:
        password = secret(paths, {"admin": "redis_admin", "app": "redis_app", "monitor": "redis_mon"}[user])
    options = dict(
        host=address,
        port=PORT,
        username=user,
        password=password,
        ssl=True,
        ssl_ca_certs=str(pki / "ca.crt"),
        ssl_certfile=str(pki / "clients" / "redisops-control.crt"),
        ssl_keyfile=str(pki / "clients" / "redisops-control.key"),
        socket_timeout=5,
        socket_connect_timeout=5,
        # Fail at once: these tests assert refusals, which retries would only delay.
        retry=Retry(NoBackoff(), 0),
    )
    options.update(kw)
    return redis.Redis(**options)


def primary_of(deployed, lab_paths) -> P.HostPlan:
    for host in deployed.hosts:
        if client(lab_paths, host.address).info("replication")["role"] == "master":
            return host
    pytest.fail("no primary among the lab hosts")


def snapshot_managed_files(hosts) -> dict[str, str]:
    """Path, mtime, mode, owner and checksum of every file the roles manage, per host.

    Not sentinel.conf: Sentinel rewrites it itself (test_redis_sentinel checks it).
    """
    cmd = (
        f"find {SERVER.conf_dir} /etc/redis-ops-kit /etc/systemd/system -type f ! -name sentinel.conf "
        f"2>/dev/null | sort | xargs -r stat -c '%n %Y %a %U' ; find {SERVER.conf_dir} /etc/redis-ops-kit "
        "-type f ! -name sentinel.conf 2>/dev/null | sort | xargs -r md5sum"
    )
    return {h.name: lab_ssh(h.name, cmd).stdout for h in hosts}


# --------------------------------------------------------------------------- deploy


@pytest.mark.flavors
def test_second_run_changes_nothing(deployed):
    proc = run_playbook("playbooks/site.yml")
    assert_unchanged(proc, deployed.hosts)


def test_check_mode_changes_nothing_and_shows_no_secret(deployed, lab_paths):
    proc = run_playbook("playbooks/site.yml", "--check", "--diff")
    assert_unchanged(proc, deployed.hosts)
    # A password change in check mode: the diff shows what would change, masked, and changes nothing.
    new_password = "n3w-replication-secret-0123456789"
    before = snapshot_managed_files(deployed.hosts)
    extra = json.dumps({"redis_server_replication_password": new_password})
    proc = run_playbook("playbooks/site.yml", "--check", "--diff", "-v", "-e", extra)
    assert proc.returncode == 0, playbook_failure(proc)
    output = proc.stdout + proc.stderr
    assert all(recap(proc.stdout)[h.name]["changed"] > 0 for h in deployed.hosts)
    assert "+masterauth ********(changed)" in output and "+user replicator on ********(changed)" in output
    for leaked in (new_password, *(secret(lab_paths, n) for n in ("redis_admin", "redis_repl", "redis_mon"))):
        assert leaked not in output, "a secret reached the playbook output"
    assert snapshot_managed_files(deployed.hosts) == before


@pytest.mark.flavors
def test_config_values_read_back_from_the_live_servers(deployed, lab_paths):
    for host in deployed.hosts:
        cfg = client(lab_paths, host.address).config_get("*")
        assert cfg["port"] == "0", "TLS only: no plain-text port"
        assert cfg["tls-port"] == str(PORT)
        assert cfg["tls-protocols"] == "TLSv1.2 TLSv1.3"
        assert cfg["tls-replication"] == "yes"
        assert cfg["tls-auth-clients"] == "yes"
        assert cfg["maxmemory"] == str(256 * 1024 * 1024)
        assert cfg["maxmemory-policy"] == "noeviction"
        assert cfg["appendonly"] == "yes"
        assert cfg["appendfsync"] == "everysec"
        assert cfg["save"] == "3600 1 300 100 60 10000"
        assert cfg["protected-mode"] == "yes"
        assert cfg["bind"] == f"{host.address} 127.0.0.1"
        # The flavour's own directories (Debian's names: /etc/valkey, /var/lib/valkey).
        assert cfg["aclfile"] == SERVER.acl_file()
        assert cfg["dir"] == SERVER.data_dir()
        assert cfg["min-replicas-to-write"] == "1"
        assert cfg["repl-backlog-size"] == str(64 * 1024 * 1024)
        assert cfg["slowlog-log-slower-than"] == "10000"
        assert cfg["latency-monitor-threshold"] == "100"
        assert cfg["masteruser"] == "replicator"


def test_acl_has_no_passwordless_user_and_default_is_off(deployed, lab_paths):
    for host in deployed.hosts:
        rules = client(lab_paths, host.address).acl_list()
        assert not [r for r in rules if "nopass" in r.split()], rules
        default = next(r for r in rules if r.startswith("user default "))
        assert default.split()[2] == "off"
        names = {r.split()[1] for r in rules}
        assert {"default", "admin", "replicator", "sentinel", "monitor", "app"} <= names


def test_unauthenticated_and_plaintext_clients_are_refused(deployed, lab_paths):
    host = deployed.hosts[0]
    with pytest.raises(redis.AuthenticationError):
        client(lab_paths, host.address, user=None, password=None).ping()
    with pytest.raises(redis.AuthenticationError):
        client(lab_paths, host.address, password="wrong-password-123456").ping()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(
            host=host.address,
            port=PORT,
            socket_timeout=3,
            socket_connect_timeout=3,
            retry=Retry(NoBackoff(), 0),
        ).ping()
    # Without a client certificate the TLS handshake itself is refused (tls-auth-clients yes).
    pki = lab_paths.state_dir / "pki"
    with pytest.raises(redis.ConnectionError):
        redis.Redis(
            host=host.address,
            port=PORT,
            ssl=True,
            ssl_ca_certs=str(pki / "ca.crt"),
            username=ADMIN,
            password=secret(lab_paths, "redis_admin"),
            socket_timeout=3,
            retry=Retry(NoBackoff(), 0),
        ).ping()


def test_application_user_cannot_run_dangerous_commands(deployed, lab_paths):
    primary = primary_of(deployed, lab_paths)
    app = client(lab_paths, primary.address, user="app")
    assert app.set("app:greeting", "hello") is True
    assert app.get("app:greeting") == b"hello"
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.set("other:greeting", "hello")
    denied = [("FLUSHALL",), ("FLUSHDB",), ("KEYS", "*"), ("CONFIG", "GET", "maxmemory"), ("SHUTDOWN",),
              ("MODULE", "LIST"), ("ACL", "LIST"), ("REPLICAOF", "NO", "ONE")]  # fmt: skip
    for command in denied:
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    # DEBUG is off for everyone (enable-debug-command no), admins included.
    for user in ("app", ADMIN):
        with pytest.raises(redis.exceptions.ResponseError, match="DEBUG command not allowed"):
            client(lab_paths, primary.address, user=user).execute_command("DEBUG", "SLEEP", "0")


def test_monitoring_user_reads_but_cannot_write(deployed, lab_paths):
    primary = primary_of(deployed, lab_paths)
    mon = client(lab_paths, primary.address, user="monitor")
    assert mon.info("server")["redis_version"]
    assert mon.slowlog_len() >= 0
    with pytest.raises(redis.exceptions.NoPermissionError):
        mon.set("app:x", "1")
    # CONFIG GET would reveal masterauth, and with it the whole dataset through PSYNC.
    with pytest.raises(redis.exceptions.NoPermissionError):
        mon.config_get("masterauth")
    with pytest.raises(redis.exceptions.NoPermissionError):
        mon.acl_list()


CONSUMERS = ("redisops-control", "redisops-exporter", "redisops-backup", "redisops-compliance", "app-app")


def test_each_consumer_has_its_own_client_certificate_for_client_auth_only(deployed, lab_paths):
    """One certificate per consumer (and per application user), extended key usage clientAuth
    only, in a private directory; the shared redisops-client certificate is gone."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    pki = lab_paths.state_dir / "pki"
    clients = pki / "clients"
    assert clients.stat().st_mode & 0o777 == 0o700
    assert not (pki / "hosts" / "redisops-client.crt").exists()
    serials = set()
    for name in CONSUMERS:
        assert (clients / f"{name}.key").stat().st_mode & 0o777 == 0o600, name
        cert = x509.load_pem_x509_certificate((clients / f"{name}.crt").read_bytes())
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH], name
        serials.add(cert.serial_number)
    assert len(serials) == len(CONSUMERS)
    # Host certificates keep both uses: replicas and sentinels are clients of each other.
    host = x509.load_pem_x509_certificate((pki / "hosts" / f"{deployed.hosts[0].name}.crt").read_bytes())
    usage = host.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_every_consumer_certificate_is_accepted_and_a_client_without_one_is_refused(deployed, lab_paths):
    pki = lab_paths.state_dir / "pki"
    address = deployed.hosts[0].address
    for name in CONSUMERS:
        conn = client(
            lab_paths,
            address,
            ssl_certfile=str(pki / "clients" / f"{name}.crt"),
            ssl_keyfile=str(pki / "clients" / f"{name}.key"),
        )
        assert conn.ping(), name
    # tls-auth-clients yes (the default): no certificate, no connection, whatever the password.
    with pytest.raises(redis.exceptions.ConnectionError):
        client(lab_paths, address, ssl_certfile=None, ssl_keyfile=None).ping()


def test_the_cipher_policy_is_live_and_weak_ciphers_are_refused(deployed, lab_paths):
    import socket
    import ssl

    conn = client(lab_paths, deployed.hosts[0].address)
    config = conn.config_get("tls-*")
    assert config["tls-ciphers"].startswith("ECDHE-ECDSA-AES256-GCM-SHA384:")
    assert (
        config["tls-ciphersuites"]
        == "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
    )
    assert config["tls-prefer-server-ciphers"] == "yes"
    assert config["tls-auth-clients"] == "yes"
    pki = lab_paths.state_dir / "pki"
    # A TLSv1.2 client that offers only CBC ciphers without forward secrecy finds no common cipher.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(pki / "ca.crt"))
    ctx.load_cert_chain(
        str(pki / "clients" / "redisops-control.crt"), str(pki / "clients" / "redisops-control.key")
    )
    ctx.check_hostname = False
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA:AES256-SHA")
    with (
        pytest.raises(ssl.SSLError),
        socket.create_connection((deployed.hosts[0].address, PORT), timeout=5) as raw,
    ):
        ctx.wrap_socket(raw)


@pytest.mark.flavors
def test_replicas_follow_the_primary_and_get_its_data(deployed, lab_paths):
    import time

    primary = primary_of(deployed, lab_paths)
    replicas = [h for h in deployed.hosts if h is not primary]
    assert len(replicas) == 2
    token = f"replicated-{time.time_ns()}"
    client(lab_paths, primary.address).set("app:replication-check", token)
    for replica in replicas:
        conn = client(lab_paths, replica.address)
        info = conn.info("replication")
        assert info["role"] == "slave"
        assert info["master_host"] == primary.address
        assert info["master_link_status"] == "up"
        deadline = time.monotonic() + 10
        while conn.get("app:replication-check") != token.encode() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert conn.get("app:replication-check") == token.encode()


# ------------------------------------------------------------------------- firewall


@pytest.fixture
def outsider(deployed):
    """A machine on the lab network that is neither a cluster host nor a declared client."""
    # Named with the lab's prefixes, so 'lab down' removes it even if this test dies.
    ns, veth = f"{P.NETNS_PREFIX}outsider", f"{P.VETH_PREFIX}outsider"
    net = P.address_plan(deployed.subnet, len(deployed.hosts))
    address = str(ipaddress.ip_network(net.subnet)[200])
    cmds = [
        ["ip", "netns", "add", ns],
        ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns],
        ["ip", "link", "set", veth, "master", P.BRIDGE, "up"],
        ["ip", "netns", "exec", ns, "ip", "addr", "add", f"{address}/{net.prefixlen}", "dev", "eth0"],
        ["ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"],
        ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
    ]
    try:
        for cmd in cmds:
            subprocess.run(cmd, check=True, capture_output=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", veth], capture_output=True)


def _tcp_from_netns(ns: str, address: str, port: int) -> bool:
    probe = subprocess.run(
        ["ip", "netns", "exec", ns, "timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def test_firewall_admits_only_cluster_hosts_and_client_networks(deployed, outsider):
    target = deployed.hosts[0]
    assert not _tcp_from_netns(outsider, target.address, PORT), "an undeclared host reached Redis"
    assert not _tcp_from_netns(outsider, target.address, 26379), "an undeclared host reached Sentinel"
    # The firewall leaves SSH alone, and the cluster's own hosts still reach Redis.
    assert _tcp_from_netns(outsider, target.address, 22)
    peer = deployed.hosts[1]
    assert (
        lab_ssh(
            peer.name, f"timeout 3 bash -c 'exec 3<>/dev/tcp/{target.address}/{PORT}'", check=False
        ).returncode
        == 0
    )
    rules = lab_ssh(target.name, "nft list table inet redis_ops_kit").stdout
    # Redis only: Sentinel's port is in the redis_sentinel role's own table (test_redis_sentinel.py).
    assert "tcp dport 6379 " in rules and "drop" in rules and "26379" not in rules


# -------------------------------------------------------------------------- hosts


@pytest.fixture(scope="module")
def infra(deployed):
    hosts = testinfra.get_hosts(["ansible://redis"], ansible_inventory=str(INVENTORY))
    return {h.backend.get_hostname(): h for h in hosts}


def test_service_files_and_ports_on_every_host(deployed, infra):
    for plan in deployed.hosts:
        host = infra[plan.name]
        service = host.service(SERVER.server_unit())
        assert service.is_enabled and service.is_running
        assert host.check_output(f"ps -o user= -C {SERVER.server_proc}").split() == [SERVER.user]
        for path, owner, mode in (
            (SERVER.conf_file(), SERVER.user, 0o640),
            (SERVER.acl_file(), SERVER.user, 0o640),
            (f"{SERVER.tls_dir}/redis.key", SERVER.user, 0o600),
        ):
            f = host.file(path)
            assert (f.user, f.group, f.mode) == (owner, SERVER.group, mode), path
        assert not host.file(SERVER.acl_file()).contains("nopass")
        assert host.socket(f"tcp://{plan.address}:{PORT}").is_listening
        assert host.socket(f"tcp://127.0.0.1:{PORT}").is_listening
        assert not host.socket("tcp://0.0.0.0:6379").is_listening
        props = dict(
            line.split("=", 1)
            for line in host.check_output(
                f"systemctl show {SERVER.server_unit()} -p User -p NoNewPrivileges -p ProtectSystem "
                "-p ProtectHome -p PrivateTmp -p LimitNOFILE -p Restart -p RestartUSec"
            ).splitlines()
        )
        assert props == {
            "User": SERVER.user,
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "LimitNOFILE": "65535",
            "Restart": "on-failure",
            "RestartUSec": "15s",
        }
        assert host.service(SERVER.stock_server_unit).is_enabled is False
        # systemd read every line of the unit (a stray escape once left a line it ignored).
        unit = host.check_output(f"systemctl cat {SERVER.server_unit()}")
        assert "\\n" not in unit and unit.rstrip().endswith("WantedBy=multi-user.target")


# ------------------------------------------------------------- static vs dynamic


def test_changed_user_list_is_loaded_live_without_restart(deployed, lab_paths):
    run_ids = _run_ids(deployed, lab_paths)
    app = {
        "name": "app",
        "password": secret(lab_paths, "redis_app"),
        "keys": ["app:*"],
        "channels": ["app:*"],
    }
    reporting = {"name": "reporting", "password": "r" * 32, "keys": ["%R~app:*"], "commands": ["+@read"]}
    proc = run_playbook("playbooks/site.yml", "-e", json.dumps({"redis_server_acl_users": [app, reporting]}))
    assert proc.returncode == 0, playbook_failure(proc)
    assert "r" * 32 not in proc.stdout + proc.stderr
    primary = primary_of(deployed, lab_paths)
    client(lab_paths, primary.address).set("app:report", "42")
    reader = client(lab_paths, primary.address, user="reporting", password="r" * 32)
    assert reader.get("app:report") == b"42"
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.set("app:report", "changed")
    assert _run_ids(deployed, lab_paths) == run_ids, "a changed user list restarted Redis"
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    for host in deployed.hosts:
        assert "reporting" not in {r.split()[1] for r in client(lab_paths, host.address).acl_list()}
    assert _run_ids(deployed, lab_paths) == run_ids


def test_config_rewrite_by_redis_does_not_make_a_rerun_change(deployed, lab_paths):
    """Sentinel and operators run CONFIG REWRITE; the role's file must survive it unchanged."""
    for host in deployed.hosts:
        assert client(lab_paths, host.address).config_rewrite()
    proc = run_playbook("playbooks/site.yml", "--check")
    assert_unchanged(proc, deployed.hosts)


def _run_ids(deployed, lab_paths) -> dict[str, str]:
    return {h.name: client(lab_paths, h.address).info("server")["run_id"] for h in deployed.hosts}


def test_runtime_setting_is_applied_live_without_restart(deployed, lab_paths):
    before = _run_ids(deployed, lab_paths)
    proc = run_playbook("playbooks/site.yml", "-e", "redis_server_slowlog_max_len=2048")
    assert proc.returncode == 0, playbook_failure(proc)
    for host in deployed.hosts:
        conn = client(lab_paths, host.address)
        assert conn.config_get("slowlog-max-len") == {"slowlog-max-len": "2048"}
        assert "slowlog-max-len 2048" in lab_ssh(host.name, f"cat {SERVER.conf_file()}").stdout
    assert _run_ids(deployed, lab_paths) == before, "a runtime setting restarted Redis"


def test_static_setting_restarts_only_when_needed(deployed, lab_paths):
    before = _run_ids(deployed, lab_paths)
    # Back to the default slowlog length (live) and a tcp-backlog change, which Redis cannot apply live.
    proc = run_playbook("playbooks/site.yml", "-e", '{"redis_server_tcp_backlog": 1024}')
    assert proc.returncode == 0, playbook_failure(proc)
    after = _run_ids(deployed, lab_paths)
    assert all(after[h] != before[h] for h in before), "tcp-backlog changed without a restart"
    for host in deployed.hosts:
        assert client(lab_paths, host.address).config_get("tcp-backlog") == {"tcp-backlog": "1024"}
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    proc = run_playbook("playbooks/site.yml")
    assert_unchanged(proc, deployed.hosts)


def _served_der(lab_paths, address: str) -> bytes:
    """The certificate the live server presents (DER)."""
    import socket
    import ssl

    pki = lab_paths.state_dir / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(
        str(pki / "clients" / "redisops-control.crt"), str(pki / "clients" / "redisops-control.key")
    )
    ctx.check_hostname = False
    with socket.create_connection((address, PORT), timeout=5) as sock, ctx.wrap_socket(sock) as tls:
        return tls.getpeercert(binary_form=True)


def _served_certificate(lab_paths, address: str) -> str:
    """Fingerprint of the certificate the live server presents."""
    import hashlib

    return hashlib.sha256(_served_der(lab_paths, address)).hexdigest()


def _served_days_left(lab_paths, address: str) -> int:
    import datetime

    from cryptography import x509

    cert = x509.load_der_x509_certificate(_served_der(lab_paths, address))
    return (cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)).days


def test_certificates_are_renewed_before_expiry_and_loaded_live(deployed, lab_paths):
    before = {h.name: _served_certificate(lab_paths, h.address) for h in deployed.hosts}
    run_ids = _run_ids(deployed, lab_paths)
    # A renewal window longer than the certificates have left makes all of them due. It must stay
    # below the validity (refused otherwise), and the lab's PKI outlives its hosts: an earlier run
    # may have left longer-lived certificates, so the window follows what is served now.
    left = max(_served_days_left(lab_paths, h.address) for h in deployed.hosts)
    renew = left + 1
    extra = {"redis_server_tls_renew_days": renew, "redis_server_tls_cert_days": max(365, renew + 1)}
    proc = run_playbook("playbooks/site.yml", "-e", json.dumps(extra))
    assert proc.returncode == 0, playbook_failure(proc)
    after = {h.name: _served_certificate(lab_paths, h.address) for h in deployed.hosts}
    assert all(after[h] != before[h] for h in before), "a due certificate was not renewed and served"
    assert _run_ids(deployed, lab_paths) == run_ids, "renewal restarted Redis instead of reloading"
    for host in deployed.hosts:
        info = client(lab_paths, host.address).info("replication")
        assert info["role"] == "master" or info["master_link_status"] == "up"
    # Not due: a normal run leaves the certificates alone.
    proc = run_playbook("playbooks/site.yml")
    assert_unchanged(proc, deployed.hosts)
    assert {h.name: _served_certificate(lab_paths, h.address) for h in deployed.hosts} == after


def test_a_second_instance_per_host_then_its_removal(deployed, lab_paths):
    """A cache instance beside the main one (profile cache): own port, paths, unit, the profile's
    settings read back from the live server; then state: absent."""
    main = {"name": "main", "port": PORT}
    cache = {"name": "cache", "port": 6380, "maxmemory": "64mb", "profile": "cache"}
    with_cache = json.dumps({"redis_server_instances": [main, cache]})
    proc = run_playbook("playbooks/site.yml", "-e", with_cache)
    assert proc.returncode == 0, playbook_failure(proc)
    for host in deployed.hosts:
        cfg = client(lab_paths, host.address, port=6380).config_get("*")
        assert (cfg["maxmemory"], cfg["maxmemory-policy"]) == (str(64 * 1024**2), "allkeys-lru")
        assert (cfg["appendonly"], cfg["save"], cfg["dir"]) == ("no", "", SERVER.data_dir("cache"))
        assert (cfg["lazyfree-lazy-eviction"], cfg["min-replicas-to-write"]) == ("yes", "0")
        main_cfg = client(lab_paths, host.address).config_get("*")
        assert (main_cfg["maxmemory-policy"], main_cfg["appendonly"], main_cfg["lazyfree-lazy-eviction"]) == (
            "noeviction", "yes", "no",
        )  # fmt: skip
        assert client(lab_paths, host.address).config_get("maxmemory")["maxmemory"] == str(256 * 1024**2)
        unit = lab_ssh(
            host.name, f"systemctl show {SERVER.server_unit('cache')} -p Restart -p ActiveState"
        ).stdout
        # No persistence: an automatic restart would bring back an empty primary.
        assert unit.split() == ["Restart=no", "ActiveState=active"]
        assert "6380" in lab_ssh(host.name, "nft list table inet redis_ops_kit").stdout
    roles = {
        h.name: client(lab_paths, h.address, port=6380).info("replication")["role"] for h in deployed.hosts
    }
    assert sorted(roles.values()) == ["master", "slave", "slave"]
    proc = run_playbook("playbooks/site.yml", "-e", with_cache)
    assert_unchanged(proc, deployed.hosts)

    removed = json.dumps({"redis_server_instances": [main, {**cache, "state": "absent"}]})
    proc = run_playbook("playbooks/site.yml", "-e", removed)
    assert proc.returncode == 0, playbook_failure(proc)
    for host in deployed.hosts:
        state = lab_ssh(
            host.name,
            f"systemctl is-active {SERVER.server_unit('cache')}; "
            f"test -e {SERVER.conf_dir}/cache && echo conf || echo no-conf; "
            f"test -d {SERVER.data_dir('cache')} && echo data-kept",
            check=False,
        ).stdout.split()
        assert state == ["inactive", "no-conf", "data-kept"]
        assert "6380" not in lab_ssh(host.name, "nft list table inet redis_ops_kit").stdout
    proc = run_playbook("playbooks/site.yml")
    assert_unchanged(proc, deployed.hosts)


# ---------------------------------------------------------------------- bad input

BAD_INPUTS = [
    ({"redis_server_maxmemory_policy": "allkeys-lru-ish"}, "redis_server_maxmemory_policy"),
    ({"redis_server_admin_password": ""}, "redis_server_admin_password"),
    ({"redis_server_replication_password": "short"}, "redis_server_replication_password"),
    ({"redis_server_instances": [{"name": "a", "port": 6379}, {"name": "b", "port": 6379}]}, "port 6379"),
    ({"redis_server_acl_users": [{"name": "app", "keys": ["app:*"]}]}, "redis_server_acl_users[0]"),
    ({"redis_server_bind": ["0.0.0.0"]}, "redis_server_bind"),
    ({"redis_server_rename_commands": {"CONFIG": ""}}, "redis_server_rename_commands"),
    ({"redis_server_client_networks": ["office-lan"]}, "redis_server_client_networks"),
    ({"redis_server_save": [{"seconds": 60}]}, "redis_server_save[0]"),
    ({"redis_server_tls_pki_dir": ""}, "no certificate source"),
    ({"redis_server_maxmemory": "95%", "redis_server_maxmemory_allow_no_fork_headroom": False}, "fork"),
    ({"redis_server_maxmemory": "plenty"}, "redis_server_maxmemory"),
    ({"redis_server_instances": [{"name": "Main!", "port": 6379}]}, "redis_server_instances[0].name"),
    ({"redis_server_tls_mode": "sometimes"}, "redis_server_tls_mode"),
]


@pytest.fixture(scope="module")
def baseline(deployed):
    return snapshot_managed_files(deployed.hosts)


@pytest.mark.parametrize(("extra", "named"), BAD_INPUTS, ids=[n for _, n in BAD_INPUTS])
def test_bad_input_fails_before_any_change(deployed, baseline, extra, named, tmp_path):
    extra_file = Path(tmp_path) / "extra.json"
    extra_file.write_text(json.dumps(extra))
    proc = run_playbook("playbooks/site.yml", "-e", f"@{extra_file}")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert named in output, output[-3000:]
    assert all(c["changed"] == 0 for c in recap(proc.stdout).values())
    assert snapshot_managed_files(deployed.hosts) == baseline
