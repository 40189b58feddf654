"""Input rules of the redis_backup role, with the helpers every role shares (loaded by path from
redis_server's filters: role filter plugins are not a package). Unit-tested in
tests/unit/test_input_validation.py."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def _server_filters():
    path = Path(__file__).resolve().with_name("redis_server.py")
    spec = importlib.util.spec_from_file_location("_redis_backup_server_filters", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RANGES = {
    "redis_backup_hourly": (1, 8760, "hours"),
    "redis_backup_daily": (0, 3650, "days"),
    "redis_backup_save_timeout": (10, 86400, "seconds"),
    "redis_backup_randomized_delay_sec": (0, 86400, "seconds"),
}
PATHS = (
    "redis_backup_store_dir",
    "redis_backup_state_dir",
    "redis_backup_conf_dir",
    "redis_backup_textfile_dir",
)


def redis_backup_problems(settings: dict) -> list[str]:
    """What is wrong with the role's variables, each naming the variable and the fix."""
    S = _server_filters()
    problems = S.redis_plain_role_problems(settings, RANGES, PATHS, "redis_backup_user")
    # -e redis_backup_timer_enabled=false (docs/backups.md's on-demand form) gives the string "false".
    timer = settings.get("redis_backup_timer_enabled", True)
    if timer not in ("true", "false"):
        problems += S.redis_bool_problems(settings, ["redis_backup_timer_enabled"])
    # After the inventory is resolved: whether a server speaks TLS (tls) and the client certificate.
    if settings.get("tls"):
        problems += S.redis_client_cert_problems(
            settings, "redis_backup_tls_cert", "redis_backup_tls_key", "the backups"
        )
    return problems


class FilterModule:
    def filters(self):
        return {"redis_backup_problems": redis_backup_problems}
