"""Checks: security (ACL users, network exposure, TLS, versions, secrets, certificates)."""

from __future__ import annotations

import time

from redisops.compliance.counters import error_replies, keeps_errorstats, per_minute
from redisops.compliance.facts import (
    ClusterFacts,
    HostFacts,
    RedisFacts,
    SentinelFacts,
    acl_users,
    as_float,
    server_of,
)
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.server import REDIS, VALKEY, version_tuple
from redisops.compliance.settings import Context
from redisops.compliance.vulnerabilities import (
    DebianVersion,
    branch_of,
    floor,
    package_floor,
    upstream_version,
)

# The users the kit's roles create, by role, with the roles' default names; the inventory's
# names come in facts.expected["kit_users"]. Every other enabled user is an application's.
REDIS_KIT_USERS = {
    "admin": "admin",
    "replication": "replicator",
    "sentinel": "sentinel",
    "monitoring": "monitor",
    "compliance": "compliance",
    "backup": "backup",
    "inspect": "inspector",
}
SENTINEL_KIT_USERS = {
    "admin": "admin",
    "peer": "sentinel-peer",
    "monitoring": "monitor",
    "inspect": "inspector",
}
# Commands no application needs, with their ACL categories (Redis 7 command table).
DANGEROUS = {
    "flushall": ("dangerous", "keyspace", "write", "slow"),
    "flushdb": ("dangerous", "keyspace", "write", "slow"),
    "config": ("dangerous", "admin", "slow"),
    "debug": ("dangerous", "admin", "slow"),
    "keys": ("dangerous", "keyspace", "read", "slow"),
    "shutdown": ("dangerous", "admin", "slow"),
    "module": ("dangerous", "admin", "slow"),
}
# Subcommands of DANGEROUS commands that only read: judged as reads by SEC-05 and MON-02; who may
# read secrets with them (CONFIG GET: masterauth, ACL LIST: every hash) is SEC-13's and SEC-14's.
READ_ONLY_SUBCOMMANDS = {"config": ("get",)}
WILDCARDS = ("0.0.0.0", "*", "::*", "::")


def kit_users(facts: RedisFacts | SentinelFacts) -> dict[str, str]:
    """The kit's user names on this target by role (admin, monitoring, ...): the inventory's
    (expected["kit_users"]), else the roles' defaults."""
    defaults = SENTINEL_KIT_USERS if isinstance(facts, SentinelFacts) else REDIS_KIT_USERS
    names = facts.expected.get("kit_users") or {}
    if not isinstance(names, dict):
        names = {}
    return {role: str(names.get(role) or default) for role, default in defaults.items()}


def _selectors(rules: list[str]) -> list[list[str]]:
    """The root rules and each Redis 7 selector ``(...)``: a command is allowed when any allows it."""
    root, selectors, current = [], [], None
    for rule in rules:
        if current is None and rule.startswith("("):
            current, rule = [], rule[1:]
        if current is None:
            root.append(rule)
            continue
        closed = rule.endswith(")")
        current.append(rule[:-1] if closed else rule)
        if closed:
            selectors.append([r for r in current if r])
            current = None
    return [root, *selectors]


def acl_allows(
    rules: list[str], command: str, categories: tuple[str, ...] = (), ignore_subcommands: tuple[str, ...] = ()
) -> bool:
    """Whether ACL rules allow a command (or one of its subcommands), last match winning over
    ``+@all``/``allcommands``, ``-@all``/``nocommands``, ``±@category`` for any of the command's
    categories, ``+cmd``, ``+cmd|sub`` and ``-cmd``.
    ``+cmd|sub`` for a sub in ignore_subcommands does not count (e.g. +config|get, which only reads)."""
    command = command.lower()
    ignored = {f"+{command}|{sub.lower()}" for sub in ignore_subcommands}
    for rules_set in _selectors(rules):
        allowed = False
        for rule in rules_set:
            rule = rule.lower()
            if rule in ("allcommands", "+@all"):
                allowed = True
            elif rule in ("nocommands", "-@all"):
                allowed = False
            elif rule[:2] in ("+@", "-@") and rule[2:] in categories:
                allowed = rule[0] == "+"
            elif rule == f"+{command}" or (rule.startswith(f"+{command}|") and rule not in ignored):
                allowed = True
            elif rule == f"-{command}":
                allowed = False
        if allowed:
            return True
    return False


def grants_all(rules: list[str]) -> bool:
    """Whether the rules end on every command (+@all or allcommands, not taken back by -@all)."""
    return any(acl_allows(r, "\0") for r in _selectors(rules))


def enabled(rules: list[str]) -> bool:
    return "on" in rules


def dangerous_allowed(rules: list[str], read_only_ok: bool = False) -> list[str]:
    """The DANGEROUS commands the rules allow; with read_only_ok, a grant of only their read-only
    subcommands (+config|get) does not count: monitoring and compliance users need those."""
    return [
        cmd.upper()
        for cmd, cats in DANGEROUS.items()
        if acl_allows(rules, cmd, cats, READ_ONLY_SUBCOMMANDS.get(cmd, ()) if read_only_ok else ())
    ]


@check(
    "SEC-01",
    area="security",
    scope="redis",
    severity=Severity.CRITICAL,
    title="No enabled Redis user logs in without a password",
    rationale="A user with nopass accepts any password, so anyone who reaches the port acts with that "
    "user's rights. Redis is often reachable from every application host: the password is the only "
    "barrier left.",
    bad="user app on nopass ~* +@all",
    good="user app on #<sha256> ~app:* +@all -@dangerous",
    remediation="Give every user in redis_server_acl_users a password (Ansible Vault) and rerun site.yml; "
    "live: ACL SETUSER app resetpass >S3cret... (or ACL SETUSER app off), then ACL SAVE.",
    source="Redis docs, security and ACL",
)
def no_nopass_user(facts: RedisFacts, ctx: Context):
    for name, rules in acl_users(facts.acl).items():
        if enabled(rules) and "nopass" in rules:
            yield Fail(f"user {name} is on with nopass: any password logs in")


@check(
    "SEC-02",
    area="security",
    scope="redis",
    severity=Severity.HIGH,
    title="The default user is off or has neither all commands nor dangerous ones",
    rationale="Clients that never AUTH are the default user: if it is on with +@all, a forgotten or "
    "leaked requirepass-style password (or none) gives full control, FLUSHALL and CONFIG included.",
    bad="user default on nopass ~* &* +@all",
    good="user default off resetchannels -@all",
    remediation="The redis_server role always writes 'user default off'; rerun site.yml. Live: "
    "ACL SETUSER default off, then ACL SAVE, and move clients to named users.",
    source="Redis docs, ACL (the default user); RedisInsight recommendations (set a password)",
)
def default_user_off(facts: RedisFacts, ctx: Context):
    rules = acl_users(facts.acl).get("default")
    if rules is None or not enabled(rules):
        return
    if grants_all(rules):
        yield Fail("user default is on with +@all: clients that never AUTH may run every command")
        return
    dangerous = dangerous_allowed(rules)
    if dangerous:
        yield Fail(f"user default is on and may run {', '.join(dangerous)}")


@check(
    "SEC-03",
    area="security",
    scope="redis",
    severity=Severity.HIGH,
    title="protected-mode is yes",
    rationale="Protected mode refuses outside clients when Redis listens on every interface with the "
    "default user unprotected: a second line of defence if bind or ACL is ever loosened.",
    bad="protected-mode no",
    good="protected-mode yes",
    remediation="Set redis_server_protected_mode: true and rerun site.yml; "
    "live: CONFIG SET protected-mode yes, then CONFIG REWRITE.",
    source="Redis docs, security (protected mode)",
)
def protected_mode(facts: RedisFacts, ctx: Context):
    value = facts.config.get("protected-mode", "")
    if str(value).lower() != "yes":
        yield Fail(f"protected-mode is {value or 'not set'}: the last guard against open exposure is off")


@check(
    "SEC-04",
    area="security",
    scope="redis",
    severity=Severity.HIGH,
    title="Redis binds explicit addresses, never a wildcard",
    rationale="Binding 0.0.0.0, * or :: exposes Redis on every interface, including public or management "
    "networks the firewall may not cover. Redis is meant for trusted networks only.",
    bad="bind * -::*",
    good="bind 10.0.0.5 127.0.0.1",
    remediation="List the host's addresses in redis_server_bind "
    "(keep redis_server_bind_allow_wildcard: false) "
    'and rerun site.yml; live: CONFIG SET bind "10.0.0.5 127.0.0.1", then CONFIG REWRITE.',
    source="Redis docs, security (network security)",
)
def bind_explicit(facts: RedisFacts, ctx: Context):
    if "bind" not in facts.config:
        raise Skip("CONFIG GET bind returned nothing")
    addresses = str(facts.config["bind"]).split()
    if not addresses:
        yield Fail("bind is empty: Redis listens on every interface")
        return
    wild = [a for a in addresses if a.lstrip("-") in WILDCARDS]
    if wild:
        yield Fail(f"bind {' '.join(addresses)} has the wildcard {' '.join(wild)}: Redis listens everywhere")


@check(
    "SEC-05",
    area="security",
    scope="redis",
    severity=Severity.HIGH,
    title="Application users cannot run FLUSHALL, FLUSHDB, CONFIG, DEBUG, KEYS, SHUTDOWN or MODULE",
    rationale="An application bug, an injection or a stolen application password should not wipe the data, "
    "reconfigure the server, stall it with KEYS or load code. Only the admin user needs these.",
    bad="user app on #<sha256> ~* +@all",
    good="user app on #<sha256> ~app:* +@all -@dangerous +role",
    remediation="Leave commands unset in redis_server_acl_users (the role then grants "
    "redis_server_app_default_commands: +@all -@dangerous +role) or add -@dangerous to them, and rerun "
    "site.yml; live: ACL SETUSER app -@dangerous, then ACL SAVE.",
    source="Redis docs, ACL (command categories) and security",
)
def app_users_no_dangerous(facts: RedisFacts, ctx: Context):
    kit = set(kit_users(facts).values())
    for name, rules in acl_users(facts.acl).items():
        if name in kit or not enabled(rules):
            continue
        dangerous = dangerous_allowed(rules)
        if dangerous:
            yield Fail(f"application user {name} may run {', '.join(dangerous)}")


@check(
    "SEC-06",
    area="security",
    scope="redis",
    severity=Severity.HIGH,
    title="Redis speaks TLS only, with TLSv1.2+ and encrypted replication",
    rationale="Without TLS, AUTH passwords and data cross the network in clear and anyone on the path can "
    "read or alter them. A plain port beside TLS, TLSv1/1.1 or plain replication leaves the same hole open.",
    bad="port 6379\ntls-port 0",
    good='port 0\ntls-port 6379\ntls-protocols "TLSv1.2 TLSv1.3"\ntls-replication yes',
    remediation="Set redis_server_tls_mode: only (redis_server_tls_protocols: 'TLSv1.2 TLSv1.3', "
    "redis_server_tls_replication: true) and rerun site.yml; clients then connect with rediss://. "
    'Live: CONFIG SET tls-protocols "TLSv1.2 TLSv1.3", CONFIG SET tls-replication yes, CONFIG SET port 0, '
    "then CONFIG REWRITE.",
    source="Redis docs, TLS",
)
def tls(facts: RedisFacts, ctx: Context):
    config = facts.config
    port, tls_port = str(config.get("port", "0")), str(config.get("tls-port", "0"))
    mode = facts.expected.get("tls_mode")
    if not mode:
        mode = "off" if tls_port == "0" else ("only" if port == "0" else "both")
    if mode == "off":
        yield Fail(
            f"TLS is off (tls_mode off, plain port {port}): traffic and passwords cross the network in clear",
            severity=Severity.MEDIUM,
        )
        return
    if tls_port == "0":
        yield Fail(f"tls_mode is {mode} but tls-port is 0: Redis does not speak TLS")
    if port != "0":
        yield Fail(
            f"plain port {port} is open beside tls-port {tls_port}: passwords may still cross in clear",
            severity=Severity.HIGH if mode == "only" else Severity.MEDIUM,
        )
    protocols = str(config.get("tls-protocols", "")).split()
    old = [p for p in protocols if p.lower() in ("tlsv1", "tlsv1.0", "tlsv1.1")]
    if old:
        yield Fail(f"tls-protocols {' '.join(protocols)} allows the deprecated {' '.join(old)}")
    if str(config.get("tls-replication", "no")).lower() != "yes":
        value = config.get("tls-replication", "not set")
        yield Fail(f"tls-replication is {value}: replication runs in clear")


@check(
    "SEC-07",
    area="security",
    scope="redis",
    severity=Severity.MEDIUM,
    title="Redis or Valkey runs a supported version",
    rationale="Old releases no longer get security fixes (several Lua and protocol CVEs were fixed only in "
    "maintained branches) and lack ACL, TLS and configuration safeguards. Each server is judged by its own "
    "version against its own minimum: Redis by redis_version (min_version), Valkey by valkey_version "
    "(min_valkey_version). Valkey's redis_version is the Redis version it is compatible with, 7.2.4 in "
    "every release, and says nothing about its fixes.",
    bad="redis_version:6.0.9\n# or: server_name:valkey  valkey_version:7.2.4  redis_version:7.2.4",
    good="redis_version:7.2.5  # Redis 7.0.15 (Debian 12), 8.0.2 (Debian 13)\n"
    "server_name:valkey  valkey_version:8.1.1  # Debian 13; 8.0.1 in bookworm-backports",
    remediation="Upgrade the server package (redis_server_packages, or the distribution's backports) and "
    "restart one node at a time with playbooks/rolling_restart.yml, replicas first. Thresholds: min_version "
    "(Redis), min_valkey_version (Valkey).",
    source="Redis release notes and support policy; Valkey release notes (valkey_version and server_name "
    "INFO fields, Valkey 7.2.5)",
    applies_to="Redis by redis_version against min_version (7.0.0); Valkey by valkey_version against "
    "min_valkey_version (7.2.5)",
)
def supported_version(facts: RedisFacts, ctx: Context):
    server = server_of(facts)
    limits = {REDIS: ("min_version", ctx.thresholds.min_version),
              VALKEY: ("min_valkey_version", ctx.thresholds.min_valkey_version)}  # fmt: skip
    if server.flavor not in limits:
        raise Skip("INFO names neither Redis (redis_version) nor Valkey (server_name valkey)")
    if not server.version:
        raise Skip(f"INFO has no {server.flavor}_version")
    setting, minimum = limits[server.flavor]
    if version_tuple(server.version) < version_tuple(minimum):
        yield Fail(
            f"{server.name} {server.version} is older than the minimum supported {server.name} {minimum} "
            f"({setting})"
        )


@check(
    "SEC-08",
    area="security",
    scope="cluster",
    severity=Severity.MEDIUM,
    title="The inventory's passwords are long generated secrets",
    rationale="Redis checks passwords very fast and has no lockout, so a short password falls to an online "
    "guessing attack. Long random secrets (32+ characters) are out of reach.",
    bad="redis_server_admin_password: changeme",
    good='redis_server_admin_password: "{{ vault_redis_admin_password }}"  # openssl rand -base64 32',
    remediation="Generate each secret (openssl rand -base64 32), store it with Ansible Vault, set "
    "redis_server_password_min_length / redis_sentinel_password_min_length to 32 so the roles refuse "
    "shorter ones, and rerun site.yml.",
    source="Redis docs, security (authentication: Redis answers many password attempts a second, use a "
    "long one); Redis docs, ACL (ACL GENPASS: 256-bit passwords)",
)
def password_strength(facts: ClusterFacts, ctx: Context):
    if not facts.secret_lengths:
        raise Skip("no secrets were read from the inventory")
    minimum = ctx.thresholds.password_min_length
    for name, length in sorted(facts.secret_lengths.items()):
        if length < minimum:
            what = "is empty" if length == 0 else f"is {length} characters long"
            yield Fail(f"{name} {what}, below {minimum}", target="inventory")


@check(
    "SEC-09",
    area="security",
    scope="host",
    severity=Severity.HIGH,
    title="TLS certificates are readable and do not expire soon",
    rationale="When a certificate expires, every TLS client, replica and sentinel is refused at once: "
    "the whole cluster goes down together. Renewing ahead of time avoids the cliff.",
    bad="notAfter in 12 days",
    good="notAfter in 300 days (renewed within 30 days of expiry)",
    remediation="Rerun site.yml: the redis_server role renews the certificates it generated when they expire "
    "within redis_server_tls_renew_days (30); for your own files, replace redis_server_tls_cert / "
    "redis_server_tls_ca_cert. Redis reloads them with CONFIG SET tls-cert-file (same path).",
    source="Redis docs, TLS; Certbot docs, renewal (a certificate is renewed within 30 days of its expiry)",
)
def certificates(facts: HostFacts, ctx: Context):
    wanted = list(facts.expected.get("certs", []))
    seen = {c.get("path") for c in facts.certificates}
    if not wanted and not facts.certificates:
        return
    if not facts.now:
        raise Skip("the host's clock was not read")
    for path in wanted:
        if path not in seen:
            yield Fail(f"{path} was not checked: certificate missing from the host facts")
    for cert in facts.certificates:
        path = cert.get("path", "?")
        if cert.get("error") or not cert.get("not_after"):
            yield Fail(f"{path} cannot be read: {cert.get('error') or 'no expiry date'}")
            continue
        days = (float(cert["not_after"]) - facts.now) / 86400
        date = time.strftime("%Y-%m-%d", time.gmtime(float(cert["not_after"])))
        if days < 0:
            yield Fail(f"{path} expired on {date} ({-days:.0f} days ago)", severity=Severity.CRITICAL)
        elif days < ctx.thresholds.cert_min_days:
            yield Fail(f"{path} expires on {date}, in {days:.0f} days (< {ctx.thresholds.cert_min_days})")


@check(
    "SEC-10",
    area="security",
    scope="redis",
    severity=Severity.MEDIUM,
    title="DEBUG and MODULE commands are disabled",
    rationale="DEBUG can crash, stall or corrupt the server and MODULE LOAD runs arbitrary code in it. "
    "Redis 7 disables both unless enable-debug-command / enable-module-command allow them.",
    bad="enable-debug-command yes\nenable-module-command local",
    good="enable-debug-command no\nenable-module-command no",
    remediation='Set redis_server_enable_debug_command: "no" and leave enable-module-command at its default '
    "(no), rerun site.yml and restart with playbooks/rolling_restart.yml (both settings are immutable "
    "at runtime).",
    source="Redis docs, security; redis.conf (enable-debug-command, enable-module-command)",
)
def debug_module_disabled(facts: RedisFacts, ctx: Context):
    for name, command in (("enable-debug-command", "DEBUG"), ("enable-module-command", "MODULE")):
        value = facts.config.get(name)
        if value is None:
            yield Fail(
                f"{name} is not a setting of {server_of(facts)} (Redis before 7.0): {command} is open to "
                "ACL users"
            )
        elif str(value).lower() != "no":
            yield Fail(f"{name} is {value}: {command} is enabled")


@check(
    "SEC-11",
    area="security",
    scope="sentinel",
    severity=Severity.CRITICAL,
    title="Sentinel has no password-less user and its default user is off",
    rationale="Whoever controls Sentinel controls failover: SENTINEL SET, FAILOVER or REMOVE can point every "
    "client at another server. A nopass or open default user makes that one connection away.",
    bad="user default on nopass ~* &* +@all",
    good="user default off resetchannels -@all",
    remediation="The redis_sentinel role turns the default user off and gives every user of "
    "redis_sentinel_client_users a password; rerun site.yml. Live on each sentinel: ACL SETUSER default off, "
    "then SENTINEL FLUSHCONFIG.",
    source="Redis docs, Sentinel (ACL authentication) and security",
)
def sentinel_acl(facts: SentinelFacts, ctx: Context):
    users = acl_users(facts.acl)
    for name, rules in users.items():
        if enabled(rules) and "nopass" in rules:
            yield Fail(f"sentinel user {name} is on with nopass: any password logs in")
        elif name == "default" and enabled(rules):
            yield Fail("sentinel user default is on: clients that never AUTH get in", severity=Severity.HIGH)


# The commands that answer secrets: CONFIG GET (masterauth, requirepass) and ACL LIST (hashes).
SECRET_READERS = {"config": ("admin", "slow", "dangerous"), "acl": ("admin", "slow", "dangerous")}


def _reads_secrets(rules: list[str], sentinel: bool = False) -> list[str]:
    found = []
    for command, cats in SECRET_READERS.items():
        sub = "GET" if command == "config" else "LIST"
        if sentinel and command == "config":
            continue
        # The whole command (+config, +@admin, +@all) or this subcommand; other subcommands
        # (Sentinel's user has +config|rewrite) answer no secret.
        whole = [r for r in rules if not r.lower().startswith(f"+{command}|")]
        if acl_allows(whole, command, cats) or f"+{command}|{sub.lower()}" in (r.lower() for r in rules):
            found.append(f"{command.upper()} {sub}")
    return found


def _secret_readers(facts, sentinel: bool = False):
    """(user, what it may read) for every enabled user but the admin and the on-host reader that
    may run CONFIG GET or ACL LIST."""
    users = kit_users(facts)
    allowed = {users["admin"], users["inspect"]}
    for name, rules in acl_users(facts.acl).items():
        reads = _reads_secrets(rules, sentinel=sentinel)
        if name not in allowed and enabled(rules) and reads:
            yield name, " and ".join(reads)


@check(
    "SEC-13",
    area="security",
    scope="redis",
    severity=Severity.HIGH,
    title="Only the admin and the on-host reader may read CONFIG GET and ACL LIST",
    rationale="CONFIG GET answers masterauth (enough to replicate every key) and ACL LIST every user's "
    "password hash; Redis ACLs cannot hide one parameter. A monitoring or compliance password is stored on "
    "more machines than any other: with those commands it is worth the replication password.",
    bad="user compliance on #<sha256> -@all +info +config|get +acl|list",
    good="user compliance on #<sha256> -@all +info ...; user inspector on #<sha256> -@all +config|get "
    "+acl|list "
    "(its password never leaves the host)",
    remediation="Rerun site.yml: the redis_server role gives CONFIG GET and ACL LIST only to the on-host "
    "reader's user (redis_server_inspect_acl_user), whose output masks every secret. Live: ACL SETUSER "
    "compliance -config|get -acl|list, then ACL SAVE.",
    source="Redis docs, ACL (ACL LIST shows each user's password hash; rules per subcommand such as "
    "-config|get); redis.conf (masterauth: the replication password, which CONFIG GET answers)",
)
def secrets_read_only_on_host(facts: RedisFacts, ctx: Context):
    for name, reads in _secret_readers(facts):
        yield Fail(f"user {name} may run {reads}: it can read masterauth or the hashes")


@check(
    "SEC-14",
    area="security",
    scope="sentinel",
    severity=Severity.HIGH,
    title="Only Sentinel's admin and the on-host reader may read ACL LIST",
    rationale="Sentinel's ACL LIST answers every user's password hash, the admin's included; a weak "
    "password is then found offline. The monitoring password is stored on more machines than any other.",
    bad="user monitor on #<sha256> &* -@all +info +sentinel|masters ... +acl|list",
    good="user monitor on #<sha256> &* -@all +info +sentinel|masters ...",
    remediation="Rerun site.yml: the redis_sentinel role gives ACL LIST only to the on-host reader's user. "
    "Live on each sentinel: ACL SETUSER monitor -acl|list, then SENTINEL FLUSHCONFIG.",
    source="Redis docs, Sentinel (ACL authentication: Sentinel's own users); Redis docs, ACL (ACL LIST "
    "shows each user's password hash)",
)
def sentinel_acl_read_only_on_host(facts: SentinelFacts, ctx: Context):
    for name, reads in _secret_readers(facts, sentinel=True):
        yield Fail(f"sentinel user {name} may run {reads}: it can read every hash")


def _days(days: float) -> str:
    """Whole days, rounded down: 29.6 days is "29 days", never "30 days" below a 30-day limit."""
    whole = int(days)
    return f"{whole} day" if whole == 1 else f"{whole} days"


@check(
    "SEC-12",
    area="security",
    scope="cluster",
    severity=Severity.HIGH,
    title="The TLS certificates Redis and Sentinel present do not expire soon",
    rationale="When the certificate a server presents expires, every TLS client, replica and sentinel is "
    "refused at once. Scheduled runs do not SSH to the hosts, so the certificate each server presented "
    "to the checks' own TLS connection is how they see expiry (SEC-09 reads the files on the hosts).",
    bad="redis-1:6379 presents a certificate with notAfter in 5 days",
    good="every server presents a certificate with notAfter in 300 days (renewed within 30 days of expiry)",
    remediation="Rerun site.yml: the redis_server role (whose certificates Sentinel shares) renews the ones "
    "it generated when they expire within redis_server_tls_renew_days (30); for your own files, replace "
    "redis_server_tls_cert / redis_server_tls_ca_cert. Redis reloads them with CONFIG SET tls-cert-file "
    "(same path); Sentinel loads them when it restarts.",
    source="Redis docs, TLS; Certbot docs, renewal (a certificate is renewed within 30 days of its expiry)",
)
def presented_certificates(facts: ClusterFacts, ctx: Context):
    presented = []
    for target in [*facts.redis, *facts.sentinels]:
        not_after = as_float(target.tls_cert_not_after)  # 0: not reached over TLS
        if not_after > 0:
            kind = "Sentinel" if isinstance(target, SentinelFacts) else "Redis"
            presented.append(
                (f"the TLS certificate {kind} {target.target} presents", target.target, not_after)
            )
    if not presented:
        raise Skip("no Redis or Sentinel target was reached over TLS")
    if facts.gathered_at <= 0:
        raise Skip("the gathering time was not recorded")
    minimum = ctx.thresholds.cert_min_days
    for what, target, not_after in presented:
        days = (not_after - facts.gathered_at) / 86400
        date = time.strftime("%Y-%m-%d", time.gmtime(not_after))
        if days < 0:
            yield Fail(
                f"{what} expired on {date} ({_days(-days)} ago)", severity=Severity.CRITICAL, target=target
            )
        elif days < minimum:
            yield Fail(f"{what} expires on {date}, in {_days(days)} (< {minimum})", target=target)


@check(
    "SEC-15",
    area="security",
    scope="host",
    severity=Severity.HIGH,
    title="Sentinel refuses to change its scripts at runtime (deny-scripts-reconfig yes)",
    rationale="Sentinel runs its notification-script and client-reconfig-script as its own user on "
    "every event. With deny-scripts-reconfig no, any client allowed SENTINEL SET can point a script at "
    "any program on the host and trigger it with a failover: code execution on every sentinel host. "
    "SENTINEL CONFIG GET does not answer this setting, so it is read from each sentinel.conf on the "
    "host (only this directive leaves the host); absent means Sentinel's default, yes.",
    bad="sentinel deny-scripts-reconfig no",
    good="sentinel deny-scripts-reconfig yes  # or absent: the default",
    remediation="The redis_sentinel role writes 'sentinel deny-scripts-reconfig yes' into sentinel.conf "
    "when it first writes the file: set the line to yes (or remove it) and restart that sentinel "
    "(it is read at start only, SENTINEL SET cannot change it); or remove the file and rerun site.yml.",
    source="Redis sentinel.conf (SECURITY: by default SENTINEL SET cannot change notification-script and "
    "client-reconfig-script at runtime, which avoids clients setting a script and triggering a failover)",
)
def sentinel_scripts_locked(facts: HostFacts, ctx: Context):
    paths = [f.get("path") for f in facts.expected.get("files", []) if f.get("writable_by_owner")]
    if not paths:
        raise Skip("no Sentinel config file is expected on this host")
    for path in paths:
        reading = facts.sentinel_conf.get(path)
        if reading is None:
            raise Skip(f"{path} was not read (host facts from an older probe)")
        if reading.get("error"):
            raise Skip(f"{path} could not be read: {reading['error']} (H-08 judges the file)")
        value = str(reading.get("deny-scripts-reconfig", "")).lower()
        if value and value != "yes":
            yield Fail(
                f"{path} has deny-scripts-reconfig {value}: clients allowed SENTINEL SET can make Sentinel "
                "run any program on this host"
            )


_UNREAD = "the host's package was not read"


def _package_credit(facts: RedisFacts, ctx: Context, package: str) -> tuple[bool, str]:
    """Whether the host's distribution package carries the fixes although the version string is below
    the floor, and why (or why it cannot be credited)."""
    cluster = ctx.cluster
    host = cluster.host(facts.host) if cluster is not None else None
    if host is None or host.error or not (cluster.host_facts_gathered if cluster else False):
        return False, f"{_UNREAD} (no host facts): whether a distribution backport has the fixes is unknown"
    installed = host.packages.get(package)
    if not installed:
        return False, f"no {package} dpkg package on {facts.host}: judged by INFO alone (rpm is not read)"
    server = server_of(facts)
    if upstream_version(installed) != server.version:
        return False, (
            f"{package} {installed} on {facts.host} is not the version that runs ({server.version}): "
            "restart the server after upgrading"
        )
    fixed = package_floor(package, installed)
    if fixed is None:
        return False, f"{package} {installed}: no recorded backport of the fixes for this package series"
    if DebianVersion(installed) < DebianVersion(fixed):
        return False, f"{package} {installed} is older than {fixed}, the first revision with the fixes"
    return True, f"{package} {installed} carries the fixes"


@check(
    "SEC-16",
    area="security",
    scope="redis",
    severity=Severity.HIGH,
    title="Redis or Valkey carries its release branch's latest critical security fixes",
    rationale="SEC-07 asks for a supported release; this asks for the patch release of that branch that "
    "fixes the latest critical vulnerabilities, e.g. CVE-2025-49844 (a Lua use-after-free that gives "
    "remote code execution to any user allowed EVAL) and the other October 2025 Lua fixes. Each "
    "branch's floor is in one table (redisops.compliance.vulnerabilities) with its CVEs and sources. "
    "Distributions backport fixes without changing the version string (Debian 12 stays at 7.0.15), "
    "so a server below the floor passes when the host's installed package is a revision recorded as "
    "carrying the fixes and is the version that runs; without host facts it is skipped.",
    bad="redis_version:7.0.15  # redis-server 5:7.0.15-1~deb12u5\nredis_version:7.4.5",
    good="redis_version:7.4.6\nredis_version:7.0.15  # redis-server 5:7.0.15-1~deb12u6 (backport)",
    remediation="Upgrade the server package (apt-get install --only-upgrade redis-server, or "
    "redis_server_packages for another source) and restart one node at a time with "
    "playbooks/rolling_restart.yml, replicas first. Until then, close the Lua CVEs to applications: add "
    '"-@scripting" to redis_server_app_default_commands (the default allows EVAL) and rerun site.yml.',
    source="Redis release notes 6.2.20, 7.2.11, 7.4.6, 8.0.4, 8.2.2 and Valkey 8.0.6, 8.1.4 (security "
    "fixes CVE-2025-49844, CVE-2025-46817, CVE-2025-46818, CVE-2025-46819); Debian redis changelog "
    "5:7.0.15-1~deb12u6 (bookworm-security, the same CVEs); redis/redis#14346 (no 7.0 release)",
    applies_to="Redis 6.2, 7.0, 7.2, 7.4, 8.0, 8.2 and Valkey 8.0, 8.1 (the branches in the table); Debian "
    "12's redis-server package; other branches and packages are not judged",
)
def vulnerability_floor(facts: RedisFacts, ctx: Context):
    server = server_of(facts)
    if server.flavor not in (REDIS, VALKEY):
        raise Skip("INFO names neither Redis nor Valkey")
    branch = branch_of(server.version)
    needed = floor(server.flavor, branch)
    if needed is None:
        raise Skip(f"no advisory in the table names {server.name} {branch or server.version}: not judged")
    if needed.release and version_tuple(server.version) >= version_tuple(needed.release):
        return
    credited, why = _package_credit(facts, ctx, f"{server.flavor}-server")
    if credited:
        return
    if why.startswith(_UNREAD):
        # Distributions backport to every branch (Debian 13's 8.0.2 too): INFO alone condemns none.
        raise Skip(f"{server.name} {server.version} is below its branch's floor by INFO; {why}")
    fixed_in = f"{server.name} {needed.release} or later"
    want = fixed_in if needed.release else "a maintained branch (no fixed release)"
    yield Fail(
        f"{server.name} {server.version} lacks the fixes for {', '.join(needed.cves)}: branch {branch} needs "
        f"{want}; {why}"
    )


@check(
    "SEC-17",
    area="security",
    scope="redis",
    severity=Severity.MEDIUM,
    title="ACL denials stay rare (errorstat_NOPERM at most 1 a minute since the previous run)",
    rationale="Redis answers NOPERM when an ACL user runs a command, or touches a key or channel, its "
    "rules deny. A steady stream of them means an application or tool runs with the wrong rights (it "
    "fails on every call) or someone probes what a stolen password allows. An operator's odd denied "
    "command is normal, so a rate is judged: the rise of INFO errorstats' NOPERM count since the "
    "previous run, per minute between the runs; with no earlier run, since the server started.",
    bad="errorstat_NOPERM:count=5400  # 0 at the previous run, 15 minutes earlier: 360 a minute",
    good="errorstat_NOPERM:count=2  # an operator's denied command last week",
    remediation="ACL LOG names each denial's user, command or key, and client: give the application's "
    "user the rights it needs in redis_server_acl_users (commands, keys, channels) and rerun site.yml, or "
    "stop the client; a user that should not exist at all is SEC-02's business. Adjust "
    "noperm_errors_per_min_max in redis_compliance_thresholds.",
    source="Redis docs, ACL (NOPERM replies; ACL LOG records the denied commands, keys and channels) and "
    "INFO (errorstats: errorstat_<prefix>:count, reset by CONFIG RESETSTAT)",
)
def acl_denials(facts: RedisFacts, ctx: Context):
    if not keeps_errorstats(facts):
        raise Skip("INFO has no errorstats (total_error_replies): before Redis 6.2")
    denied = error_replies(facts, "NOPERM", ctx)
    rate, most = per_minute(facts, denied.amount), ctx.thresholds.noperm_errors_per_min_max
    if denied.amount > 0 and rate > most:
        yield Fail(
            f"{denied.amount} command{'s' if denied.amount != 1 else ''} denied with NOPERM {denied.since}: "
            f"{rate:.1f} a minute (above {most:g}); ACL LOG names the users and commands"
        )
