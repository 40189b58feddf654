"""The collection's Python code for the redis_server and redis_sentinel roles (filters and
module_utils), imported by path so the tests need no Ansible collection loader."""

from __future__ import annotations

import copy
import functools
import importlib.util
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "redis_server"
PLUGINS = REPO / "plugins"


def _load_by_path(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


F = _load_by_path(PLUGINS / "filter" / "redis_server.py", "redis_server_filters_under_test")
OPS = _load_by_path(PLUGINS / "module_utils" / "redis_ops.py", "redis_ops_under_test")

MEMTOTAL_MB = 8192
PASSWORDS = {
    "redis_server_admin_password": "admin-secret-".ljust(32, "a"),
    "redis_server_replication_password": "replication-secret-".ljust(32, "r"),
    "redis_server_sentinel_password": "sentinel-secret-".ljust(32, "s"),
    "redis_server_monitoring_password": "monitoring-secret-".ljust(32, "m"),
    "redis_server_compliance_password": "compliance-secret-".ljust(32, "c"),
    "redis_server_backup_password": "backup-secret-".ljust(32, "b"),
}


@functools.cache
def _defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def _with_flavor(role_vars: dict, var: str) -> dict:
    """Defaults that name the flavour ("/etc/{{ redis_server_flavor }}") as Ansible renders them."""
    marker = "{{ " + var + " }}"
    flavor = role_vars[var]

    def render(value):
        if isinstance(value, str):
            return value.replace(marker, flavor)
        if isinstance(value, list):
            return [render(v) for v in value]
        return value

    return {k: render(v) for k, v in role_vars.items()}


def baseline(**overrides) -> dict:
    """The role's defaults made valid: passwords set, and a literal bind instead of the Jinja default."""
    role_vars = copy.deepcopy(_defaults())
    role_vars["redis_server_flavor"] = overrides.get("redis_server_flavor", role_vars["redis_server_flavor"])
    role_vars = _with_flavor(role_vars, "redis_server_flavor")
    role_vars.update(PASSWORDS)
    role_vars["redis_server_bind"] = ["10.0.0.1", "127.0.0.1"]
    role_vars.update(copy.deepcopy(overrides))
    return role_vars


SENTINEL_ROLE = REPO / "roles" / "redis_sentinel"
SF = _load_by_path(PLUGINS / "filter" / "redis_sentinel.py", "redis_sentinel_filters_under_test")
SENTINEL_PASSWORDS = {
    "redis_sentinel_auth_password": "sentinel-auth-".ljust(32, "a"),
    "redis_sentinel_admin_password": "sentinel-admin-".ljust(32, "b"),
    "redis_sentinel_peer_password": "sentinel-peer-".ljust(32, "c"),
    "redis_sentinel_monitoring_password": "sentinel-mon-".ljust(32, "d"),
}


# The TLS policy the redis_sentinel role inherits from redis_server's defaults (rendered, as Ansible would).
SENTINEL_INHERITED_TLS = ("tls_protocols", "tls_ciphers", "tls_ciphersuites", "tls_prefer_server_ciphers")


def sentinel_baseline(**overrides) -> dict:
    """The redis_sentinel defaults made valid: passwords and users set, literal bind and TLS mode."""
    role_vars = copy.deepcopy(yaml.safe_load((SENTINEL_ROLE / "defaults" / "main.yml").read_text()))
    role_vars.update(
        {f"redis_sentinel_{k}": _defaults()[f"redis_server_{k}"] for k in SENTINEL_INHERITED_TLS}
    )
    role_vars.update(SENTINEL_PASSWORDS)
    role_vars.update(redis_sentinel_auth_user="sentinel", redis_sentinel_tls_mode="only",
                     redis_sentinel_bind=["10.0.0.1", "127.0.0.1"], redis_sentinel_firewall=True,
                     redis_sentinel_client_networks=[],
                     redis_sentinel_client_networks_allow_any=False)  # fmt: skip
    role_vars.update(copy.deepcopy(overrides))
    return role_vars


# The redis_sentinel defaults that are Jinja expressions (inherited from redis_server), rendered.
SENTINEL_RENDERED = {
    "redis_sentinel_flavor": "redis", "redis_sentinel_flavor_switch": False,
    "redis_sentinel_tls_auth_clients": "yes", "redis_sentinel_tls_dir": "/etc/redis/tls",
    "redis_sentinel_tls_replication": True, "redis_sentinel_conf_dir": "/etc/redis/sentinel",
    "redis_sentinel_data_dir": "/var/lib/redis/sentinel", "redis_sentinel_log_dir": "/var/log/redis",
    "redis_sentinel_user": "redis", "redis_sentinel_group": "redis",
}  # fmt: skip
