"""What a drill acts on, read from the same Ansible inventory as the roles and the checks.

A drill needs more than the checks: the admin users (to pause writes, fail over, heal), an
application user (the workload writes as an application would, under its key prefix), how
to reach each host (faults go over SSH with ordinary tools) and whether drills are allowed
on this inventory at all (``redis_drill_allowed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redisops.core.choices import FLAVORS
from redisops.inventory import (
    _ANY_MEMORY_MB,
    Inventory,
    InventoryError,
    _role_filters,
    control_tls_files,
    load_inventory,
)


@dataclass(frozen=True)
class Node:
    host: str  # inventory name
    address: str
    port: int

    @property
    def addr(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass
class DrillTargets:
    inventory: str
    group: str
    instance: str
    unit: str  # the instance's systemd unit on each server host
    quorum: int
    down_after_ms: int
    failover_timeout_ms: int
    min_replicas_max_lag: int
    servers: list[Node]
    sentinels: list[Node]
    tls: dict[str, str] = field(default_factory=dict)  # ssl_* keyword arguments for redis-py
    admin: tuple[str, str] = ("", "")
    sentinel_admin: tuple[str, str] = ("", "")
    app: tuple[str, str] = ("", "")
    sentinel_app: tuple[str, str] = ("", "")
    key_prefix: str = "drill:"
    # manual-failover: time the failover to Sentinel (core/switchover.py); False is the path
    # before that, kept for the benchmark's side-by-side.
    switchover_timed: bool = True
    # redis_drill_allowed as the inventory sets it: only the boolean true allows drills.
    allowed_setting: object = None
    # A command on the control node that powers a host back on, given the host's name
    # ({host}); without one, the power-off scenario is refused.
    power_on_command: str = ""
    # Hosts of group redis_backup (where backups are kept; the backup drill restores there).
    backup_hosts: list[str] = field(default_factory=list)
    # Where the redis_backup role keeps things on the first backup host (its variables).
    backup_store_dir: str = "/var/lib/redisops-backup/store"
    backup_state_dir: str = "/var/lib/redisops-backup"
    backup_user: str = "redisops-backup"
    backup_runtime: str = "/opt/redisops-kit/current/lib"
    # The sentinel's systemd unit on each Sentinel host (redis-sentinel@ or valkey-sentinel@).
    sentinel_unit: str = "redis-sentinel@main.service"

    @property
    def allowed(self) -> bool:
        return self.allowed_setting is True

    def server_at(self, addr: str) -> Node:
        return next(n for n in self.servers if n.addr == addr)

    def redis_kwargs(self, user: tuple[str, str]) -> dict:
        return {"username": user[0], "password": user[1], **self.tls}


def drill_targets(
    inventory: str | None = None, group: str | None = None, vault_password_file: str | None = None
) -> DrillTargets:
    loaded: Inventory = load_inventory(inventory, None, vault_password_file)
    server_hosts = loaded.groups.get("redis", [])
    sentinel_hosts = loaded.groups.get("sentinel", [])
    if not sentinel_hosts:
        raise InventoryError(
            f"inventory {loaded.path} has no hosts in group 'sentinel': nothing to fail over"
        )
    v = loaded.hostvars[server_hosts[0]]
    sv = loaded.hostvars[sentinel_hosts[0]]
    groups = [g for g in _role_filters("redis_sentinel").redis_sentinel_groups(sv) if g["state"] == "present"]
    chosen = (
        next((g for g in groups if g["name"] == group), None) if group else (groups[0] if groups else None)
    )
    if chosen is None:
        names = ", ".join(g["name"] for g in groups) or "none"
        raise InventoryError(f"no Sentinel group {group!r} in the inventory (redis_sentinel_groups: {names})")
    servers = []
    unit = ""
    lags = []
    for host in server_hosts:
        for inst in _role_filters("redis_server").redis_instances(loaded.hostvars[host], _ANY_MEMORY_MB):
            if inst["name"] == chosen["instance"] and inst["state"] == "present":
                port = inst["tls_port"] or inst["plain_port"]
                servers.append(Node(host, loaded.hostvars[host]["ansible_host"], port))
                unit = inst["unit"]
                lags.append(int(inst["min_replicas_max_lag"]))
    sentinel_tls = sv["redis_sentinel_tls_mode"] != "off"
    sentinel_port = (
        int(sv["redis_sentinel_tls_port"])
        if sv["redis_sentinel_tls_mode"] == "both"
        else int(sv["redis_sentinel_port"])
    )
    sentinels = [Node(h, loaded.hostvars[h]["ansible_host"], sentinel_port) for h in sentinel_hosts]
    tls = {}
    if v["redis_server_tls_mode"] != "off" or sentinel_tls:
        files = control_tls_files(v)  # the control node's own client certificate
        tls = {
            "ssl": True,
            "ssl_ca_certs": files["ca_cert"],
            "ssl_certfile": files["cert"],
            "ssl_keyfile": files["key"],
        }
    app_users = v.get("redis_server_acl_users") or []
    client_users = sv.get("redis_sentinel_client_users") or []
    app = (
        v.get("redis_drill_user") or (app_users[0]["name"] if app_users else ""),
        v.get("redis_drill_password") or (app_users[0].get("password", "") if app_users else ""),
    )
    sentinel_app = (
        sv.get("redis_drill_sentinel_user") or (client_users[0]["name"] if client_users else ""),
        sv.get("redis_drill_sentinel_password")
        or (client_users[0].get("password", "") if client_users else ""),
    )
    if not all(app) or not all(sentinel_app):
        raise InventoryError(
            "the drill's workload needs an application user: set redis_drill_user/redis_drill_password "
            "and redis_drill_sentinel_user/redis_drill_sentinel_password, or list one in "
            "redis_server_acl_users and redis_sentinel_client_users"
        )
    prefix = v.get("redis_drill_key_prefix")
    if not prefix:
        patterns = (app_users[0].get("keys") if app_users else None) or ["*"]
        prefix = patterns[0].rstrip("*") + "drill:"
    backup_hosts = list(loaded.groups.get("redis_backup", []))
    return DrillTargets(
        inventory=loaded.path,
        group=chosen["name"],
        instance=chosen["instance"],
        unit=unit,
        sentinel_unit=sentinel_unit(sv.get("redis_sentinel_flavor") or "redis"),
        quorum=chosen["quorum"],
        down_after_ms=chosen["down_after_milliseconds"],
        failover_timeout_ms=chosen["failover_timeout"],
        # As deployed: the instance's own value, its profile's or the role's (the longest, should
        # they differ between hosts).
        min_replicas_max_lag=max(lags, default=10),
        servers=servers,
        sentinels=sentinels,
        tls=tls,
        admin=(v["redis_server_admin_user"], v["redis_server_admin_password"]),
        sentinel_admin=(sv["redis_sentinel_admin_user"], sv["redis_sentinel_admin_password"]),
        app=app,
        sentinel_app=sentinel_app,
        key_prefix=prefix,
        allowed_setting=v.get("redis_drill_allowed"),
        power_on_command=str(v.get("redis_drill_power_on_command") or ""),
        backup_hosts=backup_hosts,
        **_backup_paths(loaded.hostvars[backup_hosts[0]] if backup_hosts else {}),
    )


# The sentinel's unit per flavour: a drill runs it in a command on the host, so an inventory
# value picks one of these and never becomes part of a command itself.
SENTINEL_UNITS = {f: f"{f}-sentinel@main.service" for f in FLAVORS}


def sentinel_unit(flavor: object) -> str:
    if isinstance(flavor, str) and flavor in SENTINEL_UNITS:
        return SENTINEL_UNITS[flavor]
    raise InventoryError(
        f"redis_sentinel_flavor {flavor!r} is not one of {', '.join(SENTINEL_UNITS)}: set one of them"
    )


def drill_refusal(allowed: object, confirm: str | None, group: str) -> str:
    """Why a drill on ``group`` may not run ('' when it may).

    ``allowed`` is redis_drill_allowed as the inventory sets it: only the boolean true allows
    (the strings "false" and "no" are truthy, so truthiness would let them through).
    ``confirm`` is --confirm's group: it lets a drill run where the inventory does not allow
    drills, but only when it names the group being drilled; a wrong name is always refused.
    """
    if confirm is not None:
        if confirm == group:
            return ""
        return (
            f"--confirm {confirm!r} does not name the Sentinel group being drilled, {group}: "
            f"pass --confirm {group} (or --group to drill another group)"
        )
    if allowed is True:
        return ""
    if allowed is None or allowed is False:
        return (
            f"redis_drill_allowed is {'not set' if allowed is None else 'false'} for this inventory: "
            f"set redis_drill_allowed: true, or pass --confirm {group} to drill this group once"
        )
    return (
        f"redis_drill_allowed is {allowed!r} ({type(allowed).__name__}), not a boolean: "
        f"use true or false, unquoted (only true allows drills), or pass --confirm {group} to drill "
        "this group once"
    )


def _backup_paths(v: dict) -> dict:
    """The redis_backup role's paths on a backup host, as its inventory variables set them."""
    names = {
        "backup_store_dir": "redis_backup_store_dir",
        "backup_state_dir": "redis_backup_state_dir",
        "backup_user": "redis_backup_user",
    }
    out = {field: str(v[var]) for field, var in names.items() if v.get(var)}
    if v.get("redis_compliance_install_dir"):
        out["backup_runtime"] = f"{v['redis_compliance_install_dir']}/current/lib"
    return out
