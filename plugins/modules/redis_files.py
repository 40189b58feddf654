#!/usr/bin/python
"""Install several small files (certificates and keys) in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_files
short_description: Install directories and small files with owner and mode in one run
description:
  - Writes each file atomically when its content, owner, group or mode differ, and creates
    directories (or fixes their owner and mode). One module run for all of them keeps
    reruns fast. Contents are never logged or diffed.
options:
  files:
    description: Files to install (path, content, owner, group, mode; 0644 for files and
      0755 for directories by default); an entry with state directory is a directory (no
      content); state skip is ignored (a file only some settings want). C(validate) is a
      command run on the new content before it replaces the file (C(%s) is its path), like
      the template module's; a file it refuses is never written.
    type: list
    elements: dict
    required: true
"""

import grp
import os
import pwd
import shlex
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import metadata_differs, write_atomically

FILE_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "no_log": True},
    "state": {"type": "str", "default": "file", "choices": ["file", "directory", "skip"]},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "mode": {"type": "str"},
    "validate": {"type": "str"},
}


def differs(spec):
    if spec["state"] == "directory":
        return not os.path.isdir(spec["path"]) or metadata_differs(
            spec["path"], spec["owner"], spec["group"], spec["mode"]
        )
    try:
        with open(spec["path"]) as fh:
            current = fh.read()
    except OSError:
        return True
    return current != spec["content"] or metadata_differs(
        spec["path"], spec["owner"], spec["group"], spec["mode"]
    )


def validation_error(module, spec):
    """The validate command's complaint about the new content, or None when it accepts it."""
    suffix = os.path.basename(spec["path"])
    with tempfile.NamedTemporaryFile("w", prefix=".redis_files.", suffix=suffix) as fh:
        fh.write(spec["content"] or "")
        fh.flush()
        argv = [fh.name if word == "%s" else word for word in shlex.split(spec["validate"])]
        rc, out, err = module.run_command(argv)
    if rc == 0:
        return None
    return (err or out).strip().replace(fh.name, spec["path"])


def main():
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True, "options": FILE_SPEC}},
        supports_check_mode=True,
    )
    changed = []
    for spec in module.params["files"]:
        if spec["state"] == "file" and spec["content"] is None:
            module.fail_json(msg=f"{spec['path']}: a file needs content (or state: directory)")
        spec["mode"] = spec["mode"] or ("0755" if spec["state"] == "directory" else "0644")
    for spec in module.params["files"]:
        if spec["state"] == "skip" or not differs(spec):
            continue
        changed.append(spec["path"])
        # As the template module: not in check mode (what it checks, a user named in the rules, may
        # come earlier in the same run).
        if spec["state"] == "file" and spec["validate"] and not module.check_mode:
            problem = validation_error(module, spec)
            if problem is not None:
                refusal = f"'{spec['validate']}' refused the new content"
                module.fail_json(msg=f"{spec['path']}: {refusal}: {problem}")
        if module.check_mode:
            continue
        if spec["state"] == "directory":
            os.makedirs(spec["path"], exist_ok=True)
            os.chown(spec["path"], pwd.getpwnam(spec["owner"]).pw_uid, grp.getgrnam(spec["group"]).gr_gid)
            os.chmod(spec["path"], int(spec["mode"], 8))
        else:
            write_atomically(spec["path"], spec["content"] or "", spec["owner"], spec["group"], spec["mode"])
    module.exit_json(changed=bool(changed), changed_files=changed)


if __name__ == "__main__":
    main()
