"""Filters for playbooks/rolling_restart.yml (and migrate_flavor.yml, which runs it): its own
variables, checked before anything is touched."""

from __future__ import annotations

import re

from ansible_collections.redisops.kit.plugins.filter.redis_server import redis_whole

BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}
INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
# The pause is the switchover's safety net: it must outlast the switchover's own deadline (the
# failover, about a second, and the wait for every sentinel to name the new primary).
PAUSE_MS = (5000, 120000)
SYNC_TIMEOUT_S = (10, 86400)


def _is_boolean(value: object) -> bool:
    return isinstance(value, bool) or str(value).strip().lower() in BOOLEAN_WORDS


def redis_rolling_problems(settings: dict) -> list[str]:
    """Why the rolling restart's variables cannot be used (empty when they can): each message
    names the variable and what it takes."""
    out = []
    name = settings.get("redis_rolling_instance")
    if not isinstance(name, str) or not INSTANCE_NAME.match(name):
        out.append(
            f"redis_rolling_instance {name!r}: the name of an instance of redis_server_instances "
            "(letters, digits, '-' and '_', default main)"
        )
    for var in ("redis_rolling_upgrade", "redis_rolling_flavor_switch", "redis_rolling_switchover_timed"):
        if var in settings and not _is_boolean(settings[var]):
            out.append(f"{var} {settings[var]!r}: true or false")
    for var, (low, high), unit in (
        ("redis_rolling_pause_ms", PAUSE_MS, "ms"),
        ("redis_rolling_sync_timeout_s", SYNC_TIMEOUT_S, "s"),
    ):
        if var not in settings:
            continue
        value = redis_whole(settings[var])
        if value is None or not low <= value <= high:
            out.append(f"{var} {settings[var]!r}: a whole number of {unit} from {low} to {high}")
    return out


class FilterModule:
    def filters(self):
        return {"redis_rolling_problems": redis_rolling_problems}
