"""site.yml by phase: --tags install, tls, config, service, firewall.

Each phase alone runs and changes nothing on a deployed lab; --tags firewall restores a deleted
nftables table and leaves a live config change alone, which --tags config then heals; and the
first play's validation runs under any tag (a bad input is refused before a host changes).
"""

from __future__ import annotations

import json
import re

import pytest

from .conftest import assert_unchanged, failures, lab_ssh, playbook_failure, recap, run_playbook
from .test_redis_server import client, deployed  # noqa: F401 (the fixture)

PHASES = ("install", "tls", "config", "service", "firewall")


def test_the_playbook_lists_the_phases():
    proc = run_playbook("--list-tags", "playbooks/site.yml")
    assert proc.returncode == 0, proc.stderr
    listed = set()
    for found in re.findall(r"TASK TAGS: \[([^\]]*)\]", proc.stdout):
        listed |= {t.strip() for t in found.split(",") if t.strip()}
    assert listed == {"always", *PHASES}, listed


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.usefixtures("deployed")
def test_each_phase_alone_changes_nothing_on_a_deployed_lab(phase, lab):
    assert_unchanged(run_playbook("playbooks/site.yml", "--tags", phase), lab.all_hosts)


@pytest.mark.usefixtures("deployed")
def test_firewall_heals_the_table_and_config_heals_the_server(lab, lab_paths):
    host = lab.hosts[0]
    with client(lab_paths, host.address) as r:
        wanted = r.config_get("maxmemory-policy")["maxmemory-policy"]
        r.config_set("maxmemory-policy", "allkeys-random" if wanted != "allkeys-random" else "noeviction")
    lab_ssh(host.name, "nft delete table inet redis_ops_kit")

    firewall = run_playbook("playbooks/site.yml", "--tags", "firewall")
    assert firewall.returncode == 0, playbook_failure(firewall)
    assert recap(firewall.stdout)[host.name]["changed"] > 0
    assert lab_ssh(host.name, "nft list table inet redis_ops_kit", check=False).returncode == 0
    with client(lab_paths, host.address) as r:  # not this phase's business
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] != wanted

    config = run_playbook("playbooks/site.yml", "--tags", "config")
    assert config.returncode == 0, playbook_failure(config)
    with client(lab_paths, host.address) as r:
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] == wanted
    assert_unchanged(run_playbook("playbooks/site.yml"), lab.all_hosts)


@pytest.mark.usefixtures("deployed")
def test_validation_runs_under_any_tag(lab, tmp_path):
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"redis_server_bind": ["0.0.0.0"]}))
    proc = run_playbook("playbooks/site.yml", "--tags", "firewall", "-e", f"@{extra}")
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "redis_server_bind_allow_wildcard" in "\n".join(failures(proc.stdout)), playbook_failure(proc)
    assert "PLAY [Deploy Redis servers]" not in proc.stdout
    assert all(c["changed"] == 0 for c in recap(proc.stdout).values())
