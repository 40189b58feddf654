"""Where the generated private CA lives on the control node, when the inventory does not say.

redis_server's default and every other role's fallback (redis_exporter, redis_backup and
redis_compliance read the same directory for their client certificates) come from here, so a
play that runs one of those roles alone finds the CA where redis_server made it.
"""

from __future__ import annotations

import os

DEFAULT_PKI_DIR = "~/.redisops/pki"


def pki_dir(given: str | None = None) -> str:
    """The directory the inventory gives, else the default under the control node's HOME."""
    return str(given) if given else os.path.expanduser(DEFAULT_PKI_DIR)
