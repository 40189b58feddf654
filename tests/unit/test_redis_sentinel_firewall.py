"""The redis_sentinel role's own nftables table: which ports it guards, who it admits, and the
rule that keeps each Sentinel port in one table only (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from redisops.collection import plugins_ready

from .role_code import REPO, SENTINEL_RENDERED, SENTINEL_ROLE, SF, F, sentinel_baseline

TEMPLATES = SENTINEL_ROLE / "templates"
HOSTS = ["redis-1", "redis-2", "redis-3"]
HOSTVARS = {
    "redis-1": {"ansible_host": "10.0.0.11"},
    "redis-2": {"ansible_host": "10.0.0.12"},
    "sentinel-9": {"ansible_host": "10.0.0.19"},
    "backup-1": {"ansible_host": "2001:db8::20"},
}


def problems(server_firewall_ports=None, **overrides) -> list[str]:
    return SF.redis_sentinel_problems(
        sentinel_baseline(**{**SENTINEL_RENDERED, **overrides}),
        HOSTS,
        "10.0.0.1",
        [6379],
        None,
        server_firewall_ports,
    )


@pytest.mark.parametrize(("mode", "ports"), [("off", [26379]), ("only", [26379]), ("both", [26379, 36379])])
def test_the_table_guards_the_ports_sentinel_listens_on(mode, ports):
    role_vars = {
        "redis_sentinel_port": 26379,
        "redis_sentinel_tls_port": 36379,
        "redis_sentinel_tls_mode": mode,
    }
    assert SF.redis_sentinel_firewall_ports(role_vars) == ports


def test_client_networks_are_parsed_and_every_address_needs_its_own_opt_in():
    assert problems(redis_sentinel_client_networks=["10.1.0.0/16", "2001:db8::/32", "192.0.2.7"]) == []
    assert any(
        "redis_sentinel_client_networks" in p for p in problems(redis_sentinel_client_networks=["office"])
    )
    assert any(
        "redis_sentinel_client_networks_allow_any" in p
        for p in problems(redis_sentinel_client_networks=["::/0"])
    )
    assert (
        problems(redis_sentinel_client_networks=["0.0.0.0/0"], redis_sentinel_client_networks_allow_any=True)
        == []
    )


@pytest.mark.parametrize("name", ["redis_sentinel_firewall", "redis_sentinel_client_networks_allow_any"])
def test_the_firewall_switches_are_real_booleans(name):
    assert any(p.startswith(f"{name} is") for p in problems(**{name: "no"}))


def test_a_sentinel_port_stays_out_of_the_server_table_while_the_role_guards_it():
    """Two tables on one port admit only what both admit: with its own table on, Sentinel's port
    in redis_server_firewall_extra_ports (the old way) is refused, with the fix."""
    said = problems([26379])
    assert len(said) == 1 and "remove it from redis_server_firewall_extra_ports" in said[0]
    assert problems([26379], redis_sentinel_firewall=False) == []
    # Another extra port is the server table's own business.
    assert problems([9999]) == []
    # With TLS beside plain, the TLS port too.
    both = {"redis_sentinel_tls_mode": "both", "redis_sentinel_tls_port": 36379}
    assert any("port 36379" in p for p in problems([36379], **both))


def test_the_defaults_inherit_the_servers_firewall_and_client_networks():
    defaults = yaml.safe_load((SENTINEL_ROLE / "defaults" / "main.yml").read_text())
    assert "redis_server_firewall" in defaults["redis_sentinel_firewall"]
    assert "redis_server_client_networks" in defaults["redis_sentinel_client_networks"]
    assert "redis_server_client_networks_allow_any" in defaults["redis_sentinel_client_networks_allow_any"]


def test_the_lab_no_longer_routes_sentinel_through_the_server_table():
    lab = yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / "all" / "redis.yml").read_text())
    assert "redis_server_firewall_extra_ports" not in lab


def render(template: str, **extra) -> str:
    plugins_ready()
    role_vars = yaml.safe_load((SENTINEL_ROLE / "vars" / "main.yml").read_text())
    variables = {
        "ansible_managed": "Ansible managed",
        "__redis_sentinel_fw_table": role_vars["__redis_sentinel_fw_table"],
        "__redis_sentinel_fw_file": role_vars["__redis_sentinel_fw_file"],
        **extra,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    source = trust_as_template((TEMPLATES / template).read_text())
    return templar.template(source, escape_backslashes=False, overrides={"trim_blocks": True})


def test_the_rules_admit_the_cluster_and_client_networks_on_sentinel_ports_only():
    sources = F.redis_firewall_sources(HOSTVARS, list(HOSTVARS), ["192.0.2.0/24"])
    text = render(
        "etc/redis-ops-kit/sentinel-firewall.nft.j2",
        __redis_sentinel_fw=sources,
        __redis_sentinel_fw_ports=[26379],
    )
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "#!/usr/sbin/nft -f" and lines[2] == "# Ansible managed"
    # Its own table, replaced atomically: never redis_server's (inet redis_ops_kit).
    assert (
        "table inet redis_ops_kit_sentinel" in lines and "delete table inet redis_ops_kit_sentinel" in lines
    )
    assert "table inet redis_ops_kit" not in lines
    assert "elements = { 10.0.0.11, 10.0.0.12, 10.0.0.19, 192.0.2.0/24 }" in lines
    assert "elements = { 2001:db8::20 }" in lines
    assert 'iif "lo" accept' in lines
    assert "tcp dport { 26379 } ip saddr @allowed_v4 accept" in lines
    assert "tcp dport { 26379 } ip6 saddr @allowed_v6 accept" in lines
    assert lines[-3] == "tcp dport { 26379 } counter drop"


def test_an_empty_family_leaves_its_set_empty():
    sources = F.redis_firewall_sources(HOSTVARS, ["redis-1"], [])
    text = render(
        "etc/redis-ops-kit/sentinel-firewall.nft.j2",
        __redis_sentinel_fw=sources,
        __redis_sentinel_fw_ports=[26379, 36379],
    )
    assert text.count("elements =") == 1
    assert "tcp dport { 26379, 36379 } counter drop" in text


def test_the_unit_loads_the_table_at_boot_and_after_nftables_flushes():
    text = render("etc/systemd/system/redis-ops-kit-sentinel-firewall.service.j2")
    assert text.startswith("#\n# Ansible managed\n#\n")
    assert "ExecStart=/usr/sbin/nft -f /etc/redis-ops-kit/sentinel-firewall.nft" in text
    assert "ExecStop=/usr/sbin/nft delete table inet redis_ops_kit_sentinel" in text
    assert "PartOf=nftables.service" in text and "After=nftables.service" in text


def test_every_sentinel_host_runs_the_firewall_tasks_with_validation():
    tasks = yaml.safe_load((SENTINEL_ROLE / "tasks" / "main.yml").read_text())
    firewall = next(
        t for t in tasks if (t.get("ansible.builtin.include_tasks") or {}).get("file") == "firewall_load.yml"
    )
    assert firewall["tags"] == ["firewall"]
    assert firewall["when"] == ["redis_sentinel_firewall | bool", "__redis_sentinel_fw_load_due | bool"]
    role_vars = yaml.safe_load((SENTINEL_ROLE / "vars" / "main.yml").read_text())
    # Loaded again when the rules or the unit changed, the unit stopped or the table went missing.
    for reason in ("__redis_sentinel_fw_unit not in __redis_sentinel_running_units",
                   "__redis_sentinel_fw_file in __redis_sentinel_files.changed_files",
                   "__redis_sentinel_fw_unit_changed", "'table: loaded' not in"):  # fmt: skip
        assert reason in role_vars["__redis_sentinel_fw_load_due"]
    rules = next(
        f for f in role_vars["__redis_sentinel_fw_file_list"] if f["path"] == "{{ __redis_sentinel_fw_file }}"
    )
    assert rules["validate"] == "nft -c -f %s"
    # The sentinel's own files task writes them (when the firewall is on), and firewall.yml alone.
    sentinel = yaml.safe_load((SENTINEL_ROLE / "tasks" / "sentinel.yml").read_text())
    written = next(t for t in sentinel if "redisops.kit.redis_files" in t)
    assert (
        "__redis_sentinel_fw_file_list if redis_sentinel_firewall | bool"
        in written["redisops.kit.redis_files"]["files"]
    )
    alone = yaml.safe_load((SENTINEL_ROLE / "tasks" / "firewall.yml").read_text())
    assert alone[0]["redisops.kit.redis_files"]["files"] == "{{ __redis_sentinel_fw_file_list }}"
    assert alone[-1]["when"] == "__redis_sentinel_fw_load_due | bool"
    for probe in (yaml.safe_load((SENTINEL_ROLE / "tasks" / "install.yml").read_text())[0], alone[1]):
        assert "nft list table inet {{ __redis_sentinel_fw_table }}" in probe["ansible.builtin.raw"]
    steps = yaml.safe_load((SENTINEL_ROLE / "tasks" / "firewall_load.yml").read_text())
    reload = steps[-1]
    assert reload["ansible.builtin.command"].startswith("nft -f ")
    condition = " ".join(reload["when"])
    assert "__redis_sentinel_fw_file in __redis_sentinel_files.changed_files" in condition
    assert "'table: loaded' not in" in condition


def test_the_role_installs_nftables_where_its_firewall_is_on():
    role_vars = yaml.safe_load((SENTINEL_ROLE / "vars" / "main.yml").read_text())
    assert "nftables" in role_vars["__redis_sentinel_all_packages"]
    assert Path(TEMPLATES / "etc/redis-ops-kit/sentinel-firewall.nft.j2").is_file()
