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


def is_secret_setting(name: str) -> bool:
    """Whether a directive (or CONFIG GET name) holds a secret."""
    name = str(name).lower()
    return name in SECRET_KEYS or name in SENTINEL_SECRET_KEYS or name.endswith(SECRET_SUFFIXES)
