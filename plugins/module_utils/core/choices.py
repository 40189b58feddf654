"""The values a setting may take, where the roles' argument specs, their filters and the checks
enumerate them. tests/unit/test_core_choices.py holds every argument spec's choices to these."""

from .profiles import PROFILES

REDIS, VALKEY = "redis", "valkey"
# The servers the kit deploys; Debian names their packages, binaries and units alike.
FLAVORS = (REDIS, VALKEY)
EVICTION_POLICIES = (
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
    "volatile-random", "volatile-ttl",
)  # fmt: skip
APPENDFSYNC = ("always", "everysec", "no")
LOGLEVELS = ("debug", "verbose", "notice", "warning")
# off: plain port only; both: TLS beside it; only: TLS alone.
TLS_MODES = ("off", "both", "only")
TLS_AUTH_CLIENTS = ("yes", "no", "optional")
# Older protocol versions are broken; OpenSSL spells these case-sensitively.
TLS_PROTOCOLS = ("TLSv1.2", "TLSv1.3")
DEBUG_COMMAND = ("no", "local", "yes")
REPL_DISKLESS_LOAD = ("disabled", "on-empty-db", "swapdb")
# An instance or a Sentinel group the role keeps, or removes.
STATES = ("present", "absent")
# The checks' severities, lowest first (redisops.compliance.model.Severity in this order).
SEVERITIES = ("info", "low", "medium", "high", "critical")

# Every role variable with a fixed set of values, by name.
ROLE_VARIABLES = {
    "redis_server_flavor": FLAVORS,
    "redis_server_profile": PROFILES,
    "redis_server_appendfsync": APPENDFSYNC,
    "redis_server_enable_debug_command": DEBUG_COMMAND,
    "redis_server_tls_mode": TLS_MODES,
    "redis_server_tls_auth_clients": TLS_AUTH_CLIENTS,
    "redis_server_loglevel": LOGLEVELS,
    "redis_server_repl_diskless_load": REPL_DISKLESS_LOAD,
    "redis_sentinel_flavor": FLAVORS,
    "redis_sentinel_tls_mode": TLS_MODES,
    "redis_sentinel_tls_auth_clients": TLS_AUTH_CLIENTS,
    "redis_sentinel_loglevel": LOGLEVELS,
    "redis_compliance_fail_on": SEVERITIES,
    "redis_exporter_alert_compliance_severities": SEVERITIES,
}
