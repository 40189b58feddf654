"""Input rules of the redis_compliance role, with the helpers every role shares (loaded by path
from redis_server's filters: role filter plugins are not a package). Unit-tested in
tests/unit/test_input_validation.py."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def _server_filters():
    path = Path(__file__).resolve().parents[2] / "redis_server" / "filter_plugins" / "redis_server.py"
    spec = importlib.util.spec_from_file_location("_redis_compliance_server_filters", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RANGES = {
    "redis_compliance_history_days": (1, 3650, "days"),
    "redis_compliance_randomized_delay_sec": (0, 86400, "seconds"),
}
PATHS = (
    "redis_compliance_install_dir", "redis_compliance_conf_dir", "redis_compliance_state_dir",
    "redis_compliance_textfile_dir",
)  # fmt: skip


def redis_compliance_problems(settings: dict) -> list[str]:
    """What is wrong with the role's variables, each naming the variable and the fix."""
    S = _server_filters()
    problems = S.redis_plain_role_problems(settings, RANGES, PATHS, "redis_compliance_user")
    # After the inventory is resolved: whether a target speaks TLS (tls) and the client certificate.
    if settings.get("tls"):
        problems += S.redis_client_cert_problems(
            settings, "redis_compliance_tls_cert", "redis_compliance_tls_key", "the scheduled checks"
        )
    return problems


class FilterModule:
    def filters(self):
        return {"redis_compliance_problems": redis_compliance_problems}
