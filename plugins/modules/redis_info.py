#!/usr/bin/python
"""Read a Redis instance's replication state (read-only; safe in check mode)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_info
short_description: Replication state of one Redis instance
description:
  - Connects with redis-cli (password from the environment, never the command line) and
    returns INFO replication and server fields. A server that does not answer, or answers
    but does not accept the role's admin user (for example the distribution's stock
    service), is reported as not running.
options:
  connection: {description: How to reach the instance., type: dict, required: true}
  conf_file:
    description:
      - The instance's redis.conf. When it exists the instance is the role's own, and a
        server that refuses the admin user is an error (wrong password), not a stranger.
    type: path
"""

RETURN = r"""
running: {description: The instance answered as the role's admin user., type: bool, returned: always}
role: {description: master or slave., type: str, returned: when running}
master_host: {description: Address of the primary this replica follows., type: str, returned: when a replica}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisCli,
    parse_info,
    read_or_report,
)

FIELDS = (
    "role", "master_host", "master_port", "master_link_status", "connected_slaves",
    "master_repl_offset", "slave_repl_offset", "master_sync_in_progress", "run_id", "process_id",
    "uptime_in_seconds", "redis_version", "server_name", "valkey_version",
    # Persistence: loading a dataset, the append-only file and what the last load read.
    "loading", "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled", "aof_last_bgrewrite_status",
    "rdb_last_load_keys_loaded", "rdb_last_load_keys_expired",
)  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "conf_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    cli = RedisCli(module.params["connection"])
    text = read_or_report(
        module,
        lambda: "\n".join(cli.call("INFO", section) for section in ("server", "replication", "persistence")),
        module.params["conf_file"],
        "the role's instance",
        "redis_server_admin_password does not match the live server. To rotate it, set the new password "
        "on the live servers first (ACL SETUSER), then in the inventory.",
    )
    info = {k: v for k, v in parse_info(text).items() if k in FIELDS}
    module.exit_json(changed=False, running=True, **info)


if __name__ == "__main__":
    main()
