#!/usr/bin/python
"""Bring several systemd units to their wanted state with one read and one call per action."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_units
short_description: Start, restart, stop or mask several systemd units in one module run
description:
  - Reads every unit's state with one C(systemctl show), then runs one C(systemctl) call per
    kind of action (mask, disable and stop, enable, start, restart) for the units that need it.
    A loop of ansible.builtin.systemd_service runs a module per unit; a host with four exporters
    paid a second per unit on a cold deploy.
  - Reports which unit got which action (C(actions)); in check mode only reports them.
options:
  units:
    description:
      - C(name) is the unit; C(state) is V(started) (the default; enabled too), V(restarted)
        (restarted whatever its state; enabled too), V(stopped) (stopped and disabled) or
        V(masked) (stopped and masked, also before its package installs it).
    type: list
    elements: dict
    required: true
  daemon_reload:
    description: Run C(systemctl daemon-reload) first (a unit file changed).
    type: bool
    default: false
"""

RETURN = r"""
actions:
  description: The actions run (or, in check mode, due) per unit, in order.
  returned: always
  type: dict
  sample: {"redisops-exporter@main.service": ["enable", "start"]}
"""

import time

from ansible.module_utils.basic import AnsibleModule

UNIT_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "started", "choices": ["started", "restarted", "stopped", "masked"]},
}
# The commands, in the order they run: a unit is masked or disabled before another starts.
COMMANDS = {
    "mask": ["mask", "--now"],
    "disable": ["disable", "--now"],
    "stop": ["stop"],
    "enable": ["enable"],
    "start": ["start"],
    "restart": ["restart"],
}
# The result of a unit whose process systemd could not spawn.
RESOURCES = "resources"
ENABLED = ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated")


def parse_show(text: str) -> list[dict[str, str]]:
    """``systemctl show -p Id,LoadState,ActiveState,UnitFileState u1 u2``: one dict of properties
    per unit, in the order asked for (each block ends with an empty line)."""
    blocks, current = [], {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    return blocks


def plan(wanted: list[dict], states: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """The actions each unit needs: {unit: [action, ...]} (units that need none left out)."""
    actions = {}
    for unit in wanted:
        state = states.get(unit["name"], {})
        active = state.get("ActiveState") in ("active", "activating", "reloading")
        file_state = state.get("UnitFileState", "")
        todo = []
        if unit["state"] == "masked":
            if file_state not in ("masked", "masked-runtime") or active:
                todo.append("mask")
        elif unit["state"] == "stopped":
            if file_state in ("enabled", "enabled-runtime"):
                todo.append("disable")
            elif active:
                todo.append("stop")
        else:
            if file_state not in ENABLED:
                todo.append("enable")
            if unit["state"] == "restarted":
                todo.append("restart")
            elif state.get("ActiveState") != "active":
                # Activating too: a unit in its restart loop gets a start of its own.
                todo.append("start")
        if todo:
            actions[unit["name"]] = todo
    return actions


def main():
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "dict", "required": True, "options": UNIT_SPEC},
            "daemon_reload": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    systemctl = module.get_bin_path("systemctl", required=True)
    names = [u["name"] for u in module.params["units"]]
    if module.params["daemon_reload"] and not module.check_mode:
        module.run_command([systemctl, "daemon-reload"], check_rc=True)
    if not names:
        module.exit_json(changed=False, actions={})
    rc, out, err = module.run_command(
        [systemctl, "show", "--property=Id,LoadState,ActiveState,UnitFileState", "--", *names]
    )
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed: {err.strip() or out.strip()}")
    # In the order asked for (an alias is reported under the unit it names).
    blocks = parse_show(out)
    if len(blocks) != len(names):
        module.fail_json(
            msg=f"systemctl show answered for {len(blocks)} of {len(names)} units: {out.strip()}"
        )
    states = dict(zip(names, blocks, strict=True))
    actions = plan(module.params["units"], states)
    if not module.check_mode:
        for action, argv in COMMANDS.items():
            due = [name for name, todo in actions.items() if action in todo]
            if due:
                run(module, systemctl, argv, due, actions)
    module.exit_json(changed=bool(actions), actions=actions)


def spawn_failures(module, systemctl: str, units: list[str]) -> list[str] | None:
    """After a start that failed: the units whose program never ran because systemd could not
    place it in the unit's cgroup (status 219/CGROUP) or spawn it (result 'resources'). Right
    after a daemon-reload, systemd in some containers loses a new unit's cgroup now and then, and
    a second start succeeds. None when another unit failed otherwise (its program failed): that
    is not retried."""
    rc, out, _ = module.run_command(
        [systemctl, "show", "--property=ActiveState,ExecMainStatus,Result", "--", *units]
    )
    return retryable(units, parse_show(out) if rc == 0 else [])


def retryable(units: list[str], blocks: list[dict[str, str]]) -> list[str] | None:
    """The failed units to start again (see spawn_failures), or None."""
    if len(blocks) != len(units):
        return None
    failed = {name: p for name, p in zip(units, blocks, strict=True) if p.get("ActiveState") != "active"}
    spawn = [
        name for name, p in failed.items() if p.get("ExecMainStatus") == "219" or p.get("Result") == RESOURCES
    ]
    return spawn if spawn and len(spawn) == len(failed) else None


def run(module, systemctl: str, argv: list[str], units: list[str], actions: dict) -> None:
    rc, out, err = module.run_command([systemctl, *argv, "--", *units])
    if rc != 0 and argv[0] in ("start", "restart"):
        again = spawn_failures(module, systemctl, units)
        if again:
            time.sleep(1)
            units = again
            rc, out, err = module.run_command([systemctl, *argv, "--", *units])
    if rc != 0:
        module.fail_json(
            msg=f"systemctl {' '.join(argv)} {' '.join(units)} failed: {err.strip() or out.strip()}",
            actions=actions,
        )


if __name__ == "__main__":
    main()
