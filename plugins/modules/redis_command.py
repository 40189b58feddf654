#!/usr/bin/python
"""Run one command on a Redis instance (reports a change)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_command
short_description: Run one command on a Redis instance through redis-cli
description:
  - The password travels in the environment, never on the command line.
options:
  connection: {description: How to reach the instance., type: dict, required: true}
  command: {description: The command and its arguments., type: list, elements: str, required: true}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisCli,
    RedisCliError,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "command": {"type": "list", "elements": "str", "required": True},
        },
        supports_check_mode=True,
    )
    if module.check_mode:
        module.exit_json(changed=True)
    try:
        out = RedisCli(module.params["connection"]).call(*module.params["command"])
    except RedisCliError as exc:
        module.fail_json(msg=f"{module.params['command'][0]} failed: {exc}")
    module.exit_json(changed=True, output=out)


if __name__ == "__main__":
    main()
