#!/usr/bin/python
"""Whether a Sentinel group is safe to touch: every sentinel read from one host, again and again,
until each answers healthy and knows the newest switch."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_sentinel_gate
short_description: Wait until every sentinel of a group reports it healthy (read-only)
description:
  - Reads every sentinel of the group from this host, over the network, with the same admin user
    and TLS files, over one kept connection each. Each read is what redis_sentinel_info returns.
    The group is safe to touch when every sentinel answers, CKQUORUM is OK on each, they name
    one primary, each sees the other sentinels and every replica, and each knows the newest
    switch any of them reported (its configuration epoch).
  - Reads all of them again every I(interval) seconds until then, for at most I(timeout) seconds.
    It never fails on an unhealthy group; the caller judges I(problems).
options:
  connection:
    description: How to reach a sentinel (its host and port are replaced by each sentinel's).
    type: dict
    required: true
  sentinels:
    description: The group's sentinels, each with C(name) (as results name it), C(host) and C(port).
    type: list
    elements: dict
    required: true
  group: {description: The monitored group., type: str, required: true}
  replicas: {description: How many replicas the group has., type: int, required: true}
  spare:
    description: A replica ("address:port") that need not be linked (about to be replaced).
    type: str
    default: ""
  timeout: {description: Seconds to keep reading., type: float, default: 30}
  interval: {description: Seconds between reads., type: float, default: 0.25}
"""

RETURN = r"""
results:
  description: Each sentinel's read, as redis_sentinel_info returns it, with C(item) its name.
  type: list
  returned: always
problems: {description: Why the group is not safe to touch (empty when it is)., type: list, returned: always}
settled: {description: Safe, and every sentinel at the newest switch., type: bool, returned: always}
reads: {description: How many times the sentinels were read., type: int, returned: always}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.core import health
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisAuthError,
    RedisCliError,
    RedisDownError,
    sentinel_health,
)
from ansible_collections.redisops.kit.plugins.module_utils.resp import RespClient, RespError


def _lines(reply) -> list[str]:
    if isinstance(reply, list):
        return [line for item in reply for line in _lines(item)]
    return ["" if reply is None else str(reply)]


class KeptCli:
    """redis_ops.sentinel_health's reader over one kept connection (redis-cli would cost a
    process, a TLS handshake and an AUTH per command, on every read): replies as redis-cli
    prints them, errors as RedisCli raises them."""

    def __init__(self, conn: dict):
        self.client = RespClient(conn, timeout=3.0)

    def call(self, *args: str) -> str:
        try:
            reply = self.client.call(*args)
        except RespError as exc:
            if str(exc).startswith(("WRONGPASS", "NOAUTH")):
                raise RedisAuthError(str(exc)) from None
            raise RedisCliError(str(exc)) from None
        except OSError as exc:  # refused, unreachable, closed: a later read connects again
            self.client.close()
            raise RedisDownError(str(exc) or type(exc).__name__) from None
        return "\n".join(_lines(reply))


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "sentinels": {"type": "list", "elements": "dict", "required": True},
            "group": {"type": "str", "required": True},
            "replicas": {"type": "int", "required": True},
            "spare": {"type": "str", "default": ""},
            "timeout": {"type": "float", "default": 30},
            "interval": {"type": "float", "default": 0.25},
        },
        supports_check_mode=True,
    )
    p = module.params
    for i, node in enumerate(p["sentinels"]):
        if not node.get("name") or not node.get("host") or not str(node.get("port", "")).isdigit():
            module.fail_json(msg=f"sentinels[{i}] needs a name, a host and a numeric port: {node!r}")

    clis = {
        node["name"]: KeptCli({**p["connection"], "host": str(node["host"]), "port": int(node["port"])})
        for node in p["sentinels"]
    }

    def read(node: dict) -> dict:
        cli = clis[node["name"]]
        try:
            found = sentinel_health(cli)
        except RedisAuthError as exc:  # every sentinel of the inventory is the role's own
            module.fail_json(
                msg=f"the sentinel on {node['name']} refuses the admin user: redis_sentinel_admin_password "
                f"does not match the live sentinel ({exc})"
            )
        except RedisCliError as exc:  # down, restarting, or not reachable from here
            found = {"running": False, "reason": str(exc), "masters": {}, "ckquorum": {}}
        return {"item": node["name"], **found}

    count = len(p["sentinels"])
    deadline = time.monotonic() + max(p["timeout"], 0)
    reads = 0
    while True:
        results = [read(node) for node in p["sentinels"]]
        reads += 1
        problems = health.gate_problems(results, p["group"], count, p["replicas"], p["spare"])
        settled = health.gate_settled(results, p["group"], count, p["replicas"], p["spare"])
        if settled or time.monotonic() + p["interval"] > deadline:
            break
        time.sleep(p["interval"])
    if not problems and not settled:
        epoch = health.gate_epoch(results, p["group"])
        behind = [r["item"] for r in results if not health.gate_current(r, p["group"], epoch)]
        problems = [f"sentinels {', '.join(behind)} have not heard of the newest switch (epoch {epoch})"]
    # Why a sentinel could not be read from here (down, refused, TLS, a firewall between hosts).
    problems += [
        f"the sentinel on {r['item']} could not be read: {r['reason']}"
        for r in results
        if not r.get("running") and r.get("reason")
    ]
    module.exit_json(changed=False, results=results, problems=problems, settled=settled, reads=reads)


if __name__ == "__main__":
    main()
