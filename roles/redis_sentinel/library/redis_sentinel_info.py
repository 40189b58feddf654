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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisAuthError,
    RedisCli,
    RedisCliError,
    RedisDownError,
    pairs_to_dicts,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "conf_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    ours = bool(module.params["conf_file"]) and os.path.exists(module.params["conf_file"])
    cli = RedisCli(module.params["connection"])
    port = module.params["connection"]["port"]
    try:
        myid = cli.call("SENTINEL", "MYID")
        masters = {m["name"]: m for m in pairs_to_dicts(cli.call("SENTINEL", "MASTERS"))}
    except RedisDownError as exc:
        module.exit_json(changed=False, running=False, masters={}, ckquorum={}, reason=str(exc))
    except RedisAuthError as exc:
        if ours:
            module.fail_json(
                msg=f"the sentinel on port {port} refuses the admin user: redis_sentinel_admin_password does "
                f"not match the live sentinel ({exc})"
            )
        module.exit_json(changed=False, running=False, foreign=True, masters={}, ckquorum={}, reason=str(exc))
    except RedisCliError as exc:
        if ours:
            module.fail_json(msg=f"cannot read the state of the sentinel on port {port}: {exc}")
        module.exit_json(changed=False, running=False, foreign=True, masters={}, ckquorum={}, reason=str(exc))
    ckquorum = {}
    for name, master in masters.items():
        # Replicas that are up and linked: Sentinel's num-slaves also counts those marked down.
        try:
            replicas = pairs_to_dicts(cli.call("SENTINEL", "REPLICAS", name))
        except RedisCliError:
            replicas = []
        master["ok-replicas"] = sum(
            1 for r in replicas if r.get("flags") == "slave" and r.get("master-link-status") == "ok"
        )
    for name in masters:
        try:
            ckquorum[name] = cli.call("SENTINEL", "CKQUORUM", name)
        except RedisCliError as exc:
            ckquorum[name] = str(exc)
    module.exit_json(changed=False, running=True, myid=myid, masters=masters, ckquorum=ckquorum)


if __name__ == "__main__":
    main()
