"""The local lab: real Debian hosts (systemd, sshd, own address) on one Linux machine.

Each host is a systemd-nspawn container booted over its own overlay of one cached
base image, in its own network namespace, plugged into one bridge. See docs/lab.md
for the layout; ``plan.py`` holds the pure parts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from redisops.lab import plan as P
from redisops.lab import system as S
from redisops.output import progress

REQUIRED_TOOLS = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "mount": "mount",
}
SSH_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
GUARD_TABLE = "redisops_lab_guard"
MACHINE_LOCK = Path("/run/lock/redisops-lab.lock")


def _passwd_entry(root: Path, user: str) -> tuple[int, int, str] | None:
    """(uid, gid, home) of a user in the host's /etc/passwd."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and fields[0] == user:
            return int(fields[2]), int(fields[3]), fields[5]
    return None


def log(message: str) -> None:
    """A progress line (none with --quiet)."""
    progress(f"lab: {message}")


@dataclass(frozen=True)
class Lab:
    paths: P.LabPaths
    cache_dir: Path

    @classmethod
    def from_env(cls) -> Lab:
        return cls(P.LabPaths(P.state_dir_from_env()), P.cache_dir_from_env())

    # ----------------------------------------------------------------- preflight
    def preflight(self, tools: dict[str, str] = REQUIRED_TOOLS) -> None:
        if os.geteuid() != 0:
            raise P.LabError(
                "the lab needs root (it creates mounts, network namespaces and containers): "
                "run it as root, for example 'sudo .venv/bin/redisops lab up'"
            )
        missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
        if missing:
            names = ", ".join(t for t, p in tools.items() if p in missing and shutil.which(t) is None)
            raise P.LabError(
                f"missing {names}: install the Debian package(s) with 'apt-get install {' '.join(missing)}'"
            )
        if "overlay" not in Path("/proc/filesystems").read_text():
            S.run(["modprobe", "overlay"], check=False)
            if "overlay" not in Path("/proc/filesystems").read_text():
                raise P.LabError("the kernel has no overlayfs: load it with 'modprobe overlay'")

    def check_subnet(self, subnet: str) -> None:
        routes = json.loads(S.run(["ip", "-j", "-4", "route", "show"]) or "[]")
        clashes = P.overlapping_routes(subnet, routes)
        if clashes:
            raise P.LabError(
                f"the lab subnet {subnet} overlaps this machine's route(s) {', '.join(clashes)}: "
                "choose another private /24 with --subnet"
            )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One lab command at a time on this machine: the bridge, namespace and link
        names are machine-wide, whatever the state directory."""
        self.paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
        with open(MACHINE_LOCK, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise P.LabError("another 'redisops lab' command is running; wait for it") from None
            yield

    # --------------------------------------------------------------------- image
    def mirror(self, suite: str) -> str:
        override = os.environ.get("REDISOPS_LAB_MIRROR")
        if override:
            return override
        sources = {}
        for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
            with contextlib.suppress(OSError):
                sources[path.name] = path.read_text()
        mirror = P.debian_mirror(sources, suite)
        if not mirror:
            raise P.LabError("no Debian mirror found in /etc/apt/sources.list*: set REDISOPS_LAB_MIRROR=URL")
        return mirror

    def image_dir(self, spec: P.ImageSpec) -> Path:
        return self.cache_dir / "images" / P.image_cache_key(spec)

    def ensure_image(self, spec: P.ImageSpec) -> Path:
        """Build the base image on first use; reuse it until its package list changes."""
        target = self.image_dir(spec)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / ".lock", "w") as lock:
            # Two builds at once would share one scratch directory: the second waits.
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (target / ".redisops-image.json").is_file():
                return target
            return self._build_image(spec, target)

    def _build_image(self, spec: P.ImageSpec, target: Path) -> Path:
        partial = target.with_name(target.name + ".partial")
        # A killed build leaves debootstrap's proc/sys mounts behind: never delete through them.
        self._unmount_under(partial)
        shutil.rmtree(partial, ignore_errors=True)
        build_log = target.with_name(target.name + ".log")
        mirror = self.mirror(spec.suite)
        log(f"building image {target.name} with debootstrap from the Debian mirror (about a minute)")
        started = time.monotonic()
        cmd = [
            "debootstrap", "--variant=minbase", f"--include={','.join(spec.packages)}",
            spec.suite, str(partial), mirror,
        ]  # fmt: skip
        with open(build_log, "w") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0:
            tail = "".join(build_log.read_text().splitlines(keepends=True)[-15:])
            shutil.rmtree(partial, ignore_errors=True)
            raise P.LabError(f"debootstrap failed (exit {rc}); last lines of {build_log}:\n{tail}")
        if spec.backports:
            self._install_backports(partial, spec, mirror, build_log)
        self._prepare_image(partial, spec)
        (partial / ".redisops-image.json").write_text(
            json.dumps(
                {
                    "key": target.name,
                    "suite": spec.suite,
                    "backports": sorted(spec.backports),
                    "packages": sorted(spec.packages),
                    "built_seconds": round(time.monotonic() - started, 1),
                },
                indent=2,
            )
        )
        partial.rename(target)
        self._remove_stale_images(spec, keep=target)
        log(f"image {target.name} ready in {time.monotonic() - started:.0f} s")
        return target

    @staticmethod
    def _install_backports(root: Path, spec: P.ImageSpec, mirror: str, build_log: Path) -> None:
        """Packages only the suite's backports have (debootstrap's --extra-suites fails on
        minbase), installed with the image's own apt; nothing may start in the chroot."""
        source = root / "etc/apt/sources.list.d/redisops-backports.list"
        policy = root / "usr/sbin/policy-rc.d"
        source.write_text(f"deb {mirror} {spec.suite}-backports main\n")
        policy.write_text("#!/bin/sh\n# no service starts while the image is built\nexit 101\n")
        policy.chmod(0o755)
        script = (
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            f"--no-install-recommends {' '.join(f'{p}/{spec.suite}-backports' for p in spec.backports)}"
        )
        try:
            with open(build_log, "a") as out:
                rc = subprocess.run(
                    ["chroot", str(root), "sh", "-c", script],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                ).returncode
        finally:
            source.unlink(missing_ok=True)
            policy.unlink(missing_ok=True)
        if rc != 0:
            tail = "".join(build_log.read_text().splitlines(keepends=True)[-15:])
            shutil.rmtree(root, ignore_errors=True)
            raise P.LabError(
                f"installing {', '.join(spec.backports)} from backports failed (exit {rc}):\n{tail}"
            )
        # The hosts are offline: no package lists of a suite they cannot reach.
        for lists in (root / "var/lib/apt/lists").glob("*backports*"):
            lists.unlink()

    @staticmethod
    def _prepare_image(root: Path, spec: P.ImageSpec) -> None:
        for unit in spec.disabled_units:
            S.run(["systemctl", f"--root={root}", "disable", unit], check=False)
            # systemctl may be absent on the machine; remove the links it would remove.
            for link in (root / "etc/systemd/system").glob(f"*.wants/{unit}"):
                link.unlink()
        # Per-host identity is written at 'lab up': host keys, machine-id, hostname.
        for key in (root / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        (root / "etc/machine-id").write_text("")
        (root / "etc/hostname").write_text("localhost\n")
        # Real hosts are deployed as a user with sudo; one lab test connects like that.
        S.run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", P.DEPLOY_USER])
        sudoers = root / "etc/sudoers.d" / P.DEPLOY_USER
        sudoers.write_text(f"{P.DEPLOY_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n")
        sudoers.chmod(0o440)
        for deb in (root / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()

    def _remove_stale_images(self, spec: P.ImageSpec, keep: Path) -> None:
        in_use = S.read_mountinfo()
        for old in (self.cache_dir / "images").glob(f"{spec.name}-*"):
            if old != keep and old.is_dir() and str(old) not in in_use:
                log(f"removing outdated image {old.name}")
                shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------- network
    def ensure_bridge(self, address_plan: P.AddressPlan) -> None:
        if not S.links_named(S.run(["ip", "-j", "link"]), names=[P.BRIDGE]):
            S.run(["ip", "link", "add", P.BRIDGE, "type", "bridge"])
        cidr = f"{address_plan.gateway}/{address_plan.prefixlen}"
        if cidr not in S.run(["ip", "-4", "-o", "addr", "show", "dev", P.BRIDGE]):
            S.run(["ip", "addr", "flush", "dev", P.BRIDGE])
            S.run(["ip", "addr", "add", cidr, "dev", P.BRIDGE])
        S.run(["ip", "link", "set", P.BRIDGE, "up"])
        # Lab traffic stays between this machine and its hosts: if this machine
        # forwards packets, drop anything the lab would send beyond it.
        if Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1" and shutil.which("nft"):
            ruleset = (
                f"table inet {GUARD_TABLE}\ndelete table inet {GUARD_TABLE}\n"
                f"table inet {GUARD_TABLE} {{ chain forward {{ type filter hook forward priority -10;\n"
                f'iifname "{P.BRIDGE}" oifname != "{P.BRIDGE}" drop\n'
                f'oifname "{P.BRIDGE}" iifname != "{P.BRIDGE}" drop\n}} }}\n'
            )
            subprocess.run(["nft", "-f", "-"], input=ruleset, text=True, check=True, capture_output=True)

    def ensure_host_network(self, host: P.HostPlan, address_plan: P.AddressPlan) -> None:
        ns = host.netns
        cidr = f"{host.address}/{address_plan.prefixlen}"
        if ns in S.netns_names(P.NETNS_PREFIX):
            inside = S.run(["ip", "netns", "exec", ns, "ip", "-4", "-o", "addr", "show"], check=False)
            peer = S.links_named(S.run(["ip", "-j", "link"]), names=[host.veth])
            if cidr in inside and peer:
                self._plug(host)
                return
            self._delete_netns(ns)
        S.run(["ip", "netns", "add", ns])
        for stale in S.links_named(S.run(["ip", "-j", "link"]), names=[host.veth]):
            S.run(["ip", "link", "del", stale], check=False)
        S.run(
            [
                "ip",
                "link",
                "add",
                host.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "address",
                host.mac,
                "netns",
                ns,
            ]
        )
        self._plug(host)
        inns = ["ip", "netns", "exec", ns, "ip"]
        S.run([*inns, "link", "set", "lo", "up"])
        S.run([*inns, "addr", "add", cidr, "dev", "eth0"])
        S.run([*inns, "link", "set", "eth0", "up"])
        S.run([*inns, "route", "add", "default", "via", address_plan.gateway])

    @staticmethod
    def _plug(host: P.HostPlan) -> None:
        """Attach a host's link to the bridge (again, if the bridge was recreated)."""
        S.run(["ip", "link", "set", host.veth, "master", P.BRIDGE, "up"])

    @staticmethod
    def _delete_netns(name: str) -> None:
        S.run(["ip", "netns", "del", name], check=False)
        stale = Path("/run/netns") / name
        if stale.exists():
            with contextlib.suppress(OSError):
                S.run(["umount", "-l", str(stale)], check=False)
                stale.unlink()

    # --------------------------------------------------------------------- hosts
    def nspawn_pids(self) -> dict[str, int]:
        """host name -> pid of the systemd-nspawn that runs it."""
        found = S.containers_under(S.read_processes(), self.paths.hosts_dir)
        return {Path(root).parent.name: pid for pid, root in found.items()}

    def orphan_inits(self) -> dict[str, int]:
        """host name -> pid of a container init whose systemd-nspawn is gone.

        Killing nspawn with SIGKILL (as the end of a session does) leaves the
        container's systemd running; only its overlay root still names it.
        """
        managed = self.nspawn_pids()
        found = S.container_inits_under(self.paths.hosts_dir)
        inits = {Path(upper).parent.name: pid for pid, upper in found.items()}
        return {host: pid for host, pid in inits.items() if host not in managed}

    def ensure_overlay(self, host: P.HostPlan, image: Path) -> Path:
        hdir = self.paths.host_dir(host.name)
        meta = hdir / "host.json"
        if meta.is_file() and json.loads(meta.read_text()).get("image") != image.name:
            log(f"{host.name}: base image changed, recreating its disk")
            self._unmount_under(hdir)
            shutil.rmtree(hdir)
        root = hdir / "root"
        for sub in ("upper", "work", "root"):
            (hdir / sub).mkdir(parents=True, exist_ok=True)
        mounted = S.mounts_under(S.read_mountinfo(), root)
        if str(root) not in mounted:
            self._unmount_under(root)
            S.run(
                ["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={image},upperdir={hdir / 'upper'},workdir={hdir / 'work'}", str(root)]
            )  # fmt: skip
        meta.write_text(json.dumps({"image": image.name, "address": host.address}))
        return root

    def personalise(self, host: P.HostPlan, root: Path, address_plan: P.AddressPlan) -> None:
        """Write what makes a host itself: name, hosts file, machine-id, host keys, root's key."""
        (root / "etc/hostname").write_text(f"{host.name}\n")
        (root / "etc/hosts").write_text(P.host_file(address_plan))
        machine_id = root / "etc/machine-id"
        if not machine_id.read_text().strip():
            machine_id.write_text(secrets.token_hex(16) + "\n")
        if not (root / "etc/ssh/ssh_host_ed25519_key").exists():
            # -A with -f writes every missing host key type under that root.
            S.run(["ssh-keygen", "-A", "-f", str(root)])
        lab_key = self.paths.ssh_key.with_suffix(".pub").read_text().strip()
        self._authorize(root / "root", lab_key, 0, 0)
        deploy = _passwd_entry(root, P.DEPLOY_USER)
        if deploy is None:
            raise P.LabError(f"{host.name}: image lacks user {P.DEPLOY_USER}: 'redisops lab down', then up")
        self._authorize(root / deploy[2].lstrip("/"), lab_key, deploy[0], deploy[1])

    @staticmethod
    def _authorize(home: Path, key: str, uid: int, gid: int) -> None:
        """The lab's key is added, never written over: roles add keys of their own (the backup
        host's), and a host rebuilt on its old disk keeps them."""
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys = ssh_dir / "authorized_keys"
        lines = keys.read_text().splitlines() if keys.exists() else []
        if key not in lines:
            keys.write_text("\n".join([*lines, key]) + "\n")
        keys.chmod(0o600)
        for path in (ssh_dir, keys):
            os.chown(path, uid, gid)

    def boot(self, host: P.HostPlan, root: Path) -> int:
        console = self.paths.host_dir(host.name) / "console.log"
        cmd = [
            "systemd-nspawn", "-D", str(root), "--boot", "--register=no", "--keep-unit",
            f"--network-namespace-path=/run/netns/{host.netns}", "-M", host.netns,
            # CAP_BPF and the bpf() system call: systemd in the host enforces IPAddressAllow=/Deny=
            # (the exporters' units rely on it), as on a real host; without them it silently does not.
            "--capability=CAP_NET_ADMIN,CAP_BPF", "--system-call-filter=bpf",
            "--console=read-only", "--link-journal=no", "--resolv-conf=off", "--timezone=off",
        ]  # fmt: skip
        # The containers get the unified cgroup hierarchy (cgroup v2), as Debian 11 and later boot
        # with, even on a host that mounts the legacy or hybrid one: there, trixie's systemd 257 now
        # and then lost a freshly started unit's cgroup and failed to start it ("Failed to spawn
        # executor: No such file or directory", result 'resources').
        env = {**os.environ, "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
        with open(console, "ab") as out:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env=env,
            )  # fmt: skip
        return proc.pid

    def ensure_ssh_key(self) -> None:
        if not self.paths.ssh_key.exists():
            S.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "redisops-lab",
                   "-f", str(self.paths.ssh_key)])  # fmt: skip

    def write_known_hosts(self, address_plan: P.AddressPlan) -> None:
        lines = []
        for host in address_plan.all_hosts:
            pub = self.paths.host_dir(host.name) / "root/etc/ssh/ssh_host_ed25519_key.pub"
            keytype, key = pub.read_text().split()[:2]
            lines.append(f"{host.address},{host.name} {keytype} {key}")
        self.paths.known_hosts.write_text("\n".join(lines) + "\n")

    def ssh_command(self, address: str, command: list[str]) -> list[str]:
        return [
            "ssh",
            *P.ssh_options(self.paths),
            "-o",
            "ConnectTimeout=3",
            f"root@{address}",
            *command,
        ]

    def wait_for_ssh(self, address_plan: P.AddressPlan, timeout: float = SSH_TIMEOUT_S) -> None:
        pending = {h.name: h for h in address_plan.all_hosts}
        deadline = time.monotonic() + timeout
        while pending:
            for name, host in list(pending.items()):
                try:
                    probe = subprocess.run(
                        self.ssh_command(host.address, ["systemctl", "is-system-running", "--wait"]),
                        capture_output=True, text=True, timeout=30, check=False,
                    )  # fmt: skip
                except subprocess.TimeoutExpired:
                    continue
                # 'degraded' still means booted (some unit failed); ssh's own failures exit 255.
                if probe.returncode != 255 and probe.stdout.strip() in ("running", "degraded"):
                    del pending[name]
            if not pending:
                return
            if time.monotonic() > deadline:
                name = sorted(pending)[0]
                console = self.paths.host_dir(name) / "console.log"
                tail = "".join(console.read_text(errors="replace").splitlines(True)[-10:])
                raise P.LabError(
                    f"host(s) {', '.join(sorted(pending))} did not answer SSH within {timeout:.0f} s; "
                    f"last console lines of {name} ({console}):\n{tail}"
                )
            time.sleep(0.3)

    # ------------------------------------------------------------------ commands
    def build_image(self, image: str = P.DEFAULT_IMAGE) -> Path:
        spec = P.image_spec(image)
        self.preflight()
        return self.ensure_image(spec)

    def up(
        self,
        hosts: int | None = None,
        image: str | None = None,
        subnet: str | None = None,
        flavor: str | None = None,
        cluster_hosts: int | None = None,
    ) -> P.AddressPlan:
        """Bring the lab up. What is not given comes from the lab already there, else the defaults.

        The cluster lab's hosts (cluster-N) come and go without touching the others: a new
        count adds the hosts missing, or powers off and removes those beyond it.
        """
        # Bad arguments first, before the machine's tools are even looked at.
        if image is not None:
            P.image_spec(image)
        if subnet is not None or cluster_hosts is not None:
            P.address_plan(subnet or P.DEFAULT_SUBNET, hosts or P.DEFAULT_HOSTS, cluster_hosts or 0)
        if flavor is not None:
            P.check_flavor(flavor, "--flavor")
        self.preflight()
        state = P.load_state(self.paths) or {}
        hosts = hosts or len(state.get("hosts", [])) or P.DEFAULT_HOSTS
        image = image or state.get("image") or P.DEFAULT_IMAGE
        subnet = subnet or state.get("subnet") or P.DEFAULT_SUBNET
        # The inventory's server (the hosts carry both): changing it needs no new hosts.
        flavor = flavor or state.get("flavor") or P.DEFAULT_FLAVOR
        if cluster_hosts is None:
            cluster_hosts = len(state.get("cluster") or ())
        spec = P.image_spec(image)
        address_plan = P.address_plan(subnet, hosts, cluster_hosts)
        self.check_subnet(address_plan.subnet)
        with self.locked():
            if state and (state["subnet"], len(state["hosts"]), state["image"]) != (
                subnet,
                hosts,
                image,
            ):
                if self.nspawn_pids():
                    raise P.LabError(
                        f"a lab with {len(state['hosts'])} host(s), image {state['image']}, subnet "
                        f"{state['subnet']} is up: run 'redisops lab down' first to change it"
                    )
                self._teardown()
            self._remove_cluster_hosts_beyond(address_plan)
            image_dir = self.ensure_image(spec)
            self.ensure_ssh_key()
            self.ensure_bridge(address_plan)
            running, orphans = self.nspawn_pids(), self.orphan_inits()
            for host in address_plan.all_hosts:
                if host.name in orphans:
                    log(f"{host.name}: its container outlived systemd-nspawn; powering it off")
                    self._stop_pids([], [orphans[host.name]])
                self._ensure_host(host, address_plan, image_dir, running.get(host.name))
            self.write_known_hosts(address_plan)
            self._save_state(address_plan, image, flavor)
            self.wait_for_ssh(address_plan)
        log(f"{len(address_plan.all_hosts)} host(s) up on {address_plan.subnet}")
        return address_plan

    def rebuild(self, names: list[str]) -> P.AddressPlan:
        """Replace hosts with new ones: their disks go (data, configuration, host keys), then they
        boot fresh from the image at the same address, as a lost machine is replaced."""
        state = P.load_state(self.paths)
        if not state:
            raise P.LabError("no lab is up: 'redisops lab up' first")
        known = [h.name for h in P.plan_from_state(state).all_hosts]
        unknown = sorted(set(names) - set(known))
        if unknown or not names:
            raise P.LabUsageError(
                f"no lab host named {', '.join(unknown) or '(none)'}: the lab has {', '.join(known)}"
            )
        self.preflight()
        with self.locked():
            running, orphans = self.nspawn_pids(), self.orphan_inits()
            self._stop_pids(
                [running[n] for n in names if n in running], [orphans[n] for n in names if n in orphans]
            )
            for name in names:
                log(f"{name}: removing its disk; it comes back as a new host")
                self._unmount_under(self.paths.host_dir(name))
                shutil.rmtree(self.paths.host_dir(name), ignore_errors=True)
        return self.up()

    def _ensure_host(
        self, host: P.HostPlan, address_plan: P.AddressPlan, image: Path, pid: int | None
    ) -> None:
        root = self.paths.host_dir(host.name) / "root"
        meta = self.paths.host_dir(host.name) / "host.json"
        if pid is not None and meta.is_file() and json.loads(meta.read_text()).get("image") != image.name:
            log(f"{host.name}: runs on an outdated image; rebuilding it on {image.name}")
            self._stop_pids([pid], [])
            pid = None
        healthy = (
            pid is not None
            and str(root) in S.mounts_under(S.read_mountinfo(), root)
            and host.netns in S.netns_names(P.NETNS_PREFIX)
            and S.links_named(S.run(["ip", "-j", "link"]), names=[host.veth])
        )
        if healthy:
            self._plug(host)
            # Hosts added or removed beside it (the cluster lab's): it knows them by name.
            # (Written through the machine's mount of its disk: never through a symbolic link.)
            hosts_file = root / "etc/hosts"
            wanted = P.host_file(address_plan)
            if hosts_file.is_file() and not hosts_file.is_symlink() and hosts_file.read_text() != wanted:
                hosts_file.write_text(wanted)
            return
        if pid is not None:
            log(f"{host.name}: container is running without its mount or network; restarting it")
            self._stop_pids([pid], [])
        root = self.ensure_overlay(host, image)
        self.ensure_host_network(host, address_plan)
        self.personalise(host, root, address_plan)
        log(f"{host.name}: booting at {host.address}")
        self.boot(host, root)

    def _remove_cluster_hosts_beyond(self, address_plan: P.AddressPlan) -> None:
        """Power off and remove the cluster hosts the plan no longer has (their disks, namespaces
        and links), as 'lab down' would, and leave every other host running."""
        keep = {h.name for h in address_plan.cluster}
        state = P.load_state(self.paths) or {}
        known = {h["name"] for h in state.get("cluster") or ()}
        if self.paths.hosts_dir.is_dir():
            known |= {d.name for d in self.paths.hosts_dir.iterdir() if d.name.startswith(P.CLUSTER_PREFIX)}
        running, orphans = self.nspawn_pids(), self.orphan_inits()
        known |= {n for n in [*running, *orphans] if n.startswith(P.CLUSTER_PREFIX)}
        known |= {ns.removeprefix(P.NETNS_PREFIX) for ns in S.netns_names(P.NETNS_PREFIX + P.CLUSTER_PREFIX)}
        gone = sorted(known - keep, key=lambda n: (len(n), n))
        if not gone:
            return
        log(f"{', '.join(gone)}: powering off and removing (--cluster-hosts {len(keep)})")
        self._stop_pids(
            [running[n] for n in gone if n in running], [orphans[n] for n in gone if n in orphans]
        )
        # An nspawn killed after the timeout leaves its container's init behind: kill those too.
        inits = self._inits_of(gone)
        if inits:
            self._stop_pids([], list(inits.values()), timeout=5, first_signal=signal.SIGKILL)
        still = sorted({n for n in gone if n in self.nspawn_pids()} | set(self._inits_of(gone)))
        if still:
            raise P.LabError(
                f"{', '.join(still)} did not stop; nothing of them was removed. "
                "Run 'redisops lab up' again, or 'redisops lab down'"
            )
        links = S.links_named(S.run(["ip", "-j", "link"]), names=[P.VETH_PREFIX + n for n in gone])
        for name in gone:
            self._unmount_under(self.paths.host_dir(name))
            shutil.rmtree(self.paths.host_dir(name), ignore_errors=True)
            self._delete_netns(P.NETNS_PREFIX + name)
            if P.VETH_PREFIX + name in links:
                S.run(["ip", "link", "del", P.VETH_PREFIX + name], check=False)
            propagate = Path("/run/systemd/nspawn/propagate") / (P.NETNS_PREFIX + name)
            shutil.rmtree(propagate, ignore_errors=True)

    def _inits_of(self, names: list[str]) -> dict[str, int]:
        """host name -> pid of its container's init, for those of ``names`` that have one."""
        found = S.container_inits_under(self.paths.hosts_dir)
        return {
            Path(upper).parent.name: pid for pid, upper in found.items() if Path(upper).parent.name in names
        }

    def _save_state(self, address_plan: P.AddressPlan, image: str, flavor: str | None = None) -> None:
        previous = P.load_state(self.paths) or {}
        state = {
            "subnet": address_plan.subnet,
            "image": image,
            "flavor": flavor or previous.get("flavor") or P.DEFAULT_FLAVOR,
            "hosts": [{"name": h.name, "address": h.address} for h in address_plan.hosts],
            "extra": [{"name": h.name, "address": h.address} for h in address_plan.extra],
            "cluster": [{"name": h.name, "address": h.address} for h in address_plan.cluster],
        }
        self.paths.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def down(self) -> None:
        if os.geteuid() != 0:
            self.preflight(tools={})
        with self.locked():
            self._teardown()
        log("lab is down; nothing of it is left running")

    def _teardown(self) -> None:
        self._stop_pids(list(self.nspawn_pids().values()), list(self.orphan_inits().values()))
        # An nspawn killed after the timeout leaves its container's init behind: kill those too.
        leftover = list(S.container_inits_under(self.paths.hosts_dir))
        if leftover:
            self._stop_pids([], leftover, timeout=5, first_signal=signal.SIGKILL)
        still = sorted(self.nspawn_pids().values()) + sorted(S.container_inits_under(self.paths.hosts_dir))
        if still:
            raise P.LabError(
                f"lab processes {still} did not stop; nothing was unmounted or removed. "
                "Look at them (ps -p), then run 'redisops lab down' again"
            )
        self._unmount_under(self.paths.hosts_dir)
        for ns in S.netns_names(P.NETNS_PREFIX):
            self._delete_netns(ns)
        links = S.links_named(S.run(["ip", "-j", "link"]), names=[P.BRIDGE], prefixes=[P.VETH_PREFIX])
        for link in sorted(links, key=lambda n: n == P.BRIDGE):  # veths first, then the bridge
            S.run(["ip", "link", "del", link], check=False)
        if shutil.which("nft"):
            S.run(["nft", "delete", "table", "inet", GUARD_TABLE], check=False)
        propagate = Path("/run/systemd/nspawn/propagate")
        if propagate.is_dir():
            for leftover in propagate.glob(f"{P.NETNS_PREFIX}*"):
                shutil.rmtree(leftover, ignore_errors=True)
        shutil.rmtree(self.paths.hosts_dir, ignore_errors=True)
        for path in (self.paths.state_file, self.paths.known_hosts):
            path.unlink(missing_ok=True)

    @staticmethod
    def _stop_pids(
        nspawns: list[int], inits: list[int], timeout: float = STOP_TIMEOUT_S, first_signal: int | None = None
    ) -> None:
        """Power containers off cleanly, then SIGKILL whatever lingers.

        SIGTERM makes nspawn shut its container down; SIGRTMIN+3 asks an orphaned
        systemd to halt.
        """
        signals = [(p, first_signal or signal.SIGTERM) for p in nspawns]
        signals += [(p, first_signal or signal.SIGRTMIN + 3) for p in inits]
        for pid, sig in signals:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        pids = nspawns + inits
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(S.is_pid_alive(p) for p in pids):
            time.sleep(0.1)
        for pid in pids:
            if S.is_pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        # Reap our own children so they do not linger as zombies.
        for pid in pids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)

    def _unmount_under(self, prefix: Path) -> None:
        for point in S.mounts_under(S.read_mountinfo(), prefix):
            if subprocess.run(["umount", point], capture_output=True, check=False).returncode:
                S.run(["umount", "-l", point], check=False)

    def status(self) -> list[dict]:
        state = P.load_state(self.paths)
        if not state:
            return []
        address_plan = P.plan_from_state(state)
        running = set(self.nspawn_pids())
        mounts = S.mounts_under(S.read_mountinfo(), self.paths.hosts_dir)
        namespaces = S.netns_names(P.NETNS_PREFIX)
        rows = []
        for host in address_plan.all_hosts:
            root = str(self.paths.host_dir(host.name) / "root")
            ssh_ok = False
            if host.name in running:
                try:
                    probe = subprocess.run(
                        self.ssh_command(host.address, ["true"]), capture_output=True, timeout=15, check=False
                    )
                    ssh_ok = probe.returncode == 0
                except subprocess.TimeoutExpired:
                    ssh_ok = False
            rows.append(
                {
                    "host": host.name,
                    "address": host.address,
                    "container": host.name in running,
                    "mounted": root in mounts,
                    "netns": host.netns in namespaces,
                    "ssh": ssh_ok,
                }
            )
        return rows

    def address_of(self, name: str) -> str:
        state = P.load_state(self.paths)
        if not state:
            raise P.LabError("the lab is not up: bring it up with 'redisops lab up' (or 'make demo') first")
        address_plan = P.plan_from_state(state)
        for host in address_plan.all_hosts:
            if name in (host.name, host.address):
                return host.address
        known = ", ".join(h.name for h in address_plan.all_hosts)
        raise P.LabUsageError(f"no lab host {name!r}: the lab has {known}")
