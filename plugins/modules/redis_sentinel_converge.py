#!/usr/bin/python
"""Bring a running sentinel's monitors and ACL users in line with the inventory, without a restart."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_sentinel_converge
short_description: Converge a live sentinel's monitored groups and ACL users
description:
  - Groups not monitored yet get SENTINEL MONITOR (at the primary the play found) and SENTINEL
    SET; groups already monitored keep the primary Sentinel knows (a failover is never undone),
    and only differing quorum, timers or credentials are changed with SENTINEL SET. Groups
    marked absent are removed (SENTINEL REMOVE).
  - ACL users are compared in Sentinel's own canonical form (a throw-away probe user shows how
    Sentinel writes the wanted rules), changed with ACL SETUSER, and users the inventory does
    not list are deleted. The default user stays off.
  - Anything changed is written to sentinel.conf by Sentinel itself (SENTINEL FLUSHCONFIG).
options:
  connection: {description: How to reach the sentinel (admin user)., type: dict, required: true}
  conf_file:
    description: sentinel.conf (read for the credentials Sentinel does not show).
    type: path
    required: true
  groups:
    description: Groups (name, state, address, port, quorum and timers).
    type: list
    elements: dict
    required: true
  auth_user: {description: Redis ACL user Sentinel logs in to the servers as., type: str, required: true}
  auth_password: {description: Its password., type: str, required: true, no_log: true}
  users: {description: Sentinel ACL users (name, rules)., type: list, elements: dict, required: true}
  sentinel_addresses:
    description: Addresses of the inventory's sentinels; others a sentinel remembers are stale.
    type: list
    elements: str
    default: []
  static:
    description:
      - sentinel.conf's static settings too, in the same module run (C(path), C(content), C(owner),
        C(group), C(mode), C(apply_file), C(listen)), as redis_sentinel_config's static phase does
        them; its result is C(static).
    type: dict
"""

RETURN = r"""
changes: {description: What changed, as short phrases without secrets., type: list, returned: always}
stale:
  description: Group -> replicas and sentinels remembered but no longer in the inventory (for SENTINEL RESET).
  type: dict
  returned: always
health:
  description: What the sentinel sees after the run (running, myid, masters, ckquorum), as the info module.
  type: dict
  returned: always
static:
  description: With the static option, its changed, changed_keys, restart_required and drift.
  type: dict
  returned: when static is given
"""


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import (
    CONNECTION_SPEC,
    RedisCli,
    RedisCliError,
    acl_canonical,
    acl_list,
    pairs_to_dicts,
    parse_conf,
    sentinel_health,
)
from ansible_collections.redisops.kit.plugins.module_utils.redis_sentinel_static import (
    STATIC_OPTIONS,
    static_settings,
)

TIMERS = (("quorum", "quorum"), ("down_after_milliseconds", "down-after-milliseconds"),
          ("failover_timeout", "failover-timeout"), ("parallel_syncs", "parallel-syncs"))  # fmt: skip


def conf_credentials(path: str) -> dict[str, dict[str, str]]:
    """group -> {auth-user, auth-pass} as written in sentinel.conf."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return {}
    out: dict[str, dict[str, str]] = {}
    for args in parse_conf(text).get("sentinel", []):
        if len(args) >= 3 and args[0].lower() in ("auth-user", "auth-pass"):
            out.setdefault(args[1], {})[args[0].lower()] = args[2]
    return out


class Converger:
    def __init__(self, module):
        self.module = module
        self.cli = RedisCli(module.params["connection"])
        self.check = module.check_mode
        self.changes: list[str] = []
        self.stale: dict[str, list[str]] = {}

    def call(self, *args, secret_arg=None, what=None):
        try:
            return self.cli.call(*args, secret_arg=secret_arg)
        except RedisCliError as exc:
            self.module.fail_json(msg=f"{what or ' '.join(args[:3])} refused by the sentinel: {exc}",
                                  changes=self.changes)  # fmt: skip

    def change(self, phrase, *args, secret_arg=None):
        self.changes.append(phrase)
        if not self.check:
            self.call(*args, secret_arg=secret_arg, what=phrase)

    def groups(self):
        p = self.module.params
        masters = {m["name"]: m for m in pairs_to_dicts(self.call("SENTINEL", "MASTERS"))}
        creds = conf_credentials(p["conf_file"])
        for group in p["groups"]:
            name = group["name"]
            if group.get("state", "present") == "absent":
                if name in masters:
                    self.change(f"removed group {name}", "SENTINEL", "REMOVE", name)
                continue
            if name not in masters:
                if not group.get("address") or not group.get("port"):
                    self.module.fail_json(
                        msg=f"group {name}: no primary address to monitor", changes=self.changes
                    )
                where = [group["address"], str(group["port"]), str(group["quorum"])]
                self.change(f"monitor {name} at {where[0]}:{where[1]}", "SENTINEL", "MONITOR", name, *where)
                settings = [part for key, opt in TIMERS[1:] for part in (opt, str(group[key]))]
                self.change(
                    f"timers of {name}", "SENTINEL", "SET", name, *settings, "auth-user", p["auth_user"]
                )
                self.change(f"auth-pass of {name}", "SENTINEL", "SET", name, "auth-pass",
                            secret_arg=p["auth_password"])  # fmt: skip
                continue
            live = masters[name]
            diff = [(opt, str(group[key])) for key, opt in TIMERS if str(live.get(opt)) != str(group[key])]
            if diff:
                self.change(f"{', '.join(o for o, _ in diff)} of {name}", "SENTINEL", "SET", name,
                            *[part for kv in diff for part in kv])  # fmt: skip
            stale = self.stale_entries(name, live, group)
            if stale:
                self.stale[name] = stale
            have = creds.get(name, {})
            if have.get("auth-user") != p["auth_user"]:
                self.change(f"auth-user of {name}", "SENTINEL", "SET", name, "auth-user", p["auth_user"])
            if have.get("auth-pass") != p["auth_password"]:
                self.change(f"auth-pass of {name}", "SENTINEL", "SET", name, "auth-pass",
                            secret_arg=p["auth_password"])  # fmt: skip

    def stale_entries(self, name: str, live: dict, group: dict) -> list[str]:
        """Replicas and sentinels this sentinel still remembers but the inventory no longer has.

        Sentinel never forgets them by itself (they only count as down); SENTINEL RESET does. Not
        reported while a failover is in progress.
        """
        if "failover_in_progress" in str(live.get("flags", "")) or not group.get("members"):
            return []
        members, peers = set(group["members"]), set(self.module.params["sentinel_addresses"])
        stale = []
        for replica in pairs_to_dicts(self.call("SENTINEL", "REPLICAS", name)):
            if f"{replica.get('ip')}:{replica.get('port')}" not in members:
                stale.append(f"replica {replica.get('ip')}:{replica.get('port')}")
        for peer in pairs_to_dicts(self.call("SENTINEL", "SENTINELS", name)):
            if peers and peer.get("ip") not in peers:
                stale.append(f"sentinel {peer.get('ip')}:{peer.get('port')}")
        return stale

    def canonical(self, wanted: dict[str, str]) -> dict[str, str]:
        """How Sentinel itself writes these rules (ACL LIST form), through throw-away users."""
        try:
            return acl_canonical(self.cli, {name: rules.split() for name, rules in wanted.items()})
        except RedisCliError as exc:
            self.module.fail_json(
                msg=f"ACL SETUSER (probe) refused by the sentinel: {exc}", changes=self.changes
            )

    def users(self):
        live = acl_list(self.call("ACL", "LIST"))
        wanted = {u["name"]: u["rules"] for u in self.module.params["users"]}
        canonical = self.canonical(wanted)
        for name, rules in wanted.items():
            if live.get(name) != canonical[name]:
                self.changes.append(f"ACL user {name}")
                if not self.check:
                    # Through stdin: the password hash never reaches the process list.
                    try:
                        self.cli.call_many([["ACL", "SETUSER", name, "reset", *rules.split()]])
                    except RedisCliError as exc:
                        self.module.fail_json(msg=f"ACL SETUSER {name} refused by the sentinel: {exc}",
                                              changes=self.changes)  # fmt: skip
        for name in sorted(set(live) - set(wanted) - {"default"}):
            self.change(f"deleted ACL user {name}", "ACL", "DELUSER", name)
        if "on" in (live.get("default") or "").split():
            self.change("ACL user default off", "ACL", "SETUSER", "default", "reset", "off")


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "conf_file": {"type": "path", "required": True},
            "groups": {"type": "list", "elements": "dict", "required": True},
            "auth_user": {"type": "str", "required": True},
            "auth_password": {"type": "str", "required": True, "no_log": True},
            "users": {"type": "list", "elements": "dict", "required": True},
            "sentinel_addresses": {"type": "list", "elements": "str", "default": []},
            "static": {"type": "dict", "options": STATIC_OPTIONS},
        },
        supports_check_mode=True,
    )
    conv = Converger(module)
    conv.groups()
    conv.users()
    if conv.changes and not module.check_mode:
        conv.call("SENTINEL", "FLUSHCONFIG")
    result = {"changed": bool(conv.changes), "changes": conv.changes, "stale": conv.stale}
    if module.params["static"]:
        static = static_settings(module, module.params["static"], module.params["connection"])
        result["static"] = {k: static[k] for k in ("changed", "changed_keys", "restart_required", "drift")}
        result["changed"] = result["changed"] or static["changed"]
        if "diff" in static:
            result["diff"] = static["diff"]
    # What the sentinel sees now, as redis_sentinel_info says it: a rerun whose sentinels are
    # whole needs no separate wait for them.
    try:
        result["health"] = sentinel_health(conv.cli)
    except RedisCliError as exc:
        result["health"] = {"running": False, "reason": str(exc), "masters": {}, "ckquorum": {}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
