"""Which settings hold secrets, so that every writer, differ and reader masks the same ones."""

# Config directives whose value is a secret (primaryauth: Valkey's name for masterauth, which its
# CONFIG REWRITE writes; auth-pass: Sentinel's password towards the servers).
SECRET_KEYS = (
    "masterauth", "primaryauth", "requirepass", "tls-key-file-pass", "tls-client-key-file-pass", "auth-pass",
)  # fmt: skip
# sentinel.conf's 'sentinel <word> ... SECRET' lines: sentinel-pass SECRET, auth-pass GROUP SECRET.
SENTINEL_SECRET_KEYS = ("sentinel-pass", "auth-pass")
# A setting the kit does not know yet is taken for a secret when its name says it is one.
SECRET_SUFFIXES = ("-pass", "-password")
MASK = "********"

# The roles' variables that hold secrets (no_log in their argument specs; the checks report only
# their lengths). tests/unit/test_core_choices.py holds the specs to this list.
SECRET_VARIABLES = (
    "redis_server_admin_password", "redis_server_replication_password", "redis_server_sentinel_password",
    "redis_server_monitoring_password", "redis_server_compliance_password", "redis_server_backup_password",
    "redis_sentinel_auth_password", "redis_sentinel_admin_password", "redis_sentinel_peer_password",
    "redis_sentinel_monitoring_password",
    "redis_compliance_redis_password", "redis_compliance_sentinel_password",
    "redis_exporter_redis_password", "redis_exporter_sentinel_password",
    "redis_exporter_web_auth_password_hash",
)  # fmt: skip


def is_secret_setting(name: str) -> bool:
    """Whether a directive (or CONFIG GET name) holds a secret."""
    name = str(name).lower()
    return name in SECRET_KEYS or name in SENTINEL_SECRET_KEYS or name.endswith(SECRET_SUFFIXES)
