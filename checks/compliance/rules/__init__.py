"""The checks, one module per area. Importing this package registers all of them."""

from redisops.compliance.rules import (  # noqa: F401 - imported for their registrations
    cluster,
    configuration,
    connections,
    high_availability,
    host,
    keys,
    memory,
    monitoring,
    performance,
    persistence,
    profile,
    security,
)
