#!/usr/bin/python
"""Write a Redis config or ACL file and apply the change to the running server."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_managed_file
short_description: Write redis.conf or users.acl and apply the change live
description:
  - Compares the wanted content with the file on the host, directive by directive (or user
    by user); comments, blank lines and line order do not count, so a CONFIG REWRITE by
    Redis or Sentinel is not undone.
  - For C(kind=config), each changed directive is applied to the running server with
    CONFIG SET (REPLICAOF for replicaof) before the file is written; directives Redis
    cannot change at runtime make the module return C(restart_required).
  - For C(kind=acl), the file is written and loaded with ACL LOAD; if Redis refuses it,
    the previous file is put back and the module fails.
  - The running server is the truth, not only the file. For C(kind=config), every directive
    the server can be asked about (CONFIG GET) is compared with the wanted value, and the
    sockets it listens on with C(listen); for C(kind=acl), ACL LIST is compared with the
    wanted users in the server's own canonical form (throw-away users, created C(off) and
    deleted at once, show how the server writes the wanted rules). A difference (a CONFIG SET
    or ACL SETUSER by hand) is applied like a changed file and reported as C(drift).
  - C(replicaof) is Sentinel's to change and never counts as drift.
  - Diffs mask passwords and password hashes.
options:
  path: {description: File on the host., type: path, required: true}
  content: {description: Wanted content., type: str, required: true}
  kind: {description: What the file is., type: str, choices: [config, acl], required: true}
  acl:
    description:
      - With C(kind=config), the instance's ACL file too (C(path), C(content)), managed first and
        in the same module run (one run per instance on a rerun); its result is C(acl).
    type: dict
  owner: {description: Owner., type: str, default: redis}
  group: {description: Group., type: str, default: redis}
  mode: {description: Octal mode., type: str, default: "0640"}
  connection:
    description: How to reach the instance (host, port, tls, cacert, cert, key, user, password).
    type: dict
  listen:
    description: The sockets the instance must listen on (bind addresses and ports), for C(kind=config).
    type: dict
"""

RETURN = r"""
changed_keys:
  description: Directives (or ACL users) that changed; never values.
  type: list
  returned: always
restart_required: {description: A changed directive needs a restart., type: bool, returned: always}
drift:
  description: Directives (or users) whose live value differed from the wanted one, secrets masked.
  type: list
  returned: always
running: {description: The instance answered., type: bool, returned: always}
acl:
  description: With the acl option, the ACL file's C(changed), C(changed_keys) and C(drift).
  type: dict
  returned: when acl is given
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import (
    CONNECTION_SPEC,
    LISTEN_SPEC,
    SECRET_KEYS,
    RedisAuthError,
    RedisCli,
    RedisCliError,
    RedisDownError,
    acl_canonical,
    acl_list,
    changed_directives,
    config_drift,
    config_get,
    config_set_value,
    drift_diff,
    listen_drift,
    mask_acl,
    mask_config,
    metadata_differs,
    parse_conf,
    wanted_live,
    write_atomically,
)

IMMUTABLE = ("immutable config", "protected config")
FAILED_ARGUMENT = re.compile(r"argument '([^']+)'")
# Not CONFIG SET-able directives of the config file, applied by restart.
RESTART_ONLY = ("rename-command", "include", "loadmodule", "user")


def acl_users(text):
    users = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "user":
            users[words[1]] = line.strip()
    return users


def live_config_drift(module, cli, new):
    """The directives whose running value differs from ``new``, and the listening sockets."""
    wanted = wanted_live(new)
    if "dir" in wanted:
        # CONFIG GET dir answers the server's working directory, links resolved.
        wanted["dir"] = os.path.realpath(wanted["dir"])
    try:
        live = config_get(cli, sorted(wanted))
    except RedisCliError as exc:
        module.fail_json(msg=f"CONFIG GET refused by the instance: {exc}")
    drift = config_drift(wanted, live)
    sockets = sockets_drift(module)
    return [*drift, sockets] if sockets else drift


def sockets_drift(module):
    """The listening sockets against C(listen), or None when they agree (or nothing to compare)."""
    return listen_drift(module.params["listen"])


def canonical_users(module, cli, text):
    """The wanted users as the server itself lists them (ACL LIST form)."""
    wanted = {line.split()[1]: line.split()[2:] for line in acl_users(text).values()}
    try:
        return acl_canonical(cli, wanted)
    except RedisCliError as exc:
        module.fail_json(msg=f"ACL SETUSER (probe user) refused by the instance: {exc}")


def acl_drift(module, cli, new):
    """Users whose live rules differ from the wanted ones, and users the file does not have."""
    try:
        live = acl_list(cli.call("ACL", "LIST"))
    except RedisCliError as exc:
        module.fail_json(msg=f"ACL LIST refused by the instance: {exc}")
    wanted = canonical_users(module, cli, new)
    drift = []
    for name in sorted(set(live) | set(wanted)):
        if live.get(name) != wanted.get(name):
            drift.append(
                {
                    "directive": f"user {name}",
                    "live": mask_acl(f"user {name} {live[name]}") if name in live else "(absent)",
                    "wanted": mask_acl(f"user {name} {wanted[name]}") if name in wanted else "(absent)",
                }
            )
    return drift


def apply_live(module, cli, new, result):
    """Apply changed directives to the running server; True if some need a restart.

    All settable directives go in one CONFIG SET, which Redis applies atomically;
    those Redis cannot change at runtime are taken out and left to a restart.
    Secrets travel through redis-cli's stdin, never its command line.
    """
    wanted = parse_conf(new)
    restart = False
    pending = {}
    for key in sorted(set(result["changed_keys"]) | {d["directive"] for d in result["drift"]}):
        if key == "listening sockets":
            continue  # looked at again once the directives are applied
        if key == "replicaof":
            args = wanted[key][-1] if key in wanted else ["NO", "ONE"]
            try:
                cli.call("REPLICAOF", *args)
            except RedisCliError as exc:
                module.fail_json(msg=f"REPLICAOF {' '.join(args)} refused by Redis: {exc}", **result)
        elif key in RESTART_ONLY or key not in wanted:
            restart = True
        else:
            pending[key] = config_set_value(wanted[key])
    plain = {k: v for k, v in pending.items() if k not in SECRET_KEYS}
    while plain:
        try:
            cli.call("CONFIG", "SET", *[part for kv in plain.items() for part in kv])
            break
        except RedisCliError as exc:
            match = FAILED_ARGUMENT.search(str(exc))
            if match and match.group(1) in plain and any(m in str(exc) for m in IMMUTABLE):
                del plain[match.group(1)]
                restart = True
                continue
            module.fail_json(msg=f"CONFIG SET refused by Redis, nothing was changed: {exc}", **result)
    for key in (k for k in pending if k in SECRET_KEYS):
        try:
            cli.call("CONFIG", "SET", key, secret_arg=pending[key])
        except RedisCliError as exc:
            module.fail_json(msg=f"CONFIG SET {key} refused by Redis: {exc}", **result)
    # A CONFIG SET bind or port rebinds; sockets still wrong after it (a bind Redis kept an
    # IPv6-only socket for) need a restart.
    return restart or sockets_drift(module) is not None


def empty_result(running: bool) -> dict:
    return {"changed": False, "changed_keys": [], "restart_required": False, "running": running, "drift": []}


def manage(module, cli, running, path, new, kind):
    """One file: compare it (and the running server) with ``new``, write it and apply the change
    live unless in check mode. Its result: changed, changed_keys, drift, restart_required, diff."""
    p = module.params
    old = ""
    if os.path.exists(path):
        with open(path) as fh:
            old = fh.read()
    mask = mask_config if kind == "config" else mask_acl
    result = {
        "changed": False,
        "changed_keys": [],
        "restart_required": False,
        "running": running,
        "drift": [],
    }

    # What counts is what Redis reads: directives (or users), not comments, blank lines or
    # where a line sits. CONFIG REWRITE moves and appends lines (with a comment of its own)
    # when Sentinel or an operator uses it; that alone is no reason to rewrite the file.
    exists = os.path.exists(path)
    if kind == "config":
        content_changed = not exists or parse_conf(old) != parse_conf(new)
    else:
        content_changed = not exists or acl_users(old) != acl_users(new)
    if content_changed:
        if kind == "config":
            result["changed_keys"] = changed_directives(old, new)
        else:
            before, after = acl_users(old), acl_users(new)
            result["changed_keys"] = sorted(
                u for u in set(before) | set(after) if before.get(u) != after.get(u)
            )
        result["changed"] = True
        result["diff"] = {
            "before": mask(old),
            "after": mask(new, old),
            "before_header": path,
            "after_header": path,
        }
    meta_changed = exists and metadata_differs(path, p["owner"], p["group"], p["mode"])
    result["changed"] = result["changed"] or meta_changed

    # The running server against what it should run: a CONFIG SET or ACL SETUSER by hand shows
    # here, whatever the file says. A directive the file changes anyway is not drift.
    if running and old:
        drift = live_config_drift(module, cli, new) if kind == "config" else acl_drift(module, cli, new)
        if kind == "config":
            drift = [d for d in drift if d["directive"] not in result["changed_keys"]]
        if drift:
            result["drift"] = drift
            result["changed"] = True
            if not content_changed:
                result["diff"] = drift_diff(drift, path)
    if module.check_mode or not result["changed"]:
        if kind == "config" and result["drift"]:
            result["restart_required"] = any(d["directive"] == "listening sockets" for d in result["drift"])
        return result

    if kind == "config":
        # Live first, then the file: a rewrite by Redis in between then writes the new values.
        if running and old:
            result["restart_required"] = apply_live(module, cli, new, result)
        write_atomically(path, new if content_changed else old, p["owner"], p["group"], p["mode"])
    else:
        write_atomically(path, new if content_changed else old, p["owner"], p["group"], p["mode"])
        if running:
            try:
                cli.call("ACL", "LOAD")
            except RedisCliError as exc:
                if old:
                    write_atomically(path, old, p["owner"], p["group"], p["mode"])
                module.fail_json(
                    msg=f"ACL LOAD refused the new ACL file (previous file restored): {exc}", **result
                )
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "content": {"type": "str", "required": True, "no_log": True},
            "kind": {"type": "str", "required": True, "choices": ["config", "acl"]},
            "acl": {
                "type": "dict",
                "options": {
                    "path": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True, "no_log": True},
                },
            },
            "owner": {"type": "str", "default": "redis"},
            "group": {"type": "str", "default": "redis"},
            "mode": {"type": "str", "default": "0640"},
            "connection": {"type": "dict", "options": CONNECTION_SPEC},
            "listen": LISTEN_SPEC,
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["acl"] and p["kind"] != "config":
        module.fail_json(msg="acl goes with kind=config: the ACL file is managed before redis.conf")
    failed = empty_result(False)
    cli = RedisCli(p["connection"]) if p["connection"] else None
    running = False
    if cli:
        try:
            cli.call("PING")
            running = True
        except RedisDownError:
            running = False
        except RedisAuthError as exc:
            module.fail_json(
                msg=f"the instance on port {p['connection']['port']} refuses the admin user: "
                f"redis_server_admin_password does not match the live server ({exc})",
                **failed,
            )
        except RedisCliError as exc:
            module.fail_json(msg=f"cannot talk to the instance: {exc}", **failed)
    # The users first: redis.conf may name them (masteruser), and users.acl carries the reader's.
    acl = manage(module, cli, running, p["acl"]["path"], p["acl"]["content"], "acl") if p["acl"] else None
    result = manage(module, cli, running, p["path"], p["content"], p["kind"])
    if acl is not None:
        result["acl"] = {k: acl[k] for k in ("changed", "changed_keys", "drift")}
        result["changed"] = result["changed"] or acl["changed"]
        diffs = [r["diff"] for r in (acl, result) if "diff" in r]
        if diffs:
            result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
