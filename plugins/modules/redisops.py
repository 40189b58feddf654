#!/usr/bin/python
"""Documentation of the redisops action plugin (plugins/action/redisops.py): it runs on the
control node only, so there is no module code."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redisops
short_description: Run the redisops command on the control node with the run's vault secrets
description:
  - Runs C(redisops) from the Python environment of ansible-playbook, on the control node,
    with this run's vault secrets on its standard input (never in its arguments, environment
    or a file), so the inventory it reads again decrypts as in the play.
  - I(argv) is everything after C(redisops) (subcommand first); the plugin adds
    C(--vault-secrets-stdin) before it.
  - Returns rc, stdout and stderr like ansible.builtin.command, never changed; a non-zero exit
    fails the task unless failed_when says otherwise.
options:
  argv:
    description: The redisops arguments, subcommand first.
    type: list
    elements: str
    required: true
  chdir:
    description: Directory to run in (default the directory ansible-playbook runs in).
    type: path
"""

EXAMPLES = r"""
- name: Resolve the targets from the inventory
  redisops.kit.redisops:
    argv: [check, -i, "{{ ansible_inventory_sources | first }}", --format, json]
  register: __check
  failed_when: __check.rc not in [0, 1]
"""

RETURN = r"""
rc: {description: Exit code of redisops., type: int, returned: always}
stdout: {description: Its standard output., type: str, returned: always}
stderr: {description: Its standard error., type: str, returned: always}
"""
