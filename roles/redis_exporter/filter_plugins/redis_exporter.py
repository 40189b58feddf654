"""Filters of the redis_exporter role: which exporters a host runs, read with redis_server's own
instance logic (loaded by path: role filter plugins are not a package), so ports and TLS never
disagree with what the server role deployed."""

from __future__ import annotations

import importlib.util
import ipaddress
from functools import cache
from pathlib import Path

from ansible.errors import AnsibleFilterError


@cache
def _server_filters():
    path = Path(__file__).resolve().parents[2] / "redis_server" / "filter_plugins" / "redis_server.py"
    spec = importlib.util.spec_from_file_location("_redis_exporter_server_filters", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def redis_exporter_targets(
    server_vars: dict, sentinel_vars: dict, address: str, port_base: int, sentinel_port: int,
    in_redis: bool, in_sentinel: bool,
) -> list[dict]:  # fmt: skip
    """One exporter per present Redis instance (ports from ``port_base`` in instance order) and
    one for the host's Sentinel: {name, kind, scrape, port, url, tls, instance}."""
    out = []
    if in_redis:
        role_vars = {"redis_server_maxmemory": "1gb", "redis_server_maxclients": 10000, **server_vars}
        present = [i for i in _server_filters().redis_instances(role_vars, 1024) if i["state"] == "present"]
        for offset, inst in enumerate(present):
            tls = bool(inst["tls_port"])
            port = inst["tls_port"] if tls else inst["plain_port"]
            out.append(
                {
                    "name": f"redis-{inst['name']}",
                    "kind": "redis",
                    "instance": inst["name"],
                    "port": int(port_base) + offset,
                    "tls": tls,
                    "url": f"{'rediss' if tls else 'redis'}://{address}:{port}",
                }
            )
    if in_sentinel:
        mode = sentinel_vars.get("redis_sentinel_tls_mode", "off")
        plain = int(sentinel_vars.get("redis_sentinel_port", 26379))
        tls = mode != "off"
        port = plain if mode in ("off", "only") else int(sentinel_vars.get("redis_sentinel_tls_port", 36379))
        out.append(
            {
                "name": "sentinel",
                "kind": "sentinel",
                "instance": "",
                "port": int(sentinel_port),
                "tls": tls,
                "url": f"{'rediss' if tls else 'redis'}://{address}:{port}",
            }
        )
    ports = [t["port"] for t in out]
    if len(ports) != len(set(ports)):
        raise AnsibleFilterError(
            f"redis_exporter: exporter ports {ports} overlap: set redis_exporter_sentinel_port outside "
            "redis_exporter_port_base .. base + number of instances"
        )
    return out


def redis_exporter_networks(networks: list[str]) -> dict:
    """The scrape networks split by family, as redis_server's firewall writes its own sets."""
    return _server_filters().redis_firewall_sources({}, [], list(networks or []))


def redis_exporter_is_ip(value) -> bool:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def redis_exporter_bad_networks(networks) -> list[str]:
    """The entries of a list that are not an address or a network."""
    bad = []
    for entry in networks or []:
        try:
            ipaddress.ip_network(str(entry), strict=False)
        except ValueError:
            bad.append(str(entry))
    return bad


def redis_exporter_listen(address: str, port: int) -> str:
    """ADDRESS:PORT, with an IPv6 address in brackets."""
    return f"[{address}]:{int(port)}" if ":" in str(address) else f"{address}:{int(port)}"


class FilterModule:
    def filters(self):
        return {
            "redis_exporter_targets": redis_exporter_targets,
            "redis_exporter_networks": redis_exporter_networks,
            "redis_exporter_is_ip": redis_exporter_is_ip,
            "redis_exporter_bad_networks": redis_exporter_bad_networks,
            "redis_exporter_listen": redis_exporter_listen,
        }
