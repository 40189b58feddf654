#!/usr/bin/env python3
"""Ansible inventory of the local lab, read from the lab's state directory.

Before 'redisops lab up' it lists the default plan (3 hosts), so the inventory
can be inspected and linted without a running lab.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from checks.lab.plan import (
    LabPaths,
    lab_flavor,
    load_state,
    plan_from_state,
    render_inventory,
    state_dir_from_env,
)


def main(argv: list[str]) -> int:
    paths = LabPaths(state_dir_from_env())
    state = load_state(paths)
    inventory = render_inventory(plan_from_state(state), paths, lab_flavor(state))
    if len(argv) > 2 and argv[1] == "--host":
        print(json.dumps(inventory["_meta"]["hostvars"].get(argv[2], {})))
    else:
        print(json.dumps(inventory, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
