"""Targets read from an Ansible inventory by Ansible itself: group_vars, role defaults, Vault.

Real Ansible (no lab): a static inventory in a temporary directory, a vault-encrypted password.
"""

from __future__ import annotations

import textwrap

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from redisops.inventory import InventoryError, from_inventory

VAULT_PASSWORD = "vault-pass-for-the-test"
ADMIN_PASSWORD = "A" * 32


def _vaulted(value: str) -> str:
    lib = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    text = lib.encrypt(value.encode()).decode()
    return "!vault |\n" + textwrap.indent(text, "  ")


def _inventory(tmp_path, hosts: str, extra_vars: str = "") -> tuple[str, str]:
    inv = tmp_path / "inv"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text(hosts)
    (inv / "group_vars" / "all" / "main.yml").write_text(
        "redis_server_compliance_password: " + _vaulted(ADMIN_PASSWORD) + "\n"
        "redis_sentinel_monitoring_password: plain-sentinel-secret-0123456789xx\n"
        "redis_server_monitoring_password: short\n" + extra_vars
    )
    password_file = tmp_path / "vault-pass"
    password_file.write_text(VAULT_PASSWORD)
    return str(inv), str(password_file)


HOSTS = """
all:
  children:
    redis:
      hosts:
        r1: {ansible_host: 192.0.2.11}
        r2: {ansible_host: 192.0.2.12}
    sentinel:
      hosts:
        r1: {}
        r2: {}
        s3: {ansible_host: 192.0.2.13}
"""


def test_targets_come_from_the_inventory_with_vault_and_role_defaults(tmp_path):
    inv, vault = _inventory(tmp_path, HOSTS)
    targets = from_inventory(inv, vault_password_file=vault)
    redis = {e.target: e for e in targets.endpoints if e.kind == "redis"}
    sentinels = {e.target: e for e in targets.endpoints if e.kind == "sentinel"}
    assert set(redis) == {"r1:6379", "r2:6379"}
    assert set(sentinels) == {"r1:26379", "r2:26379", "s3:26379"}  # a sentinel-only host too
    assert redis["r1:6379"].password == ADMIN_PASSWORD  # decrypted by Ansible's own Vault code
    assert redis["r1:6379"].username == "compliance" and redis["r1:6379"].tls  # role defaults: TLS only
    # The control node presents its own certificate, from the generated PKI.
    assert redis["r1:6379"].cert.endswith("/clients/redisops-control.crt")
    assert redis["r1:6379"].key.endswith("/clients/redisops-control.key")
    # What CONFIG GET must answer includes the cipher policy, in its own case (CFG-01).
    config = redis["r1:6379"].expected["config"]
    assert config["tls-ciphers"].startswith("ECDHE-ECDSA-AES256-GCM-SHA384:")
    assert (
        config["tls-ciphersuites"]
        == "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
    )
    assert (config["tls-prefer-server-ciphers"], config["tls-auth-clients"], config["port"]) == (
        "yes",
        "yes",
        "0",
    )
    assert sentinels["s3:26379"].username == "monitor"
    assert redis["r1:6379"].expected["kit_users"]["monitoring"] == "monitor"
    assert [g["name"] for g in targets.groups] == ["redis-main"]
    assert targets.groups[0]["sentinels"] == ["r1", "r2", "s3"]
    # Lengths of secrets only, never the values.
    assert targets.secret_lengths["redis_server_monitoring_password"] == 5
    assert ADMIN_PASSWORD not in repr(targets.secret_lengths)
    hosts = {h.target: h for h in targets.hosts}
    assert set(hosts) == {"r1", "r2", "s3"}
    assert 6379 in hosts["r1"].expected["ports"] and 26379 in hosts["r1"].expected["ports"]
    # The exporters the redis_exporter role opens are expected too (H-07), and node_exporter's.
    assert {9121, 9355, 9100} <= set(hosts["r1"].expected["ports"])
    assert 9121 not in hosts["s3"].expected["ports"] and {9355, 9100} <= set(hosts["s3"].expected["ports"])
    # Each exporter by name, for MON-01: the instance's, Sentinel's and node_exporter.
    assert hosts["r1"].expected["exporters"] == [
        {"name": "redis-main", "kind": "redis", "port": 9121},
        {"name": "sentinel", "kind": "sentinel", "port": 9355},
        {"name": "node_exporter", "kind": "node", "port": 9100},
    ]
    assert [e["port"] for e in hosts["s3"].expected["exporters"]] == [9355, 9100]
    assert hosts["s3"].expected["units"] == ["redis-sentinel@main.service"]


def test_limit_selects_hosts_but_groups_stay_whole(tmp_path):
    inv, vault = _inventory(tmp_path, HOSTS)
    targets = from_inventory(inv, limit="r2", vault_password_file=vault)
    assert {e.target for e in targets.endpoints} == {"r2:6379", "r2:26379"}
    assert targets.groups[0]["servers"] == ["r1", "r2"]
    with pytest.raises(InventoryError, match="matches no host"):
        from_inventory(inv, limit="nope", vault_password_file=vault)


def test_tls_only_uses_the_tls_port_and_the_client_certificate(tmp_path):
    inv, vault = _inventory(
        tmp_path, HOSTS, "redis_server_tls_mode: only\nredis_server_tls_pki_dir: /srv/pki\n"
    )
    endpoint = next(
        e for e in from_inventory(inv, vault_password_file=vault).endpoints if e.target == "r1:6379"
    )
    assert endpoint.tls
    assert (endpoint.ca_cert, endpoint.cert) == ("/srv/pki/ca.crt", "/srv/pki/clients/redisops-control.crt")


def test_a_missing_password_names_the_variable(tmp_path):
    inv, vault = _inventory(tmp_path, HOSTS)
    main = tmp_path / "inv" / "group_vars" / "all" / "main.yml"
    main.write_text(main.read_text().replace("redis_sentinel_monitoring_password", "unrelated_variable"))
    with pytest.raises(
        InventoryError, match=r"redis_compliance_sentinel_password is empty.*redis_sentinel_monitoring"
    ):
        from_inventory(inv, vault_password_file=vault)


def test_an_inventory_without_redis_hosts_is_refused(tmp_path):
    inv, vault = _inventory(tmp_path, "all:\n  hosts:\n    x: {ansible_host: 192.0.2.1}\n")
    with pytest.raises(InventoryError, match="no hosts in group 'redis'"):
        from_inventory(inv, vault_password_file=vault)


def test_tls_beside_plain_uses_the_tls_port(tmp_path):
    """With TLS 'both', the password never goes over the plain port."""
    inv, vault = _inventory(
        tmp_path, HOSTS, "redis_server_tls_mode: both\nredis_server_tls_pki_dir: /srv/pki\n"
    )
    endpoints = {e.target: e for e in from_inventory(inv, vault_password_file=vault).endpoints}
    assert endpoints["r1:16379"].tls and endpoints["r1:16379"].port == 16379
    assert endpoints["r1:36379"].tls  # Sentinel's TLS port


def test_secret_lengths_are_measured_on_the_hosts_of_each_role(tmp_path):
    """A Redis-only host has no Sentinel password, and needs none: SEC-08 must not see it empty."""
    hosts = HOSTS.replace("        r2: {}\n", "")
    inv, vault = _inventory(tmp_path, hosts)
    main = tmp_path / "inv" / "group_vars" / "all" / "main.yml"
    sentinel_line = "redis_sentinel_monitoring_password: plain-sentinel-secret-0123456789xx\n"
    main.write_text(main.read_text().replace(sentinel_line, ""))
    (tmp_path / "inv" / "group_vars" / "sentinel.yml").write_text(sentinel_line)
    lengths = from_inventory(inv, vault_password_file=vault).secret_lengths
    assert lengths["redis_sentinel_monitoring_password"] == len("plain-sentinel-secret-0123456789xx")


def test_backup_hosts_are_read_whatever_the_limit_with_the_role_s_metrics_file(tmp_path):
    hosts = HOSTS + textwrap.indent(
        "redis_backup:\n  hosts:\n    b1: {ansible_host: 192.0.2.20, redis_backup_textfile_dir: /srv/prom}\n"
        "    b2: {ansible_host: 192.0.2.21}\n",
        "    ",
    )
    inv, vault = _inventory(tmp_path, hosts)
    targets = from_inventory(inv, limit="r1", vault_password_file=vault)
    assert {h.target for h in targets.hosts} == {"r1"}  # the backup hosts are not Redis hosts
    textfiles = {h.target: (h.address, h.expected["textfile"]) for h in targets.backup_hosts}
    assert textfiles == {
        "b1": ("192.0.2.20", "/srv/prom/redisops_backup.prom"),
        "b2": ("192.0.2.21", "/var/lib/prometheus/node-exporter/redisops_backup.prom"),
    }


def test_plain_tcp_is_an_explicit_opt_out(tmp_path):
    inv, vault = _inventory(tmp_path, HOSTS, "redis_server_tls_mode: 'off'\n")
    endpoints = {e.target: e for e in from_inventory(inv, vault_password_file=vault).endpoints}
    assert not endpoints["r1:6379"].tls and not endpoints["r1:6379"].cert
    assert not endpoints["s3:26379"].tls  # the sentinels follow the servers


OWN_FILES = (
    "redis_server_tls_ca_cert: /srv/own/ca.crt\nredis_server_tls_cert: /srv/own/host.crt\n"
    "redis_server_tls_key: /srv/own/host.key\n"
)


def test_own_tls_files_need_the_control_node_s_own_client_certificate(tmp_path):
    inv, vault = _inventory(tmp_path, HOSTS, OWN_FILES)
    with pytest.raises(
        InventoryError, match=r"set redis_server_tls_control_cert and redis_server_tls_control_key"
    ):
        from_inventory(inv, vault_password_file=vault)


def test_own_tls_files_with_the_control_node_s_certificate(tmp_path):
    control = (
        "redis_server_tls_control_cert: /srv/own/ops.crt\nredis_server_tls_control_key: /srv/own/ops.key\n"
    )
    inv, vault = _inventory(tmp_path, HOSTS, OWN_FILES + control)
    endpoint = next(
        e for e in from_inventory(inv, vault_password_file=vault).endpoints if e.target == "r1:6379"
    )
    assert (endpoint.ca_cert, endpoint.cert, endpoint.key) == (
        "/srv/own/ca.crt",
        "/srv/own/ops.crt",
        "/srv/own/ops.key",
    )


def test_a_scheduled_host_does_not_need_the_control_node_s_certificate(tmp_path):
    """The redis_compliance role names its own files there (run.for_scheduled_host)."""
    inv, vault = _inventory(tmp_path, HOSTS, OWN_FILES)
    targets = from_inventory(inv, vault_password_file=vault, control_files=False)
    endpoint = next(e for e in targets.endpoints if e.target == "r1:6379")
    assert endpoint.tls and endpoint.ca_cert == "/srv/own/ca.crt" and not endpoint.cert
