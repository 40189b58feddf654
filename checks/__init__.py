"""redis-ops-kit's Python package: the checks, drills, backups and lab behind ``redisops``."""

from __future__ import annotations


def version() -> str:
    """The installed distribution's version (the collection's galaxy.yml carries the same); every
    JSON report carries it as ``redisops_version``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("redis-ops-kit")
    except PackageNotFoundError:
        return "unknown (not installed)"
