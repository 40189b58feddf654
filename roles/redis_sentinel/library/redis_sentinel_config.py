#!/usr/bin/python
"""Write sentinel.conf once, then keep only the settings Ansible owns in line with the inventory."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_sentinel_config
short_description: Seed sentinel.conf once and keep its static settings right
description:
  - Sentinel rewrites its own config file (its myid, epochs, known replicas and sentinels,
    the current primary). With C(phase=seed) the file is written only when it does not exist.
  - With C(phase=static) only the settings Ansible owns are compared: process, network, TLS
    and Sentinel's announce, hostname, peer-credential and script options. Those Sentinel
    can change at runtime are applied with SENTINEL CONFIG SET; others are written into the
    file (Sentinel's own lines are kept as they are) and C(restart_required) is returned.
  - The running sentinel is compared too (SENTINEL CONFIG GET for what it changes live, and
    the sockets it listens on with C(listen)): a SENTINEL CONFIG SET by hand is undone like a
    changed file and returned as C(drift); wrong sockets ask for a restart.
  - Monitors, timers and ACL users are not compared here: redis_sentinel_converge applies
    them at runtime, against what the sentinel answers.
options:
  path: {description: sentinel.conf on the host., type: path, required: true}
  content: {description: The rendered seed file., type: str, required: true}
  phase: {description: seed or static., type: str, choices: [seed, static], required: true}
  owner: {description: Owner., type: str, default: redis}
  group: {description: Group., type: str, default: redis}
  mode: {description: Octal mode., type: str, default: "0640"}
  connection:
    description: How to reach the local sentinel (admin user); without it every change goes to the file.
    type: dict
  apply_file:
    description:
      - Write changes that need a restart into the file. False only applies what Sentinel can
        change live and reports the rest (C(restart_required)), so a stopped sentinel can get
        them later without racing Sentinel's own rewrites.
    type: bool
    default: true
  listen:
    description: The sockets the sentinel must listen on (bind addresses and ports).
    type: dict
"""

RETURN = r"""
changed_keys: {description: Settings that changed (never values)., type: list, returned: always}
restart_required: {description: A changed setting needs a restart., type: bool, returned: always}
drift:
  description: Settings whose live value differed from the wanted one, secrets masked.
  type: list
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.redis_ops import (
    CONNECTION_SPEC,
    MASK,
    RedisCli,
    RedisCliError,
    RedisDownError,
    config_lines,
    drift_diff,
    listen_drift,
    mask_config,
    metadata_differs,
    pairs_to_dicts,
    parse_conf,
    write_atomically,
)

# Directives the role owns even when the template leaves them out (absent there = removed
# from the file): switching TLS on or off must not leave a stale port behind.
OWNED = ("port", "tls-port", "bind", "tls-cert-file", "tls-key-file", "tls-ca-cert-file",
         "tls-auth-clients", "tls-replication", "tls-protocols", "tls-ciphers", "tls-ciphersuites",
         "tls-prefer-server-ciphers", "logfile", "dir", "loglevel", "daemonize", "supervised")  # fmt: skip
# Sentinel options the role owns (compared even when absent on one side: absent = default).
SENTINEL_STATIC = ("announce-ip", "announce-port", "resolve-hostnames", "announce-hostnames",
                   "sentinel-user", "sentinel-pass", "deny-scripts-reconfig")  # fmt: skip
# Per-group lines the role owns (Sentinel refuses to change scripts at runtime).
SENTINEL_SCRIPTS = ("notification-script", "client-reconfig-script")
# Settable with SENTINEL CONFIG SET (the rest needs a restart).
LIVE = {"sentinel announce-ip", "sentinel announce-port", "sentinel resolve-hostnames",
        "sentinel announce-hostnames", "sentinel sentinel-user", "sentinel sentinel-pass"}  # fmt: skip
DEFAULTS = {"sentinel announce-ip": [""], "sentinel announce-port": ["0"],
            "sentinel resolve-hostnames": ["no"], "sentinel announce-hostnames": ["no"],
            "sentinel sentinel-user": [""], "sentinel sentinel-pass": [""],
            "sentinel deny-scripts-reconfig": ["yes"]}  # fmt: skip


def line_key(args: list[str], monitored: set[str]) -> str | None:
    """The key a config line is compared under, or None when the line is Sentinel's own state."""
    if not args:
        return None
    name = args[0].lower()
    if name == "user":
        return None
    if name != "sentinel":
        return name
    if len(args) < 2:
        return None
    sub = args[1].lower()
    if sub in SENTINEL_STATIC:
        return f"sentinel {sub}"
    if sub in SENTINEL_SCRIPTS and len(args) > 2 and args[2] in monitored:
        return f"sentinel {sub} {args[2]}"
    return None


def owned(text: str, monitored: set[str], keys: set[str] | None = None) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for _raw, args in config_lines(text):
        key = line_key(args, monitored)
        if key is None or (keys is not None and key not in keys and not key.startswith("sentinel ")):
            continue
        out.setdefault(key, []).append(args[1:] if not key.startswith("sentinel ") else args[2:])
    return out


def monitored_groups(text: str) -> set[str]:
    groups = set()
    for args in parse_conf(text).get("sentinel", []):
        if len(args) >= 2 and args[0].lower() == "monitor":
            groups.add(args[1])
    return groups


def merge(old: str, new: str, changed: set[str], monitored: set[str]) -> str:
    """The old file with the changed owned lines replaced by the wanted ones (Sentinel's lines kept)."""
    wanted_lines: dict[str, list[str]] = {}
    for raw, args in config_lines(new):
        key = line_key(args, monitored)
        if key in changed:
            wanted_lines.setdefault(key, []).append(raw.strip())
    out, placed = [], set()
    for raw, args in config_lines(old):
        key = line_key(args, monitored)
        if key in changed:
            if key not in placed:
                out.extend(wanted_lines.get(key, []))
                placed.add(key)
            continue
        out.append(raw)
    # Keys the old file did not have go before Sentinel's generated block.
    missing = [line for key, lines in wanted_lines.items() if key not in placed for line in lines]
    if missing:
        try:
            at = out.index("# Generated by CONFIG REWRITE")
        except ValueError:
            at = len(out)
        out[at:at] = missing
    return "\n".join(out) + "\n"


def live_drift(cli, want: dict, changed: list[str], listen: dict | None) -> list[dict]:
    """What the running sentinel says against the wanted file (SENTINEL CONFIG GET for the
    settings it changes live, and its listening sockets); keys the file changes anyway are left out."""
    drift = []
    try:
        answer = cli.call("SENTINEL", "CONFIG", "GET", "*")
    except RedisDownError:
        return []
    live = pairs_to_dicts(answer, first_key="resolve-hostnames")
    live = live[0] if live else {}
    for key in sorted(LIVE - set(changed)):
        option = key.split(" ", 1)[1]
        if option not in live:
            continue
        args = want.get(key, [DEFAULTS[key]])[-1]
        wanted = args[0] if args else ""
        current = live[option]
        if option in ("resolve-hostnames", "announce-hostnames"):
            wanted, current = wanted.lower(), current.lower()
        if current != wanted:
            secret = option == "sentinel-pass"
            drift.append({"directive": key, "live": MASK if secret else current,
                          "wanted": MASK + "(changed)" if secret else wanted})  # fmt: skip
    sockets = listen_drift(listen)
    return [*drift, sockets] if sockets else drift


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "content": {"type": "str", "required": True, "no_log": True},
            "phase": {"type": "str", "required": True, "choices": ["seed", "static"]},
            "owner": {"type": "str", "default": "redis"},
            "group": {"type": "str", "default": "redis"},
            "mode": {"type": "str", "default": "0640"},
            "connection": {"type": "dict", "options": CONNECTION_SPEC},
            "apply_file": {"type": "bool", "default": True},
            "listen": {
                "type": "dict",
                "options": {
                    "bind": {"type": "list", "elements": "str"},
                    "ports": {"type": "list", "elements": "int"},
                },
            },
        },
        supports_check_mode=True,
    )
    p = module.params
    path, new = p["path"], p["content"]
    result = {"changed": False, "changed_keys": [], "restart_required": False, "drift": []}
    exists = os.path.exists(path)
    if exists:
        with open(path) as fh:
            old = fh.read()
        # Sentinel writes its id on its first start; until then the file is still only ours.
        exists = any(args[:1] == ["myid"] for args in parse_conf(old).get("sentinel", []))
    if p["phase"] == "seed" or not exists:
        if exists:
            module.exit_json(**result)
        result.update(changed=True, changed_keys=["(new file)"])
        result["diff"] = {"before": "", "after": mask_config(new), "after_header": path}
        if not module.check_mode:
            write_atomically(path, new, p["owner"], p["group"], p["mode"])
        module.exit_json(**result)

    monitored = monitored_groups(old)
    want = owned(new, monitored)
    have = owned(old, monitored, keys=set(want) | set(OWNED))
    keys = set(want) | set(have) | set(DEFAULTS)
    changed = sorted(k for k in keys if want.get(k, [DEFAULTS.get(k)]) != have.get(k, [DEFAULTS.get(k)]))
    meta = metadata_differs(path, p["owner"], p["group"], p["mode"])
    cli = RedisCli(p["connection"]) if p["connection"] else None
    # The running sentinel is the truth too: a SENTINEL CONFIG SET by hand, or sockets left
    # open by a bind changed before, are applied like a changed file.
    drift = live_drift(cli, want, changed, p["listen"]) if cli else []
    result["drift"] = drift
    drift_keys = [d["directive"] for d in drift if d["directive"] in LIVE]
    if not changed and not meta and not drift:
        module.exit_json(**result)
    result.update(changed=True, changed_keys=changed)
    sockets = any(d["directive"] == "listening sockets" for d in drift)
    if drift and not changed:
        result["diff"] = drift_diff(drift, path)
    if changed:
        after = merge(old, new, set(changed), monitored)
        result["diff"] = {"before": mask_config(old), "after": mask_config(after, old), "before_header": path,
                          "after_header": path}  # fmt: skip
    if module.check_mode:
        result["restart_required"] = sockets
        module.exit_json(**result)
    live = [k for k in changed if k in LIVE] + drift_keys
    if cli and live:
        for key in live:
            args = want.get(key, [DEFAULTS[key]])[-1]
            value = args[0] if args else ""
            option = key.split(" ", 1)[1]
            try:
                if option == "sentinel-pass":
                    cli.call("SENTINEL", "CONFIG", "SET", option, secret_arg=value)
                else:
                    cli.call("SENTINEL", "CONFIG", "SET", option, value)
            except RedisCliError as exc:
                module.fail_json(msg=f"SENTINEL CONFIG SET {option} refused: {exc}", **result)
        # Sentinel has rewritten its file with the new values; read it again before merging the rest.
        with open(path) as fh:
            old = fh.read()
    rest = [k for k in changed if k not in LIVE or not cli]
    result["restart_required"] = bool(rest) or sockets
    if not p["apply_file"]:
        module.exit_json(**result)
    # Written only when something is left to write: never a stale copy over Sentinel's rewrite.
    if rest or meta:
        content = merge(old, new, set(rest), monitored) if rest else old
        write_atomically(path, content, p["owner"], p["group"], p["mode"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
