"""Pure logic of the redis_sentinel role: topology rules, ACL users, groups and what the sentinels say.

Everything here is a function of plain data (variables, gathered answers), unit-tested without a
server (tests/unit/test_redis_sentinel_filters.py). The role calls it through the Jinja filters
registered at the bottom.
"""

from __future__ import annotations

import hashlib
import importlib.util
import ipaddress
import re
from functools import cache
from pathlib import Path

from ansible_collections.redisops.kit.plugins.module_utils.core import health, topology
from ansible_collections.redisops.kit.plugins.module_utils.core.choices import (
    LOGLEVELS,
    STATES,
    TLS_AUTH_CLIENTS,
    TLS_MODES,
)

# Sentinel's config file and the client libraries split on spaces and quotes; keep names plain.
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
USER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
GROUP_KEYS = {
    "name", "instance", "quorum", "down_after_milliseconds", "failover_timeout", "parallel_syncs",
    "notification_script", "client_reconfig_script", "state",
}  # fmt: skip
# Below this, ordinary pauses (fork, a busy host, a GC of the network) cause false failovers
# (redis#8607); above ~30 s writes fail for half a minute per failover.
MIN_DOWN_AFTER_MS = 1000

# Rights of the built-in Sentinel users (Sentinel's own ACL, not the Redis servers').
# Peers: what one sentinel sends another (hello messages, votes, pings).
PEER_RULES = ["&__sentinel__:hello", "-@all", "+auth", "+hello", "+ping", "+publish", "+client|setname",
              "+sentinel|is-master-down-by-addr"]  # fmt: skip
# Clients and monitoring: discover the primary and replicas, follow events; change nothing.
CLIENT_RULES = ["&*", "-@all", "+auth", "+hello", "+ping", "+role", "+info", "+client|setname",
                "+subscribe", "+psubscribe", "+unsubscribe", "+punsubscribe",
                "+sentinel|masters", "+sentinel|master", "+sentinel|get-master-addr-by-name",
                "+sentinel|replicas", "+sentinel|slaves", "+sentinel|sentinels", "+sentinel|ckquorum",
                "+sentinel|myid", "+sentinel|info-cache"]  # fmt: skip
# Monitoring and the compliance checks over the network: what clients may. Not ACL LIST (every
# user's hash): the on-host reader reads it, masked.
MONITOR_RULES = [*CLIENT_RULES]
# The on-host reader (redis_server's files/redisops-inspect): ACL LIST and nothing else.
INSPECT_RULES = ["-@all", "+auth", "+ping", "+acl|list"]
ADMIN_RULES = ["~*", "&*", "+@all"]


class SentinelVarError(ValueError):
    """A variable or a live state the role cannot work with."""


@cache
def _server_filters():
    """redis_server's filters, loaded by path (role filter plugins are not a package): the input
    rules shared by the roles (addresses, ports, secrets, booleans, users) live there once."""
    path = Path(__file__).resolve().with_name("redis_server.py")
    spec = importlib.util.spec_from_file_location("_redis_sentinel_server_filters", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Whole-number settings and their sane ranges.
SENTINEL_RANGES = {
    "down_after_milliseconds": (MIN_DOWN_AFTER_MS, 600_000, "milliseconds"),
    "failover_timeout": (2_000, 86_400_000, "milliseconds"),
    "parallel_syncs": (1, 100, ""),
}
SENTINEL_BOOLEANS = tuple(
    f"redis_sentinel_{name}"
    for name in (
        "allow_fewer_than_three", "allow_minority_quorum", "tls_replication", "tls_prefer_server_ciphers",
        "bind_allow_wildcard", "resolve_hostnames", "announce_hostnames", "flavor_switch", "firewall",
        "client_networks_allow_any",
    )
)  # fmt: skip
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$"
)


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def redis_sentinel_groups(role_vars: dict) -> list[dict]:
    """The monitored groups with every setting filled in from the role-wide defaults."""
    out = []
    for group in role_vars.get("redis_sentinel_groups") or []:
        item = {
            "name": group["name"],
            "instance": group.get("instance", "main"),
            "quorum": int(group.get("quorum", role_vars.get("redis_sentinel_quorum", 2))),
            "state": group.get("state", "present"),
        }
        for key in ("down_after_milliseconds", "failover_timeout", "parallel_syncs"):
            item[key] = int(group.get(key, role_vars.get(f"redis_sentinel_{key}")))
        for key in ("notification_script", "client_reconfig_script"):
            item[key] = group.get(key, role_vars.get(f"redis_sentinel_{key}")) or ""
        out.append(item)
    return out


def redis_sentinel_problems(
    role_vars: dict,
    sentinel_hosts: list[str],
    address: str | None = None,
    redis_ports: list | None = None,
    addresses: dict | None = None,
    server_firewall_ports: list | None = None,
) -> list[str]:
    """Every rule the role enforces before any change, as messages naming the variable and the fix.

    ``addresses``: inventory host -> ansible_host of every host the kit deploys to;
    ``server_firewall_ports``: redis_server_firewall_extra_ports on a host that runs the redis_server role."""
    v = role_vars
    S = _server_filters()
    problems: list[str] = []

    def need(cond: bool, message: str) -> None:
        if not cond:
            problems.append(message)

    count = len(sentinel_hosts)
    allow_few = bool(v.get("redis_sentinel_allow_fewer_than_three"))
    if count == 0:
        problems.append(
            "the inventory group 'sentinel' is empty: list the hosts that run a sentinel (3 or more)"
        )
    elif count < topology.MIN_SENTINELS and not allow_few:
        why = (
            "with 2 sentinels a failover needs both, so losing either host (the primary's included) "
            "stops any failover: 2 is never safe"
            if count == 2
            else "a single sentinel is a single point of failure and can fail over on its own view alone"
        )
        problems.append(
            f"the inventory group 'sentinel' has {count} host(s): {why}. Use 3 or more sentinels on "
            "distinct hosts, or set redis_sentinel_allow_fewer_than_three: true for a test setup"
        )

    groups = v.get("redis_sentinel_groups")
    if not isinstance(groups, list) or not groups:
        problems.append("redis_sentinel_groups is empty: list at least one group {name, instance, quorum}")
        groups = []
    names, instances = [], []
    majority = topology.majority(count)
    for i, group in enumerate(groups):
        where = f"redis_sentinel_groups[{i}]"
        if not isinstance(group, dict) or "name" not in group:
            problems.append(f"{where} needs a name, for example {{name: redis-main, instance: main}}")
            continue
        name = str(group["name"])
        where = f"{where} ({name})"
        unknown = set(group) - GROUP_KEYS
        need(not unknown, f"{where} has unknown key(s) {sorted(unknown)}: allowed are {sorted(GROUP_KEYS)}")
        need(
            bool(GROUP_NAME.fullmatch(name)),
            f"{where}.name {name!r} is not a name Sentinel and its clients accept: use letters, digits, "
            "'.', '_' or '-' (no spaces or quotes), at most 64 characters",
        )
        need(
            group.get("state", "present") in STATES,
            f"{where}.state {group.get('state')!r}: choose present or absent",
        )
        names.append(name)
        if group.get("state", "present") == "present":
            instances.append(str(group.get("instance", "main")))
        raw_quorum = group.get("quorum", v.get("redis_sentinel_quorum"))
        quorum = _int(raw_quorum)
        if quorum is None or quorum < 1:
            source = f"{where}.quorum" if "quorum" in group else "redis_sentinel_quorum"
            problems.append(f"{source} {raw_quorum!r} must be a whole number of 1 or more")
        elif count and quorum > count:
            problems.append(
                f"{where}.quorum {quorum} is larger than the {count} sentinels in the inventory: the primary "
                f"could never be agreed down and no failover would ever start; use at most {count} "
                f"(a majority, {majority}, is the usual choice)"
            )
        elif count and quorum < majority and not v.get("redis_sentinel_allow_minority_quorum"):
            problems.append(
                f"{where}.quorum {quorum} is less than a majority of the {count} sentinels ({majority}): "
                "a minority that lost sight of the primary (a partition on its side) would start "
                f"failovers; use {majority}, or set redis_sentinel_allow_minority_quorum: true if you "
                "accept that"
            )
        timers = {}
        for key in ("down_after_milliseconds", "failover_timeout", "parallel_syncs"):
            value = _int(group.get(key, v.get(f"redis_sentinel_{key}")))
            timers[key] = value
            source = f"{where}.{key}" if key in group else f"redis_sentinel_{key}"
            if value is None or value < 1:
                problems.append(f"{source} must be a positive whole number")
            elif key != "down_after_milliseconds" or value >= MIN_DOWN_AFTER_MS:
                low, high, what = SENTINEL_RANGES[key]
                problems += S.redis_range_problems(source, value, low, high, what)
        down, timeout = timers["down_after_milliseconds"], timers["failover_timeout"]
        if down is not None and 0 < down < MIN_DOWN_AFTER_MS:
            source = (
                f"{where}.down_after_milliseconds"
                if "down_after_milliseconds" in group
                else ("redis_sentinel_down_after_milliseconds")
            )
            problems.append(
                f"{source} {down} is below {MIN_DOWN_AFTER_MS} ms: ordinary pauses (a fork, a busy host) "
                "would be taken for failures and cause false failovers; use 1000 or more (the kit's "
                "default is 5000)"
            )
        if down and timeout and down > 0 and timeout > 0 and timeout <= down:
            source = (
                f"{where}.failover_timeout"
                if "failover_timeout" in group
                else "redis_sentinel_failover_timeout"
            )
            problems.append(
                f"{source}: failover_timeout {timeout} must be longer than down_after_milliseconds {down}, "
                "or a failover is abandoned before it can start"
            )
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"redis_sentinel_groups: two groups are named {name!r}: give each its own name")
    for inst in sorted({n for n in instances if instances.count(n) > 1}):
        problems.append(
            f"redis_sentinel_groups: two groups monitor instance {inst!r}: one group per Redis instance"
        )

    # Credentials: Sentinel to Redis, and clients and peers to Sentinel.
    min_len, too_low = S.redis_min_length(
        "redis_sentinel_password_min_length",
        v.get("redis_sentinel_password_min_length", S.MIN_PASSWORD_LENGTH),
    )
    problems += too_low
    secrets = {
        "redis_sentinel_auth_password": "the password of the Redis ACL user Sentinel logs in as "
        "(redis_server_sentinel_password)",
        "redis_sentinel_admin_password": "Sentinel's admin user password",
        "redis_sentinel_peer_password": "the password sentinels use with each other",
        "redis_sentinel_monitoring_password": "Sentinel's read-only monitoring user password",
    }
    for var, what in secrets.items():
        value = v.get(var)
        if not value:
            problems.append(
                f"{var} is not set ({what}): put it in the inventory (Ansible Vault for real hosts)"
            )
        else:
            problems += S.redis_password_problems(var, value, min_len)
    user_names = [v.get(f"redis_sentinel_{k}_user") for k in ("admin", "peer", "monitoring")]
    for k in ("auth", "admin", "peer", "monitoring"):
        user = v.get(f"redis_sentinel_{k}_user")
        need(
            bool(user) and bool(USER_NAME.fullmatch(str(user))),
            f"redis_sentinel_{k}_user {user!r} is not a valid ACL user name",
        )
    for i, user in enumerate(v.get("redis_sentinel_client_users") or []):
        where = f"redis_sentinel_client_users[{i}]"
        if not isinstance(user, dict) or not user.get("name"):
            problems.append(f"{where} needs a name and a password")
            continue
        user_names.append(user["name"])
        need(
            bool(USER_NAME.fullmatch(str(user["name"]))),
            f"{where}.name {user['name']!r} is not a valid ACL user name",
        )
        need(
            user["name"] != "default",
            f"{where}: 'default' is managed by the role (always off); pick another name",
        )
        if not user.get("password"):
            problems.append(f"{where} ({user['name']}) has no password: every Sentinel user needs one")
        elif len(str(user["password"])) < min_len:
            problems.append(f"{where} ({user['name']}): password shorter than {min_len} characters")
        else:
            problems += S.redis_password_problems(
                f"{where} ({user['name']}).password", user["password"], min_len
            )
        unknown = set(user) - {"name", "password"}
        need(not unknown, f"{where} ({user['name']}) has unknown key(s) {sorted(unknown)}")
    for name in sorted({n for n in user_names if n and user_names.count(n) > 1}):
        problems.append(
            f"Sentinel ACL user {name!r} is defined twice (redis_sentinel_*_user or "
            "redis_sentinel_client_users): every user needs its own name"
        )

    # Network and TLS.
    port = _int(v.get("redis_sentinel_port"))
    if port is None or not 1 <= port <= 65535:
        problems.append(f"redis_sentinel_port {v.get('redis_sentinel_port')!r} is not a port number")
    mode = v.get("redis_sentinel_tls_mode")
    need(mode in TLS_MODES, f"redis_sentinel_tls_mode {mode!r}: choose one of {', '.join(TLS_MODES)}")
    ports = [port]
    if mode == "both":
        tls_port = _int(v.get("redis_sentinel_tls_port"))
        if tls_port is None or not 1 <= tls_port <= 65535 or tls_port == port:
            problems.append(
                "redis_sentinel_tls_port must be a port number other than redis_sentinel_port when "
                "redis_sentinel_tls_mode is both"
            )
        ports.append(tls_port)
    for clash in sorted({p for p in ports if p} & {int(p) for p in redis_ports or []}):
        problems.append(
            f"redis_sentinel_port (or _tls_port) {clash} is also a Redis instance port on this host: "
            "choose another (26379 is the usual Sentinel port)"
        )
    problems += _firewall_problems(v, [p for p in ports if p], server_firewall_ports, S)
    need(
        bool(v.get("redis_sentinel_bind")),
        "redis_sentinel_bind is empty: list the addresses Sentinel listens on",
    )
    problems += S.redis_bind_problems(
        "redis_sentinel_bind",
        v.get("redis_sentinel_bind") or [],
        v.get("redis_sentinel_bind_allow_wildcard"),
        "redis_sentinel_bind_allow_wildcard",
    )
    problems += S.redis_address_clashes(addresses)
    announce_ip = v.get("redis_sentinel_announce_ip") or ""
    if announce_ip:
        try:
            unusable = ipaddress.ip_address(str(announce_ip)).is_unspecified
        except ValueError:
            unusable = not (
                v.get("redis_sentinel_announce_hostnames") is True and HOSTNAME.fullmatch(str(announce_ip))
            )
        need(
            not unusable,
            f"redis_sentinel_announce_ip {announce_ip!r} must be the address others reach this sentinel at "
            "(an IP address, or a host name with redis_sentinel_announce_hostnames: true), or empty",
        )
    if address is not None:
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            if not v.get("redis_sentinel_resolve_hostnames"):
                problems.append(
                    f"ansible_host {address!r} is a name, not an address: set "
                    "redis_sentinel_resolve_hostnames: true (and announce_hostnames if clients "
                    "should see names) or use IP addresses"
                )
    announce_port = _int(v.get("redis_sentinel_announce_port"))
    need(
        announce_port is not None and 0 <= announce_port <= 65535,
        "redis_sentinel_announce_port must be 0 (the real port) or a port number",
    )
    for i, group in enumerate(groups):
        for key in ("notification_script", "client_reconfig_script"):
            script = group.get(key) if isinstance(group, dict) else None
            need(
                not script or str(script).startswith("/"),
                f"redis_sentinel_groups[{i}].{key} {script!r} must be an absolute path (or empty)",
            )
    for key in ("notification_script", "client_reconfig_script"):
        script = v.get(f"redis_sentinel_{key}")
        need(
            not script or str(script).startswith("/"),
            f"redis_sentinel_{key} {script!r} must be an absolute path on the host (or empty)",
        )
    problems += _sentinel_settings_problems(v, groups, S)
    return problems


def redis_sentinel_firewall_ports(role_vars: dict) -> list[int]:
    """The ports Sentinel listens on (the TLS port only with both; TLS only serves on the port itself)."""
    v = role_vars
    ports = [int(v["redis_sentinel_port"])]
    if v.get("redis_sentinel_tls_mode") == "both":
        ports.append(int(v["redis_sentinel_tls_port"]))
    return sorted(set(ports))


def _firewall_problems(v: dict, ports: list[int], server_firewall_ports: list | None, S) -> list[str]:
    """The client networks admitted to Sentinel's ports, and one table per port: with the role's own
    table on, the same port in redis_server's table too would admit only what both admit."""
    problems = S.redis_network_problems(
        "redis_sentinel_client_networks",
        v.get("redis_sentinel_client_networks") or [],
        v.get("redis_sentinel_client_networks_allow_any"),
        "redis_sentinel_client_networks_allow_any",
    )
    if v.get("redis_sentinel_firewall") is True:
        extra = {S.redis_whole(p) for p in server_firewall_ports or []}
        for port in sorted(set(ports) & extra):
            problems.append(
                f"port {port} is in redis_server_firewall_extra_ports, but redis_sentinel_firewall guards "
                "Sentinel's ports in a table of its own (every sentinel host, sentinel-only hosts too): "
                "remove it from redis_server_firewall_extra_ports (or set redis_sentinel_firewall: false "
                "to keep guarding it there)"
            )
    return problems


def _sentinel_settings_problems(v: dict, groups: list, S) -> list[str]:
    """Real booleans, TLS words, the service user, paths and scripts without spaces."""
    problems = S.redis_bool_problems(v, SENTINEL_BOOLEANS)
    if "redis_sentinel_tls_protocols" in v:
        problems += S.redis_tls_protocols_problems(
            "redis_sentinel_tls_protocols", v["redis_sentinel_tls_protocols"]
        )
    if "redis_sentinel_tls_ciphers" in v:
        problems += S.redis_tls_ciphers_problems(
            "redis_sentinel_tls_ciphers", v["redis_sentinel_tls_ciphers"]
        )
    if "redis_sentinel_tls_ciphersuites" in v:
        problems += S.redis_tls_ciphersuites_problems(
            "redis_sentinel_tls_ciphersuites", v["redis_sentinel_tls_ciphersuites"]
        )
    clients = v.get("redis_sentinel_tls_auth_clients", "yes")
    if v.get("redis_sentinel_tls_mode") in ("both", "only") and clients not in TLS_AUTH_CLIENTS:
        problems.append(
            f"redis_sentinel_tls_auth_clients is {clients!r}: choose the quoted string yes, no or optional"
        )
    loglevel = v.get("redis_sentinel_loglevel", "notice")
    if loglevel not in LOGLEVELS:
        problems.append(f"redis_sentinel_loglevel {loglevel!r}: choose debug, verbose, notice or warning")
    if "redis_sentinel_restart_sec" in v:
        restart = v["redis_sentinel_restart_sec"]
        problems += S.redis_range_problems("redis_sentinel_restart_sec", restart, 0, 3600, "seconds")
    if "redis_sentinel_user" in v:
        problems += S.redis_service_user_problems("redis_sentinel_user", v["redis_sentinel_user"])
    if "redis_sentinel_group" in v:
        problems += S.redis_service_user_problems("redis_sentinel_group", v["redis_sentinel_group"], "group")
    for key in ("conf_dir", "data_dir", "log_dir", "tls_dir"):
        if f"redis_sentinel_{key}" in v:
            problems += S.redis_path_problems(f"redis_sentinel_{key}", v[f"redis_sentinel_{key}"])
    scripts = [(f"redis_sentinel_{k}", v.get(f"redis_sentinel_{k}")) for k in ("notification_script",
               "client_reconfig_script")]  # fmt: skip
    for i, group in enumerate(groups):
        if isinstance(group, dict):
            scripts += [(f"redis_sentinel_groups[{i}].{k}", group.get(k)) for k in ("notification_script",
                        "client_reconfig_script")]  # fmt: skip
    for name, script in scripts:
        if script and str(script).startswith("/"):
            problems += S.redis_path_problems(name, script)
    return problems


def redis_sentinel_instance_problems(role_vars: dict, topology: dict | None) -> list[str]:
    """Groups that monitor an instance the redis_server role does not deploy."""
    if topology is None:
        return [
            "no Redis topology found: run the redis_server role in the same playbook before "
            "redis_sentinel (playbooks/site.yml does), including at least one host of group 'redis'"
        ]
    problems = []
    for group in redis_sentinel_groups(role_vars):
        if group["state"] == "present" and group["instance"] not in topology:
            problems.append(
                f"redis_sentinel_groups ({group['name']}).instance {group['instance']!r} is not an instance "
                f"of redis_server_instances (deployed: {', '.join(sorted(topology)) or 'none'})"
            )
    return problems


def redis_sentinel_acl_line(name: str, password: str, rules: list[str], enabled: bool = True) -> str:
    """A user line for sentinel.conf (and ACL SETUSER): only the password's SHA-256 hash."""
    digest = hashlib.sha256(str(password).encode()).hexdigest()
    # 'reset' first: the line means the same in the file, in ACL SETUSER and in a probe.
    return " ".join(["user", name, "reset", "on" if enabled else "off", f"#{digest}", *rules])


def redis_sentinel_inspect_user(name: str, password_hash: str) -> list[dict]:
    """The on-host reader's Sentinel user from its password's SHA-256 (the password never leaves
    its host), as redis_sentinel_users lists users; [] while the hash is not known yet."""
    digest = str(password_hash or "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        return []
    return [{"name": name, "rules": " ".join(["reset", "on", f"#{digest}", *INSPECT_RULES])}]


def redis_sentinel_inspect_problems(settings: dict) -> list[str]:
    """The reader's variables as the inventory sets them (redis_server's rules)."""
    return _server_filters().redis_inspect_problems(settings)


def redis_sentinel_users(role_vars: dict) -> list[dict]:
    """Every Sentinel ACL user: name and the rules after 'user NAME' (state, hash, rights)."""
    v = role_vars
    users = [
        (v["redis_sentinel_admin_user"], v["redis_sentinel_admin_password"], ADMIN_RULES),
        (v["redis_sentinel_peer_user"], v["redis_sentinel_peer_password"], PEER_RULES),
        (v["redis_sentinel_monitoring_user"], v["redis_sentinel_monitoring_password"], MONITOR_RULES),
    ]
    users += [(u["name"], u["password"], CLIENT_RULES) for u in v.get("redis_sentinel_client_users") or []]
    out = []
    for name, password, rules in users:
        line = redis_sentinel_acl_line(name, password, rules)
        out.append({"name": name, "rules": line.split(" ", 2)[2]})
    return out


def redis_sentinel_view(
    results: list[dict], hostvars, groups: list[dict], sentinels: int | None = None
) -> dict:
    """What the live sentinels say: instance -> the host all answering sentinels name as primary.

    ``results`` come from redis_sentinel_info looped over the sentinel hosts. Groups no sentinel
    monitors yet are left out (first deploy), and so are groups fewer than a majority of the
    ``sentinels`` answer for (a lone sentinel may be stale: the servers are asked instead).
    Sentinels that name different primaries are a split brain or a failover in progress:
    refused, a person (or a moment's wait) must decide.
    """
    host_of = {}
    for host in hostvars:
        host_of[str(hostvars[host].get("ansible_host", host))] = host
    view = {}
    for group in groups:
        if group.get("state", "present") != "present":
            continue
        answers = {}
        for res in results:
            master = (res.get("masters") or {}).get(group["name"])
            if res.get("running") and master:
                answers[res["item"]] = (master["ip"], int(master["port"]))
        distinct = sorted(set(answers.values()))
        if not distinct or (sentinels and len(answers) < topology.majority(sentinels) and len(distinct) == 1):
            continue
        if len(distinct) > 1:
            said = ", ".join(f"{s}: {a[0]}:{a[1]}" for s, a in sorted(answers.items()))
            raise SentinelVarError(
                f"the sentinels disagree on the primary of group {group['name']} ({said}): a failover may "
                "be in progress (wait a minute and rerun) or the sentinels are split; check "
                f"SENTINEL MASTER {group['name']} on each"
            )
        address, port = distinct[0]
        if address not in host_of:
            raise SentinelVarError(
                f"the sentinels name {address}:{port} as primary of group {group['name']}, which is not a "
                "host of the inventory: add it, or remove the group from Sentinel (state: absent)"
            )
        view[group["instance"]] = {"host": host_of[address], "address": address, "port": port,
                                   "sentinels": sorted(answers)}  # fmt: skip
    return view


def redis_sentinel_monitors(groups: list[dict], topology: dict, hostvars) -> list[dict]:
    """Groups as the converge module takes them: the address and port to monitor when new."""
    out = []
    for group in groups:
        item = dict(group)
        inst = topology.get(group["instance"]) if group["state"] == "present" else None
        if inst:
            item["address"] = str(hostvars[inst["primary"]].get("ansible_host", inst["primary"]))
            item["port"] = int(inst["port"])
            item["replicas"] = len(inst["hosts"]) - 1
            # Every server of the instance, as Sentinel lists replicas (address:port).
            item["members"] = [
                f"{hostvars[h].get('ansible_host', h)}:{int(inst['port'])}" for h in inst["hosts"]
            ]
        out.append(item)
    return out


def redis_sentinel_health(
    masters: dict, group: str, sentinels: int, replicas: int, spare: str = ""
) -> list[str]:
    """Why one sentinel's view of a group is not healthy (empty when it is): the core's judgement
    (core/health.py), which see for ``spare``."""
    view = health.SentinelView.from_master("", masters.get(group))
    return [p.text for p in health.sentinel_problems(view, group, sentinels, replicas, spare)]


def redis_sentinel_unhealthy(info: dict, monitors: list[dict], sentinels: int) -> list[str]:
    """Why one sentinel (a redis_sentinel_info result) does not see every monitored group whole yet.

    Empty once it answers and sees, for each group, its primary, the other sentinels and the
    replicas the topology expects.
    """
    if not info.get("running"):
        return ["the sentinel does not answer"]
    return [
        f"{m['name']}: {problem}"
        for m in monitors
        if m.get("state", "present") == "present"
        for problem in redis_sentinel_health(
            info.get("masters") or {}, m["name"], sentinels, int(m.get("replicas", 0))
        )
    ]


def redis_sentinel_gate_nodes(hosts: list[dict], port: int) -> list[dict]:
    """The sentinels as redis_sentinel_gate reads them from another host: each host's
    inventory name, the address other sentinels use (redis_sentinel_announce_ip, else
    ansible_host) and its port (redis_sentinel_announce_port, else redis_sentinel_port; ``port``
    where the host sets neither)."""
    nodes = []
    for hv in hosts:
        name = hv.get("inventory_hostname")
        address = hv.get("redis_sentinel_announce_ip") or hv.get("ansible_host") or name
        own = hv.get("redis_sentinel_announce_port") or hv.get("redis_sentinel_port") or port
        nodes.append({"name": name, "host": str(address), "port": int(own)})
    return nodes


class FilterModule:
    def filters(self):
        return {
            "redis_sentinel_gate_nodes": redis_sentinel_gate_nodes,
            "redis_sentinel_groups": redis_sentinel_groups,
            "redis_sentinel_problems": redis_sentinel_problems,
            "redis_sentinel_instance_problems": redis_sentinel_instance_problems,
            "redis_sentinel_users": redis_sentinel_users,
            "redis_sentinel_inspect_user": redis_sentinel_inspect_user,
            "redis_sentinel_inspect_problems": redis_sentinel_inspect_problems,
            "redis_sentinel_acl_line": redis_sentinel_acl_line,
            "redis_sentinel_view": redis_sentinel_view,
            "redis_sentinel_monitors": redis_sentinel_monitors,
            "redis_sentinel_health": redis_sentinel_health,
            "redis_sentinel_unhealthy": redis_sentinel_unhealthy,
            "redis_sentinel_firewall_ports": redis_sentinel_firewall_ports,
        }
