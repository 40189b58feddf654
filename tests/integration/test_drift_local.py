"""The running server is the truth: redis_managed_file against a real redis-server on 127.0.0.1.

The role's own redis.conf and users.acl (rendered as the role renders them, with its defaults:
TLS only, client certificates required, the cipher policy) run a local server with a throw-away
CA; the module, run by Ansible itself on this machine, must find no drift in them, then find and
heal what CONFIG SET and ACL SETUSER change by hand, and report in check mode without healing.
Skips without redis-server or its service user.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis

from tests.unit.role_code import OPS, PASSWORDS
from tests.unit.test_redis_server_role import render

REPO = Path(__file__).resolve().parents[2]
SERVER = shutil.which("redis-server")
LOOPBACK = ipaddress.ip_address("127.0.0.1")
ADMIN = PASSWORDS["redis_server_admin_password"]
APP_PASSWORD = "application-secret-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


pytestmark = pytest.mark.skipif(
    not SERVER or not _user_exists("redis") or os.geteuid() != 0,
    reason="needs redis-server, its 'redis' user and root (the module sets file owners)",
)


def _issue_pki(tls_dir: Path, client_dir: Path) -> None:
    """A throw-away CA, a host certificate (server and client use) and a client certificate
    (clientAuth only), as the role's generated PKI has them."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(cn, key, ca_key, ca_name, extensions):
        builder = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )  # fmt: skip
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())

    def write(path: Path, key, cert) -> None:
        path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            path.with_suffix(".key").write_bytes(
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
            )  # fmt: skip

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue(
        "test CA", ca_key, ca_key, name("test CA"), [(x509.BasicConstraints(ca=True, path_length=None), True)]
    )
    host_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    host = issue("redis-1", host_key, ca_key, ca.subject, [
        (x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(LOOPBACK)]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])  # fmt: skip
    control = issue("redisops-control", client_key, ca_key, ca.subject, [
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])  # fmt: skip
    write(tls_dir / "ca", None, ca)
    write(tls_dir / "redis", host_key, host)
    write(client_dir / "redisops-control", client_key, control)


@pytest.fixture(scope="module")
def server():
    # pytest's own temporary directories are private to root; the server runs as its own user.
    work = Path(tempfile.mkdtemp(prefix="redisops-drift-"))
    os.chmod(work, 0o755)
    port = _free_port()
    overrides = {
        "redis_server_bind": ["127.0.0.1"],
        "redis_server_instances": [{"name": "main", "port": port}],
        "redis_server_conf_dir": str(work / "etc"),
        "redis_server_data_dir": str(work / "data"),
        "redis_server_log_dir": str(work / "log"),
        "redis_server_maxmemory": "64mb",
        "redis_server_acl_users": [{"name": "app", "password": APP_PASSWORD, "keys": ["app:*"]}],
        "redis_server_tls_dir": str(work / "tls"),
    }
    conf = render("etc/redis/redis.conf.j2", inventory_hostname="redis-1", **overrides)
    acl = render("etc/redis/users.acl.j2", inventory_hostname="redis-1", **overrides)
    for sub in ("etc/main", "data/main", "log", "tls"):
        (work / sub).mkdir(parents=True)
        shutil.chown(work / sub, "redis", "redis")
    (work / "clients").mkdir(mode=0o700)
    _issue_pki(work / "tls", work / "clients")
    for f in (work / "tls").iterdir():
        shutil.chown(f, "redis", "redis")
        f.chmod(0o600 if f.suffix == ".key" else 0o644)
    tls = {"cacert": str(work / "tls/ca.crt"), "cert": str(work / "clients/redisops-control.crt"),
           "key": str(work / "clients/redisops-control.key")}  # fmt: skip
    conf_file, acl_file = work / "etc/main/redis.conf", work / "etc/main/users.acl"
    conf_file.write_text(conf.replace("supervised systemd", "supervised no"))
    acl_file.write_text(acl)
    for f in (conf_file, acl_file):
        shutil.chown(f, "redis", "redis")
        f.chmod(0o640)
    proc = subprocess.Popen(
        ["setpriv", "--reuid=redis", "--regid=redis", "--init-groups", SERVER, str(conf_file)]
    )
    client = redis.Redis(
        port=port, username="admin", password=ADMIN, decode_responses=True, ssl=True,
        ssl_ca_certs=tls["cacert"], ssl_certfile=tls["cert"], ssl_keyfile=tls["key"],
    )  # fmt: skip
    for _ in range(100):
        assert proc.poll() is None, f"redis-server exited {proc.returncode}"
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield {"port": port, "conf": conf_file, "acl": acl_file, "client": client, "overrides": overrides,
               "tls": tls}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def module(server, kind: str, check: bool = False, with_acl: bool = False) -> dict:
    """One run of redis_managed_file on this machine, through Ansible; its JSON result.
    ``with_acl``: redis.conf with the ACL file in the same run, as the role runs it."""
    path = server["conf"] if kind == "config" else server["acl"]
    # The file as the role wants it is what is on disk: the tests change only the server.
    content = path.read_text()
    args = {
        "path": str(path),
        "kind": kind,
        "content": content,
        "owner": "redis",
        "group": "redis",
        "mode": "0640",
        "connection": {
            "host": "127.0.0.1",
            "port": server["port"],
            "user": "admin",
            "password": ADMIN,
            "tls": True,
            **server["tls"],
        },
        **({"listen": {"bind": ["127.0.0.1"], "ports": [server["port"]]}} if kind == "config" else {}),
        **({"acl": {"path": str(server["acl"]), "content": server["acl"].read_text()}} if with_acl else {}),
    }
    env = {
        **os.environ,
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    }
    argv = [
        str(Path(sys.executable).parent / "ansible"),
        "localhost",
        "-c",
        "local",
        "-m",
        "redisops.kit.redis_managed_file",
        "-a",
        json.dumps(args),
    ]
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    out = json.loads(proc.stdout)
    result = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert not result.get("failed"), result.get("msg")
    return result


def test_the_roles_own_config_shows_no_drift_on_a_real_server(server):
    conf = server["conf"].read_text()
    wanted = OPS.wanted_live(conf)
    live = server["client"].config_get("*")
    assert OPS.config_drift(wanted, live) == []
    assert "maxmemory" in wanted and wanted["maxmemory"] == str(64 * 1024**2)
    result = module(server, "config")
    assert result["changed"] is False and result["drift"] == []
    assert module(server, "acl")["changed"] is False


def test_one_run_heals_users_and_directives_changed_by_hand(server):
    client = server["client"]
    client.execute_command("ACL", "SETUSER", "intruder", "on", ">intruder-password-123", "+@all")
    client.config_set("maxmemory-policy", "allkeys-random")
    checked = module(server, "config", check=True, with_acl=True)
    assert {d["directive"] for d in checked["acl"]["drift"]} == {"user intruder"}
    assert {d["directive"] for d in checked["drift"]} == {"maxmemory-policy"}
    # Both differences shown, masked, in one result (a diff per file).
    assert len(checked["diff"]) == 2 and "intruder-password-123" not in json.dumps(checked)
    assert "intruder" in client.acl_users()

    healed = module(server, "config", with_acl=True)
    assert healed["changed"] is True and healed["acl"]["changed"] is True
    assert "intruder" not in client.acl_users()
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    again = module(server, "config", with_acl=True)
    assert again["changed"] is False and again["acl"] == {"changed": False, "changed_keys": [], "drift": []}


def test_config_set_by_hand_is_reported_in_check_mode_and_healed_by_a_run(server):
    client = server["client"]
    client.config_set("maxmemory-policy", "allkeys-random")
    client.config_set("maxmemory", "1gb")
    client.config_set("appendonly", "no")
    checked = module(server, "config", check=True)
    assert checked["changed"] is True
    assert {d["directive"] for d in checked["drift"]} == {"maxmemory", "maxmemory-policy", "appendonly"}
    policy = next(d for d in checked["drift"] if d["directive"] == "maxmemory-policy")
    assert (policy["live"], policy["wanted"]) == ("allkeys-random", "noeviction")
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-random"  # check mode

    healed = module(server, "config")
    assert healed["changed"] is True and healed["restart_required"] is False
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    assert client.config_get("maxmemory")["maxmemory"] == str(64 * 1024**2)
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert module(server, "config")["changed"] is False


def test_the_role_s_tls_defaults_run_and_refuse_a_client_without_certificate(server):
    live = server["client"].config_get("tls-*")
    assert live["tls-auth-clients"] == "yes" and live["tls-prefer-server-ciphers"] == "yes"
    assert live["tls-ciphers"].startswith("ECDHE-ECDSA-AES256-GCM-SHA384:")
    assert server["client"].config_get("port")["port"] == "0"
    anonymous = redis.Redis(
        port=server["port"], username="admin", password=ADMIN, ssl=True, ssl_ca_certs=server["tls"]["cacert"],
        socket_timeout=5,
    )  # fmt: skip
    with pytest.raises(redis.ConnectionError):
        anonymous.ping()


def test_a_cipher_policy_weakened_by_hand_is_reported_and_healed(server):
    client = server["client"]
    wanted = client.config_get("tls-ciphers")["tls-ciphers"]
    client.config_set("tls-ciphers", "DEFAULT")
    client.config_set("tls-prefer-server-ciphers", "no")
    checked = module(server, "config", check=True)
    assert {d["directive"] for d in checked["drift"]} == {"tls-ciphers", "tls-prefer-server-ciphers"}
    healed = module(server, "config")
    assert healed["changed"] is True and healed["restart_required"] is False
    assert client.config_get("tls-ciphers")["tls-ciphers"] == wanted
    assert client.config_get("tls-prefer-server-ciphers")["tls-prefer-server-ciphers"] == "yes"
    assert module(server, "config")["changed"] is False


def test_a_secret_set_by_hand_is_healed_and_never_shown(server):
    client = server["client"]
    client.config_set("masterauth", "someone-elses-password-123")
    result = module(server, "config")
    assert result["changed"] is True
    assert [d["directive"] for d in result["drift"]] == ["masterauth"]
    text = json.dumps(result)
    assert "someone-elses-password-123" not in text
    assert PASSWORDS["redis_server_replication_password"] not in text
    assert client.config_get("masterauth")["masterauth"] == PASSWORDS["redis_server_replication_password"]


def test_acl_setuser_by_hand_is_reported_and_healed(server):
    client = server["client"]
    client.execute_command("ACL", "SETUSER", "app", "+flushall", "~*")
    client.execute_command("ACL", "SETUSER", "intruder", "on", ">intruder-password-123", "+@all")
    checked = module(server, "acl", check=True)
    assert checked["changed"] is True
    assert {d["directive"] for d in checked["drift"]} == {"user app", "user intruder"}
    assert "intruder" in client.acl_users()  # check mode changed nothing
    assert not [u for u in client.acl_users() if u.startswith("redisops-probe-")]
    text = json.dumps(checked)
    assert APP_PASSWORD not in text and "intruder-password-123" not in text

    healed = module(server, "acl")
    assert healed["changed"] is True
    assert "intruder" not in client.acl_users()
    app = next(line for line in client.acl_list() if line.startswith("user app "))
    assert "+flushall" not in app.split() and "~*" not in app.split()
    assert module(server, "acl")["changed"] is False


def test_a_bind_changed_by_hand_is_reported_and_rebound_live(server):
    client = server["client"]
    client.config_set("bind", "127.0.0.1 ::1")
    checked = module(server, "config", check=True)
    assert {d["directive"] for d in checked["drift"]} == {"bind", "listening sockets"}
    sockets = next(d for d in checked["drift"] if d["directive"] == "listening sockets")
    assert f"[::1]:{server['port']}" in sockets["live"]
    assert sockets["wanted"] == f"127.0.0.1:{server['port']}"

    healed = module(server, "config")
    # CONFIG SET bind rebinds: no restart needed once the sockets are right again.
    assert healed["changed"] is True and healed["restart_required"] is False
    assert OPS.listening([server["port"]]) == {f"127.0.0.1:{server['port']}"}
    assert module(server, "config")["changed"] is False
