"""Checks: host (kernel settings, swap, service user, file permissions, units and ports)."""

from __future__ import annotations

import ipaddress

from redisops.compliance.facts import HostFacts, as_float, config_yes
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context
from redisops.core.sizes import human as _size

_REDIS_PROCESSES = ("redis-server", "redis-sentinel", "valkey-server", "valkey-sentinel")
_DEFAULT_TCP_BACKLOG = 511  # Redis's and Sentinel's default
_OVERCOMMIT = {"0": "heuristic", "1": "always", "2": "never"}


def _redis_processes(facts: HostFacts) -> list[dict]:
    procs = [p for p in facts.processes if p.get("name") in _REDIS_PROCESSES]
    if not procs:
        raise Skip("no redis-server or redis-sentinel process runs on this host (H-07 checks the units)")
    return procs


def _proc(p: dict) -> str:
    return f"{p.get('name', '?')} (pid {p.get('pid', '?')})"


def _mode(text) -> int | None:
    try:
        return int(str(text), 8)
    except (TypeError, ValueError):
        return None


def _files(facts: HostFacts) -> dict[str, dict]:
    return {f.get("path"): f for f in facts.files}


def _in_container(facts: HostFacts) -> str:
    return f" (a {facts.container} container: set it on the machine that runs it)" if facts.container else ""


def _loopback(address: str) -> bool:
    text = str(address).split("%", 1)[0].strip("[]")
    if text in ("", "*"):
        return False
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text == "localhost"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@check(
    "H-01",
    area="host",
    scope="host",
    severity=Severity.HIGH,
    title="vm.overcommit_memory is 1",
    rationale="BGSAVE, AOF rewrite and every full resync fork Redis. With the heuristic mode (0) or strict "
    "accounting (2) the kernel may refuse a fork of a large instance although copy-on-write needs little "
    "memory, and persistence or replication fails with 'Cannot allocate memory'.",
    bad="vm.overcommit_memory = 0",
    good="vm.overcommit_memory = 1  # /etc/sysctl.d/60-redis.conf",
    remediation="Keep redis_server_tune_kernel true and rerun site.yml (it writes "
    "/etc/sysctl.d/60-redis.conf); live: sysctl -w vm.overcommit_memory=1. In a container, set it on "
    "the machine that runs it.",
    source="Redis docs, admin (Linux: vm.overcommit_memory = 1); Redis's startup warning",
)
def overcommit_memory(facts: HostFacts, ctx: Context):
    value = str(facts.sysctl.get("vm.overcommit_memory", "")).strip()
    if not value:
        raise Skip("vm.overcommit_memory was not read")
    if value != "1":
        mode = _OVERCOMMIT.get(value, "unknown")
        yield Fail(
            f"vm.overcommit_memory is {value} ({mode}): the fork of BGSAVE, AOF rewrite or a full sync "
            f"can fail with 'Cannot allocate memory'{_in_container(facts)}"
        )


def _thp_kept_by(facts: HostFacts, ctx: Context) -> tuple[list, list[str]]:
    """With THP enabled always: the Redis instances of this host that keep huge pages (no
    disable-thp yes), and those whose configuration was not read. Redis 6.2+ and Valkey turn THP off
    for their own process at start when the host says always, unless disable-thp is no."""
    instances = [r for r in ctx.cluster.redis if r.host == facts.target] if ctx.cluster is not None else []
    unknown = [r.target for r in instances if r.error or r.unread]
    exposed = [r for r in instances if not (r.error or r.unread) and not config_yes(r, "disable-thp")]
    return exposed, unknown


def _thp_why(exposed: list) -> str:
    return ", ".join(
        f"{r.target} disable-thp {r.config['disable-thp']}"
        if "disable-thp" in r.config
        else f"{r.target} has no disable-thp (before Redis 6.2)"
        for r in exposed
    )


@check(
    "H-02",
    area="host",
    scope="host",
    severity=Severity.HIGH,
    title="Transparent huge pages are not always on for Redis (never, madvise, or disable-thp yes)",
    rationale="With THP always on, a write after fork copies a 2 MB page instead of 4 KB: latency spikes "
    "and memory use grow during every BGSAVE and AOF rewrite. Redis 6.2 and later (Valkey too) turn THP "
    "off for their own process at start when the host says always, unless disable-thp is no: a host at "
    "always passes when every Redis instance on it has disable-thp yes.",
    bad="/sys/kernel/mm/transparent_hugepage/enabled: [always] madvise never\ndisable-thp no",
    good="/sys/kernel/mm/transparent_hugepage/enabled: always madvise [never]\n"
    "or [always] with disable-thp yes (the default) on every Redis of the host",
    remediation="Keep redis_server_tune_kernel true and rerun site.yml (disable-thp.service sets never "
    "at boot); live: echo never > /sys/kernel/mm/transparent_hugepage/enabled. Or drop 'disable-thp no' "
    "from redis.conf (yes is the default) and restart: it is read at start only. In a container, set the "
    "host's THP on the machine that runs it.",
    source="Redis docs, latency (latency induced by transparent huge pages); redis.conf (disable-thp: on "
    "'always', Redis disables THP for its own process; redis/redis #7381, Redis 6.2)",
    applies_to="disable-thp: Redis 6.2 and later, Valkey; earlier servers need the host at never or madvise",
)
def transparent_huge_pages(facts: HostFacts, ctx: Context):
    value = str(facts.thp.get("enabled", "")).strip()
    if not value:
        raise Skip("transparent_hugepage/enabled was not read")
    if value != "always":
        return
    if ctx.cluster is not None and any(r.host == facts.target for r in ctx.cluster.redis):
        exposed, unknown = _thp_kept_by(facts, ctx)
        if not exposed and not unknown:
            return  # every Redis here turned THP off for itself (prctl at start)
        if not exposed:
            raise Skip(f"THP is always; whether {', '.join(unknown)} disable it for themselves was not read")
        yield Fail(
            f"transparent huge pages enabled is always and Redis keeps them ({_thp_why(exposed)}): forks "
            f"copy 2 MB pages, latency and memory spike during BGSAVE and AOF rewrite{_in_container(facts)}"
        )
        return
    yield Fail(
        "transparent huge pages enabled is always: forks copy 2 MB pages, latency and memory spike "
        f"during BGSAVE and AOF rewrite{_in_container(facts)}"
    )


@check(
    "H-03",
    area="host",
    scope="host",
    severity=Severity.HIGH,
    title="No Redis process has memory swapped out",
    rationale="A command that touches a swapped-out page waits for the disk: milliseconds instead of "
    "microseconds, for every client behind it on Redis's single thread.",
    bad="VmSwap: 524288 kB  # /proc/<redis-server pid>/status",
    good="VmSwap: 0 kB",
    remediation="Give the host more RAM or lower redis_server_maxmemory (MEM-02 headroom), stop what else "
    "uses the memory, then bring pages back (swapoff -a && swapon -a when RAM allows, or restart "
    "a replica).",
    source="Redis docs, latency (latency induced by swapping)",
)
def not_swapped(facts: HostFacts, ctx: Context):
    for p in _redis_processes(facts):
        swapped = int(as_float(p.get("swap_bytes")))
        if swapped > 0:
            yield Fail(f"{_proc(p)} has {_size(swapped)} swapped out: commands touching it wait for the disk")


@check(
    "H-04",
    area="host",
    scope="host",
    severity=Severity.MEDIUM,
    title="net.core.somaxconn is at least every Redis's tcp-backlog",
    rationale="The kernel caps the accept queue at somaxconn: a tcp-backlog above it is silently cut, and "
    "bursts of new connections (a failover, a client pool restarting) are dropped or delayed.",
    bad="net.core.somaxconn = 128\ntcp-backlog 511",
    good="net.core.somaxconn = 4096\ntcp-backlog 511",
    remediation="Set redis_server_somaxconn (the kit applies max(somaxconn, tcp-backlog)) with "
    "redis_server_tune_kernel true and rerun site.yml; live: sysctl -w net.core.somaxconn=4096.",
    source="Redis docs, admin; Redis's startup warning (TCP backlog cannot be enforced)",
)
def somaxconn(facts: HostFacts, ctx: Context):
    text = str(facts.sysctl.get("net.core.somaxconn", "")).strip()
    if not text:
        raise Skip("net.core.somaxconn was not read")
    limit = int(as_float(text))
    cluster = ctx.cluster
    backlogs = [
        (r.target, int(as_float(r.config.get("tcp-backlog"), _DEFAULT_TCP_BACKLOG)))
        for r in (cluster.redis if cluster else [])
        if r.host == facts.target
    ]
    backlogs += [
        (f"{s.target} (Sentinel's default)", _DEFAULT_TCP_BACKLOG)
        for s in (cluster.sentinels if cluster else [])
        if s.host == facts.target
    ]
    if not backlogs:
        backlogs = [("Redis's default", _DEFAULT_TCP_BACKLOG)]
    for target, backlog in backlogs:
        if backlog > limit:
            yield Fail(
                f"net.core.somaxconn {limit} is below tcp-backlog {backlog} of {target}: the kernel cuts the "
                f"accept queue to {limit}"
            )


@check(
    "H-05",
    area="host",
    scope="host",
    severity=Severity.HIGH,
    title="Redis and Sentinel run as the service user, never root",
    rationale="Redis as root turns any command-level compromise (CONFIG SET dir/dbfilename, a module, a "
    "Lua escape) into root on the host. The service user owns only Redis's files.",
    bad="redis-server pid 151 user root",
    good="redis-server pid 151 user redis",
    remediation="Run the units as the service user (redis_server_user, redis_sentinel_user; the kit's "
    "units set User=) and rerun site.yml; then restart the instance.",
    source="Redis docs, security (do not run Redis as root)",
)
def non_root_user(facts: HostFacts, ctx: Context):
    want = facts.expected.get("user", "")
    for p in _redis_processes(facts):
        user = str(p.get("user", ""))
        if user in ("root", "0"):
            yield Fail(f"{_proc(p)} runs as root")
        elif want and user != want:
            yield Fail(f"{_proc(p)} runs as {user or 'an unknown user'}, not the service user {want}")


@check(
    "H-06",
    area="host",
    scope="host",
    severity=Severity.HIGH,
    title="Redis's files are owned by the service user, no looser than expected, never world-readable",
    rationale="redis.conf, users.acl, the TLS key and the data directory hold secrets and the data; "
    "readable by others they leak passwords, keys and the dataset, writable by others they let anyone "
    "reconfigure Redis.",
    bad="-rw-r--r-- root root /etc/redis/main/users.acl",
    good="-rw-r----- redis redis /etc/redis/main/users.acl  # 0640; redis.key 0600; data dir 0750",
    remediation="Rerun site.yml (it sets owner redis_server_user and the modes); by hand: "
    "chown redis: FILE && chmod 0640 FILE (0600 for the TLS key, 0750 for the data directory).",
    source="Debian's redis-server package (redis.conf 0640 redis:redis, /var/lib/redis 0750 redis); "
    "Redis docs, ACL (the ACL file holds the users' password hashes)",
)
def file_permissions(facts: HostFacts, ctx: Context):
    expected = facts.expected.get("files", [])
    if not expected:
        raise Skip("the inventory expects no files on this host")
    seen = _files(facts)
    for want in expected:
        path = want.get("path", "?")
        got = seen.get(path)
        if got is None:
            yield Fail(f"{path} was not read by the host probe")
            continue
        if not got.get("exists"):
            yield Fail(f"{path} does not exist")
            continue
        problems = []
        if want.get("owner") and got.get("owner") != want["owner"]:
            problems.append(f"owned by {got.get('owner', '?')}, not {want['owner']}")
        mode, allowed = _mode(got.get("mode")), _mode(want.get("mode"))
        if mode is None:
            problems.append(f"mode {got.get('mode')!r} unreadable")
        else:
            if allowed is not None and mode & ~allowed:
                problems.append(f"mode {mode:04o} is looser than {allowed:04o} (extra {mode & ~allowed:04o})")
            if mode & 0o004:
                problems.append(f"mode {mode:04o} is world-readable")
        if problems:
            yield Fail(f"{path}: " + "; ".join(problems))


@check(
    "H-07",
    area="host",
    scope="host",
    severity=Severity.MEDIUM,
    title="The services are active and enabled, and only the expected ports listen",
    rationale="A unit not enabled does not come back after a reboot, leaving the group a node short; a "
    "port nobody expects (a second Redis, a debug listener) is an unreviewed way in.",
    bad="redis-sentinel@main.service: inactive, disabled\n0.0.0.0:6380 redis-server",
    good="redis-server@main.service, redis-sentinel@main.service: active, enabled\n"
    "listening: 6379, 26379, 22",
    remediation="systemctl enable --now the unit (or rerun site.yml); stop what listens on an unexpected "
    "port, or declare it (redis_server_firewall_extra_ports, or the expected_extra_ports threshold).",
    source="Redis docs, security (network security: only trusted clients reach the port); systemctl(1) "
    "(enable: the unit starts at boot)",
)
def units_and_ports(facts: HostFacts, ctx: Context):
    units = facts.expected.get("units", [])
    if not units and not facts.listening:
        raise Skip("no units expected and no listening sockets read")
    for unit in units:
        state = facts.units.get(unit)
        if state is None:
            yield Fail(f"{unit} was not read by the host probe")
            continue
        active, enabled = state.get("active", "unknown"), state.get("enabled", "unknown")
        if active != "active" or enabled != "enabled":
            yield Fail(f"{unit} is {active} and {enabled}, want active and enabled")
    allowed = {int(p) for p in facts.expected.get("ports", [])}
    allowed |= {int(p) for p in ctx.thresholds.expected_extra_ports}
    allowed.add(int(ctx.thresholds.exporter_port))
    unexpected: dict[tuple[int, str], list[str]] = {}
    for sock in facts.listening:
        port = int(as_float(sock.get("port"), -1))
        if port in allowed or _loopback(sock.get("address", "")):
            continue
        unexpected.setdefault((port, sock.get("process") or "unknown process"), []).append(
            str(sock.get("address", "?"))
        )
    for (port, process), addresses in sorted(unexpected.items()):
        want = ", ".join(str(p) for p in sorted(allowed))
        yield Fail(
            f"port {port} ({process}) listens on {', '.join(addresses)}: not expected (expected: {want})"
        )


@check(
    "H-08",
    area="host",
    scope="host",
    severity=Severity.HIGH,
    title="Sentinel's config file is owned and writable by the user Sentinel runs as",
    rationale="Sentinel rewrites its config file on every state change (new primary, new epoch, peers "
    "discovered). When it cannot, the change is lost at its next restart and the sentinel comes back "
    "with an old view of the group.",
    bad="-r--r----- root redis /etc/redis/sentinel/sentinel.conf",
    good="-rw-r----- redis redis /etc/redis/sentinel/sentinel.conf",
    remediation="Rerun site.yml (owner redis_sentinel_user, mode 0640); by hand: "
    "chown redis: /etc/redis/sentinel/sentinel.conf && chmod 0640 /etc/redis/sentinel/sentinel.conf.",
    source="Redis docs, Sentinel (the configuration file must be writable: Sentinel rewrites it)",
)
def sentinel_config_writable(facts: HostFacts, ctx: Context):
    wanted = [f for f in facts.expected.get("files", []) if f.get("writable_by_owner")]
    if not wanted:
        raise Skip("no Sentinel config file is expected on this host")
    runs_as = sorted(
        {
            str(p.get("user"))
            for p in facts.processes
            if p.get("name") in ("redis-sentinel", "valkey-sentinel")
        }
    )
    seen = _files(facts)
    for want in wanted:
        path = want.get("path", "?")
        got = seen.get(path)
        if got is None or not got.get("exists"):
            yield Fail(
                f"{path} {'was not read' if got is None else 'does not exist'}: Sentinel cannot rewrite it"
            )
            continue
        owner = got.get("owner", "?")
        users = runs_as or [want.get("owner") or facts.expected.get("user", "")]
        for user in users:
            if user and owner != user:
                yield Fail(
                    f"{path} is owned by {owner}, but Sentinel runs as {user}: it cannot rewrite the file"
                )
        mode = _mode(got.get("mode"))
        if mode is None or not mode & 0o200:
            yield Fail(
                f"{path} mode {got.get('mode')} lacks the owner's write bit: Sentinel cannot rewrite it"
            )


@check(
    "H-09",
    area="host",
    scope="host",
    severity=Severity.MEDIUM,
    title="vm.swappiness keeps the kernel from swapping Redis out early",
    rationale="A command that touches a swapped-out page waits for the disk, and every client behind it "
    "on Redis's single thread waits too (H-03 finds pages already swapped). The kernel's default "
    "swappiness (60) swaps anonymous memory, Redis's whole dataset, out to keep page cache, long before "
    "memory runs short; 0 or 1 makes it swap only under real memory pressure, while swap still exists "
    "as a last resort instead of the OOM killer.",
    bad="vm.swappiness = 60  # the kernel's default",
    good="vm.swappiness = 1  # /etc/sysctl.d/",
    remediation="Rerun site.yml: the redis_server role writes vm.swappiness (redis_server_swappiness, "
    "default 1) to /etc/sysctl.d/60-redis.conf and loads it; live: sysctl -w vm.swappiness=1. In a "
    "container, set it on the machine that runs it. Threshold: swappiness_max.",
    source="Linux kernel docs, admin-guide/sysctl/vm (swappiness: how aggressively anonymous memory is "
    "swapped relative to page cache, default 60); Redis docs, latency (latency induced by swapping)",
)
def swappiness(facts: HostFacts, ctx: Context):
    text = str(facts.sysctl.get("vm.swappiness", "")).strip()
    if not text:
        raise Skip("vm.swappiness was not read")
    limit = ctx.thresholds.swappiness_max
    if as_float(text) > limit:
        yield Fail(
            f"vm.swappiness is {text} (above {limit}): the kernel swaps Redis's memory out to keep page "
            f"cache before memory runs short{_in_container(facts)}"
        )


@check(
    "H-10",
    area="host",
    scope="host",
    severity=Severity.MEDIUM,
    title="THP defrag is not always while Redis keeps transparent huge pages",
    rationale="With defrag always, a process that asks for a huge page and finds none free stalls in "
    "direct reclaim and compaction on the page fault itself: on Redis's thread, every client waits. It "
    "matters where Redis gets huge pages, which H-02 judges the same way: THP enabled always and a "
    "Redis without disable-thp yes (Redis 6.2+ and Valkey turn THP off for their own process at start "
    "unless disable-thp is no). With THP never or madvise, or disable-thp yes, Redis's memory never "
    "waits on this setting.",
    bad="/sys/kernel/mm/transparent_hugepage/enabled: [always]\n"
    "/sys/kernel/mm/transparent_hugepage/defrag: [always] defer defer+madvise madvise never\n"
    "disable-thp no",
    good="/sys/kernel/mm/transparent_hugepage/defrag: always defer defer+madvise madvise [never]\n"
    "or disable-thp yes (the default) on every Redis of the host",
    remediation="Keep redis_server_tune_kernel true and rerun site.yml (disable-thp.service writes never "
    "to enabled and defrag at boot); live: echo never > /sys/kernel/mm/transparent_hugepage/defrag. Or "
    "drop 'disable-thp no' from redis.conf and restart. In a container, set it on the machine that runs it.",
    source="Linux kernel docs, admin-guide/mm/transhuge (defrag always: an application requesting THP "
    "stalls on allocation failure and directly reclaims and compacts memory); redis.conf (disable-thp)",
)
def thp_defrag(facts: HostFacts, ctx: Context):
    enabled = str(facts.thp.get("enabled", "")).strip()
    defrag = str(facts.thp.get("defrag", "")).strip()
    if not enabled or not defrag:
        raise Skip("transparent_hugepage/enabled or defrag was not read")
    if defrag != "always" or enabled != "always":
        return
    if ctx.cluster is None or not any(r.host == facts.target for r in ctx.cluster.redis):
        raise Skip("no Redis instance of this host was read: nothing says whether it keeps huge pages")
    exposed, unknown = _thp_kept_by(facts, ctx)
    if not exposed:
        if unknown:
            raise Skip(f"THP is always; whether {', '.join(unknown)} disable it for themselves was not read")
        return
    yield Fail(
        f"transparent huge pages defrag is always and Redis keeps huge pages ({_thp_why(exposed)}): a page "
        f"fault can stall Redis in direct compaction{_in_container(facts)}"
    )
