"""Shared test set-up: everything under tests/lab/ is the lab tier (marker 'lab').

The checkout is the redisops.kit collection; `make` links it into .collections (ansible.cfg's
collections_path). The link is made here too, so pytest run by hand finds the collection, and
Ansible's collection loader is set up with it before any test module is imported, so the
collection's Python (filters and module_utils loaded by path import the domain core under
ansible_collections) imports as Ansible imports it. Imported otherwise first, the collection
would lack the metadata Ansible's plugin loader needs later in the same run.
"""

from pathlib import Path

import pytest

from redisops.collection import plugins_ready

LAB_DIR = Path(__file__).parent / "lab"
REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".collections"
_LINK = COLLECTIONS / "ansible_collections" / "redisops" / "kit"
if not _LINK.exists():
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    _LINK.symlink_to("../../..")
plugins_ready()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if LAB_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.lab)
    # Tests that take the lab down run after every other lab test.
    items.sort(key=lambda item: item.get_closest_marker("lab_last") is not None)


def pytest_configure(config):
    config.addinivalue_line("markers", "lab_last: runs after every other lab test (takes the lab down)")
    config.addinivalue_line(
        "markers", "flavors: the lab tests every image and server must pass (make test-flavors runs them)"
    )
