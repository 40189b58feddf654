#!/usr/bin/python
"""Planned switchover of a Sentinel-monitored primary with writes paused: no acknowledged write lost."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_switchover
short_description: Move the primary of a Sentinel group away from this server, losing no write
description:
  - Runs on the primary's host, in one module run so the pause is as short as it can be.
  - Pauses writes (CLIENT PAUSE WRITE; clients wait, they do not fail), waits until every
    online replica has acknowledged the primary's last offset, asks Sentinel to fail over
    (SENTINEL FAILOVER), waits until Sentinel names another primary, then does at once what
    Sentinel would do a few seconds later (REPLICAOF the new primary, CONFIG REWRITE, drop the
    clients so they reconnect to the new primary) and resumes. Paused writes were never applied
    here, so none can be lost.
  - Any failure resumes writes before failing.
options:
  connection: {description: How to reach the primary (admin user)., type: dict, required: true}
  sentinel: {description: How to reach one sentinel of the group (admin user)., type: dict, required: true}
  group: {description: The Sentinel group., type: str, required: true}
  address: {description: This server's address as Sentinel knows it., type: str, required: true}
  pause_ms: {description: Longest time writes stay paused., type: int, default: 15000}
  catch_up_timeout: {description: Seconds to wait for the replicas to catch up., type: float, default: 5}
  replicas: {description: Replicas the group must have online (all of them)., type: int, required: true}
"""

RETURN = r"""
new_primary: {description: Address and port of the new primary., type: str, returned: success}
paused_s: {description: How long writes were paused., type: float, returned: success}
"""

import contextlib
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisCli,
    RedisCliError,
    parse_info,
)


def replication(cli: RedisCli) -> dict[str, str]:
    return parse_info(cli.call("INFO", "replication"))


def replica_offsets(info: dict[str, str]) -> list[int]:
    """Acknowledged offsets of the online replicas, from the primary's INFO replication."""
    offsets = []
    for key, value in info.items():
        if key.startswith("slave") and key[5:].isdigit():
            fields = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
            if fields.get("state") == "online":
                offsets.append(int(fields.get("offset", 0)))
    return offsets


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "sentinel": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "group": {"type": "str", "required": True},
            "address": {"type": "str", "required": True},
            "pause_ms": {"type": "int", "default": 15000},
            "catch_up_timeout": {"type": "float", "default": 5},
            "replicas": {"type": "int", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    redis, sentinel = RedisCli(p["connection"]), RedisCli(p["sentinel"])
    group = p["group"]
    try:
        info = replication(redis)
        master = sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", group).splitlines()
    except RedisCliError as exc:
        module.fail_json(msg=f"cannot read the state before the switchover: {exc}")
    if info.get("role") != "master" or master[:1] != [p["address"]]:
        module.fail_json(msg=f"this server is not the primary of {group} (Sentinel names {':'.join(master)})")
    # Every replica must be online: Sentinel may pick any of them, and one still syncing holds old data.
    online = replica_offsets(info)
    if len(online) < p["replicas"] or int(info.get("connected_slaves", 0)) != len(online):
        module.fail_json(
            msg=f"the primary of {group} has {len(online)} online replica(s) of {p['replicas']} expected "
            f"({info.get('connected_slaves', 0)} connected): a switchover now could promote a replica that "
            "is behind; wait until all are in sync"
        )
    if module.check_mode:
        module.exit_json(changed=True)

    def fail(msg, resume=True):
        if resume:
            with contextlib.suppress(RedisCliError):
                redis.call("CLIENT", "UNPAUSE")
            module.fail_json(msg=f"{msg}; writes were resumed on {p['address']}, which is still the primary")
        module.fail_json(
            msg=f"{msg}; Sentinel was asked to fail over, so writes stay paused on {p['address']} (the pause "
            f"ends by itself after {p['pause_ms']} ms): check SENTINEL MASTER {group} and make this server "
            "a replica of the primary Sentinel names"
        )

    started = time.monotonic()
    try:
        redis.call("CLIENT", "PAUSE", str(p["pause_ms"]), "WRITE")
        deadline = time.monotonic() + p["catch_up_timeout"]
        while True:
            info = replication(redis)
            target, offsets = int(info.get("master_repl_offset", 0)), replica_offsets(info)
            if len(offsets) >= p["replicas"] and min(offsets) >= target:
                break
            if time.monotonic() > deadline:
                fail(f"the replicas did not catch up within {p['catch_up_timeout']} s ({offsets} < {target})")
            time.sleep(0.02)
        # redis-cli exits 0 on an error reply (INPROG, NOGOODSLAVE...): only OK means it started.
        answer = sentinel.call("SENTINEL", "FAILOVER", group)
    except RedisCliError as exc:
        fail(f"switchover refused before the failover started: {exc}")
    if answer.strip() != "OK":
        fail(f"Sentinel refused to fail over: {answer.strip()}")
    # From here on the failover runs: never resume writes while this server is still a primary.
    try:
        deadline = started + p["pause_ms"] / 1000 - 1
        while True:
            master = sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", group).splitlines()
            if master and master[0] != p["address"]:
                break
            if time.monotonic() > deadline:
                fail("Sentinel did not name another primary in time", resume=False)
            time.sleep(0.05)
        # What Sentinel does to a demoted primary, without its wait for the next INFO round.
        for attempt in range(3):
            try:
                redis.call("REPLICAOF", master[0], master[1])
                break
            except RedisCliError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
        redis.call("CONFIG", "REWRITE")
        redis.call("CLIENT", "KILL", "TYPE", "normal")
        redis.call("CLIENT", "KILL", "TYPE", "pubsub")
        redis.call("CLIENT", "UNPAUSE")
    except RedisCliError as exc:
        try:
            still_primary = replication(redis).get("role") == "master"
        except RedisCliError:
            still_primary = True
        fail(f"demoting this server failed: {exc}", resume=not still_primary)
    module.exit_json(
        changed=True, new_primary=f"{master[0]}:{master[1]}", paused_s=round(time.monotonic() - started, 3)
    )


if __name__ == "__main__":
    main()
