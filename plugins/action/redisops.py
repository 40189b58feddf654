"""Run the redisops command on the control node with this run's vault secrets.

The kit's playbooks and roles call redisops (checks, backup configuration, drills), which reads
the same inventory again. Vault-encrypted variables need the vault secrets that this
ansible-playbook holds: typed at --ask-vault-pass, given by AWX, or read from a file. They go to
redisops through a pipe on its standard input, never in its arguments, environment or a file.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.parsing.vault import VaultSecretsContext
from ansible.plugins.action import ActionBase

# The flag redisops reads the secrets with (checks/cli.py).
STDIN_FLAG = "--vault-secrets-stdin"


def _secrets_payload() -> str:
    context = VaultSecretsContext.current(optional=True)
    secrets = list(context.secrets) if context else []
    return json.dumps(
        [
            {"id": vault_id, "secret": base64.b64encode(secret.bytes).decode()}
            for vault_id, secret in secrets
            if secret.bytes
        ]
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("argv", "chdir"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        argv = self._task.args.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise AnsibleActionFail("argv: a non-empty list of strings (the redisops arguments)")
        # The redisops of the Python environment Ansible runs in (pip install redis-ops-kit).
        command = Path(sys.executable).with_name("redisops")
        if not command.is_file():
            raise AnsibleActionFail(
                f"{command} not found: install the redis-ops-kit Python package into the environment "
                "ansible-playbook runs from (pip install redis-ops-kit, or 'make' in a checkout)"
            )
        env = dict(os.environ)
        # The same collections and configuration as this run, from whatever directory.
        env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(C.COLLECTIONS_PATHS)
        if C.CONFIG_FILE:
            env["ANSIBLE_CONFIG"] = C.CONFIG_FILE
        proc = subprocess.run(
            [str(command), STDIN_FLAG, *argv],
            input=_secrets_payload(),
            capture_output=True,
            text=True,
            cwd=self._task.args.get("chdir") or None,
            env=env,
            check=False,
        )
        result.update(
            rc=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            stdout_lines=proc.stdout.splitlines(),
            stderr_lines=proc.stderr.splitlines(),
            cmd=["redisops", *argv],
            changed=False,
        )
        if proc.returncode != 0:
            result.update(failed=True, msg=f"redisops {argv[0]} exited {proc.returncode}")
        return result
