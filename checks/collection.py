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


def _in_checkout() -> bool:
    return (CHECKOUT / "galaxy.yml").is_file() and (CHECKOUT / "roles" / "redis_server").is_dir()


@cache
def plugins_ready() -> bool:
    """Ansible's plugin and collection loader, with the checkout's link first when there is one."""
    from ansible.plugins.loader import init_plugin_loader

    prefix = [str(CHECKOUT_COLLECTIONS)] if _in_checkout() and CHECKOUT_COLLECTIONS.is_dir() else []
    init_plugin_loader(prefix)
    return True


@cache
def collection_root() -> Path:
    """The collection's directory (holding roles/ and plugins/)."""
    if _in_checkout():
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
    env = dict(os.environ)
    if _in_checkout() and CHECKOUT_COLLECTIONS.is_dir():
        configured = env.get(
            "ANSIBLE_COLLECTIONS_PATH", "~/.ansible/collections:/usr/share/ansible/collections"
        )
        env["ANSIBLE_COLLECTIONS_PATH"] = f"{CHECKOUT_COLLECTIONS}:{configured}"
    return env
