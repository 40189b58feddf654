#!/usr/bin/python
"""Install several small files (certificates and keys) in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_files
short_description: Install small files with owner and mode in one run
description:
  - Writes each file atomically when its content, owner, group or mode differ. One
    module run for all of them keeps reruns fast. Contents are never logged or diffed.
options:
  files:
    description: Files to install (path, content, owner, group, mode).
    type: list
    elements: dict
    required: true
"""

import grp
import os
import pwd
import tempfile

from ansible.module_utils.basic import AnsibleModule

FILE_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True, "no_log": True},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "mode": {"type": "str", "default": "0644"},
}


def differs(spec, uid, gid, mode):
    try:
        st = os.stat(spec["path"])
        with open(spec["path"]) as fh:
            current = fh.read()
    except OSError:
        return True
    return current != spec["content"] or (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (uid, gid, mode)


def main():
    module = AnsibleModule(
        argument_spec={"files": {"type": "list", "elements": "dict", "required": True, "options": FILE_SPEC}},
        supports_check_mode=True,
    )
    changed = []
    for spec in module.params["files"]:
        uid, gid = pwd.getpwnam(spec["owner"]).pw_uid, grp.getgrnam(spec["group"]).gr_gid
        mode = int(spec["mode"], 8)
        if not differs(spec, uid, gid, mode):
            continue
        changed.append(spec["path"])
        if module.check_mode:
            continue
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(spec["path"]), prefix=".ansible-")
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w") as fh:
                fh.write(spec["content"])
            os.rename(tmp, spec["path"])
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    module.exit_json(changed=bool(changed), changed_files=changed)


if __name__ == "__main__":
    main()
