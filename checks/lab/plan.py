"""The lab's plan: images, addresses, names and the inventory, as pure functions.

This module imports only the standard library, because the lab inventory script
(``inventories/lab/hosts.py``) imports it with whatever ``python3`` runs Ansible.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR = Path("/var/lib/redisops-lab")
DEFAULT_CACHE_DIR = Path("/var/cache/redisops-lab")
DEFAULT_SUBNET = "10.213.7.0/24"
DEFAULT_HOSTS = 3
DEFAULT_IMAGE = "bookworm"
# The server the lab inventory deploys (redis_server_flavor); REDISOPS_LAB_FLAVOR overrides it.
DEFAULT_FLAVOR = "redis"
# The lab's inventory script loads this file by path with any python3, so it cannot import
# redisops.core; tests/unit/test_core_choices.py holds this to the core's list.
FLAVORS = ("redis", "valkey")

BRIDGE = "rolab0"
NETNS_PREFIX = "rolab-"
VETH_PREFIX = "vrl-"
FIRST_HOST_OCTET = 11
HOST_PREFIX = "redis-"
# Hosts that run no Redis: the backup host (backups live off the Redis hosts), below the first.
BACKUP_HOST = "backup-1"
BACKUP_HOST_OCTET = 10
# The Redis Cluster lab's hosts (cluster-1 ... cluster-N), beside the Sentinel lab's on the same
# bridge and subnet, from .21 upwards; in their own inventory (inventories/lab-cluster).
FIRST_CLUSTER_OCTET = 21
CLUSTER_PREFIX = "cluster-"
MAX_CLUSTER_HOSTS = 40
# What the cluster inventory lists before 'lab up --cluster-hosts N' (so it can be linted).
DEFAULT_CLUSTER_HOSTS = 3
# Bumped whenever the way an image is prepared changes, so cached images are rebuilt.
IMAGE_RECIPE_VERSION = 2


class LabError(Exception):
    """A problem the operator can fix; the message says what and how."""


class LabUsageError(LabError):
    """A value given on the command line (or in REDISOPS_LAB_FLAVOR) that the lab cannot take:
    redisops exits 64 for it, as for any usage error."""


# The non-root user a real deployment connects as (sudo without a password, the lab's SSH key).
DEPLOY_USER = "deploy"


@dataclass(frozen=True)
class ImageSpec:
    name: str
    suite: str
    packages: tuple[str, ...]
    # Units shipped enabled by packages that must not run until a role says so,
    # or that would try to reach the network from an offline lab host.
    disabled_units: tuple[str, ...]
    # Packages from the suite's backports (installed with apt after debootstrap; the apt
    # source is removed again, the hosts being offline).
    backports: tuple[str, ...] = ()


# What later roles install is baked in: lab hosts cannot reach any mirror.
_COMMON_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "iproute2",
    "iputils-ping",
    "nftables",
    "procps",
    "ca-certificates",
    "logrotate",
    "prometheus-redis-exporter",
    "prometheus-node-exporter",
    # Real hosts are reached as a user with sudo, not as root: the lab has one (DEPLOY_USER).
    "sudo",
)
# Both servers on every image, so a host can run either and switch from one to the other.
_REDIS_PACKAGES = ("redis-server", "redis-sentinel", "redis-tools")
_VALKEY_PACKAGES = ("valkey-server", "valkey-sentinel", "valkey-tools")
_BASE_PACKAGES = _COMMON_PACKAGES + _REDIS_PACKAGES
_DISABLED_UNITS = (
    "redis-server.service",
    "redis-sentinel.service",
    "valkey-server.service",
    "valkey-sentinel.service",
    "prometheus-redis-exporter.service",
    "prometheus-node-exporter.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "nftables.service",
)

IMAGES: Mapping[str, ImageSpec] = {
    # Debian 12: Redis 7.0, and Valkey 8.0 from bookworm-backports (Redis 7 -> Valkey migrations).
    "bookworm": ImageSpec(
        "bookworm", "bookworm", _BASE_PACKAGES, _DISABLED_UNITS, backports=_VALKEY_PACKAGES
    ),
    # Debian 13: Redis 8.0 and Valkey 8.1.
    "trixie": ImageSpec("trixie", "trixie", _BASE_PACKAGES + _VALKEY_PACKAGES, _DISABLED_UNITS),
}


def image_spec(name: str) -> ImageSpec:
    try:
        return IMAGES[name]
    except KeyError:
        known = ", ".join(sorted(IMAGES))
        raise LabUsageError(f"unknown lab image {name!r}: choose one of {known} (--image)") from None


def image_cache_key(spec: ImageSpec, recipe_version: int = IMAGE_RECIPE_VERSION) -> str:
    """A key that changes when, and only when, what goes into the image changes.

    Package order and duplicates do not matter; the mirror does not either
    (any mirror serves the same suite).
    """
    material = {
        "suite": spec.suite,
        "packages": sorted(set(spec.packages)),
        "disabled_units": sorted(set(spec.disabled_units)),
        "recipe": recipe_version,
        **({"backports": sorted(set(spec.backports))} if spec.backports else {}),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return f"{spec.name}-{digest[:16]}"


@dataclass(frozen=True)
class HostPlan:
    name: str
    address: str
    netns: str
    veth: str

    @property
    def mac(self) -> str:
        """A fixed, locally administered MAC derived from the address.

        A host rebuilt by 'lab up' keeps its MAC, as a real NIC does, so its
        peers' ARP caches stay right.
        """
        octets = [int(o) for o in self.address.split(".")[1:]]
        return "02:72:6f:" + ":".join(f"{o:02x}" for o in octets)


@dataclass(frozen=True)
class AddressPlan:
    subnet: str
    prefixlen: int
    gateway: str
    hosts: tuple[HostPlan, ...]
    # Lab hosts outside the Redis groups (the backup host).
    extra: tuple[HostPlan, ...] = ()
    # The Redis Cluster lab's hosts: in no group of the Sentinel lab's inventory.
    cluster: tuple[HostPlan, ...] = ()

    @property
    def sentinel_lab_hosts(self) -> tuple[HostPlan, ...]:
        """The hosts of the Sentinel lab's inventory (inventories/lab): the backup host and redis-N."""
        return self.extra + self.hosts

    @property
    def all_hosts(self) -> tuple[HostPlan, ...]:
        """Every host the lab runs, the cluster lab's included."""
        return self.extra + self.hosts + self.cluster


def _host(name: str, address: str) -> HostPlan:
    return HostPlan(name=name, address=address, netns=f"{NETNS_PREFIX}{name}", veth=f"{VETH_PREFIX}{name}")


def address_plan(subnet: str = DEFAULT_SUBNET, count: int = DEFAULT_HOSTS, cluster: int = 0) -> AddressPlan:
    """Bridge on .1, the backup host on .10, Redis hosts from .11 upwards (redis-1 ... redis-N),
    the cluster lab's hosts from .21 upwards (cluster-1 ... cluster-M)."""
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise LabUsageError(f"--subnet {subnet!r} is not an IPv4 network like 10.213.7.0/24: {exc}") from None
    if not net.is_private:
        raise LabUsageError(
            f"--subnet {subnet} is not a private range: use one from 10/8, 172.16/12 or 192.168/16"
        )
    usable = net.num_addresses - 2
    if count < 1:
        raise LabUsageError(f"--hosts must be at least 1, not {count}")
    if cluster < 0:
        raise LabUsageError(f"--cluster-hosts must be 0 or more, not {cluster}")
    if usable < FIRST_HOST_OCTET - 1 + count:
        raise LabUsageError(f"--subnet {subnet} is too small for {count} hosts: use a /24")
    if count > 99:
        raise LabUsageError(f"--hosts {count} is more than this lab supports (99)")
    if cluster > MAX_CLUSTER_HOSTS:
        raise LabUsageError(f"--cluster-hosts {cluster} is more than this lab supports ({MAX_CLUSTER_HOSTS})")
    if cluster and usable < FIRST_CLUSTER_OCTET - 1 + cluster:
        raise LabUsageError(
            f"--subnet {subnet} is too small for --cluster-hosts {cluster} "
            f"(cluster hosts start at host number {FIRST_CLUSTER_OCTET}): use a /24"
        )
    if cluster and FIRST_HOST_OCTET - 1 + count >= FIRST_CLUSTER_OCTET:
        raise LabUsageError(
            f"--hosts {count} would reach the cluster hosts' addresses (from host number "
            f"{FIRST_CLUSTER_OCTET}): with --cluster-hosts, use at most "
            f"{FIRST_CLUSTER_OCTET - FIRST_HOST_OCTET} hosts"
        )
    base = int(net.network_address)

    def at(offset: int) -> str:
        return str(ipaddress.IPv4Address(base + offset))

    return AddressPlan(
        subnet=str(net),
        prefixlen=net.prefixlen,
        gateway=at(1),
        hosts=tuple(_host(f"{HOST_PREFIX}{i}", at(FIRST_HOST_OCTET - 1 + i)) for i in range(1, count + 1)),
        extra=(_host(BACKUP_HOST, at(BACKUP_HOST_OCTET)),),
        cluster=tuple(
            _host(f"{CLUSTER_PREFIX}{i}", at(FIRST_CLUSTER_OCTET - 1 + i)) for i in range(1, cluster + 1)
        ),
    )


def overlapping_routes(
    subnet: str, routes: Iterable[Mapping[str, object]], own_device: str = BRIDGE
) -> list[str]:
    """Routes (as ``ip -j route`` prints them) whose destination overlaps ``subnet``.

    The default route and the lab's own bridge route are not conflicts.
    """
    net = ipaddress.IPv4Network(subnet)
    clashes = []
    for route in routes:
        dst = str(route.get("dst", ""))
        if not dst or dst == "default" or route.get("dev") == own_device:
            continue
        try:
            other = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if other.version == 4 and other.overlaps(net):
            clashes.append(f"{dst} dev {route.get('dev', '?')}")
    return clashes


def host_file(plan: AddressPlan) -> str:
    """The /etc/hosts every lab host gets, so hosts know each other by name."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{h.address}\t{h.name}" for h in plan.all_hosts]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LabPaths:
    state_dir: Path

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def ssh_key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def hosts_dir(self) -> Path:
        return self.state_dir / "hosts"

    def host_dir(self, name: str) -> Path:
        return self.hosts_dir / name


def state_dir_from_env(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("REDISOPS_LAB_DIR", str(DEFAULT_STATE_DIR)))


def cache_dir_from_env(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("REDISOPS_LAB_CACHE", str(DEFAULT_CACHE_DIR)))


def host_key_options(paths: LabPaths) -> list[str]:
    """Host keys are checked strictly against the lab's own known_hosts: no prompts, no TOFU."""
    return [
        "-o", f"UserKnownHostsFile={paths.known_hosts}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", "LogLevel=ERROR",
    ]  # fmt: skip


def ssh_options(paths: LabPaths) -> list[str]:
    """Everything ``ssh`` needs to reach a lab host as root with the lab's key."""
    return ["-i", str(paths.ssh_key), "-o", "IdentitiesOnly=yes", *host_key_options(paths)]


def check_flavor(flavor: str, where: str) -> str:
    if flavor not in FLAVORS:
        raise LabUsageError(
            f"{where} {flavor!r} is not a server the kit deploys: choose one of {', '.join(FLAVORS)}"
        )
    return flavor


def lab_flavor(state: Mapping | None, environ: Mapping[str, str] = os.environ) -> str:
    """The lab inventory's redis_server_flavor: REDISOPS_LAB_FLAVOR, else what 'lab up --flavor' set."""
    if environ.get("REDISOPS_LAB_FLAVOR"):
        return check_flavor(environ["REDISOPS_LAB_FLAVOR"], "REDISOPS_LAB_FLAVOR")
    return (state or {}).get("flavor") or DEFAULT_FLAVOR


def _hostvars(hosts: Iterable[HostPlan], paths: LabPaths) -> dict:
    return {
        h.name: {
            "ansible_host": h.address,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(paths.ssh_key),
            "ansible_ssh_common_args": " ".join(host_key_options(paths)),
            "redisops_lab_netns": h.netns,
        }
        for h in hosts
    }


def _lab_vars(plan: AddressPlan, paths: LabPaths, flavor: str) -> dict:
    return {
        "redisops_lab_subnet": plan.subnet,
        "redisops_lab_control_address": plan.gateway,
        "redisops_lab_state_dir": str(paths.state_dir),
        "redis_server_flavor": flavor,
    }


def render_inventory(plan: AddressPlan, paths: LabPaths, flavor: str = DEFAULT_FLAVOR) -> dict:
    """The lab inventory in Ansible's JSON inventory form.

    The first host is the initial primary; every Redis host runs a sentinel; the last one
    also runs the scheduled compliance checks. The backup host runs no Redis: it takes the
    backups and keeps them. The cluster lab's hosts are not in it (render_cluster_inventory).
    """
    names = [h.name for h in plan.hosts]
    return {
        "_meta": {"hostvars": _hostvars(plan.sentinel_lab_hosts, paths)},
        "all": {
            "children": ["redis", "sentinel", "redis_compliance", "redis_backup"],
            "vars": _lab_vars(plan, paths, flavor),
        },
        "redis": {"hosts": names},
        "redis_primary": {"hosts": names[:1]},
        "redis_replicas": {"hosts": names[1:]},
        "sentinel": {"hosts": names},
        "redis_compliance": {"hosts": names[-1:]},
        "redis_backup": {"hosts": [h.name for h in plan.extra]},
    }


def render_cluster_inventory(plan: AddressPlan, paths: LabPaths, flavor: str = DEFAULT_FLAVOR) -> dict:
    """The Redis Cluster lab's inventory (cluster-1 ... cluster-N) in Ansible's JSON form.

    Every cluster host runs Redis; the last one also runs the scheduled compliance checks.
    Before 'lab up --cluster-hosts N' it lists the default 3 cluster hosts on the lab's
    subnet, so the inventory can be inspected and linted without them.
    """
    hosts = plan.cluster
    if not hosts:
        try:
            hosts = address_plan(plan.subnet, len(plan.hosts), DEFAULT_CLUSTER_HOSTS).cluster
        except LabUsageError:  # a lab too small or too full for them: nothing to list
            hosts = ()
    names = [h.name for h in hosts]
    return {
        "_meta": {"hostvars": _hostvars(hosts, paths)},
        "all": {"children": ["redis", "redis_compliance"], "vars": _lab_vars(plan, paths, flavor)},
        "redis": {"hosts": names},
        "redis_compliance": {"hosts": names[-1:]},
    }


def inventory_script(argv: list[str], render) -> int:
    """What an inventory script of the lab prints (inventories/lab/hosts.py, inventories/lab-cluster/
    hosts.py): ``render``'s inventory of the lab as it is, or one host's variables with --host."""
    paths = LabPaths(state_dir_from_env())
    state = load_state(paths)
    inventory = render(plan_from_state(state), paths, lab_flavor(state))
    if len(argv) > 2 and argv[1] == "--host":
        print(json.dumps(inventory["_meta"]["hostvars"].get(argv[2], {})))
    else:
        print(json.dumps(inventory, indent=2))
    return 0


def load_state(paths: LabPaths) -> dict | None:
    try:
        return json.loads(paths.state_file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LabError(
            f"lab state {paths.state_file} is unreadable ({exc}): run 'redisops lab down'"
        ) from None


def plan_from_state(state: Mapping | None) -> AddressPlan:
    if not state:
        return address_plan()
    return address_plan(state["subnet"], len(state["hosts"]), len(state.get("cluster") or ()))


_SUITE_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)((?:\s+\S+)*)")


def debian_mirror(source_files: Mapping[str, str], suite: str) -> str | None:
    """The Debian mirror the machine's own apt sources use for ``suite``'s family.

    Reads one-line (``*.list``) and deb822 (``*.sources``) files, ignores disabled or
    backup files, third-party repositories (no Debian suite with the ``main``
    component) and non-HTTP URIs, skips security archives, and prefers a mirror that
    lists the suite itself.
    """
    candidates: list[tuple[str, list[str], list[str]]] = []
    for name, text in sorted(source_files.items()):
        if name.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.lstrip().startswith("#"):
                        key, _, value = line.partition(":")
                        fields[key.strip().lower()] = value.strip()
                if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
                    continue
                for uri in fields.get("uris", "").split():
                    candidates.append(
                        (uri, fields.get("suites", "").split(), fields.get("components", "").split())
                    )
        elif name.endswith(".list"):
            for line in text.splitlines():
                m = _SUITE_LINE.match(line)
                if m:
                    candidates.append((m.group(1), [m.group(2)], m.group(3).split()))
    debian = [
        (uri, suites)
        for uri, suites, components in candidates
        if uri.startswith(("http://", "https://"))
        and "security" not in uri
        and "main" in components
        and any(s.split("-")[0] in KNOWN_SUITES for s in suites)
    ]
    for uri, suites in debian:
        if suite in suites:
            return uri.rstrip("/")
    return debian[0][0].rstrip("/") if debian else None


KNOWN_SUITES = {"bullseye", "bookworm", "trixie", "forky", "sid", "stable", "testing", "unstable"}
