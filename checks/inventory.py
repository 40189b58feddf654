"""What to check and how to reach it, read from the same Ansible inventory the roles use.

One source of truth: hosts, ports, TLS files and credentials come from the inventory's
variables over the roles' own defaults, templated by Ansible itself (lookups and Vault
included). The result, ``Targets``, can also be written to a private JSON file for a
scheduled run on a host without Ansible (the redis_compliance role does that).
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from redisops.collection import collection_root, plugins_ready


class InventoryError(Exception):
    """The inventory cannot say what to check: names the variable and the fix."""


@dataclass
class Endpoint:
    kind: str  # "redis" or "sentinel"
    target: str
    host: str
    address: str
    port: int
    instance: str = ""
    tls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    ca_cert: str = ""
    cert: str = ""
    key: str = ""
    expected: dict[str, Any] = field(default_factory=dict)


@dataclass
class HostSpec:
    target: str
    address: str
    # How testinfra reaches the host: {"url": "ansible://redis-1", "ansible_inventory": "..."}.
    connection: dict[str, str] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)


@dataclass
class Targets:
    endpoints: list[Endpoint] = field(default_factory=list)
    hosts: list[HostSpec] = field(default_factory=list)
    # The hosts of group redis_backup; expected: {"textfile": the redis_backup role's metrics file}.
    backup_hosts: list[HostSpec] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    secret_lengths: dict[str, int] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    waivers: list[dict] = field(default_factory=list)  # redis_compliance_waivers
    # How a run without host access reads configuration and ACL: the on-host reader over SSH with a
    # key whose only command is the reader. {"key", "user", "known_hosts", "port"}; {} when none.
    inspect: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Targets:
        return cls(
            endpoints=[Endpoint(**e) for e in data.get("endpoints", [])],
            hosts=[HostSpec(**h) for h in data.get("hosts", [])],
            backup_hosts=[HostSpec(**h) for h in data.get("backup_hosts", [])],
            groups=list(data.get("groups", [])),
            secret_lengths=dict(data.get("secret_lengths", {})),
            thresholds=dict(data.get("thresholds", {})),
            waivers=list(data.get("waivers", [])),
            inspect=dict(data.get("inspect", {})),
        )


def write_private_json(data: dict, path: Path) -> None:
    """Credentials inside: created 0600 before a byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT: make it private first
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)


def read_private_json(path: Path, what: str, holds: str, error: type[Exception]) -> dict:
    """A JSON file with credentials: refused, with ``error``, when unreadable or readable by others."""
    try:
        mode = path.stat().st_mode
        data = json.loads(path.read_text())
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise error(f"the {what} {path} is not JSON: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise error(
            f"the {what} {path} holds {holds} but is readable by others "
            f"(mode {stat.S_IMODE(mode):04o}): chmod 600 {path}"
        )
    return data


def write_targets(targets: Targets, path: Path) -> None:
    write_private_json(targets.to_dict(), path)


def read_targets(path: Path) -> Targets:
    return Targets.from_dict(read_private_json(path, "targets file", "credentials", InventoryError))


@cache
def _role_filters(role: str):
    """A role's filter plugin module: the inventory is read with the roles' own logic."""
    path = collection_root() / "plugins" / "filter" / f"{role}.py"
    spec = importlib.util.spec_from_file_location(f"_redisops_{role}_filters", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _role_module_utils():
    """The roles' shared module helpers (config parsing, the live form of a directive)."""
    path = collection_root() / "plugins" / "module_utils" / "redis_ops.py"
    spec = importlib.util.spec_from_file_location("_redisops_redis_ops", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wanted_server_config(v: dict, instance: dict, host: str) -> dict[str, str]:
    """What CONFIG GET should answer on this instance: the role's own redis.conf template rendered
    from the inventory, in the form the server answers (sizes in bytes). Not the secrets (they
    stay out of the targets file), not replicaof (Sentinel's), not a maxmemory given as a share of
    RAM (the checks do not know the host's RAM)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    plugins_ready()  # the template's filters are the collection's (redisops.kit.*)
    ops = _role_module_utils()
    variables = {
        **v,
        "ansible_managed": "",
        "inventory_hostname": host,
        "hostvars": {},
        "__redis_server_instance": instance,
        "__redis_server_primaries": {instance["name"]: host},
    }
    template = collection_root() / "roles" / "redis_server" / "templates" / "etc/redis/redis.conf.j2"
    source = trust_as_template(template.read_text())
    text = Templar(loader=DataLoader(), variables=variables).template(
        source, escape_backslashes=False, overrides={"trim_blocks": True}
    )
    wanted = {k: val for k, val in ops.wanted_live(text).items() if k not in ops.SECRET_KEYS}
    if str(instance.get("maxmemory", "")).strip().endswith("%"):
        wanted.pop("maxmemory", None)
    return wanted


# Variables the checks need from each host; everything else stays untemplated (and unread).
_HOST_VARS = (
    "ansible_host",
    "redis_server_instances",
    "redis_server_tls_mode",
    "redis_server_maxmemory",
    "redis_server_save",
    "redis_server_appendonly",
    "redis_server_flavor",
    "redis_server_conf_dir",
    "redis_server_data_dir",
    "redis_server_tls_dir",
    "redis_server_user",
    "redis_server_group",
    "redis_server_firewall_extra_ports",
    "redis_server_inspect_acl_user",
    "redis_sentinel_groups",
    "redis_sentinel_quorum",
    "redis_sentinel_down_after_milliseconds",
    "redis_sentinel_failover_timeout",
    "redis_sentinel_parallel_syncs",
    "redis_sentinel_notification_script",
    "redis_sentinel_client_reconfig_script",
    "redis_sentinel_port",
    "redis_sentinel_tls_mode",
    "redis_sentinel_tls_port",
    "redis_sentinel_conf_dir",
    "redis_sentinel_flavor",
    "redis_sentinel_user",
    "redis_compliance_redis_user",
    "redis_compliance_sentinel_user",
    "redis_compliance_tls_ca_cert",
    "redis_server_tls_ca_cert",
    "redis_server_tls_pki_dir",
    "redis_server_tls_control_cert",
    "redis_server_tls_control_key",
    "redis_compliance_thresholds",
    "redis_compliance_waivers",
)
_PREFIXES = ("redis_server_", "redis_sentinel_", "redis_compliance_", "redis_drill_", "redis_backup_",
             "redis_exporter_")  # fmt: skip
# Secrets: templated for the connection, reported only as lengths (SEC-08).
_SECRETS = (
    "redis_server_admin_password",
    "redis_server_replication_password",
    "redis_server_sentinel_password",
    "redis_server_monitoring_password",
    "redis_server_compliance_password",
    "redis_server_backup_password",
    "redis_sentinel_admin_password",
    "redis_sentinel_peer_password",
    "redis_sentinel_monitoring_password",
    "redis_compliance_redis_password",
    "redis_compliance_sentinel_password",
)


# Vault secrets handed over by the playbook that runs redisops (plugins/action/redisops.py).
_GIVEN_VAULT_SECRETS: list[tuple[str, bytes]] = []


def add_vault_secrets(payload: str) -> None:
    """Take the vault secrets of the calling ansible-playbook: JSON [{id, secret (base64)}]."""
    import base64

    try:
        given = [(str(s["id"]), base64.b64decode(s["secret"])) for s in json.loads(payload or "[]")]
    except (ValueError, KeyError, TypeError) as exc:
        raise InventoryError(f"--vault-secrets-stdin: unreadable secrets on standard input ({exc})") from None
    _GIVEN_VAULT_SECRETS.extend(given)
    if given:
        _share_with_children(given)


def _share_with_children(given: list[tuple[str, bytes]]) -> None:
    """The Ansible commands redisops runs itself (testinfra's ansible-inventory and ansible for the
    host facts) read the inventory again: they get the same secrets as vault identity files in a
    private directory (0700, files 0600) that exists only while redisops runs."""
    import atexit
    import shutil
    import tempfile

    private = Path(tempfile.mkdtemp(prefix="redisops-vault-"))
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    identities = []
    for index, (vault_id, secret) in enumerate(given):
        path = private / f"secret-{index}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secret)
        identities.append(f"{vault_id or 'default'}@{path}")
    os.environ["ANSIBLE_VAULT_IDENTITY_LIST"] = ",".join(identities)


def _load_ansible(inventory: str, vault_password_file: str | None):
    # Ansible prints its warnings through its own display; keep them on stderr.
    from ansible import constants as C
    from ansible import context
    from ansible.cli import CLI
    from ansible.inventory.manager import InventoryManager
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultSecretsContext
    from ansible.vars.manager import VariableManager

    context.CLIARGS = ImmutableDict({})
    plugins_ready()
    loader = DataLoader()
    files = [vault_password_file] if vault_password_file else []
    if not files and C.DEFAULT_VAULT_PASSWORD_FILE:
        files = [C.DEFAULT_VAULT_PASSWORD_FILE]
    secrets = CLI.setup_vault_secrets(
        loader,
        vault_ids=list(C.DEFAULT_VAULT_IDENTITY_LIST),
        vault_password_files=files,
        ask_vault_pass=False,
        auto_prompt=False,
        initialize_context=False,
    )
    from ansible.parsing.vault import VaultSecret

    secrets = [*((vid, VaultSecret(raw)) for vid, raw in _GIVEN_VAULT_SECRETS), *secrets]
    loader.set_vault_secrets(secrets)
    # Ansible's vault context is process-wide and set once; later reads add their secrets to it.
    current = VaultSecretsContext.current(optional=True)
    if current is None:
        VaultSecretsContext.initialize(VaultSecretsContext(list(secrets)))
    else:
        current.secrets.extend(s for s in secrets if s not in current.secrets)
    manager = InventoryManager(loader=loader, sources=[inventory])
    return loader, manager, VariableManager(loader=loader, inventory=manager)


def _role_defaults(loader) -> dict:
    from ansible.template import trust_as_template

    def trusted(value):
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, list):
            return [trusted(v) for v in value]
        if isinstance(value, dict):
            return {k: trusted(v) for k, v in value.items()}
        return value

    roles = collection_root() / "roles"
    merged = {}
    roles_read = ("redis_server", "redis_sentinel", "redis_cluster", "redis_compliance", "redis_backup")
    for role in (*roles_read, "redis_exporter"):
        merged.update(loader.load_from_file(str(roles / role / "defaults" / "main.yml")) or {})
    return trusted(merged)


def _plain(value):
    """Ansible's tagged strings and lazy containers as plain JSON types."""
    return json.loads(json.dumps(value, default=str))


# maxmemory is read from the live server; the role's share-of-RAM arithmetic needs some figure.
_ANY_MEMORY_MB = 1024


@dataclass
class Inventory:
    """The Redis, Sentinel and backup hosts of an inventory with their role variables resolved."""

    path: str
    groups: dict[str, list[str]]
    hostvars: dict[str, dict[str, Any]]  # redis_server_*, redis_sentinel_*, ... templated
    selected: set[str]  # the hosts --limit leaves


_VAULT_HINT = (
    " (give the vault password: --vault-password-file FILE, ANSIBLE_VAULT_PASSWORD_FILE or"
    " ansible.cfg's vault_password_file; from a playbook, the run's own secrets are passed on)"
)


def load_inventory(
    inventory: str | None = None, limit: str | None = None, vault_password_file: str | None = None
) -> Inventory:
    from ansible import constants as C
    from ansible.errors import AnsibleError
    from ansible.template import Templar

    inventory = inventory or (C.DEFAULT_HOST_LIST[0] if C.DEFAULT_HOST_LIST else "")
    if not inventory or not Path(inventory).exists():
        raise InventoryError(f"inventory {inventory or '(none)'} not found: pass -i INVENTORY")
    loader, manager, variables = _load_ansible(inventory, vault_password_file)
    groups = manager.get_groups_dict()
    if not groups.get("redis"):
        raise InventoryError(f"inventory {inventory} has no hosts in group 'redis': nothing to check")
    if limit:
        manager.subset(limit)
    selected = {h.name for h in manager.get_hosts()}
    if not selected:
        raise InventoryError(f"--limit {limit!r} matches no host of inventory {inventory}")
    defaults = _role_defaults(loader)
    resolved: dict[str, dict] = {}
    manager.subset(None)
    members = {h for g in ("redis", "sentinel", "redis_backup") for h in groups.get(g, [])}
    for host in manager.get_hosts():
        if host.name not in members:
            continue
        try:
            hostvars = {**defaults, **variables.get_vars(host=host)}
        except AnsibleError as exc:
            raise InventoryError(
                f"cannot read the variables of {host.name} in {inventory}: {exc.message}"
                + (_VAULT_HINT if "vault" in str(exc.message).lower() else "")
            ) from None
        templar = Templar(loader=loader, variables=hostvars)
        values = {}
        names = {n for n in hostvars if n.startswith(_PREFIXES)} | set(_HOST_VARS) | set(_SECRETS)
        for name in sorted(names):
            try:
                values[name] = _plain(templar.template(hostvars.get(name)))
            except AnsibleError as exc:
                if name in _HOST_VARS or name in _SECRETS:
                    raise InventoryError(f"{host.name}: cannot resolve {name}: {exc.message}") from None
        resolved[host.name] = values
    return Inventory(path=str(Path(inventory).resolve()), groups=groups, hostvars=resolved, selected=selected)


def cluster_plan(
    v: dict, inst: dict, instances: dict[str, list[dict]], addresses: dict[str, str]
) -> dict[str, Any]:
    """What a cluster node's checks compare the live cluster with: the shards and replicas the
    inventory plans, every node's host and address ('ip:port' as the nodes announce them), the
    node timeout and this node's bus port."""
    replicas = int(v.get("redis_cluster_replicas", 1))
    nodes = {
        f"{addresses[host]}:{i['tls_port'] if i.get('tls_cluster') else i['plain_port']}": host
        for host, insts in instances.items()
        for i in insts
    }
    announced = inst["tls_port"] if inst.get("tls_cluster") else inst["plain_port"]
    return {
        # How the cluster names this node ('ip:port'): its TLS port when the bus is TLS, which is not
        # the port the checks connect to with TLS beside plain and tls_replication off.
        "announced": f"{addresses[next(h for h, i in instances.items() if inst in i)]}:{announced}",
        "replicas": replicas,
        "shards": len(nodes) // (replicas + 1),
        "nodes": nodes,
        "node_timeout": int(v.get("redis_server_cluster_node_timeout", 15000)),
        "bus_port": int(inst.get("bus_port") or 0),
    }


def control_tls_files(v: dict) -> dict[str, str]:
    """The control node's own client certificate, key and the CA it trusts ({ca_cert, cert, key}):
    clients/redisops-control of the generated PKI, or what the inventory names when it brings its
    own TLS files (then redis_server_tls_control_cert and _key must be set)."""
    cert, key = "redis_server_tls_control_cert", "redis_server_tls_control_key"
    missing = [n for n in (cert, key) if not v.get(n)]
    if missing:
        raise InventoryError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} empty: the servers speak "
            "TLS and the inventory brings its own certificates (redis_server_tls_cert), so the control "
            f"node has no generated client certificate; set {cert} and {key} to a client certificate "
            "of your CA (extended key usage clientAuth) and its key"
        )
    ca = v.get("redis_server_tls_ca_cert") or f"{v.get('redis_server_tls_pki_dir', '')}/ca.crt"
    return {"ca_cert": ca, "cert": v[cert], "key": v[key]}


def exporter_plan(v: dict, in_redis: bool, in_sentinel: bool) -> list[dict]:
    """The exporters the redis_exporter role runs on a host (its own filter, over the host's
    resolved variables): [{name, kind, instance, port, tls, url}]."""
    return _role_filters("redis_exporter").redis_exporter_targets(
        {k: v[k] for k in v if k.startswith("redis_server_")},
        {k: v[k] for k in v if k.startswith("redis_sentinel_")},
        v["redis_exporter_listen_address"], int(v["redis_exporter_port_base"]),
        int(v["redis_exporter_sentinel_port"]), in_redis, in_sentinel,
    )  # fmt: skip


def expected_exporters(v: dict, in_redis: bool, in_sentinel: bool) -> list[dict]:
    """The exporters the redis_exporter role runs on a host: one per Redis instance, one for its
    Sentinel, and node_exporter: [{name, kind (redis, sentinel, node), port}] (MON-01, H-07)."""
    out = [
        {"name": t["name"], "kind": t["kind"], "port": t["port"]}
        for t in exporter_plan(v, in_redis, in_sentinel)
    ]
    if v.get("redis_exporter_node_exporter"):
        out.append({"name": "node_exporter", "kind": "node", "port": int(v["redis_exporter_node_port"])})
    return out


def from_inventory(
    inventory: str | None = None,
    limit: str | None = None,
    vault_password_file: str | None = None,
    control_files: bool = True,
) -> Targets:
    """``control_files``: TLS endpoints name the control node's client certificate; False when
    another host's own files replace them (a scheduled host: run.for_scheduled_host)."""
    loaded = load_inventory(inventory, limit, vault_password_file)
    groups, resolved, selected, inventory = loaded.groups, loaded.hostvars, loaded.selected, loaded.path
    server = _role_filters("redis_server")
    sentinel = _role_filters("redis_sentinel")
    targets = Targets()
    first = resolved[groups["redis"][0]]
    targets.thresholds = dict(first.get("redis_compliance_thresholds") or {})
    if first.get("redis_compliance_key_classes") is not None:
        # Carried with the thresholds (and in the targets file of scheduled runs).
        targets.thresholds["key_classes"] = first["redis_compliance_key_classes"]
    targets.waivers = first.get("redis_compliance_waivers") or []
    server_hosts = list(groups.get("redis", []))
    sentinel_hosts = list(groups.get("sentinel", []))
    # Each role's secrets as the hosts of that role see them (a Redis-only host has no
    # Sentinel password, and needs none).
    for name in _SECRETS:
        if name.startswith("redis_compliance"):
            continue
        members = server_hosts if name.startswith("redis_server") else sentinel_hosts
        lengths = {len(str(resolved[h].get(name) or "")) for h in members}
        if lengths:
            targets.secret_lengths[name] = min(lengths)
    for name, v in resolved.items():
        if not v.get("ansible_host"):
            raise InventoryError(f"{name}: ansible_host is not set: give every host its IP address")
    instances = {
        name: [i for i in server.redis_instances(resolved[name], _ANY_MEMORY_MB) if i["state"] == "present"]
        for name in server_hosts
    }
    addresses = {name: resolved[name]["ansible_host"] for name in server_hosts}
    # Sentinel groups as the redis_sentinel role resolves them; servers: the hosts running
    # that group's instance.
    if sentinel_hosts:
        for group in sentinel.redis_sentinel_groups(resolved[sentinel_hosts[0]]):
            if group["state"] != "present":
                continue
            servers = [h for h in server_hosts if any(i["name"] == group["instance"] for i in instances[h])]
            targets.groups.append({**group, "sentinels": sentinel_hosts, "servers": servers})

    for name in server_hosts + [h for h in sentinel_hosts if h not in server_hosts]:
        v = resolved[name]

        def tls_files(v=v) -> dict[str, str]:
            """The control node's own certificate; a scheduled host gets its own (for_scheduled_host)."""
            if control_files:
                return control_tls_files(v)
            return {"ca_cert": v["redis_compliance_tls_ca_cert"], "cert": "", "key": ""}

        expected: dict[str, Any] = {
            "ports": [],
            "units": [],
            "files": [],
            "certs": [],
            "user": "",
            "exporters": [],
        }
        if name in server_hosts:
            expected["user"] = v["redis_server_user"]
            for inst in instances[name]:
                # TLS whenever the instance has a TLS port: with 'both', never send the password
                # over the plain one.
                tls = bool(inst["tls_port"])
                port = inst["tls_port"] if tls else inst["plain_port"]
                group = next((g["name"] for g in targets.groups if g["instance"] == inst["name"]), "")
                if name in selected:
                    targets.endpoints.append(
                        Endpoint(
                            kind="redis",
                            target=f"{name}:{port}",
                            host=name,
                            address=v["ansible_host"],
                            port=port,
                            instance=inst["name"],
                            tls=tls,
                            username=v["redis_compliance_redis_user"],
                            password=v["redis_compliance_redis_password"],
                            expected={
                                "group": group,
                                "persistent": inst["persistent"],
                                "profile": inst["profile"],
                                "tls_mode": v["redis_server_tls_mode"],
                                "config": wanted_server_config(v, inst, name),
                                "kit_users": {
                                    **{
                                        role: v[f"redis_server_{role}_user"]
                                        for role in (
                                            "admin",
                                            "replication",
                                            "sentinel",
                                            "monitoring",
                                            "compliance",
                                            "backup",
                                        )
                                    },
                                    "inspect": v["redis_server_inspect_acl_user"],
                                },
                            },
                            **(tls_files() if tls else {}),
                        )
                    )
                    if inst.get("cluster"):  # what the inventory plans (redis_cluster)
                        targets.endpoints[-1].expected["cluster"] = cluster_plan(
                            v, inst, instances, addresses
                        )
                expected["ports"] += [
                    p for p in (inst["plain_port"], inst["tls_port"], inst.get("bus_port")) if p
                ]
                expected["units"].append(inst["unit"])
                expected["files"] += [
                    {"path": inst["conf_file"], "owner": v["redis_server_user"], "mode": "0640"},
                    {"path": inst["acl_file"], "owner": v["redis_server_user"], "mode": "0640"},
                    {"path": inst["data_dir"], "owner": v["redis_server_user"], "mode": "0750"},
                ]
            expected["ports"] += [int(p) for p in v.get("redis_server_firewall_extra_ports") or []]
        # The host's certificate and key (one per host, shared by Redis and Sentinel).
        tls_mode = v["redis_server_tls_mode"] if name in server_hosts else v["redis_sentinel_tls_mode"]
        if tls_mode != "off":
            tls_dir = v["redis_server_tls_dir"] if name in server_hosts else v["redis_sentinel_tls_dir"]
            owner = v["redis_server_user"] if name in server_hosts else v["redis_sentinel_user"]
            expected["files"].append({"path": f"{tls_dir}/redis.key", "owner": owner, "mode": "0600"})
            expected["certs"] += [f"{tls_dir}/redis.crt", f"{tls_dir}/ca.crt"]
        if name in sentinel_hosts:
            expected["user"] = expected["user"] or v["redis_sentinel_user"]
            sentinel_tls = v["redis_sentinel_tls_mode"] != "off"
            port = int(v["redis_sentinel_port"])
            tls_port = port if v["redis_sentinel_tls_mode"] == "only" else int(v["redis_sentinel_tls_port"])
            ports = [port] + (
                [int(v["redis_sentinel_tls_port"])] if v["redis_sentinel_tls_mode"] == "both" else []
            )
            expected["ports"] += ports
            expected["units"].append(f"{v['redis_sentinel_flavor']}-sentinel@main.service")
            expected["files"].append(
                {
                    "path": f"{v['redis_sentinel_conf_dir']}/sentinel.conf",
                    "owner": v["redis_sentinel_user"],
                    "mode": "0640",
                    "writable_by_owner": True,
                }
            )
            if name in selected:
                targets.endpoints.append(
                    Endpoint(
                        kind="sentinel",
                        target=f"{name}:{tls_port if sentinel_tls else port}",
                        host=name,
                        address=v["ansible_host"],
                        port=tls_port if sentinel_tls else port,
                        tls=sentinel_tls,
                        username=v["redis_compliance_sentinel_user"],
                        password=v["redis_compliance_sentinel_password"],
                        expected={
                            "groups": [g["name"] for g in targets.groups],
                            # What SENTINEL MASTERS should answer for each group the inventory has.
                            "settings": {
                                g["name"]: {
                                    "quorum": str(g["quorum"]),
                                    "down-after-milliseconds": str(g["down_after_milliseconds"]),
                                    "failover-timeout": str(g["failover_timeout"]),
                                    "parallel-syncs": str(g["parallel_syncs"]),
                                }
                                for g in targets.groups
                            },
                            "kit_users": {
                                **{
                                    role: v[f"redis_sentinel_{role}_user"]
                                    for role in ("admin", "peer", "monitoring")
                                },
                                "inspect": v["redis_server_inspect_acl_user"],
                            },
                        },
                        **(tls_files() if sentinel_tls else {}),
                    )
                )
        expected["exporters"] = expected_exporters(v, name in server_hosts, name in sentinel_hosts)
        expected["ports"] += [e["port"] for e in expected["exporters"]]
        expected["ports"] = sorted(set(expected["ports"]))
        if name in selected:
            targets.hosts.append(
                HostSpec(
                    target=name,
                    address=v["ansible_host"],
                    connection={
                        "url": f"ansible://{name}",
                        "ansible_inventory": str(Path(inventory).resolve()),
                    },
                    expected=expected,
                )
            )
    # Backup hosts are read whatever --limit says: they hold the backups of the hosts checked.
    for name in groups.get("redis_backup", []):
        v = resolved[name]
        textfile = f"{v['redis_backup_textfile_dir']}/redisops_backup.prom"
        targets.backup_hosts.append(
            HostSpec(
                target=name,
                address=v["ansible_host"],
                connection={"url": f"ansible://{name}", "ansible_inventory": str(Path(inventory).resolve())},
                expected={"textfile": textfile},
            )
        )
    for endpoint in targets.endpoints:
        if not endpoint.password:
            var, default = (
                ("redis_compliance_redis_password", "redis_server_compliance_password")
                if endpoint.kind == "redis"
                else ("redis_compliance_sentinel_password", "redis_sentinel_monitoring_password")
            )
            raise InventoryError(
                f"{endpoint.host}: {var} is empty: the checks log in as {endpoint.username!r}; "
                f"set {default}, which it defaults to (Ansible Vault for real hosts)"
            )
    return targets
