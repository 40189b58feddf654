"""Where the redisops.kit collection is, for the control-node commands that reuse its roles.

The checks read the roles' defaults, render the role's redis.conf and call its filters, so the
inventory means the same to them as to the playbooks. In a checkout the repository is the
collection; otherwise it is the one Ansible finds on its collections path (installed with
ansible-galaxy). Ansible's plugin loader is set up here, once, with that path.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from pathlib import Path

NAMESPACE, NAME = "redisops", "kit"
CHECKOUT = Path(__file__).resolve().parents[1]
# `make` links the checkout here so that ansible.cfg finds it by its FQCN.
CHECKOUT_COLLECTIONS = CHECKOUT / ".collections"


class CollectionMissing(Exception):
    """The redisops.kit collection is neither this checkout nor installed."""


def in_checkout(root: Path = CHECKOUT) -> bool:
    """Whether redisops runs from a checkout (the collection and the package's sources beside it)
    rather than from an installed wheel."""
    return all((root / name).exists() for name in ("galaxy.yml", "pyproject.toml", "checks"))


@cache
def plugins_ready() -> bool:
    """Ansible's plugin and collection loader, with the checkout's link first when there is one."""
    from ansible.plugins.loader import init_plugin_loader

    prefix = [str(CHECKOUT_COLLECTIONS)] if in_checkout() and CHECKOUT_COLLECTIONS.is_dir() else []
    init_plugin_loader(prefix)
    return True


@cache
def collection_root() -> Path:
    """The collection's directory (holding roles/ and plugins/)."""
    if in_checkout():
        return CHECKOUT
    plugins_ready()
    try:
        package = importlib.import_module(f"ansible_collections.{NAMESPACE}.{NAME}")
    except ImportError as exc:
        raise CollectionMissing(
            f"the {NAMESPACE}.{NAME} Ansible collection is not installed: install the same version as "
            f"this redisops with 'ansible-galaxy collection install {NAMESPACE}-{NAME}-<version>.tar.gz' "
            "(or set ANSIBLE_COLLECTIONS_PATH to where it is)"
        ) from exc
    return Path(next(iter(package.__path__)))


def ansible_env() -> dict[str, str]:
    """The environment for an ansible-playbook run of the collection's playbooks (by FQCN): in a
    checkout, its link comes first on the collections path, whatever ansible.cfg applies."""
    from ansible import constants as C

    env = dict(os.environ)
    if in_checkout() and CHECKOUT_COLLECTIONS.is_dir():
        # After the checkout's link, the collections path the caller's ansible.cfg (or environment) sets.
        paths = [str(CHECKOUT_COLLECTIONS), *C.COLLECTIONS_PATHS]
        env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env
