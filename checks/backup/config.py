"""What the backups read from the inventory: each Sentinel group's servers and the backup user.

The same inventory and variables as the roles and the checks (one source of truth). The control
node resolves them and the redis_backup role installs the result on the backup host as a file
readable only by the backup service user: the host needs no Ansible and no inventory.
"""

from __future__ import annotations

from pathlib import Path

from redisops.backup.store import BackupError, program_for
from redisops.inventory import (
    _ANY_MEMORY_MB,
    InventoryError,
    _role_filters,
    control_tls_files,
    load_inventory,
    read_private_json,
    write_private_json,
)


def config_from_inventory(
    inventory: str | None = None, vault_password_file: str | None = None, tls_dir: str | None = None
) -> dict:
    """{"groups": [{name, instance, servers: [{host, address, port, tls}], username, password}],
    "tls": {ca_cert, cert, key} or {}}. With ``tls_dir`` the TLS files are named as the role
    installs them there (ca.crt, client.crt, client.key), else as the control node has them."""
    loaded = load_inventory(inventory, None, vault_password_file)
    server_hosts = loaded.groups.get("redis", [])
    sentinel_hosts = loaded.groups.get("sentinel", [])
    first = loaded.hostvars[server_hosts[0]]
    if sentinel_hosts:
        sentinel_vars = loaded.hostvars[sentinel_hosts[0]]
        groups = [
            (g["name"], g["instance"])
            for g in _role_filters("redis_sentinel").redis_sentinel_groups(sentinel_vars)
            if g["state"] == "present"
        ]
    else:  # no Sentinel: one group per instance, named after it
        groups = [
            (i["name"], i["name"])
            for i in _role_filters("redis_server").redis_instances(first, _ANY_MEMORY_MB)
            if i["state"] == "present"
        ]
    out_groups, any_tls = [], False
    for name, instance in groups:
        servers = []
        for host in server_hosts:
            v = loaded.hostvars[host]
            for inst in _role_filters("redis_server").redis_instances(v, _ANY_MEMORY_MB):
                if inst["name"] == instance and inst["state"] == "present":
                    tls = bool(inst["tls_port"])
                    any_tls = any_tls or tls
                    servers.append(
                        {
                            "host": host,
                            "address": v["ansible_host"],
                            "port": inst["tls_port"] or inst["plain_port"],
                            "tls": tls,
                            "instance": instance,
                            "flavor": inst["flavor"],
                            "dump": f"{inst['data_dir']}/dump.rdb",
                        }
                    )
        user, password = first.get("redis_server_backup_user"), first.get("redis_server_backup_password")
        if not password:
            raise InventoryError(
                "redis_server_backup_password is not set: the backups log in as "
                f"{user!r}; put it in the inventory (Ansible Vault for real hosts) and rerun site.yml"
            )
        out_groups.append(
            {"name": name, "instance": instance, "servers": servers, "username": user, "password": password}
        )
    tls = {}
    if any_tls:
        tls = (
            {"ca_cert": f"{tls_dir}/ca.crt", "cert": f"{tls_dir}/client.crt", "key": f"{tls_dir}/client.key"}
            if tls_dir
            else control_tls_files(first)
        )
    return {"groups": out_groups, "tls": tls}


def sources_by_host(config: dict) -> dict[str, dict[str, str]]:
    """What each Redis host's send command may send: instance name to dump file."""
    sources: dict[str, dict[str, str]] = {}
    for group in config["groups"]:
        for server in group["servers"]:
            sources.setdefault(server["host"], {})[server["instance"]] = server["dump"]
    return sources


def flavors(config: dict) -> list[str]:
    """The servers the backups come from: the backup host needs each one's checker and server
    (packages and units named after them, so only flavours of the fixed table)."""
    for group in config["groups"]:
        for server in group["servers"]:
            program_for(
                server.get("flavor", "redis"), "server", f"redis_server_flavor of {server.get('host', '?')}"
            )
    return sorted({s.get("flavor", "redis") for g in config["groups"] for s in g["servers"]})


def write_config(config: dict, path: Path) -> None:
    write_private_json(config, path)


def read_config(path: Path) -> dict:
    return read_private_json(path, "backup config", "a password", BackupError)
