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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisAuthError,
    RedisCli,
    RedisCliError,
    RedisDownError,
)

FIELDS = (
    "role", "master_host", "master_port", "master_link_status", "connected_slaves",
    "master_repl_offset", "slave_repl_offset", "master_sync_in_progress", "run_id", "process_id",
    "uptime_in_seconds", "redis_version",
)  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "conf_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    ours = bool(module.params["conf_file"]) and os.path.exists(module.params["conf_file"])
    port = module.params["connection"]["port"]
    cli = RedisCli(module.params["connection"])
    try:
        text = cli.call("INFO", "server") + "\n" + cli.call("INFO", "replication")
    except RedisDownError as exc:
        module.exit_json(changed=False, running=False, reason=str(exc))
    except RedisAuthError as exc:
        if ours:
            module.fail_json(
                msg=f"the role's instance on port {port} refuses the admin user: redis_server_admin_password "
                f"does not match the live server ({exc}). To rotate it, set the new password on the live "
                "servers first (ACL SETUSER), then in the inventory."
            )
        # Another server on our port (the distribution's stock service): not ours, not a primary.
        module.exit_json(changed=False, running=False, foreign=True, reason=str(exc))
    except RedisCliError as exc:
        if ours:
            module.fail_json(msg=f"cannot read the state of the role's instance on port {port}: {exc}")
        module.exit_json(changed=False, running=False, foreign=True, reason=str(exc))
    info = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key in FIELDS:
            info[key] = value
    module.exit_json(changed=False, running=True, **info)


if __name__ == "__main__":
    main()
