"""The host probe on this machine (no lab): it reads deny-scripts-reconfig from the config file a real
redis-sentinel runs with, never the file's passwords, and the server package's version as dpkg
knows it; SEC-15 and SEC-16 judge those readings."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from redisops.compliance.engine import run_checks
from redisops.compliance.facts import ClusterFacts, HostFacts
from redisops.compliance.model import FAIL
from redisops.compliance.settings import Thresholds

PROBE = Path(__file__).resolve().parents[2] / "checks" / "compliance" / "host_probe.py"
PEER_PASSWORD = "peer-secret-0123456789abcdefghijkl"

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _probe(want: dict) -> dict:
    out = subprocess.run(
        [sys.executable, str(PROBE), json.dumps(want)], capture_output=True, text=True, timeout=60, check=True
    )
    assert PEER_PASSWORD not in out.stdout
    return json.loads(out.stdout)


@pytest.fixture
def sentinel(tmp_path):
    """A real sentinel that allows script changes at runtime, with a password in its file."""
    port = _free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f'port {port}\nbind 127.0.0.1\ndir {tmp_path}\nlogfile ""\n'
        f"sentinel sentinel-pass {PEER_PASSWORD}\nsentinel deny-scripts-reconfig no\n"
        f"sentinel monitor probe-main 127.0.0.1 {_free_port()} 2\n"
    )
    proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=5)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        # Sentinel rewrites its file at start (its id, epochs): what the probe reads is Sentinel's own.
        client.execute_command("SENTINEL", "FLUSHCONFIG")
        yield conf
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_the_probe_reads_a_running_sentinels_deny_scripts_reconfig_and_sec15_fails(sentinel):
    data = _probe({"files": [], "units": [], "certs": [], "sentinel_confs": [str(sentinel)]})
    assert data["sentinel_conf"] == {str(sentinel): {"deny-scripts-reconfig": "no"}}
    host = HostFacts(
        target="local",
        address="127.0.0.1",
        sentinel_conf=data["sentinel_conf"],
        expected={"files": [{"path": str(sentinel), "writable_by_owner": True}]},
    )
    results = run_checks(ClusterFacts(hosts=[host]), Thresholds(), only=["SEC-15"]).results
    assert [r.status for r in results] == [FAIL], results
    assert "deny-scripts-reconfig no" in results[0].message


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="not a dpkg system")
def test_the_probe_reads_the_server_package_as_dpkg_knows_it():
    version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "redis-server"], capture_output=True, text=True
    ).stdout.strip()
    if not version:
        pytest.skip("redis-server is not installed as a Debian package here")
    data = _probe({"files": [], "units": [], "certs": [], "sentinel_confs": []})
    assert data["packages"]["redis-server"] == version
