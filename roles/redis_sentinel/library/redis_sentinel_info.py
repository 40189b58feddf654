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
from ansible.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisCli,
    RedisCliError,
    pairs_to_dicts,
    read_or_report,
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

    def read():
        return cli.call("SENTINEL", "MYID"), {
            m["name"]: m for m in pairs_to_dicts(cli.call("SENTINEL", "MASTERS"))
        }

    myid, masters = read_or_report(
        module,
        read,
        module.params["conf_file"],
        "the sentinel",
        "redis_sentinel_admin_password does not match the live sentinel",
        masters={},
        ckquorum={},
    )
    ckquorum = {}
    for name, master in masters.items():
        # Replicas that are up and linked: Sentinel's num-slaves also counts those marked down.
        try:
            replicas = pairs_to_dicts(cli.call("SENTINEL", "REPLICAS", name))
        except RedisCliError:
            replicas = []
        ok = [r for r in replicas if r.get("flags") == "slave" and r.get("master-link-status") == "ok"]
        master["ok-replicas"] = len(ok)
        master["ok-replica-addrs"] = sorted(f"{r.get('ip')}:{r.get('port')}" for r in ok)
    for name in masters:
        try:
            ckquorum[name] = cli.call("SENTINEL", "CKQUORUM", name)
        except RedisCliError as exc:
            ckquorum[name] = str(exc)
    module.exit_json(changed=False, running=True, myid=myid, masters=masters, ckquorum=ckquorum)


if __name__ == "__main__":
    main()
