"""Filters of the redis_exporter role: which exporters a host runs, read with redis_server's own
instance logic (loaded by path: role filter plugins are not a package), so ports and TLS never
disagree with what the server role deployed."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from functools import cache
from pathlib import Path

from ansible.errors import AnsibleFilterError


@cache
def _server_filters():
    path = Path(__file__).resolve().with_name("redis_server.py")
    spec = importlib.util.spec_from_file_location("_redis_exporter_server_filters", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WEB_USER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def redis_exporter_targets(
    server_vars: dict, sentinel_vars: dict, address: str, port_base: int, sentinel_port: int,
    in_redis: bool, in_sentinel: bool,
) -> list[dict]:  # fmt: skip
    """One exporter per present Redis instance (ports from ``port_base`` in instance order) and
    one for the host's Sentinel: {name, kind, port, url, address, tls, instance, rdb_snapshots}.
    ``address``: where the exporter connects (its instance or Sentinel on this host).
    ``rdb_snapshots``: the instance has save rules (False for AOF-only and cache instances, and
    for the Sentinel), so that an alert on the snapshot's age can leave the others alone."""
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
                    "url": f"{'rediss' if tls else 'redis'}://{redis_exporter_listen(address, port)}",
                    "address": str(address),
                    "rdb_snapshots": bool(inst["save"]),
                }
            )
    if in_sentinel:
        mode = sentinel_vars.get("redis_sentinel_tls_mode", "only")
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
                "url": f"{'rediss' if tls else 'redis'}://{redis_exporter_listen(address, port)}",
                "address": str(address),
                "rdb_snapshots": False,
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


def redis_exporter_ip_allow(networks) -> list[str]:
    """IPAddressAllow= of node_exporter's unit (IPAddressDeny=any beside it): loopback and the scrape
    networks (systemd checks the peer of every packet, both directions: Prometheus's requests in,
    the answers out). node_exporter connects nowhere itself."""
    nets = set()
    for entry in networks or []:
        net = ipaddress.ip_network(str(entry).strip(), strict=False)
        if net.num_addresses == 1 and (net.network_address.is_unspecified or net.network_address.is_loopback):
            continue
        nets.add(net)
    ordered = sorted(nets, key=lambda n: (n.version, n))
    return ["localhost", *(str(n.network_address) if n.num_addresses == 1 else str(n) for n in ordered)]


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


EXPORTER_BOOLEANS = (
    "redis_exporter_node_exporter", "redis_exporter_firewall", "redis_exporter_listen_allow_wildcard",
    "redis_exporter_scrape_networks_allow_any", "redis_exporter_web_tls",
)  # fmt: skip
# A bcrypt hash as node_exporter (exporter-toolkit) accepts it: $2a$, $2b$ or $2y$, a cost, 53 characters.
BCRYPT_HASH = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
# Below this cost a stolen web config file's hash is cheap to brute-force.
MIN_BCRYPT_COST = 10


def redis_exporter_web_problems(settings: dict) -> list[str]:
    """Web TLS and basic auth: credentials only over TLS, a real bcrypt hash, a user name that fits
    YAML and HTTP, and (once the certificates exist) the host's certificate and key."""
    problems = []
    user = settings.get("redis_exporter_web_auth_user") or ""
    digest = settings.get("redis_exporter_web_auth_password_hash") or ""
    tls = settings.get("redis_exporter_web_tls") is True
    if (user or digest) and not tls:
        problems.append(
            "redis_exporter_web_auth_user/_password_hash are set but redis_exporter_web_tls is false: "
            "basic auth over plain HTTP would show the password to anyone on the path; set "
            "redis_exporter_web_tls: true"
        )
    if bool(user) != bool(digest):
        problems.append(
            "redis_exporter_web_auth_user and redis_exporter_web_auth_password_hash go together: set both "
            "(the user and a bcrypt hash of its password) or neither"
        )
    if user and not WEB_USER.fullmatch(str(user)):
        problems.append(
            f"redis_exporter_web_auth_user {user!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )
    if digest:
        match = BCRYPT_HASH.fullmatch(str(digest))
        if not match:
            problems.append(
                "redis_exporter_web_auth_password_hash is not a bcrypt hash ($2b$12$ and 53 characters): "
                "never the password itself; make one with htpasswd -nbBC 12 '' PASSWORD | tr -d ':\\n'"
            )
        elif int(match.group(1)) < MIN_BCRYPT_COST:
            problems.append(
                f"redis_exporter_web_auth_password_hash has cost {int(match.group(1))}: use "
                f"{MIN_BCRYPT_COST} or more (12 is usual)"
            )
    if tls:
        for name, exists in sorted((settings.get("web_tls_files") or {}).items()):
            if not exists:
                problems.append(
                    f"{name} ({settings.get(name)}) does not exist on the control node: the kit issues host "
                    "certificates to Redis and Sentinel hosts (site.yml); set it for other hosts"
                )
    return problems


def _host_ports(settings: dict) -> list[tuple[str, int | None]]:
    """(label, port) of every port this host's Redis instances, Sentinel, redis_server's firewall
    and the exporters use: none may be taken twice."""
    S = _server_filters()
    whole = S.redis_whole
    ports: list[tuple[str, int | None]] = []
    server = settings.get("server_vars") or {}
    present = [
        i for i in server.get("redis_server_instances") or []
        if isinstance(i, dict) and i.get("state", "present") == "present"
    ]  # fmt: skip
    if settings.get("in_redis"):
        mode = server.get("redis_server_tls_mode", "only")
        for inst in present:
            port = whole(inst.get("port"))
            # As redis_instances resolves them: TLS only serves TLS on the port itself.
            tls = port if mode == "only" else whole(inst.get("tls_port")) or (port and port + 10000)
            ports.append((f"Redis instance {inst.get('name')}", port if mode != "only" else None))
            ports.append((f"Redis instance {inst.get('name')}", tls if mode != "off" else None))
        for port in settings.get("redis_server_firewall_extra_ports") or []:
            ports.append(("redis_server_firewall_extra_ports", whole(port)))
    if settings.get("in_sentinel"):
        sentinel = settings.get("sentinel_vars") or {}
        ports.append(("redis_sentinel_port", whole(sentinel.get("redis_sentinel_port"))))
        if sentinel.get("redis_sentinel_tls_mode") == "both":
            ports.append(("redis_sentinel_tls_port", whole(sentinel.get("redis_sentinel_tls_port"))))
    # Sentinel's ports are in the firewall's extra ports on purpose: the same port, one use.
    sentinel_ports = {p for label, p in ports if label.startswith("redis_sentinel")}
    ports = [
        (label, p) for label, p in ports
        if not (label == "redis_server_firewall_extra_ports" and p in sentinel_ports)
    ]  # fmt: skip
    base = whole(settings.get("redis_exporter_port_base"))
    if settings.get("in_redis") and base is not None:
        for k, inst in enumerate(present):
            label = f"the exporter of Redis instance {inst.get('name')} (redis_exporter_port_base + {k})"
            ports.append((label, base + k))
    if settings.get("in_sentinel"):
        ports.append(("redis_exporter_sentinel_port", whole(settings.get("redis_exporter_sentinel_port"))))
    if settings.get("redis_exporter_node_exporter", True) is True:
        ports.append(("redis_exporter_node_port", whole(settings.get("redis_exporter_node_port"))))
    return ports


def redis_exporter_problems(settings: dict) -> list[str]:
    """What is wrong with a host's exporter settings, each naming the variable and the fix.
    ``settings``: the role's variables, plus in_redis, in_sentinel, tls and tls_files {variable: exists}
    (empty before the certificates exist), server_vars and sentinel_vars (the ports of this host's
    Redis instances and Sentinel) and redis_server_firewall_extra_ports."""
    S = _server_filters()
    problems = []
    address = settings.get("redis_exporter_listen_address")
    if not redis_exporter_is_ip(address):
        problems.append(
            f"redis_exporter_listen_address must be an IP address (is {address!r}): set ansible_host to the "
            "host's IP address"
        )
    else:
        allow = settings.get("redis_exporter_listen_allow_wildcard")
        problems += S.redis_bind_problems(
            "redis_exporter_listen_address",
            [str(address)],
            allow,
            "redis_exporter_listen_allow_wildcard",
            dash=False,
        )
    bad_ports = False
    for name in ("redis_exporter_port_base", "redis_exporter_sentinel_port", "redis_exporter_node_port"):
        number = S.redis_whole(settings.get(name))
        if number is None or not 0 < number < 65536:
            bad_ports = True
            problems.append(f"{name} must be a port between 1 and 65535 (is {settings.get(name)!r})")
    if not bad_ports:
        ports = _host_ports(settings)
        problems += [f"{p} (redis_exporter_*_port, redis_server_instances, redis_sentinel_port)"
                     for p in S.redis_port_clashes(ports)]  # fmt: skip
        problems += [
            f"{label} {port} is beyond 65535: lower redis_exporter_port_base"
            for label, port in ports if label.startswith("the exporter") and port > 65535
        ]  # fmt: skip
    networks = settings.get("redis_exporter_scrape_networks")
    if networks is None or networks == [] or networks == "":
        problems.append(
            "redis_exporter_scrape_networks is empty: list the Prometheus servers' addresses or networks "
            "(for example ['192.0.2.10/32']); only they may scrape the exporters (nftables), and it never "
            "defaults to redis_server_client_networks"
        )
    elif not isinstance(networks, list | tuple):
        problems.append(
            "redis_exporter_scrape_networks must be a list of the Prometheus servers' addresses or "
            f"networks, not {networks!r}"
        )
    elif bad := redis_exporter_bad_networks(networks):
        problems.append(f"redis_exporter_scrape_networks: {', '.join(bad)} is not an address or a network")
    else:
        allow = settings.get("redis_exporter_scrape_networks_allow_any")
        problems += [
            p.replace("list the clients' networks", "list the Prometheus servers' networks")
            for p in S.redis_network_problems(
                "redis_exporter_scrape_networks", networks, allow, "redis_exporter_scrape_networks_allow_any"
            )
        ]
    secrets = (
        ("in_redis", "redis_exporter_redis_password", "redis_exporter_redis_user", "redis_server_monitoring"),
        ("in_sentinel", "redis_exporter_sentinel_password", "redis_exporter_sentinel_user",
         "redis_sentinel_monitoring"),
    )  # fmt: skip
    for where, password_var, user_var, source in secrets:
        if not settings.get(where):
            continue
        if not settings.get(password_var):
            problems.append(
                f"{password_var} is empty: set {source}_password (Ansible Vault), the exporters log in as "
                "the monitoring user"
            )
        else:
            problems += [
                f"{p} ({source}_password unless set; it goes unquoted into the exporter's environment file)"
                for p in S.redis_password_problems(password_var, settings[password_var], unquoted=True)
            ]
        if user_var in settings and not S.USER_NAME.fullmatch(str(settings[user_var])):
            problems.append(f"{user_var} {settings[user_var]!r} is not a valid ACL user name ({source}_user)")
    problems += S.redis_bool_problems(settings, EXPORTER_BOOLEANS)
    problems += redis_exporter_web_problems(settings)
    if "redis_exporter_user" in settings:
        problems += S.redis_service_user_problems("redis_exporter_user", settings["redis_exporter_user"])
    for name in ("redis_exporter_conf_dir", "redis_exporter_textfile_dir"):
        if name in settings:
            problems += S.redis_path_problems(name, settings[name])
    if settings.get("tls"):
        problems += S.redis_client_cert_problems(
            settings, "redis_exporter_tls_cert", "redis_exporter_tls_key", "the exporters"
        )
        for name, exists in sorted((settings.get("tls_files") or {}).items()):
            if not exists and settings.get(name):
                problems.append(
                    f"{name} ({settings.get(name)}) does not exist on the control node: the exporters "
                    "connect over TLS; run site.yml first (it issues their client certificate) or set it"
                )
    return problems


def redis_exporter_units(
    plan: list[dict], conf_dir: str, exporter_unit: str, tls_files: list[str], node: bool, firewall: bool,
    firewall_unit: str, node_dropin: str = "", web_files: list[str] = (), node_web_files: list[str] = (),
) -> list[dict]:  # fmt: skip
    """Each unit the role runs, with the files whose change restarts it: [{unit, files}].
    ``node_dropin``: the role's drop-in of node_exporter's unit (its IPAddressAllow=);
    ``web_files``, ``node_web_files``: the web TLS files of the exporters and of node_exporter."""
    units = [
        {"unit": f"redisops-exporter@{t['name']}.service",
         "files": [f"{conf_dir}/{t['name']}.env", exporter_unit, *(tls_files if t["tls"] else []),
                   *web_files]}
        for t in plan
    ]  # fmt: skip
    if node:
        units.append(
            {
                "unit": "prometheus-node-exporter.service",
                "files": ["/etc/default/prometheus-node-exporter", *([node_dropin] if node_dropin else []),
                          *node_web_files],
            }
        )  # fmt: skip
    if firewall:
        units.append(
            {"unit": "redisops-exporter-firewall.service",
             "files": ["/etc/redis-ops-kit/exporter-firewall.nft", firewall_unit]}
        )  # fmt: skip
    return units


def redis_exporter_unit_actions(
    units: list[dict], changed_files: list[str], state: dict, stale: list[str] = ()
) -> list[dict]:  # fmt: skip
    """What each unit needs from systemd, as redis_units takes it ([{name, state}]): restarted when
    one of its files changed, started (and enabled) when not active or not enabled, and the
    exporters of ``stale`` (names nothing is left to scrape for) stopped. ``units``: [{unit, files}];
    ``state``: unit -> {active, enabled}."""
    changed = set(changed_files or [])
    out = []
    for entry in units:
        now = state.get(entry["unit"], {})
        restart = bool(changed & set(entry.get("files", [])))
        if restart or now.get("active") != "active" or now.get("enabled") != "enabled":
            out.append({"name": entry["unit"], "state": "restarted" if restart else "started"})
    out += [{"name": f"redisops-exporter@{name}.service", "state": "stopped"} for name in stale]
    return out


class FilterModule:
    def filters(self):
        return {
            "redis_exporter_targets": redis_exporter_targets,
            "redis_exporter_networks": redis_exporter_networks,
            "redis_exporter_ip_allow": redis_exporter_ip_allow,
            "redis_exporter_is_ip": redis_exporter_is_ip,
            "redis_exporter_bad_networks": redis_exporter_bad_networks,
            "redis_exporter_listen": redis_exporter_listen,
            "redis_exporter_problems": redis_exporter_problems,
            "redis_exporter_unit_actions": redis_exporter_unit_actions,
            "redis_exporter_units": redis_exporter_units,
        }
