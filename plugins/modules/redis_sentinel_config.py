#!/usr/bin/python
"""Write sentinel.conf once, then keep only the settings Ansible owns in line with the inventory."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_sentinel_config
short_description: Seed sentinel.conf once and keep its static settings right
description:
  - Sentinel rewrites its own config file (its myid, epochs, known replicas and sentinels,
    the current primary). With C(phase=seed) the file is written only when it does not exist.
  - With C(phase=static) only the settings Ansible owns are compared (process, network, TLS
    and Sentinel's announce, hostname, peer-credential and script options). Those Sentinel
    can change at runtime are applied with SENTINEL CONFIG SET; others are written into the
    file (Sentinel's own lines are kept as they are) and C(restart_required) is returned.
  - The running sentinel is compared too (SENTINEL CONFIG GET for what it changes live, and
    the sockets it listens on with C(listen)); a SENTINEL CONFIG SET by hand is undone like a
    changed file and returned as C(drift); wrong sockets ask for a restart.
  - Monitors, timers and ACL users are not compared here; redis_sentinel_converge applies
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import CONNECTION_SPEC
from ansible_collections.redisops.kit.plugins.module_utils.redis_sentinel_static import (
    STATIC_OPTIONS,
    seed,
    static_settings,
)


def main():
    module = AnsibleModule(
        argument_spec={
            **STATIC_OPTIONS,
            "phase": {"type": "str", "required": True, "choices": ["seed", "static"]},
            "connection": {"type": "dict", "options": CONNECTION_SPEC},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["phase"] == "seed":
        module.exit_json(**seed(module, p))
    module.exit_json(**static_settings(module, p, p["connection"]))


if __name__ == "__main__":
    main()
