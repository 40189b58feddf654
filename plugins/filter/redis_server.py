"""Pure logic of the redis_server role: sizes, instances, validation, topology, ACL lines.

Everything here is a function of plain data (variables, facts, gathered INFO), so it
is unit-tested without a server (tests/unit/test_redis_server_filters.py). The role
calls it through the Jinja filters registered at the bottom.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re

from ansible_collections.redisops.kit.plugins.module_utils.core import profiles, rdb, sizes
from ansible_collections.redisops.kit.plugins.module_utils.core.choices import (
    APPENDFSYNC,
    DEBUG_COMMAND,
    EVICTION_POLICIES,
    FLAVORS,
    LOGLEVELS,
    REPL_DISKLESS_LOAD,
    STATES,
    TLS_AUTH_CLIENTS,
    TLS_MODES,
    TLS_PROTOCOLS,
)
from ansible_collections.redisops.kit.plugins.module_utils.core.pki import pki_dir

# Commands the kit itself, replication and Sentinel depend on: never renamed.
UNRENAMEABLE = (
    "ACL", "AUTH", "CLIENT", "CONFIG", "EXEC", "HELLO", "INFO", "MULTI", "PING", "PSYNC",
    "PUBLISH", "REPLCONF", "REPLICAOF", "ROLE", "SCRIPT", "SLAVEOF", "SUBSCRIBE",
)  # fmt: skip
USER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# Fork copy-on-write can double memory in the worst case; the catalogue (MEM-02) asks for
# maxmemory at most ~75% of RAM when RDB or AOF rewrites run.
FORK_HEADROOM_MAX_SHARE = 0.75


class RedisVarError(ValueError):
    """A variable with a value Redis or the role cannot use."""


def redis_bytes(value, memtotal_mb: int | None = None, instances: int = 1) -> int:
    """Bytes from Redis units (``100mb``, ``1gb``, ``1000``) or a share of host RAM (``"50%"``).

    A share is split evenly across the instances on the host.
    """
    if isinstance(value, bool):
        raise RedisVarError(f"{value!r} is not a size")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError:
            raise RedisVarError(f"{value!r} is not a share like '50%'") from None
        if not 0 < share <= 100:
            raise RedisVarError(f"{value!r}: a share of RAM must be between 0% and 100%")
        if memtotal_mb is None:
            raise RedisVarError(f"{value!r}: a share of RAM needs the host's memory facts")
        return int(memtotal_mb * 1024 * 1024 * share / 100 / max(instances, 1))
    size = sizes.parse(text)
    if size is None:
        raise RedisVarError(
            f"{value!r} is not a size: use bytes, Redis units (100mb, 2gb) or a share ('50%')"
        )
    return size


def redis_memory(value: int) -> str:
    """A byte count in the form Redis's CONFIG REWRITE writes (``100mb``, ``1gb``, ``1000``).

    Rendering sizes this way keeps Ansible's file and Redis's rewrite of it identical.
    """
    return sizes.config_form(value)


def redis_quote(value) -> str:
    """A string the way CONFIG REWRITE writes it: double-quoted, with C-style escapes."""
    out = []
    for ch in str(value):
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif not ch.isprintable() or ord(ch) > 126:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def redis_yesno(value) -> str:
    if isinstance(value, str):
        return value
    return "yes" if value else "no"


# --- Input rules shared by the roles --------------------------------------------------
# redis_sentinel, redis_exporter, redis_backup and redis_compliance load this module by path
# (_server_filters()) and use these helpers, so each rule lives here once. Each returns messages
# that name the variable and the fix ([] when the value is usable).

# The kit never accepts a shorter secret, whatever *_password_min_length says.
MIN_PASSWORD_LENGTH = 16
# Debian's adduser NAME_REGEX, at most 32 characters (useradd's limit).
SERVICE_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
# What a systemd EnvironmentFile line would unquote, unescape or split.
_ENV_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f\"'\\$]")
# A path that reaches a unit or config line: absolute, no whitespace, quotes or control characters.
_PATH = re.compile(r"^/[^\s\x00-\x1f\x7f\"'\\]*$")


def redis_whole(value) -> int | None:
    """An integer from an int or a string of digits (``-e name=5`` gives a string); never a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def redis_bool_problems(role_vars: dict, names) -> list[str]:
    """The variables of ``names`` present in ``role_vars`` that are not real booleans.

    A string such as "no" or "false" is true in a Jinja or Python test: it would turn a feature on.
    """
    return [
        f"{name} is {role_vars[name]!r}, not a boolean: use true or false without quotes (YAML or JSON; "
        "a string such as 'no' counts as true)"
        for name in names
        if name in role_vars and not isinstance(role_vars[name], bool)
    ]


def redis_range_problems(name: str, value, low: int, high: int, what: str = "") -> list[str]:
    """``value`` must be a whole number from ``low`` to ``high``."""
    number = redis_whole(value)
    if number is None or not low <= number <= high:
        unit = f" {what}" if what else ""
        return [f"{name} is {value!r}: use a whole number from {low} to {high}{unit}"]
    return []


def redis_port_problems(name: str, value) -> list[str]:
    number = redis_whole(value)
    if number is None or not 1 <= number <= 65535:
        return [f"{name} {value!r} is not a port number: use a whole number from 1 to 65535"]
    return []


def redis_port_clashes(ports: list[tuple[str, int | None]]) -> list[str]:
    """(label, port) pairs: a port used under two labels is refused."""
    seen: dict[int, str] = {}
    problems = []
    for label, port in ports:
        if port is None:
            continue
        if port in seen and seen[port] != label:
            problems.append(
                f"port {port} is used twice, as {seen[port]} and as {label}: give each its own port"
            )
        seen.setdefault(port, label)
    return problems


def _unspecified(address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_unspecified or bool(mapped and mapped.is_unspecified)


def redis_bind_problems(name: str, entries, allow_wildcard, allow_name: str, dash: bool = True) -> list[str]:
    """Listen addresses: a list of IP addresses (Redis's optional '-' prefix when ``dash``); an
    address that means every address (0.0.0.0, ::, ::0, 0:0::0, *, -::*...) needs ``allow_name``."""
    if not isinstance(entries, list | tuple):
        return [f"{name} must be a list of IP addresses, not {entries!r}"]
    problems, wildcard = [], False
    for entry in entries:
        if not isinstance(entry, str):
            problems.append(f"{name}: {entry!r} is not an IP address: write it as a quoted string")
            continue
        text = entry.strip()
        if dash and text.startswith("-"):
            text = text[1:]
        if text in ("*", "::*") and dash:
            wildcard = True
            continue
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            problems.append(
                f"{name}: {entry!r} is not an IP address: list the host's addresses (ansible_host)"
            )
            continue
        wildcard = wildcard or _unspecified(address)
    if wildcard and allow_wildcard is not True:
        problems.append(
            f"{name} {list(entries)} listens on every address: list explicit addresses, or set "
            f"{allow_name}: true if that is intended"
        )
    return problems


def redis_network_problems(name: str, entries, allow_any, allow_name: str) -> list[str]:
    """Source networks: each an address or CIDR network; a /0 network (every address) needs ``allow_name``."""
    if not isinstance(entries, list | tuple):
        return [f"{name} must be a list of addresses or CIDR networks, not {entries!r}"]
    problems = []
    for entry in entries:
        try:
            if not isinstance(entry, str):
                raise ValueError
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            problems.append(f"{name}: {entry!r} is not an address or CIDR network")
            continue
        if network.prefixlen == 0 and allow_any is not True:
            problems.append(
                f"{name}: {entry!r} admits every address: list the clients' networks, or set "
                f"{allow_name}: true if that is intended"
            )
    return problems


def redis_min_length(name: str, value) -> tuple[int, list[str]]:
    """The password minimum to apply (never below 16) and a problem if ``value`` asks for less."""
    number = redis_whole(value)
    if number is None or number < MIN_PASSWORD_LENGTH or number > 1024:
        return MIN_PASSWORD_LENGTH, [
            f"{name} is {value!r}: the kit never accepts passwords shorter than {MIN_PASSWORD_LENGTH}; "
            f"use a whole number from {MIN_PASSWORD_LENGTH} to 1024"
        ]
    return number, []


def redis_password_problems(name: str, value, min_length: int = MIN_PASSWORD_LENGTH, unquoted: bool = False):
    """A secret: a string of at least ``min_length`` (never below 16) without control characters;
    ``unquoted``: it reaches a line unquoted (an environment file), so no whitespace, quotes, '\\' or '$'."""
    if value is None or value == "":
        return [f"{name} is not set: put it in the inventory (Ansible Vault for real hosts)"]
    if isinstance(value, bool | int | float):
        return [f"{name} must be a string: quote it in the inventory"]
    text = str(value)
    problems = []
    if len(text) < max(min_length, MIN_PASSWORD_LENGTH):
        problems.append(
            f"{name} is shorter than {max(min_length, MIN_PASSWORD_LENGTH)} characters: use a longer secret"
        )
    if _CONTROL.search(text):
        problems.append(f"{name} contains a control character (a newline?): use printable characters only")
    elif unquoted and _ENV_UNSAFE.search(text):
        problems.append(
            f"{name} contains whitespace, a quote, '\\' or '$', which its environment file would mangle: "
            "use letters, digits and punctuation such as .,:-_"
        )
    return problems


def redis_service_user_problems(name: str, value, kind: str = "user") -> list[str]:
    """A service user (or group) the role creates or runs as: never root, a plain system name."""
    if str(value) in ("root", "0") or value == 0:
        return [
            f"{name} is root: the service must run as an unprivileged {kind}; keep the default or name "
            f"a system {kind} of its own"
        ]
    if not isinstance(value, str) or not SERVICE_USER.fullmatch(value):
        return [
            f"{name} {value!r} is not a system {kind} name: use lower-case letters, digits, '-' or '_' "
            "(at most 32, not starting with a digit or '-')"
        ]
    return []


def redis_path_problems(name: str, value) -> list[str]:
    if not isinstance(value, str) or not _PATH.fullmatch(value) or "/../" in f"{value}/":
        return [f"{name} {value!r} must be an absolute path without whitespace, quotes or '..'"]
    return []


def redis_plain_role_problems(settings: dict, ranges: dict, paths: tuple, user_var: str) -> list[str]:
    """The rules of a role whose variables are numbers in ranges ({name: (low, high, unit)}),
    absolute paths and a service user (redis_backup, redis_compliance)."""
    problems = []
    for name, (low, high, what) in ranges.items():
        if name in settings:
            problems += redis_range_problems(name, settings[name], low, high, what)
    if user_var in settings:
        problems += redis_service_user_problems(user_var, settings[user_var])
    for name in paths:
        if name in settings:
            problems += redis_path_problems(name, settings[name])
    return problems


def redis_tls_protocols_problems(name: str, value) -> list[str]:
    words = value.split() if isinstance(value, str) else []
    if not words or any(w not in TLS_PROTOCOLS for w in words):
        return [
            f"{name} {value!r}: only TLSv1.2 and TLSv1.3 are accepted (older versions are broken); "
            'use "TLSv1.2 TLSv1.3" or "TLSv1.3"'
        ]
    return []


# OpenSSL cipher strings as the kit accepts them: ':'-separated words of letters, digits, '_', '-',
# '+' (a combination such as ECDHE+AESGCM) and '!' (never).
_CIPHER_STRING = re.compile(r"^[A-Za-z0-9_+:!-]+$")
# Words that name (or pull in) broken or unauthenticated ciphers: no encryption, export grade,
# RC4/RC2/DES/3DES/IDEA, MD5 MACs, anonymous key exchange, OpenSSL's LOW group.
WEAK_CIPHER_WORDS = frozenset(
    ("NULL", "ANULL", "ENULL", "EXPORT", "EXPORT40", "EXPORT56", "EXP", "RC4", "RC2", "MD5", "DES", "3DES",
     "DES40", "IDEA", "ADH", "AECDH", "LOW")
)  # fmt: skip
# TLSv1.3 suites worth offering (CCM_8's short tag is not for general use, RFC 8446 B.4).
TLS13_SUITES = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
                "TLS_AES_128_CCM_SHA256")  # fmt: skip


def redis_tls_ciphers_problems(name: str, value) -> list[str]:
    """A TLSv1.2 cipher list (OpenSSL form): one ':'-separated string of cipher names, groups and
    '+' combinations; a weak cipher only where it is excluded ('!RC4' or '-RC4')."""
    fix = (
        "use ':'-separated OpenSSL names of forward-secret AEAD ciphers, such as "
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384 (the role's default)"
    )
    if not isinstance(value, str) or not value.strip():
        return [f"{name} is empty: {fix}"]
    if not _CIPHER_STRING.fullmatch(value):
        return [f"{name} {value!r} has characters OpenSSL cipher strings do not use (only letters, digits, "
                f"'_', '-', '+', '!' and ':'): {fix}"]  # fmt: skip
    entries = value.split(":")
    if any(not e or e in ("!", "-", "+") for e in entries):
        return [f"{name} {value!r} has an empty entry (two ':' in a row, or a lone '!'): {fix}"]
    weak = []
    for entry in entries:
        if entry.startswith(("!", "-")):
            continue  # excluding a weak cipher is what a good list does
        words = {w.upper() for w in re.split(r"[-+_]", entry.lstrip("+")) if w}
        weak += [entry] if words & WEAK_CIPHER_WORDS else []
    if weak:
        return [f"{name} allows weak or unauthenticated ciphers ({', '.join(weak)}): remove them or exclude "
                f"them with '!' (for example !aNULL:!RC4); {fix}"]  # fmt: skip
    return []


def redis_tls_ciphersuites_problems(name: str, value) -> list[str]:
    """TLSv1.3 cipher suites: ':'-separated names from TLS13_SUITES (OpenSSL takes no groups or '!' here)."""
    fix = f"use ':'-separated TLSv1.3 suites from {', '.join(TLS13_SUITES)}"
    if not isinstance(value, str) or not value.strip():
        return [f"{name} is empty: {fix}"]
    if not _CIPHER_STRING.fullmatch(value):
        return [f"{name} {value!r} has characters cipher suite names do not use: {fix}"]
    unknown = [s for s in value.split(":") if s not in TLS13_SUITES]
    if unknown:
        return [f"{name}: {', '.join(repr(s) for s in unknown)} is not a TLSv1.3 suite the kit accepts "
                f"(CCM_8 has a truncated tag; names are case-sensitive): {fix}"]  # fmt: skip
    return []


def redis_client_cert_problems(settings: dict, cert_var: str, key_var: str, consumer: str) -> list[str]:
    """A consumer's client certificate and key (control-node paths) when it connects over TLS:
    both set. Empty means the inventory brings its own TLS files (redis_server_tls_cert), so the
    role issues no client certificates: the inventory names the consumer's own pair."""
    missing = [n for n in (cert_var, key_var) if not settings.get(n)]
    if not missing:
        return []
    return [
        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty: {consumer} connect(s) over "
        "TLS and the inventory brings its own certificates (redis_server_tls_cert), so no client certificate "
        f"is generated; set {cert_var} and {key_var} to a client certificate of your CA (extended key "
        f"usage clientAuth) and its key, issued to {consumer} alone"
    ]


def redis_word_problems(name: str, value) -> list[str]:
    """A value that reaches an ACL or config line as one word: a non-empty string, no whitespace
    or control characters (they would add words to the line)."""
    if not isinstance(value, str) or not value or _SPACE_OR_CONTROL.search(value):
        return [f"{name}: {value!r} must be one word, without whitespace or control characters"]
    return []


def redis_address_clashes(addresses: dict | None) -> list[str]:
    """Inventory host -> ansible_host: two hosts with the same address are one machine twice."""
    by_address: dict[str, list[str]] = {}
    for host, address in (addresses or {}).items():
        text = str(address or host).strip()
        try:
            text = str(ipaddress.ip_address(text))
        except ValueError:
            text = text.lower()
        by_address.setdefault(text, []).append(str(host))
    return [
        f"inventory hosts {', '.join(sorted(hosts))} have the same ansible_host {address}: each host needs "
        "its own address (replication, Sentinel and the firewall tell hosts apart by it)"
        for address, hosts in sorted(by_address.items())
        if len(hosts) > 1
    ]


# Settings an instance entry may override; everything else is role-wide. The profile's settings
# (core/profiles.py SETTINGS) are resolved by profile_settings().
INSTANCE_KEYS = {
    "name": None,
    "port": None,
    "tls_port": None,
    "maxmemory": "maxmemory",
    "maxclients": "maxclients",
    "replica_priority": "replica_priority",
    "state": None,
    # Cluster mode only: the node's cluster bus port (default: its announced port + the offset).
    "bus_port": None,
}
INSTANCE_PROFILE_KEYS = ("profile", *profiles.SETTINGS)


def profile_settings(role_vars: dict, inst: dict) -> tuple[str, dict, dict]:
    """An instance's profile, its profile settings and where each came from (the variable to name).

    Most specific first: the instance's own keys; then its own ``profile``; then the role-wide
    variables set explicitly (not null); then the group's redis_server_profile (default store).
    """
    name = inst.get("name")
    group_profile = role_vars.get("redis_server_profile") or profiles.STORE
    own_profile = inst.get("profile")
    chosen = own_profile or group_profile
    # An unknown name is refused by redis_server_problems; resolve as store meanwhile.
    defaults = profiles.BY_NAME.get(chosen, profiles.BY_NAME[profiles.STORE]).defaults()
    values, where = {}, {}
    where["profile"] = f"redis_server_instances ({name}).profile" if own_profile else "redis_server_profile"
    for key in profiles.SETTINGS:
        role_value = role_vars.get(f"redis_server_{key}")
        if key in inst and inst[key] is not None:
            values[key], where[key] = inst[key], f"redis_server_instances ({name}).{key}"
        elif not own_profile and role_value is not None:
            values[key], where[key] = role_value, f"redis_server_{key}"
        elif key == "min_replicas_to_write" and role_vars.get("redis_server_cluster_enabled") is True:
            # A shard has no replica from a failover until its old primary rejoins, and a primary
            # cut off in a minority stops taking writes after the node timeout anyway.
            values[key], where[key] = 0, "cluster mode's min_replicas_to_write"
        else:
            values[key], where[key] = defaults[key], f"the {chosen} profile's {key}"
    if isinstance(values["save"], tuple):
        values["save"] = [dict(rule) for rule in values["save"]]
    return chosen, values, where


def redis_rdb_format(flavor: str, version: str) -> int | None:
    """The RDB format a server writes, which is also the newest it can read (None: not known).

    Redis 7.0 writes 10, 7.2 writes 11 and 7.4 and later 12; Valkey 7.2 and 8.x keep to 11, the
    format of Redis 7.2, so Redis 7.4's and 8's files cannot be loaded by Valkey 8 (nor by Valkey
    9, whose own formats start at 80). The table is the core's (core/rdb.py), shared with the checks.
    """
    return rdb.rdb_format(flavor, version)


def redis_migration_problems(source: dict, targets: dict) -> list[str]:
    """Why a group cannot move from ``source`` ({flavor, version} of its primary) to the
    target servers (host -> {flavor, version}) by replication, or [].

    Each new server first syncs from the old primary, so it must load that primary's RDB format.
    """
    problems = []
    src_flavor, src_version = source.get("flavor", "redis"), source.get("version", "")
    src = rdb.rdb_format(src_flavor, src_version)
    name = f"{source.get('flavor')} {source.get('version') or '(version unknown)'}"
    if src is None:
        problems.append(f"the primary runs {name}, whose RDB format the kit does not know: migrate by hand")
    for host, target in sorted(targets.items()):
        flavor, version = target.get("flavor", "redis"), target.get("version", "")
        tgt = rdb.rdb_format(flavor, version)
        what = f"{target.get('flavor')} {target.get('version') or '(not installable)'}"
        if tgt is None:
            problems.append(f"{host}: {what} is not a server whose RDB format the kit knows")
        elif src is not None and not rdb.loads(flavor, version, src):
            reads = f"reads RDB format {tgt} at most" if tgt < src else f"does not read format {src}"
            problems.append(
                f"{host}: {what} {reads}, but the primary ({name}) writes format "
                f"{src}: a replica could never sync. Valkey 8 can take over from Redis 7.2 and older, "
                "not from Redis 7.4 or 8; keep redis_server_flavor as it is"
            )
    return problems


def redis_instances(role_vars: dict, memtotal_mb: int | None) -> list[dict]:
    """Resolve each instance: its own overrides over the role-wide settings, sizes in bytes."""
    instances = role_vars.get("redis_server_instances") or []
    resolved = []
    for inst in instances:
        item = {}
        for key, role_key in INSTANCE_KEYS.items():
            if key in inst:
                item[key] = inst[key]
            elif role_key is not None:
                item[key] = role_vars.get(f"redis_server_{role_key}")
        item["profile"], settings, _ = profile_settings(role_vars, inst)
        item.update(settings)
        name = item["name"]
        port = int(item["port"])
        mode = role_vars.get("redis_server_tls_mode", "only")
        if mode == "only":
            item["plain_port"], item["tls_port"] = 0, port
        elif mode == "both":
            item["plain_port"], item["tls_port"] = port, int(item.get("tls_port") or port + 10000)
        else:
            item["plain_port"], item["tls_port"] = port, 0
        item["port"] = port
        cluster_bus = redis_cluster_bus(role_vars, item, inst.get("bus_port"))
        item["cluster"] = cluster_bus is not None
        item["bus_port"] = cluster_bus["port"] if cluster_bus else 0
        item["tls_cluster"] = bool(cluster_bus and cluster_bus["tls"])
        item["state"] = inst.get("state", "present")
        present = [i for i in instances if i.get("state", "present") == "present"]
        item["maxmemory_bytes"] = redis_bytes(item["maxmemory"], memtotal_mb, len(present))
        item["persistent"] = bool(item["save"]) or bool(item["appendonly"])
        flavor = role_vars.get("redis_server_flavor", "redis")
        item["flavor"] = flavor
        item["server_bin"] = f"/usr/bin/{flavor}-server"
        item["unit"] = f"{flavor}-server@{name}.service"
        # The same instance under the other server: replaced (stopped, its unit removed) on a switch.
        item["other_units"] = [f"{f}-server@{name}.service" for f in FLAVORS if f != flavor]
        item["conf_dir"] = f"{role_vars.get('redis_server_conf_dir', '/etc/redis')}/{name}"
        item["conf_file"] = f"{item['conf_dir']}/{flavor}.conf"
        item["acl_file"] = f"{item['conf_dir']}/users.acl"
        item["data_dir"] = f"{role_vars.get('redis_server_data_dir', '/var/lib/redis')}/{name}"
        # Not redis-server*.log: the distribution's logrotate stanza claims those names.
        item["log_file"] = f"{role_vars.get('redis_server_log_dir', '/var/log/redis')}/instance-{name}.log"
        item["nofile"] = max(65535, int(item["maxclients"]) + 32)
        resolved.append(item)
    return resolved


def redis_cluster_bus(role_vars: dict, item: dict, bus_port=None) -> dict | None:
    """A cluster node's bus: its port and whether it runs over TLS (None outside cluster mode).

    The bus speaks TLS when the instance's clients and replicas do (tls-cluster follows
    tls-replication, or TLS only); its port defaults to the client port the node announces (the
    TLS port then) plus redis_server_cluster_bus_port_offset, as Redis's own default does.
    """
    if role_vars.get("redis_server_cluster_enabled") is not True:
        return None
    tls = bool(item["tls_port"]) and (
        not item["plain_port"] or role_vars.get("redis_server_tls_replication", True) is True
    )
    announced = item["tls_port"] if tls else item["plain_port"]
    offset = redis_whole(role_vars.get("redis_server_cluster_bus_port_offset", 10000))
    port = redis_whole(bus_port) if bus_port is not None else announced + (offset or 0)
    return {"port": port, "tls": tls, "announced": announced}


def _cluster_problems(v: dict, instances: list) -> list[str]:
    """Cluster mode: its settings, each node's bus port, and what would stop formation."""
    problems = []
    cluster = v.get("redis_server_cluster_enabled", False)
    problems += redis_bool_problems(
        v,
        [
            f"redis_server_cluster_{name}"
            for name in (
                "enabled",
                "require_full_coverage",
                "allow_reads_when_down",
                "allow_replica_migration",
            )
        ],
    )
    for name, (low, high, what) in CLUSTER_RANGES.items():
        if name in v:
            problems += redis_range_problems(name, v[name], low, high, what)
    for i, inst in enumerate(instances):
        if isinstance(inst, dict) and "bus_port" in inst and cluster is not True:
            problems.append(
                f"redis_server_instances[{i}].bus_port is set, but redis_server_cluster_enabled is not true: "
                "only cluster nodes have a bus; remove it or turn cluster mode on"
            )
    if cluster is not True or problems:
        return problems
    renamed = {str(k).upper() for k in (v.get("redis_server_rename_commands") or {})}
    for command in sorted(renamed & {"CLUSTER", "CONFIG", "MIGRATE", "RESTORE", "ASKING"}):
        problems.append(
            f"redis_server_rename_commands renames {command}, which a cluster needs (formation, resharding, "
            "failover): deny it per user with ACLs instead"
        )
    ports = []
    for i, inst in enumerate(instances):
        if not isinstance(inst, dict) or inst.get("state", "present") != "present":
            continue
        where = f"redis_server_instances[{i}]"
        if "bus_port" in inst:
            problems += redis_port_problems(f"{where}.bus_port", inst["bus_port"])
        try:
            port = int(inst["port"])
            tls_port = int(inst.get("tls_port") or port + 10000)
        except (KeyError, TypeError, ValueError):
            continue  # named by the instance rules
        mode = v.get("redis_server_tls_mode", "only")
        plain, tls = (0, port) if mode == "only" else (port, tls_port) if mode == "both" else (port, 0)
        bus = redis_cluster_bus(v, {"plain_port": plain, "tls_port": tls}, inst.get("bus_port"))
        if bus["port"] is None or not 1 <= bus["port"] <= 65535:
            if "bus_port" not in inst:
                problems.append(
                    f"{where}: its cluster bus port would be {bus['port']} ({bus['announced']} + "
                    "redis_server_cluster_bus_port_offset), outside 1-65535: set bus_port on the instance "
                    "or a smaller offset"
                )
            continue
        ports += [(f"{where} ({inst.get('name')}) port", p) for p in (plain, tls) if p]
        ports.append((f"{where} ({inst.get('name')}) bus_port", bus["port"]))
    seen: dict[int, str] = {}
    for label, port in ports:
        if port in seen:
            problems.append(
                f"{label} {port} is also {seen[port]}: a cluster node's bus port must be free; set bus_port "
                "or redis_server_cluster_bus_port_offset"
            )
        seen.setdefault(port, label)
    return problems


def _save_problems(rules, where: str) -> list[str]:
    if not isinstance(rules, list | tuple):
        return [f"{where} must be a list of {{seconds: N, changes: M}} rules ([] for none), not {rules!r}"]
    problems = []
    for i, rule in enumerate(rules):
        ok = isinstance(rule, dict) and set(rule) == {"seconds", "changes"}
        ok = ok and all(isinstance(rule[k], int) and rule[k] > 0 for k in ("seconds", "changes"))
        if not ok:
            problems.append(
                f"{where}[{i}] must be {{seconds: N, changes: M}} with positive integers, not {rule!r}"
            )
    return problems


def _with_group_profile(role_vars: dict) -> tuple[dict, list[str]]:
    """The role's variables with each profile setting left null filled in from
    redis_server_profile, so the role-wide rules below judge what will be deployed; and what is
    wrong with the profile names themselves."""
    problems = []
    group = role_vars.get("redis_server_profile", profiles.STORE)
    if group not in profiles.PROFILES:
        problems.append(f"redis_server_profile is {group!r}: choose one of {', '.join(profiles.PROFILES)}")
        group = profiles.STORE
    for inst in role_vars.get("redis_server_instances") or []:
        if isinstance(inst, dict) and "profile" in inst and inst["profile"] not in profiles.PROFILES:
            problems.append(
                f"redis_server_instances ({inst.get('name')}).profile is {inst['profile']!r}: "
                f"choose one of {', '.join(profiles.PROFILES)}"
            )
    filled = dict(role_vars)
    for key, value in profiles.profile(group).defaults().items():
        if filled.get(f"redis_server_{key}") is None:
            filled[f"redis_server_{key}"] = [dict(r) for r in value] if key == "save" else value
    return filled, problems


def _instance_profile_problems(role_vars: dict, instances: list, hosts: list | None) -> list[str]:
    """Each instance's own profile settings, and whether its resolved settings fit its profile
    (a queue that evicts, a store that does not persist): refused, naming both variables."""
    problems = []
    for inst in instances:
        if not isinstance(inst, dict) or "name" not in inst:
            continue
        where_inst = f"redis_server_instances ({inst['name']})"
        if "profile" in inst and inst["profile"] not in profiles.PROFILES:
            continue  # named above
        if (role_vars.get("redis_server_profile") or profiles.STORE) not in profiles.PROFILES:
            continue
        if "min_replicas_max_lag" in inst:
            lag = inst["min_replicas_max_lag"]
            problems += redis_range_problems(f"{where_inst}.min_replicas_max_lag", lag, 1, 3600, "seconds")
        if "min_replicas_to_write" in inst:
            problems += _min_replicas_problems(
                f"{where_inst}.min_replicas_to_write", inst["min_replicas_to_write"], hosts
            )
        if "lazyfree" in inst and not isinstance(inst["lazyfree"], bool):
            problems.append(
                f"{where_inst}.lazyfree is {inst['lazyfree']!r}, not a boolean: use true or false"
            )
        if "restart_on_failure" in inst:
            problems += _restart_problems(f"{where_inst}.restart_on_failure", inst["restart_on_failure"])
        chosen, values, where = profile_settings(role_vars, inst)
        if values["maxmemory_policy"] in EVICTION_POLICIES:
            problems += profiles.problems(chosen, values, where)
    return problems


def redis_server_problems(
    role_vars: dict,
    memtotal_mb: int | None = None,
    address: str | None = None,
    hosts: list | None = None,
    addresses: dict | None = None,
) -> list[str]:
    """Every rule the role enforces, as messages naming the variable and the fix.

    Empty when the variables are usable. Runs before any host is changed. ``hosts``: the
    inventory group 'redis'; ``addresses``: inventory host -> ansible_host of every host the kit
    deploys to.
    """
    v, problems = _with_group_profile(role_vars)

    def need(cond: bool, message: str) -> None:
        if not cond:
            problems.append(message)

    instances = v.get("redis_server_instances") or []
    need(
        v.get("redis_server_flavor", "redis") in FLAVORS,
        f"redis_server_flavor is {v.get('redis_server_flavor')!r}: set it to redis or valkey",
    )
    need(bool(instances), "redis_server_instances is empty: list at least one instance (name, port)")
    names, ports = [], []
    for i, inst in enumerate(instances):
        where = f"redis_server_instances[{i}]"
        if not isinstance(inst, dict) or "name" not in inst or "port" not in inst:
            problems.append(f"{where} needs a name and a port, for example {{name: main, port: 6379}}")
            continue
        need(
            inst.get("state", "present") in STATES,
            f"{where}.state {inst.get('state')!r}: choose present or absent",
        )
        allowed = set(INSTANCE_KEYS) | set(INSTANCE_PROFILE_KEYS)
        unknown = set(inst) - allowed
        need(not unknown, f"{where} has unknown key(s) {sorted(unknown)}: allowed are {sorted(allowed)}")
        need(
            bool(INSTANCE_NAME.fullmatch(str(inst["name"]))),
            f"{where}.name {inst['name']!r} must be lower-case letters, digits, '-' or '_'",
        )
        names.append(inst["name"])
        try:
            port = int(inst["port"])
        except (TypeError, ValueError):
            problems.append(f"{where}.port {inst['port']!r} is not a port number")
            continue
        try:
            tls_port = int(inst.get("tls_port") or port + 10000)
        except (TypeError, ValueError):
            problems.append(f"{where}.tls_port {inst['tls_port']!r} is not a port number")
            continue
        need(1 <= port <= 65535, f"{where}.port {port} is outside 1-65535")
        if inst.get("state", "present") == "absent":
            continue
        ports.append(port)
        if v.get("redis_server_tls_mode") == "both":
            need(
                1 <= tls_port <= 65535,
                f"{where}.tls_port {tls_port} is outside 1-65535 (with TLS beside plain it defaults to "
                "port + 10000): set tls_port",
            )
            ports.append(tls_port)
        for key, low, high in (("maxclients", 1, MAX_CLIENTS), ("replica_priority", 0, MAX_PRIORITY)):
            if key in inst:
                problems += redis_range_problems(f"{where}.{key}", inst[key], low, high)
        if "appendonly" in inst:
            problems += redis_bool_problems(
                {f"{where}.appendonly": inst["appendonly"]}, [f"{where}.appendonly"]
            )
        if "save" in inst:
            problems += _save_problems(inst["save"], f"{where}.save")
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"redis_server_instances: two instances are named {name!r}: give each its own name")
    for port in sorted({p for p in ports if ports.count(p) > 1}):
        problems.append(
            f"redis_server_instances: two instances (or TLS ports) use port {port}: give each its own"
        )
    extra_ports = v.get("redis_server_firewall_extra_ports") or []
    if not isinstance(extra_ports, list | tuple):
        problems.append(
            f"redis_server_firewall_extra_ports must be a list of port numbers, not {extra_ports!r}"
        )
        extra_ports = []
    for i, port in enumerate(extra_ports):
        problems += redis_port_problems(f"redis_server_firewall_extra_ports[{i}]", port)
    extra = [redis_whole(p) for p in extra_ports]
    for port in sorted({p for p in extra if p is not None and extra.count(p) > 1}):
        problems.append(f"redis_server_firewall_extra_ports lists port {port} twice: list it once")
    for port in sorted(set(ports) & {p for p in extra if p is not None}):
        problems.append(f"port {port} is both a Redis instance port and in redis_server_firewall_extra_ports")

    policy = v.get("redis_server_maxmemory_policy")
    need(
        policy in EVICTION_POLICIES,
        f"redis_server_maxmemory_policy {policy!r} is not a Redis policy: "
        f"choose one of {', '.join(EVICTION_POLICIES)}",
    )
    for inst in instances:
        if (
            isinstance(inst, dict)
            and "maxmemory_policy" in inst
            and inst["maxmemory_policy"] not in EVICTION_POLICIES
        ):
            problems.append(
                f"redis_server_instances ({inst.get('name')}).maxmemory_policy {inst['maxmemory_policy']!r} "
                f"is not a Redis policy: choose one of {', '.join(EVICTION_POLICIES)}"
            )
    problems += _instance_profile_problems(role_vars, instances, hosts)
    problems += _cluster_problems(v, instances)
    need(
        v.get("redis_server_appendfsync") in APPENDFSYNC,
        f"redis_server_appendfsync {v.get('redis_server_appendfsync')!r}: "
        f"choose one of {', '.join(APPENDFSYNC)}",
    )
    need(
        v.get("redis_server_loglevel") in LOGLEVELS,
        f"redis_server_loglevel {v.get('redis_server_loglevel')!r}: choose one of {', '.join(LOGLEVELS)}",
    )
    problems += _save_problems(v.get("redis_server_save") or [], "redis_server_save")

    # Memory: a size Redis understands, and room for fork copy-on-write when persisting.
    if not problems or not any(p.startswith("redis_server_instances") for p in problems):
        try:
            resolved = redis_instances(v, memtotal_mb)
        except (RedisVarError, ValueError, TypeError) as exc:
            problems.append(f"redis_server_maxmemory (or an instance's maxmemory): {exc}")
            resolved = []
        if resolved and memtotal_mb:
            resolved = [i for i in resolved if i["state"] == "present"]
            total = sum(i["maxmemory_bytes"] for i in resolved)
            ram = memtotal_mb * 1024 * 1024
            persistent = any(i["persistent"] for i in resolved)
            if any(i["maxmemory_bytes"] == 0 for i in resolved):
                problems.append(
                    "redis_server_maxmemory is 0 (unlimited) for an instance: set a size or a share "
                    "such as '50%' so Redis cannot exhaust the host's memory"
                )
            elif (
                persistent
                and total > ram * FORK_HEADROOM_MAX_SHARE
                and not v.get("redis_server_maxmemory_allow_no_fork_headroom")
            ):
                problems.append(
                    f"redis_server_maxmemory: the instances on this host may use {total // 1024**2} MB of "
                    f"{memtotal_mb} MB RAM with persistence on, leaving no headroom for the fork that saves "
                    "RDB or rewrites AOF "
                    f"(keep it under {int(FORK_HEADROOM_MAX_SHARE * 100)}%); lower it, or "
                    "set redis_server_maxmemory_allow_no_fork_headroom: true if you accept the risk"
                )

    primary = v.get("redis_server_primary_host")
    if hosts is not None and primary not in hosts:
        problems.append(
            f"redis_server_primary_host {primary!r} is not a host of the inventory group 'redis' "
            f"({', '.join(hosts) or 'empty'}): name one of them (or list it in group 'redis_primary')"
        )

    # Network.
    if address is not None:
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            problems.append(
                f"ansible_host {address!r} is not an IP address: replicas, the firewall and the "
                "certificates use it, so set ansible_host to the host's address"
            )
    binds = v.get("redis_server_bind") or []
    need(bool(binds), "redis_server_bind is empty: list the addresses Redis listens on")
    problems += redis_bind_problems(
        "redis_server_bind",
        binds,
        v.get("redis_server_bind_allow_wildcard"),
        "redis_server_bind_allow_wildcard",
    )
    problems += redis_network_problems(
        "redis_server_client_networks",
        v.get("redis_server_client_networks") or [],
        v.get("redis_server_client_networks_allow_any"),
        "redis_server_client_networks_allow_any",
    )
    problems += redis_address_clashes(addresses)

    # ACL users and their secrets.
    min_len, too_low = redis_min_length(
        "redis_server_password_min_length", v.get("redis_server_password_min_length", MIN_PASSWORD_LENGTH)
    )
    problems += too_low
    builtin = {
        "admin": "redis_server_admin",
        "replication": "redis_server_replication",
        "sentinel": "redis_server_sentinel",
        "monitoring": "redis_server_monitoring",
        "compliance": "redis_server_compliance",
        "backup": "redis_server_backup",
    }
    if v.get("redis_server_cluster_enabled") is True:
        del builtin["sentinel"]  # a cluster fails over by itself: no Sentinel, no user for it
    user_names = []
    for _role, prefix in builtin.items():
        user = v.get(f"{prefix}_user")
        password = v.get(f"{prefix}_password")
        need(
            bool(user) and bool(USER_NAME.fullmatch(str(user))),
            f"{prefix}_user {user!r} is not a valid ACL user name",
        )
        user_names.append(user)
        problems += redis_password_problems(f"{prefix}_password", password, min_len)
    for i, user in enumerate(v.get("redis_server_acl_users") or []):
        where = f"redis_server_acl_users[{i}]"
        if not isinstance(user, dict) or not user.get("name"):
            problems.append(f"{where} needs a name")
            continue
        name = user["name"]
        need(bool(USER_NAME.fullmatch(str(name))), f"{where}.name {name!r} is not a valid ACL user name")
        need(
            name != "default",
            f"{where}: the 'default' user is managed by the role (always off); pick another name",
        )
        user_names.append(name)
        if not user.get("password"):
            problems.append(f"{where} ({name}) has no password: every user needs one (no 'nopass' users)")
        elif len(str(user["password"])) < min_len:
            problems.append(f"{where} ({name}): password shorter than {min_len} characters")
        else:
            problems += redis_password_problems(f"{where} ({name}).password", user["password"], min_len)
        unknown = set(user) - ACL_USER_KEYS
        need(not unknown, f"{where} ({name}) has unknown key(s) {sorted(unknown)}")
        for key in ("enabled", "tls_client_cert"):
            problems += redis_bool_problems({f"{where} ({name}).{key}": user.get(key, True)},
                                            [f"{where} ({name}).{key}"])  # fmt: skip
        problems += _acl_rule_problems(user, f"{where} ({name})")
    for name in sorted({n for n in user_names if user_names.count(n) > 1}):
        problems.append(
            f"ACL user {name!r} is defined twice (redis_server_acl_users or a built-in "
            "redis_server_*_user): every user needs its own name"
        )

    defaults = v.get("redis_server_app_default_commands", ["-@all"])
    if not isinstance(defaults, list | tuple) or not defaults:
        problems.append("redis_server_app_default_commands must be a list of ACL command rules like '+@read'")
    else:
        for rule in defaults:
            need(
                bool(isinstance(rule, str) and ACL_COMMAND_RULE.fullmatch(rule)),
                f"redis_server_app_default_commands: {rule!r} is not an ACL command rule like '+@read' or "
                "'-flushall'",
            )

    # Dangerous commands.
    renames = v.get("redis_server_rename_commands") or {}
    if not isinstance(renames, dict):
        problems.append(f"redis_server_rename_commands must be a map of command -> new name, not {renames!r}")
        renames = {}
    for cmd, new_name in renames.items():
        need(
            str(cmd).upper() not in UNRENAMEABLE,
            f"redis_server_rename_commands: {cmd} cannot be renamed, replication, Sentinel or the role need "
            "it; deny it to users through ACL instead",
        )
        need(
            bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", str(cmd))),
            f"redis_server_rename_commands: {cmd!r} is not a command name",
        )
        need(
            isinstance(new_name, str) and bool(re.fullmatch(r"[A-Za-z0-9_-]{0,64}", new_name)),
            f"redis_server_rename_commands: the new name of {cmd} ({new_name!r}) must be letters, digits, "
            "'-' or '_' (\"\" disables the command)",
        )
    debug = v.get("redis_server_enable_debug_command", "no")
    need(
        debug in DEBUG_COMMAND and isinstance(debug, str),
        f'redis_server_enable_debug_command is {debug!r}: use the quoted string "no", "local" or "yes"',
    )

    # TLS.
    mode = v.get("redis_server_tls_mode", "only")
    need(mode in TLS_MODES, f"redis_server_tls_mode {mode!r}: choose one of {', '.join(TLS_MODES)}")
    if mode in ("both", "only"):
        own = [v.get(f"redis_server_tls_{k}") for k in ("ca_cert", "cert", "key")]
        if any(own) and not all(own):
            problems.append(
                "redis_server_tls_ca_cert, redis_server_tls_cert and redis_server_tls_key go together: "
                "give all three (your own files) or none (the role generates a private CA)"
            )
        if not any(own) and not v.get("redis_server_tls_pki_dir"):
            problems.append(
                f"redis_server_tls_mode is {mode} but there is no certificate source: set "
                "redis_server_tls_pki_dir (generated CA) or redis_server_tls_ca_cert/_cert/_key"
            )
        need(
            v.get("redis_server_tls_auth_clients") in TLS_AUTH_CLIENTS,
            "redis_server_tls_auth_clients: choose yes, no or optional",
        )
    if "redis_server_tls_protocols" in v:
        problems += redis_tls_protocols_problems(
            "redis_server_tls_protocols", v["redis_server_tls_protocols"]
        )
    if "redis_server_tls_ciphers" in v:
        problems += redis_tls_ciphers_problems("redis_server_tls_ciphers", v["redis_server_tls_ciphers"])
    if "redis_server_tls_ciphersuites" in v:
        problems += redis_tls_ciphersuites_problems(
            "redis_server_tls_ciphersuites", v["redis_server_tls_ciphersuites"]
        )
    days = redis_whole(v.get("redis_server_tls_cert_days", 365))
    renew = redis_whole(v.get("redis_server_tls_renew_days", 30))
    if days is not None and renew is not None and renew >= days:
        problems.append(
            f"redis_server_tls_renew_days {renew} is not below redis_server_tls_cert_days {days}: every run "
            "would reissue every certificate; renew well before the end (for example 30 of 365 days)"
        )

    problems += _server_settings_problems(v, hosts)
    problems += redis_inspect_problems(v)
    return problems


# The on-host reader of CONFIG GET and ACL LIST (files/redisops-inspect): its ACL user's password
# never leaves the host, so users.acl gets only its hash.
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# One OpenSSH public key, without options: the role adds its own (restrict, the forced command).
SSH_PUBLIC_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}"
    r"( [A-Za-z0-9@._:+-]{1,100})?$"
)
KIT_USER_ROLES = ("admin", "replication", "sentinel", "monitoring", "compliance", "backup")


def redis_inspect_problems(v: dict) -> list[str]:
    """The reader's variables (shared by redis_server and redis_sentinel): the account that runs it,
    its ACL user, the client certificate files and the public keys allowed to run it."""
    problems = []
    if "redis_server_inspect_user" in v:
        problems += redis_service_user_problems("redis_server_inspect_user", v["redis_server_inspect_user"])
        if v["redis_server_inspect_user"] in (v.get("redis_server_user"), v.get("redis_sentinel_user")):
            problems.append(
                "redis_server_inspect_user is the server's own user: the reader's account must not read "
                "the server's key and data; keep the default redisops-inspect"
            )
    name = v.get("redis_server_inspect_acl_user")
    if name is not None:
        if not isinstance(name, str) or not USER_NAME.fullmatch(name) or name == "default":
            problems.append(
                f"redis_server_inspect_acl_user {name!r}: use letters, digits, '_', '.' or '-' (not default)"
            )
        taken = {v.get(f"redis_server_{r}_user") for r in KIT_USER_ROLES}
        taken |= {u.get("name") for u in v.get("redis_server_acl_users") or [] if isinstance(u, dict)}
        if name in taken:
            problems.append(
                f"redis_server_inspect_acl_user {name!r} is already another user: the reader needs a user of "
                "its own (it may read CONFIG GET and ACL LIST, nothing else)"
            )
    for key in ("ca_cert", "cert", "key"):
        var = f"redis_server_inspect_tls_{key}"
        # Templated by Ansible before it gets here; the raw defaults are templates.
        if v.get(var) and "{{" not in str(v[var]):
            problems += redis_path_problems(var, v[var])
    if v.get("redis_server_tls_mode", "only") != "off" and "redis_server_inspect_tls_cert" in v:
        problems += redis_client_cert_problems(
            v, "redis_server_inspect_tls_cert", "redis_server_inspect_tls_key", "the on-host reader"
        )
    keys = v.get("redis_server_inspect_authorized_keys", [])
    if not isinstance(keys, list):
        problems.append("redis_server_inspect_authorized_keys must be a list of OpenSSH public keys")
    else:
        for i, key in enumerate(keys):
            if not isinstance(key, str) or not SSH_PUBLIC_KEY.fullmatch(key.strip()):
                problems.append(
                    f"redis_server_inspect_authorized_keys[{i}] is not one OpenSSH public key "
                    "('ssh-ed25519 AAAA... comment', no options: the role adds restrict and its command)"
                )
    return problems


def redis_inspect_authorized_keys(keys: list[str], reader: str) -> str:
    """authorized_keys of the reader's account: each key may run the reader and nothing else."""
    if not _PATH.fullmatch(reader):
        raise RedisVarError(f"the reader's path {reader!r} cannot be a forced command")
    lines = []
    for key in keys:
        if not SSH_PUBLIC_KEY.fullmatch(str(key).strip()):
            raise RedisVarError("not an OpenSSH public key (validated in assert.yml)")
        lines.append(f'restrict,command="{reader}" {str(key).strip()}')
    return "".join(f"{line}\n" for line in lines)


def redis_inspect_target_file(
    stem: str,
    kind: str,
    name: str,
    port: int,
    tls: bool,
    targets_dir: str,
    inspect_dir: str,
    acl_user: str,
    password_file: str,
) -> dict:
    """A redis_files entry describing one target (an instance, or the sentinel) to the on-host
    reader, no secret inside: loopback, this port, and the reader's client files with TLS."""
    target = {
        "kind": kind,
        "name": name,
        "port": int(port),
        "tls": bool(tls),
        "ca": f"{inspect_dir}/ca.crt" if tls else "",
        "cert": f"{inspect_dir}/client.crt" if tls else "",
        "key": f"{inspect_dir}/client.key" if tls else "",
        "user": acl_user,
        "password_file": password_file,
    }
    return {"path": f"{targets_dir}/{stem}.json", "mode": "0644",
            "content": json.dumps(target, indent=4, sort_keys=True) + "\n"}  # fmt: skip


def redis_inspect_targets(
    instances: list[dict], targets_dir: str, inspect_dir: str, acl_user: str, password_file: str
) -> list[dict]:
    """redis_files entries describing each instance to the on-host reader: the plain port when
    there is one, else the TLS port."""
    files = []
    for instance in instances:
        tls = int(instance.get("plain_port") or 0) == 0
        port = instance["tls_port"] if tls else instance["plain_port"]
        files.append(
            redis_inspect_target_file(f"redis-{instance['name']}", "redis", instance["name"], port, tls,
                                      targets_dir, inspect_dir, acl_user, password_file)
        )  # fmt: skip
    return files


# Whole-number settings and their sane ranges (Redis accepts more; none of it is wanted).
MAX_CLIENTS = 1_000_000
MAX_PRIORITY = 10_000
SERVER_RANGES = {
    "redis_server_maxclients": (1, MAX_CLIENTS, "clients"),
    "redis_server_timeout": (0, 604_800, "seconds (0: never)"),
    "redis_server_tcp_keepalive": (0, 7200, "seconds"),
    "redis_server_tcp_backlog": (1, 65535, ""),
    "redis_server_somaxconn": (128, 65535, ""),
    "redis_server_swappiness": (0, 100, ""),
    "redis_server_maxmemory_samples": (1, 64, ""),
    "redis_server_slowlog_log_slower_than": (-1, 60_000_000, "microseconds (-1: off)"),
    "redis_server_slowlog_max_len": (0, 1_000_000, "entries"),
    "redis_server_latency_monitor_threshold": (0, 60_000, "milliseconds (0: off)"),
    "redis_server_min_replicas_max_lag": (1, 3600, "seconds"),
    "redis_server_replica_priority": (0, MAX_PRIORITY, "(0: never promoted)"),
    "redis_server_repl_diskless_sync_delay": (0, 300, "seconds"),
    "redis_server_restart_sec": (0, 3600, "seconds"),
    "redis_server_tls_cert_days": (2, 3650, "days"),
    "redis_server_tls_renew_days": (1, 3649, "days"),
}
SERVER_BOOLEANS = tuple(
    f"redis_server_{name}"
    for name in (
        "flavor_switch", "maxmemory_allow_no_fork_headroom", "appendonly", "aof_use_rdb_preamble",
        "stop_writes_on_bgsave_error", "tls_replication", "tls_prefer_server_ciphers", "bind_allow_wildcard",
        "protected_mode", "firewall", "client_networks_allow_any", "repl_diskless_sync", "tune_kernel",
        "tls_replace_ca", "lazyfree",
    )
)  # fmt: skip
CLUSTER_RANGES = {
    "redis_server_cluster_node_timeout": (1000, 60_000, "milliseconds"),
    "redis_server_cluster_replica_validity_factor": (0, 1000, "(0: always try)"),
    "redis_server_cluster_migration_barrier": (0, 100, "replicas"),
    "redis_server_cluster_bus_port_offset": (1, 64_000, ""),
}
REPL_BACKLOG_MIN = 16 * 1024
REPL_BACKLOG_MAX = 16 * 1024**3
# ACL rules: a command rule (+get, -@dangerous, +client|setname) and a key pattern with its
# optional read/write selector (%R~, %W~, %RW~); one word each, or the line gains words.
ACL_USER_KEYS = {"name", "password", "keys", "channels", "commands", "enabled", "tls_client_cert"}
ACL_COMMAND_RULE = re.compile(r"^[+-]@?[A-Za-z0-9_|.-]+$")
ACL_KEY_SELECTOR = re.compile(r"^(~|%(R|W|RW)~)?[^~%]")


def _acl_rule_problems(user: dict, where: str) -> list[str]:
    problems = []
    for key in ("keys", "channels", "commands"):
        rules = user.get(key)
        if rules is None:
            continue
        if not isinstance(rules, list | tuple):
            problems.append(f"{where}.{key} must be a list, not {rules!r}")
            continue
        for rule in rules:
            word = redis_word_problems(f"{where}.{key}", rule)
            if word:
                problems += [f"{word[0]} (each entry is one {key[:-1]} rule)"]
            elif key == "commands" and not ACL_COMMAND_RULE.fullmatch(rule):
                problems.append(
                    f"{where}.commands: {rule!r} is not an ACL command rule like '+@read' or '-flushall'"
                )
            elif key == "keys" and not ACL_KEY_SELECTOR.match(rule):
                problems.append(f"{where}.keys: {rule!r} is not a key pattern like 'app:*' or '%R~app:*'")
    return problems


def _min_replicas_problems(name: str, value, hosts: list | None) -> list[str]:
    """min-replicas-to-write (role-wide or an instance's): a whole number the group's replicas can meet."""
    to_write = redis_whole(value)
    if to_write is None or to_write < 0:
        return [f"{name} is {value!r}: use a whole number, 0 or more"]
    replicas = max(len(hosts) - 1, 0) if hosts is not None else None
    if replicas is not None and to_write > replicas:
        return [
            f"{name} {to_write} is more than the {replicas} replica(s) of group 'redis' "
            f"({len(hosts)} host(s)): every write would be refused; use at most {replicas}"
            + (" (0 for a single server)" if replicas == 0 else "")
        ]
    return []


def _restart_problems(name: str, value) -> list[str]:
    """restart_on_failure (role-wide or an instance's): auto or a real boolean."""
    if value != "auto" and not isinstance(value, bool):
        return [f"{name} is {value!r}: use auto, or a real boolean true or false"]
    return []


def _server_settings_problems(v: dict, hosts: list | None) -> list[str]:
    """Numbers in range, real booleans, sizes, the service user and paths."""
    problems = []
    for name, (low, high, what) in SERVER_RANGES.items():
        if name in v:
            problems += redis_range_problems(name, v[name], low, high, what)
    problems += redis_bool_problems(v, SERVER_BOOLEANS)
    problems += _restart_problems(
        "redis_server_restart_on_failure", v.get("redis_server_restart_on_failure", "auto")
    )
    load = v.get("redis_server_repl_diskless_load", "disabled")
    if load not in REPL_DISKLESS_LOAD:
        problems.append(f"redis_server_repl_diskless_load {load!r}: choose disabled, on-empty-db or swapdb")
    appenddir = v.get("redis_server_appenddirname", "appendonlydir")
    if (
        not isinstance(appenddir, str)
        or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", appenddir)
        or appenddir in (".", "..")
    ):
        problems.append(f"redis_server_appenddirname {appenddir!r} must be a plain directory name (no '/')")

    # Replication: a write must be able to reach the replicas the group has.
    problems += _min_replicas_problems(
        "redis_server_min_replicas_to_write", v.get("redis_server_min_replicas_to_write", 0), hosts
    )
    backlog = v.get("redis_server_repl_backlog_size", "1mb")
    try:
        size = None if str(backlog).strip().endswith("%") else redis_bytes(backlog)
    except RedisVarError:
        size = None
    if size is None or not REPL_BACKLOG_MIN <= size <= REPL_BACKLOG_MAX:
        problems.append(
            f"redis_server_repl_backlog_size {backlog!r} is not a backlog size: use bytes or Redis units "
            "from 16kb to 16gb, such as 64mb"
        )

    # The service.
    if "redis_server_user" in v:
        problems += redis_service_user_problems("redis_server_user", v["redis_server_user"])
    if "redis_server_group" in v:
        problems += redis_service_user_problems("redis_server_group", v["redis_server_group"], "group")
    for name in (
        "redis_server_conf_dir",
        "redis_server_data_dir",
        "redis_server_log_dir",
        "redis_server_tls_dir",
    ):
        if name in v:
            problems += redis_path_problems(name, v[name])
    return problems


def redis_current_primary(live: dict, inventory_primary: str) -> dict:
    """Decide which host is the primary, from what the live servers say.

    ``live`` maps host -> {"running": bool, "role": "master"|"slave", "master_host":...,
    "address": ...}. No server running: the inventory's primary (first deploy). Otherwise the
    running master that the others follow; more than one master that others follow, or
    masters that disagree, is refused (split brain: a person must decide).
    """
    running = {h: i for h, i in live.items() if i.get("running")}
    if not running:
        return {"host": inventory_primary, "source": "inventory"}
    masters = [h for h, i in running.items() if i.get("role") == "master"]
    followed = {}
    for _h, info in running.items():
        if info.get("role") == "slave":
            followed[info.get("master_host")] = followed.get(info.get("master_host"), 0) + 1
    address_of = {h: i.get("address") for h, i in live.items()}
    if len(masters) == 1:
        return {"host": masters[0], "source": "live"}
    if not masters:
        # Every running server is a replica: trust whom they follow, if it is one of ours.
        targets = [h for h, a in address_of.items() if a in followed]
        if len(targets) == 1:
            return {"host": targets[0], "source": "live"}
        return {"host": inventory_primary, "source": "inventory"}
    # Several masters: the one replicas follow wins only if it is unambiguous; a lone
    # master nobody follows is a fresh host (not yet configured), not a rival.
    with_followers = [m for m in masters if followed.get(address_of.get(m))]
    if len(with_followers) == 1:
        return {"host": with_followers[0], "source": "live"}
    if not with_followers and inventory_primary in masters:
        return {"host": inventory_primary, "source": "inventory"}
    raise RedisVarError(
        f"more than one primary is running ({', '.join(sorted(masters))}): the role will not choose; "
        "make one of them a replica (REPLICAOF) or set redis_server_primary_host, then rerun"
    )


def redis_acl_line(user: dict, default_commands: list[str] | None = None) -> str:
    """One ``users.acl`` line, in ACL LIST's order: state, password hash, keys, channels, commands.

    A user without ``commands`` gets ``default_commands`` (application users: ``+@all -@dangerous``),
    or nothing at all (``-@all``).
    """
    state = "on" if user.get("enabled", True) else "off"
    parts = ["user", user["name"], state]
    if user.get("password"):
        parts.append("#" + hashlib.sha256(str(user["password"]).encode()).hexdigest())
    elif user.get("password_hash"):
        # A password that never leaves its host (the reader's): only its SHA-256 comes here.
        digest = str(user["password_hash"]).strip().lower()
        if not SHA256_HEX.fullmatch(digest):
            raise RedisVarError(f"user {user['name']}: password_hash must be 64 hex digits (a SHA-256)")
        parts.append("#" + digest)
    keys = user.get("keys") or []
    parts += [k if k.startswith(("~", "%")) else f"~{k}" for k in keys] or ["resetkeys"]
    channels = user.get("channels") or []
    parts += [f"&{c}" for c in channels] or ["resetchannels"]
    parts += user.get("commands") or default_commands or ["-@all"]
    return " ".join(parts)


# What the readers (monitoring, compliance) may also read on a cluster node.
CLUSTER_READS = ("+cluster|info", "+cluster|nodes", "+cluster|shards", "+cluster|myid")


def redis_builtin_users(
    users: list[dict], cluster: bool, sentinel_user: str, readers: list[str]
) -> list[dict]:
    """The built-in users of users.acl: as they are for a Sentinel group; on a cluster node
    without the sentinel user (a cluster fails over by itself), and with the readers allowed to
    read the cluster's state."""
    if not cluster:
        return users
    out = []
    for user in users:
        if user.get("name") == sentinel_user:
            continue
        if user.get("name") in readers:
            user = {**user, "commands": [*user.get("commands", []), *CLUSTER_READS]}
        out.append(user)
    return out


def redis_local_connection(instance: dict, tls_dir: str, user: str, password: str) -> dict:
    """How a module on the host reaches one of its own instances: loopback, admin user, TLS if only TLS."""
    tls_only = not instance["plain_port"]
    conn = {"host": "127.0.0.1", "port": instance["tls_port"] if tls_only else instance["plain_port"],
            "tls": tls_only, "user": user, "password": password}  # fmt: skip
    if tls_only:
        conn.update(cacert=f"{tls_dir}/ca.crt", cert=f"{tls_dir}/redis.crt", key=f"{tls_dir}/redis.key")
    return conn


def redis_replica_connection(
    instance: dict, tls_dir: str, user: str, password: str, tls_replication: bool
) -> dict:
    """How a module on one host reaches the same instance on the group's other hosts, at the
    address and port Sentinel lists for each: over TLS when the replicas announce their TLS port
    (tls-replication, or an instance with TLS only), with this host's certificate."""
    tls = bool(instance["tls_port"]) and (bool(tls_replication) or not instance["plain_port"])
    conn = {"host": "127.0.0.1", "port": instance["tls_port"] if tls else instance["plain_port"],
            "tls": tls, "user": user, "password": password}  # fmt: skip
    if tls:
        conn.update(cacert=f"{tls_dir}/ca.crt", cert=f"{tls_dir}/redis.crt", key=f"{tls_dir}/redis.key")
    return conn


def redis_primaries(
    results: list[dict],
    hostvars,
    instance_names: list[str],
    inventory_primary: str,
    known: dict | None = None,
) -> dict:
    """instance name -> primary host, from redis_info results looped over (host, instance) pairs.

    ``known`` (instance -> host) is what the sentinels agree on; it wins, unless that host is
    running as a replica (a failover in progress, or sentinels that lost track): refused.
    """
    primaries = {}
    for name in instance_names:
        live = {}
        for res in results:
            host, instance = res["item"][0], res["item"][1]
            if instance.get("name") != name:
                continue
            info = {k: v for k, v in res.items() if k != "item"}
            info["address"] = hostvars[host].get("ansible_host", host)
            live[host] = info
        chosen = (known or {}).get(name)
        if chosen:
            state = live.get(chosen, {})
            if state.get("running") and state.get("role") == "slave":
                raise RedisVarError(
                    f"the sentinels name {chosen} as primary of instance {name}, but it runs as a replica: "
                    "a failover is in progress (wait until it ends and rerun) or the sentinels lost track "
                    "of the servers (check SENTINEL MASTER on each)"
                )
            primaries[name] = chosen
        else:
            primaries[name] = redis_current_primary(live, inventory_primary)["host"]
    return primaries


def redis_topology(instances: list[dict], primaries: dict, hosts: list[str], tls_replication: bool) -> dict:
    """What other roles (Sentinel) need: per instance, the primary, the replication port and the hosts."""
    out = {}
    for inst in instances:
        tls = bool(inst["tls_port"]) and (bool(tls_replication) or not inst["plain_port"])
        out[inst["name"]] = {
            "primary": primaries[inst["name"]],
            "port": inst["tls_port"] if tls else inst["plain_port"],
            "hosts": list(hosts),
        }
    return out


def redis_firewall_sources(hostvars, hosts: list[str], client_networks: list[str]) -> dict:
    """The addresses admitted to Redis ports, split by family: cluster hosts and client networks."""
    v4, v6 = set(), set()
    for entry in [*(hostvars[h].get("ansible_host", h) for h in hosts), *client_networks]:
        try:
            net = ipaddress.ip_network(str(entry), strict=False)
        except ValueError:
            raise RedisVarError(
                f"{entry!r} is not an address: set ansible_host to an IP for every Redis host"
            ) from None
        (v4 if net.version == 4 else v6).add(net)
    fmt = lambda nets: [str(n.network_address) if n.num_addresses == 1 else str(n) for n in sorted(nets)]  # noqa: E731
    return {"v4": fmt(v4), "v6": fmt(v6)}


# The kit's own TLS clients, each with a certificate of its own (clientAuth only): the control node
# (playbook-side clients, redisops check, drills, tests), the exporters, the backups and the
# scheduled compliance checks.
KIT_CLIENTS = (
    "redisops-control", "redisops-exporter", "redisops-backup", "redisops-compliance", "redisops-inspect"
)  # fmt: skip


def redis_client_certs(acl_users: list | None) -> list[dict]:
    """The client certificates the generated PKI issues: the kit's consumers, then one per
    application user (app-NAME) unless its entry says tls_client_cert: false. Items as
    redis_certs_due takes them, with the directory under the PKI and the extended key usage."""
    users = [u for u in acl_users or [] if isinstance(u, dict) and u.get("name")]
    apps = [f"app-{u['name']}" for u in users if u.get("tls_client_cert", True)]
    return [
        {"name": name, "sans": [f"DNS:{name}"], "dir": "clients", "usage": ["clientAuth"]}
        for name in [*KIT_CLIENTS, *apps]
    ]


def redis_certs_due(info_results: list[dict]) -> list[dict]:
    """Certificates to (re)issue, from x509_certificate_info results looped over {name, sans} items.

    Due when missing or unreadable, expiring within the renewal window (``valid_at.renew``
    false), or issued for other names or addresses than wanted now.
    """
    due = []
    for res in info_results:
        wanted = res["item"]
        missing = res.get("failed") or "subject_alt_name" not in res
        stale = not missing and not (res.get("valid_at") or {}).get("renew", False)
        names = sorted(res.get("subject_alt_name") or [])
        other_names = not missing and names != sorted(wanted.get("sans") or [])
        if missing or stale or other_names:
            due.append({**wanted, "exists": not missing})
    return due


class FilterModule:
    def filters(self):
        return {
            "redis_bytes": redis_bytes,
            "redis_pki_dir": pki_dir,
            "redis_memory": redis_memory,
            "redis_quote": redis_quote,
            "redis_yesno": redis_yesno,
            "redis_instances": redis_instances,
            "redis_server_problems": redis_server_problems,
            "redis_current_primary": redis_current_primary,
            "redis_acl_line": redis_acl_line,
            "redis_local_connection": redis_local_connection,
            "redis_builtin_users": redis_builtin_users,
            "redis_replica_connection": redis_replica_connection,
            "redis_primaries": redis_primaries,
            "redis_topology": redis_topology,
            "redis_firewall_sources": redis_firewall_sources,
            "redis_certs_due": redis_certs_due,
            "redis_client_certs": redis_client_certs,
            "redis_rdb_format": redis_rdb_format,
            "redis_migration_problems": redis_migration_problems,
            "redis_inspect_problems": redis_inspect_problems,
            "redis_inspect_authorized_keys": redis_inspect_authorized_keys,
            "redis_inspect_targets": redis_inspect_targets,
            "redis_inspect_target_file": redis_inspect_target_file,
        }
