"""The on-host reader (redis_server's files/redisops-inspect) against real redis-servers on
127.0.0.1, plain and TLS with client certificates required (no lab): it reads CONFIG GET and
ACL LIST as the role's reader user, and masterauth, passwords and hashes never appear in what
it prints."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

from redisops.compliance.facts import ClusterFacts, RedisFacts
from redisops.compliance.gather import apply_inspection, parse_inspection

REPO = Path(__file__).resolve().parents[2]
READER = REPO / "roles" / "redis_server" / "files" / "redisops-inspect"
MASTERAUTH = "replication-secret-0123456789abcdef"
READER_PASSWORD = "made-on-the-host-0123456789abcdef"
ADMIN_PASSWORD = "admin-secret-0123456789abcdefghij"
APP_PASSWORD = "app-secret-0123456789abcdefghijkl"

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def _reader_rules() -> str:
    return " ".join(
        yaml.safe_load((REPO / "roles/redis_server/vars/main.yml").read_text())[
            "__redis_server_inspect_commands"
        ]
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pki(work: Path) -> dict[str, str]:
    """A CA, a server and a client certificate (openssl), as the role's PKI makes them."""

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=work)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test CA")  # fmt: skip
    for name in ("server", "client"):
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2")  # fmt: skip
    return {n: str(work / n) for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def _start(work: Path, tls: bool):
    port = _free_port()
    digest = hashlib.sha256(READER_PASSWORD.encode()).hexdigest()
    listen = f"port {port}\n"
    if tls:
        files = _pki(work)
        listen = (
            f"port 0\ntls-port {port}\ntls-cert-file {files['server.crt']}\n"
            f"tls-key-file {files['server.key']}\ntls-ca-cert-file {files['ca.crt']}\ntls-auth-clients yes\n"
        )
    (work / "redis.conf").write_text(
        f'{listen}bind 127.0.0.1\ndir {work}\nsave ""\nappendonly no\nlogfile ""\n'
        f"masterauth {MASTERAUTH}\nrequirepass {ADMIN_PASSWORD}\n"
        "user default off resetchannels -@all\n"
        f"user admin on >{ADMIN_PASSWORD} ~* &* +@all\n"
        f"user app on >{APP_PASSWORD} ~app:* +@all -@dangerous\n"
        f"user inspector on #{digest} resetchannels {_reader_rules()}\n"
    )
    proc = subprocess.Popen(["redis-server", str(work / "redis.conf")], stdout=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    (work / "inspector.pass").write_text(READER_PASSWORD + "\n")
    (work / "inspector.pass").chmod(0o600)
    target = {"kind": "redis", "name": "main", "port": port, "tls": tls, "user": "inspector",
              "password_file": str(work / "inspector.pass")}  # fmt: skip
    if tls:
        target.update(ca=str(work / "ca.crt"), cert=str(work / "client.crt"), key=str(work / "client.key"))
    conf = work / "inspect.d"
    conf.mkdir()
    (conf / "redis-main.json").write_text(json.dumps(target))
    return proc, port, conf


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "tls"])
def host(request, tmp_path_factory):
    if request.param and not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    work = tmp_path_factory.mktemp("inspect")
    proc, port, conf = _start(work, request.param)
    if proc.poll() is not None:
        pytest.skip("this redis-server cannot start with TLS")
    yield port, conf
    proc.terminate()
    proc.wait(timeout=10)


def _run_reader(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(READER), str(conf)], capture_output=True, text=True, timeout=30
    )


def test_the_reader_reads_configuration_and_acl(host):
    port, conf = host
    out = _run_reader(conf)
    assert out.returncode == 0, out.stderr
    (target,) = json.loads(out.stdout)["targets"]
    assert target["error"] == "" and target["port"] == port
    assert target["config"]["masterauth"] == "(set)" and target["config"]["requirepass"] == "(set)"
    assert target["config"]["maxmemory-policy"] and target["config"]["bind"] == "127.0.0.1"
    # H-02 judges a host with THP always by each instance's disable-thp (Redis 6.2 and later).
    assert target["config"]["disable-thp"] == "yes"
    users = {line.split()[1]: line for line in target["acl"]}
    assert set(users) == {"default", "admin", "app", "inspector"}
    assert "#<hash>" in users["admin"] and "#<hash>" in users["inspector"]


def test_no_secret_leaves_the_host(host):
    _, conf = host
    text = _run_reader(conf).stdout
    for secret in (MASTERAUTH, READER_PASSWORD, ADMIN_PASSWORD, APP_PASSWORD):
        assert secret not in text
    for password in (ADMIN_PASSWORD, APP_PASSWORD, READER_PASSWORD):
        assert hashlib.sha256(password.encode()).hexdigest() not in text
    # What the gatherer makes of it: facts with the masked values, and no hash either.
    facts = ClusterFacts(redis=[RedisFacts(target="h:1", host="h", instance="main", address="a", port=1)])
    apply_inspection(facts, "host", {"h": parse_inspection(text)})
    assert facts.redis[0].config["masterauth"] == "(set)" and not facts.redis[0].unread
    assert MASTERAUTH not in json.dumps(facts.to_dict())


def test_the_readers_user_can_do_nothing_else(host):
    port, conf = host
    target = json.loads((conf / "redis-main.json").read_text())
    kwargs = {}
    if target["tls"]:
        kwargs = {"ssl": True, "ssl_ca_certs": target["ca"], "ssl_certfile": target["cert"],
                  "ssl_keyfile": target["key"], "ssl_check_hostname": False}  # fmt: skip
    reader = redis.Redis(port=port, username="inspector", password=READER_PASSWORD, **kwargs)
    assert reader.ping()
    for command in (
        ("CONFIG", "SET", "maxmemory", "1"),
        ("GET", "app:x"),
        ("ACL", "SETUSER", "x"),
        ("KEYS", "*"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.execute_command(*command)


def test_a_wrong_password_is_that_targets_error_without_the_password(host, tmp_path):
    _, conf = host
    target = json.loads((conf / "redis-main.json").read_text())
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-password-at-all\n")
    (tmp_path / "redis-main.json").write_text(json.dumps({**target, "password_file": str(wrong)}))
    out = _run_reader(tmp_path)
    assert out.returncode == 2
    (result,) = json.loads(out.stdout)["targets"]
    assert "WRONGPASS" in result["error"] and "not-the-password" not in out.stdout
