#!/usr/bin/python
"""What one sentinel knows: its id and, per monitored group, the primary, counts and quorum."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_sentinel_info
short_description: State of one Redis Sentinel (read-only; safe in check mode)
description:
  - Connects with redis-cli (password from the environment, never the command line) and
    returns SENTINEL MASTERS, the sentinel's id and SENTINEL CKQUORUM of each group. A
    sentinel that does not answer is reported as not running.
options:
  connection: {description: How to reach the sentinel., type: dict, required: true}
  conf_file:
    description:
      - The sentinel's config file. When it exists the sentinel is the role's own, and one
        that refuses the admin user is an error (wrong password), not a stranger.
    type: path
"""

RETURN = r"""
running: {description: The sentinel answered as the admin user., type: bool, returned: always}
myid: {description: The sentinel's id., type: str, returned: when running}
masters:
  description: Group name -> fields of SENTINEL MASTER (ip, port, flags, quorum...).
  type: dict
  returned: always
ckquorum: {description: Group name -> the answer of SENTINEL CKQUORUM., type: dict, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisCli,
    read_or_report,
    sentinel_health,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "conf_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    cli = RedisCli(module.params["connection"])
    health = read_or_report(
        module,
        lambda: sentinel_health(cli),
        module.params["conf_file"],
        "the sentinel",
        "redis_sentinel_admin_password does not match the live sentinel",
        masters={},
        ckquorum={},
    )
    module.exit_json(changed=False, **health)


if __name__ == "__main__":
    main()
