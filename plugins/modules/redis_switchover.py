#!/usr/bin/python
"""Planned switchover of a Sentinel-monitored primary with writes paused: no acknowledged write lost."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_switchover
short_description: Move the primary of a Sentinel group away from this server, losing no write
description:
  - Runs on the primary's host, in one module run so the pause is as short as it can be.
  - Holds the replication PING; with C(timed), lowers the replica-priority of the replica Sentinel
    will promote by one and waits (unpaused) until Sentinel's last INFO of it is 780 ms old; pauses
    writes (CLIENT PAUSE WRITE; clients wait, they do not fail); waits until every replica holds the
    primary's offset (read from each replica); asks Sentinel to fail over (SENTINEL FAILOVER); as
    soon as Sentinel has seen the promotion, makes this server and the other replicas replicas of
    the new primary and ends Sentinel's failover (failover-timeout 1 ms for a tick); once every
    sentinel names the new primary, resumes (the paused writes get READONLY and their clients ask
    Sentinel again), rewrites the config files and sets back what it changed. Paused writes were
    never applied here, so none can be lost; the offsets stay equal, so this server and the other
    replicas follow the new primary with a partial resync (module_utils/core/switchover.py).
  - A failure before Sentinel is asked to fail over resumes writes before failing; after it,
    writes stay paused (the pause ends by itself after pause_ms) unless this server is already a
    replica, since it may still be a primary. The result's C(resumed) says which. A lost answer to
    SENTINEL FAILOVER, or INPROG, resumes writes only if Sentinel shows no failover started.
options:
  connection: {description: How to reach the primary (admin user)., type: dict, required: true}
  sentinel: {description: How to reach one sentinel of the group (admin user)., type: dict, required: true}
  group: {description: The Sentinel group., type: str, required: true}
  address: {description: This server's address as Sentinel knows it., type: str, required: true}
  pause_ms: {description: Longest time writes stay paused., type: int, default: 15000}
  catch_up_timeout: {description: Seconds to wait for the replicas to catch up., type: float, default: 5}
  replicas: {description: Replicas the group must have online (all of them)., type: int, required: true}
  replica_connection:
    description:
      - How to reach the group's replicas (admin user; TLS when they announce their TLS port);
        host and port come from each replica. Default, the primary's connection.
    type: dict
  timed:
    description:
      - Time the failover to Sentinel's INFO of the replica it promotes, with that replica's
        replica-priority lowered by one for the switchover, and end Sentinel's failover as soon as
        it has seen the promotion (its failover-timeout set to 1 ms for a moment). Writes are
        paused for about 0.4 s instead of 1.5-2 s; the wait for the moment (about 1 s, with the
        sentinel's info-period set to 1 s for the switchover; up to 12 s) comes before the pause.
      - False sends SENTINEL FAILOVER at once and lets Sentinel end the failover at its own pace.
    type: bool
    default: true
"""

RETURN = r"""
new_primary: {description: Address and port of the new primary., type: str, returned: success}
paused_s: {description: How long writes were paused., type: float, returned: success}
timed: {description: Whether the failover was timed (see the option)., type: bool, returned: success}
waited_s: {description: Seconds before the pause (the wait for the moment)., type: float, returned: success}
steps:
  description: Seconds from the pause to each step (caught_up, failover, ending, named, listed, resumed).
  type: dict
  returned: success
resumed:
  description: Whether writes were resumed on this server after a failure.
  type: bool
  returned: failure
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.core import switchover
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import CONNECTION_SPEC, parse_info
from ansible_collections.redisops.kit.plugins.module_utils.resp import RespClient, RespError


class Server:
    """core.switchover's primary or a replica, over one kept connection (redis-cli's 10-20 ms
    per command would add a quarter of a second to the pause)."""

    def __init__(self, conn: dict):
        # Named: compliance's PRF-01 tells its CONFIG REWRITE from an application's slow command.
        self.client = RespClient(conn, name=switchover.CLIENT_NAME)

    def replication(self) -> dict[str, str]:
        return parse_info(str(self.client.call("INFO", "replication")))

    def config_get(self, name: str) -> str:
        reply = self.client.call("CONFIG", "GET", name) or []
        return str(reply[1]) if len(reply) > 1 else ""

    def call(self, *args: str) -> None:
        self.client.call(*args)


class Sentinel:
    """core.switchover's Sentinel, over one kept connection."""

    def __init__(self, conn: dict):
        self.client = RespClient(conn)

    def primary(self, group: str) -> tuple[str, str] | None:
        named = self.client.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", group)
        return (str(named[0]), str(named[1])) if isinstance(named, list) and len(named) == 2 else None

    def failover(self, group: str) -> str:
        try:
            return str(self.client.call("SENTINEL", "FAILOVER", group, retry=False))
        except RespError as exc:  # INPROG, NOGOODSLAVE...: the text says which
            return str(exc)

    def master(self, group: str) -> dict[str, str]:
        return switchover.record(self.client.call("SENTINEL", "MASTER", group))

    def replicas(self, group: str) -> list[dict[str, str]]:
        return [switchover.record(r) for r in self.client.call("SENTINEL", "REPLICAS", group) or []]

    def set(self, group: str, option: str, value: str) -> None:
        self.client.call("SENTINEL", "SET", group, option, value)

    def debug(self, *args: str) -> dict[str, str]:
        return switchover.record(self.client.call("SENTINEL", "DEBUG", *args))


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "sentinel": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "group": {"type": "str", "required": True},
            "address": {"type": "str", "required": True},
            "pause_ms": {"type": "int", "default": 15000},
            "catch_up_timeout": {"type": "float", "default": 5},
            "timed": {"type": "bool", "default": True},
            "replica_connection": {"type": "dict", "options": CONNECTION_SPEC},
            "replicas": {"type": "int", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    primary, sentinel = Server(p["connection"]), Sentinel(p["sentinel"])

    def server(ip: str, port: str) -> Server:
        # A replica of the group, at the address and port Sentinel lists.
        return Server({**(p["replica_connection"] or p["connection"]), "host": ip, "port": int(port)})

    try:
        found = switchover.problems(
            primary.replication(), sentinel.primary(p["group"]), p["group"], p["address"], p["replicas"]
        )
    except (RespError, OSError) as exc:
        module.fail_json(msg=f"cannot read the state before the switchover: {exc}")
    if found:
        module.fail_json(msg="; ".join(found))
    if module.check_mode:
        module.exit_json(changed=True)
    try:
        result = switchover.switch_over(
            primary,
            sentinel,
            p["group"],
            p["address"],
            p["replicas"],
            pause_ms=p["pause_ms"],
            catch_up_timeout=p["catch_up_timeout"],
            server=server,
            timed=p["timed"],
        )
    except switchover.SwitchoverError as exc:
        module.fail_json(msg=str(exc), resumed=exc.resumed)
    for warning in result.pop("warnings", []):  # Ansible's own list, shown after the task
        module.warn(warning)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
