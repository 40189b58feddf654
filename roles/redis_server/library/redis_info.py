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
"""

RETURN = r"""
running: {description: The instance answered as the role's admin user., type: bool, returned: always}
role: {description: master or slave., type: str, returned: when running}
master_host: {description: Address of the primary this replica follows., type: str, returned: when a replica}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.redis_ops import RedisCli, RedisCliError

FIELDS = (
    "role", "master_host", "master_port", "master_link_status", "connected_slaves",
    "master_repl_offset", "run_id", "process_id", "uptime_in_seconds", "redis_version",
)  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec={"connection": {"type": "dict", "required": True, "no_log": True}},
        supports_check_mode=True,
    )
    cli = RedisCli(module.params["connection"])
    try:
        text = cli.call("INFO", "server") + "\n" + cli.call("INFO", "replication")
    except RedisCliError as exc:
        module.exit_json(changed=False, running=False, reason=str(exc))
    info = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key in FIELDS:
            info[key] = value
    module.exit_json(changed=False, running=True, **info)


if __name__ == "__main__":
    main()
