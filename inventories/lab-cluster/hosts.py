#!/usr/bin/env python3
"""Ansible inventory of the local lab's Redis Cluster hosts (cluster-1 ... cluster-N), read from
the lab's state directory ('redisops lab up --cluster-hosts N').

Before they are up it lists the default plan (3 cluster hosts), so the inventory can be
inspected and linted without a running lab.
"""

import importlib.util
import sys
from pathlib import Path

# The lab's plan is standard-library Python in the checkout: loaded by path, so this script runs
# with any python3, whether or not the redisops package is installed for it.
_PLAN = Path(__file__).resolve().parents[2] / "checks" / "lab" / "plan.py"
_spec = importlib.util.spec_from_file_location("redisops_lab_plan", _PLAN)
P = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = P  # dataclasses look their module up by name
_spec.loader.exec_module(P)


if __name__ == "__main__":
    sys.exit(P.inventory_script(sys.argv, P.render_cluster_inventory))
