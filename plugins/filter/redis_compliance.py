"""Input rules of the redis_compliance role, with the helpers every role shares (loaded by path
from redis_server's filters: role filter plugins are not a package). Unit-tested in
tests/unit/test_input_validation.py."""

from __future__ import annotations

import base64
import importlib.util
import re
from functools import cache
from pathlib import Path


@cache
def _server_filters():
    path = Path(__file__).resolve().with_name("redis_server.py")
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


# One known_hosts line: an address (no patterns, no markers), a key type and its base64.
KNOWN_HOST = re.compile(
    r"^[0-9A-Za-z.:\[\]-]+ (ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}$"
)


def redis_compliance_problems(settings: dict) -> list[str]:
    """What is wrong with the role's variables, each naming the variable and the fix."""
    server = _server_filters()
    problems = server.redis_plain_role_problems(settings, RANGES, PATHS, "redis_compliance_user")
    # After the inventory is resolved: whether a target speaks TLS (tls) and the client certificate.
    if settings.get("tls"):
        problems += server.redis_client_cert_problems(
            settings, "redis_compliance_tls_cert", "redis_compliance_tls_key", "the scheduled checks"
        )
    if "redis_compliance_inspect_user" in settings:
        problems += server.redis_service_user_problems(
            "redis_compliance_inspect_user", settings["redis_compliance_inspect_user"]
        )
    lines = settings.get("redis_compliance_inspect_known_hosts", [])
    if not isinstance(lines, list) or any(not KNOWN_HOST.fullmatch(str(line)) for line in lines):
        problems.append(
            "redis_compliance_inspect_known_hosts: each entry is one 'address keytype base64' line "
            "(playbooks/compliance_timer.yml reads them from the hosts)"
        )
    elif settings.get("redis_compliance_inspect") and not lines:
        problems.append(
            "redis_compliance_inspect is true but redis_compliance_inspect_known_hosts is empty: run "
            "playbooks/compliance_timer.yml (it reads the hosts' keys) or set redis_compliance_inspect: false"
        )
    return problems


def redis_compliance_known_hosts(hostvars, hosts: list[str], register: str) -> list[str]:
    """known_hosts lines of ``hosts`` from each host's public host key file read into ``register``
    (slurp): 'ansible_host keytype base64'; hosts without one are left out (and cannot be read)."""
    lines = []
    for host in hosts:
        read = hostvars[host].get(register) or {}
        if not read.get("content"):
            continue
        words = base64.b64decode(read["content"]).decode().split()
        address = hostvars[host].get("ansible_host") or host
        if len(words) >= 2:
            lines.append(f"{address} {words[0]} {words[1]}")
    return lines


class FilterModule:
    def filters(self):
        return {
            "redis_compliance_problems": redis_compliance_problems,
            "redis_compliance_known_hosts": redis_compliance_known_hosts,
        }
