"""Shared test set-up: everything under tests/lab/ is the lab tier (marker 'lab')."""

from pathlib import Path

import pytest

LAB_DIR = Path(__file__).parent / "lab"


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
