"""Failover drills: a real fault against the deployed group, under load, measured.

Each run: preflight (abort unless healthy), start the workload and the sentinel watchers,
inject the fault, observe, heal (always, also on Ctrl-C), verify (one primary, sentinels
agree, the old primary rejoined, the same data on every node), then judge the history.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redisops.collection import NAME, NAMESPACE, ansible_env
from redisops.compliance.server import identify
from redisops.core import health, profiles, switchover, topology
from redisops.drills.observe import EventObserver, Hosts
from redisops.drills.targets import DrillTargets, Node
from redisops.drills.verdict import Expectations, GroupState, Recording, verdict
from redisops.drills.workload import Workload, read_final

WARMUP_S = 2.0
COOLDOWN_S = 2.0
# A replica further behind than this before the fault would make the loss measured meaningless.
MAX_LAG_BYTES = 1_000_000


class DrillAborted(Exception):
    """The group was not healthy enough to start (or to trust what followed)."""


# ---- reading the group ------------------------------------------------------------------


def admin(t: DrillTargets, node: Node, timeout: float = 3.0, **extra) -> redis.Redis:
    return redis.Redis(
        host=node.address, port=node.port, socket_timeout=timeout, socket_connect_timeout=timeout,
        decode_responses=True, **t.redis_kwargs(t.admin), **extra,
    )  # fmt: skip


def sentinel_admin(t: DrillTargets, node: Node, **extra) -> redis.Redis:
    return redis.Redis(
        host=node.address, port=node.port, socket_timeout=2, socket_connect_timeout=2,
        decode_responses=True, **t.redis_kwargs(t.sentinel_admin), **extra,
    )  # fmt: skip


def _ask(make: Callable[[], redis.Redis], call: Callable[[redis.Redis], object]):
    client = make()
    try:
        return call(client)
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def sentinel_views(t: DrillTargets, clients: list[redis.Redis] | None = None) -> dict[str, str | None]:
    """Each sentinel's primary for the group ('ip:port'), None when it does not answer; over
    ``clients`` (kept connections, one per sentinel in order) when given, else new ones."""

    def ask(client: redis.Redis):
        return client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", t.group)

    out = {}
    for i, node in enumerate(t.sentinels):
        if clients is None:
            addr = _ask(lambda n=node: sentinel_admin(t, n), ask)
        else:
            try:
                addr = ask(clients[i])
            except (redis.RedisError, OSError):
                addr = None
        out[node.addr] = f"{addr[0]}:{addr[1]}" if addr else None
    return out


def agreed_primary(t: DrillTargets) -> str | None:
    """The primary every answering sentinel names, if they agree."""
    return topology.agreement(sentinel_views(t)).agreed


def server_roles(t: DrillTargets) -> dict[str, dict]:
    """INFO replication of every server ({} when it does not answer)."""
    return {n.addr: _ask(lambda n=n: admin(t, n), lambda c: c.info("replication")) or {} for n in t.servers}


def node_servers(t: DrillTargets) -> list[dict]:
    """Which server (flavour, version) each server and sentinel of the group runs, from its INFO."""
    out = []
    for kind, nodes, connect in (("server", t.servers, admin), ("sentinel", t.sentinels, sentinel_admin)):
        for node in nodes:
            info = _ask(lambda n=node, make=connect: make(t, n), lambda c: c.info("server")) or {}
            server = identify(info)
            label = str(server) if info else "did not answer"
            out.append(
                {"host": node.host, "addr": node.addr, "kind": kind, "label": label, **server.to_dict()}
            )
    return out


def ckquorum(t: DrillTargets) -> dict[str, str]:
    out = {}
    for node in t.sentinels:
        client = sentinel_admin(t, node)
        try:
            out[node.addr] = str(client.execute_command("SENTINEL", "CKQUORUM", t.group))
        except (redis.RedisError, OSError) as exc:
            out[node.addr] = f"ERROR {exc}"
        finally:
            client.close()
    return out


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def healthy(t: DrillTargets) -> list[str]:
    """Why the group is not in a state to drill on (empty when it is): the kit's judgement of a
    group's health (redisops.core.health) on each sentinel's CKQUORUM and primary and every
    server's INFO replication. A sentinel that does not answer fails its CKQUORUM."""
    named, quorum = sentinel_views(t), ckquorum(t)
    sentinels = [health.SentinelView(addr, primary=named.get(addr), ckquorum=quorum[addr]) for addr in quorum]
    servers = [health.ServerView.from_info(addr, info) for addr, info in server_roles(t).items()]
    return health.judge(t.group, sentinels, servers, max_lag_bytes=MAX_LAG_BYTES).messages


def data_digest(t: DrillTargets, node: Node, pattern: str) -> str:
    """The content digest of the drill's keys: the backup drill's (type-aware, binary-safe,
    computed from the contents: DEBUG DIGEST is off)."""
    from redisops.backup.digest import digest

    client = redis.Redis(
        host=node.address, port=node.port, socket_timeout=10, socket_connect_timeout=3.0,
        **t.redis_kwargs(t.admin),
    )  # fmt: skip
    try:
        found = digest(client, pattern)
        return f"{found['keys']} keys, sha256 {found['sha256'][:16]}"
    finally:
        client.close()


# ---- scenarios --------------------------------------------------------------------------


@dataclass
class Run:
    """What a scenario works with during one run."""

    t: DrillTargets
    hosts: Hosts
    old: Node
    clock: Callable[[], float]
    observer: EventObserver
    say: Callable[[str], None]
    notes: dict
    # Set by a scenario BEFORE it breaks anything, so a failure halfway still heals.
    heal: Callable[[], None] | None = None
    fault_at: float | None = None  # the middle of the fault command's round trip

    def fault(self, host: str, command: str, check: bool = True) -> None:
        """Run the command that breaks something, and stamp when it happened."""
        before = self.clock()
        try:
            self.hosts.run(host, command, check=check)
        finally:
            self.fault_at = (before + self.clock()) / 2

    def deadman(self, host: str, command: str) -> None:
        """On the host itself, heal anyway in 3 minutes if the drill dies (SIGKILL, lost
        network): a transient systemd timer, cancelled after a normal heal."""
        unit = f"redisops-drill-heal-{uuid.uuid4().hex[:8]}"
        self.hosts.run(
            host, f"systemd-run --quiet --on-active=180 --unit={unit} /bin/sh -c {_quote(command)}"
        )
        self.notes.setdefault("deadman", []).append((host, unit))


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    expect: Expectations  # what a run must show: judged by verdict.verdict, a pure function
    inject: Callable[[Run], None]  # sets run.heal first, then breaks something
    needs_power_on: bool = False  # the heal powers a host back on (redis_drill_power_on_command)
    # After the fault of a scenario without failover: how long to keep the load on before the heal.
    hold_s: float = 2.0

    @property
    def expects_failover(self) -> bool:
        return self.expect.failover

    @property
    def zero_loss(self) -> str:
        """ "all": no acknowledged write may be lost; "waited": no WAIT-confirmed one; "": either may."""
        if not self.expect.acked_loss:
            return "all"
        return "" if self.expect.waited_loss else "waited"


def _signal_command(unit: str, signal: str) -> str:
    """A signal to the unit's main process, with ordinary tools (kill, systemctl show)."""
    return f'pid=$(systemctl show -p MainPID --value {unit}); [ "$pid" -gt 0 ] && kill -s {signal} "$pid"'


def _unit_signal(run: Run, host: str, signal: str, unit: str | None = None) -> None:
    run.hosts.run(host, _signal_command(unit or run.t.unit, signal))


def _start_unit(run: Run, host: str, unit: str) -> None:
    run.hosts.run(host, f"systemctl start {unit}")


def _kill_primary(run: Run) -> None:
    run.heal = lambda: _start_unit(run, run.old.host, run.t.unit)
    run.deadman(run.old.host, f"systemctl start {run.t.unit}")
    run.say(f"fault: SIGKILL {run.t.unit} on {run.old.host}")
    run.fault(run.old.host, _signal_command(run.t.unit, "KILL"))


def _hang_primary(run: Run) -> None:
    run.heal = lambda: _unit_signal(run, run.old.host, "CONT")
    run.deadman(run.old.host, _signal_command(run.t.unit, "CONT"))
    run.say(f"fault: SIGSTOP {run.t.unit} on {run.old.host}")
    run.fault(run.old.host, _signal_command(run.t.unit, "STOP"))


def _stop_sentinels(run: Run, count: int) -> list[str]:
    """Stop ``count`` sentinels, on other hosts than the primary's first."""
    others = [n.host for n in run.t.sentinels if n.host != run.old.host]
    chosen = [*others, run.old.host][:count]
    run.notes["sentinels_stopped"] = chosen

    def heal():
        # Every step, even when one fails: a sentinel must never be left stopped.
        errors = []
        for host, unit in [(run.old.host, run.t.unit), *((h, run.t.sentinel_unit) for h in chosen)]:
            try:
                _start_unit(run, host, unit)
            except Exception as exc:
                errors.append(f"{host}: start {unit}: {exc}")
        if errors:
            raise RuntimeError("; ".join(errors))

    run.heal = heal
    run.deadman(run.old.host, f"systemctl start {run.t.unit}")
    for host in chosen:
        run.deadman(host, f"systemctl start {run.t.sentinel_unit}")
    for host in chosen:
        run.hosts.run(host, f"systemctl stop {run.t.sentinel_unit}")
    run.notes["sentinels_stopped"] = chosen
    return chosen


def _sentinel_loss(count: int):
    def inject(run: Run):
        stopped = _stop_sentinels(run, count)
        run.say(
            f"fault: sentinels stopped on {', '.join(stopped)}; then SIGKILL {run.t.unit} on {run.old.host}"
        )
        run.fault(run.old.host, _signal_command(run.t.unit, "KILL"))
        if len(run.t.sentinels) - count < topology.majority(len(run.t.sentinels)):
            # No majority left: there must be no failover, and CKQUORUM must say so.
            time.sleep(run.t.down_after_ms / 1000 + 3)
            run.notes["ckquorum_during_fault"] = ckquorum(run.t)

    return inject


def _partition(client_with_primary: bool):
    def inject(run: Run):
        peers = sorted({n.address for n in [*run.t.servers, *run.t.sentinels] if n.host != run.old.host})
        rules = [
            "add table inet redisops_drill",
            "add chain inet redisops_drill input { type filter hook input priority -10 ; policy accept ; }",
            "add chain inet redisops_drill output { type filter hook output priority -10 ; policy accept ; }",
            f"add rule inet redisops_drill input ip saddr {{ {', '.join(peers)} }} drop",
            f"add rule inet redisops_drill output ip daddr {{ {', '.join(peers)} }} drop",
        ]
        side = "the client on its side"
        if not client_with_primary:
            # The control node (the client) joins the majority; SSH stays, so the heal can reach it.
            control = run.hosts.run(run.old.host, "echo $SSH_CLIENT").split()[0]
            ports = sorted({run.old.port, *(n.port for n in run.t.sentinels if n.host == run.old.host)})
            dports = ", ".join(map(str, ports))
            rules.append(
                f"add rule inet redisops_drill input ip saddr {control} tcp dport {{ {dports} }} drop"
            )
            side = "the client with the majority"
        run.heal = lambda: run.hosts.run(run.old.host, _NFT_HEAL)
        run.deadman(run.old.host, _NFT_HEAL)
        run.say(f"fault: {run.old.host} cut off from {', '.join(peers)} ({side})")
        script = "\n".join(rules) + "\n"
        run.fault(run.old.host, f"printf '%s' {_quote(script)} | nft -f -")
        # Long enough for the old primary to stop taking writes (min-replicas-max-lag).
        time.sleep(max(run.t.down_after_ms / 1000, run.t.min_replicas_max_lag) + 4)

    return inject


_NFT_HEAL = (
    "nft list table inet redisops_drill >/dev/null 2>&1 && nft delete table inet redisops_drill || true"
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class _Primary:
    """core.switchover's primary, over redis-py from the control machine."""

    def __init__(self, client: redis.Redis):
        self.client = client

    def replication(self) -> dict[str, str]:
        info = self.client.info("replication")
        return {
            k: ",".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v)
            for k, v in info.items()
        }

    def config_get(self, name: str) -> str:
        return str(self.client.config_get(name).get(name, ""))

    def call(self, *args: str) -> None:
        self.client.execute_command(*args)


class _Sentinels:
    """core.switchover's Sentinel: the primary every answering sentinel names (clients ask any
    of them); the failover asked of the first, which is timed and ended through it."""

    def __init__(self, t: DrillTargets):
        self.t = t
        # No retries: a SENTINEL FAILOVER sent again answers INPROG (core.switchover asks
        # Sentinel what happened when an answer is lost), and a slow poll must not outlast the pause.
        self.clients = [sentinel_admin(t, node, retry=Retry(NoBackoff(), 0)) for node in t.sentinels]
        self.leader = self.clients[0]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def primary(self, group: str) -> tuple[str, str] | None:
        agreed = topology.agreement(sentinel_views(self.t, self.clients)).agreed
        return tuple(agreed.rsplit(":", 1)) if agreed else None

    def failover(self, group: str) -> str:
        try:
            return str(self.leader.execute_command("SENTINEL", "FAILOVER", group))
        except redis.ResponseError as exc:
            return str(exc)

    def master(self, group: str) -> dict[str, str]:
        return switchover.record(self.leader.execute_command("SENTINEL", "MASTER", group))

    def replicas(self, group: str) -> list[dict[str, str]]:
        return [switchover.record(r) for r in self.leader.execute_command("SENTINEL", "REPLICAS", group)]

    def set(self, group: str, option: str, value: str) -> None:
        self.leader.execute_command("SENTINEL", "SET", group, option, value)

    def debug(self, *args: str) -> dict[str, str]:
        return switchover.record(self.leader.execute_command("SENTINEL", "DEBUG", *args))


def _manual_failover(run: Run):
    """The kit's planned switchover (core/switchover.py, as the redis_switchover module runs it):
    the failover timed to Sentinel's INFO, writes paused, replicas caught up, SENTINEL FAILOVER,
    the failover ended once the promotion is seen, old primary demoted at once."""
    t = run.t
    named = {"client_name": switchover.CLIENT_NAME}  # as the module's: PRF-01 knows it
    client = admin(t, run.old, timeout=5, **named)
    sentinels = _Sentinels(t)
    replicas: list[redis.Redis] = []

    def server(ip: str, port: str) -> _Primary:
        replicas.append(admin(t, Node(host=ip, address=ip, port=int(port)), timeout=5, **named))
        return _Primary(replicas[-1])

    run.say(f"fault: CLIENT PAUSE WRITE on {run.old.host}, then SENTINEL FAILOVER {t.group}")
    try:
        done = switchover.switch_over(
            _Primary(client), sentinels, t.group, run.old.address, len(t.servers) - 1,
            server=server, timed=t.switchover_timed, on_pause=lambda: setattr(run, "fault_at", run.clock()),
        )  # fmt: skip
        run.notes["switchover"] = done
    except switchover.SwitchoverError as exc:
        raise DrillAborted(f"switchover: {exc}") from None
    finally:
        for c in (client, *replicas):
            c.close()
        sentinels.close()


def _power_on(run: Run, host: str) -> None:
    command = run.t.power_on_command.replace("{host}", host)
    try:
        proc = subprocess.run(shlex.split(command), capture_output=True, text=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"power-on command {command!r}: {exc}") from None
    if proc.returncode != 0:
        raise RuntimeError(
            f"power-on command {command!r} failed (exit {proc.returncode}): {proc.stderr[-300:]}"
        )


def _poweroff_primary(run: Run) -> None:
    run.heal = lambda: _power_on(run, run.old.host)
    run.say(f"fault: power off {run.old.host} (systemctl poweroff)")
    # The SSH session dies with the host: its exit status says nothing.
    run.fault(run.old.host, "systemctl poweroff", check=False)


def _replica_loss(run: Run):
    replica = next(n for n in run.t.servers if n.addr != run.old.addr)
    run.notes["replica"] = replica.addr
    run.heal = lambda: _start_unit(run, replica.host, run.t.unit)
    run.deadman(replica.host, f"systemctl start {run.t.unit}")
    run.say(f"fault: SIGKILL {run.t.unit} on replica {replica.host}")
    run.fault(replica.host, _signal_command(run.t.unit, "KILL"))
    time.sleep(run.t.down_after_ms / 1000 + 2)


# A killed process is one instant (docs/drills.md): promotion within down-after + the margin, and
# the bench's error windows (docs/benchmarks.md) well within down-after + 4 s. A hang, a
# partition or a power-off takes effect over a moment (sockets stall, rules load, an orderly
# shutdown): 3 s more to promote.
_KILLED = Expectations(error_window_margin_s=4.0)
_GRADUAL = Expectations(promote_slack_s=3.0)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("kill-primary", "SIGKILL the primary's server process", _KILLED, _kill_primary),
        Scenario(
            "hang-primary", "SIGSTOP the primary, resume it after the failover", _GRADUAL, _hang_primary
        ),
        Scenario(
            "partition-primary",
            "cut the primary's host off from the other hosts, the client still reaching it",
            # The client keeps writing to the old primary until min-replicas-max-lag: WAIT
            # confirms some of those writes from nowhere the new primary sees (Jepsen's case).
            replace(_GRADUAL, waited_loss=True, fenced=True),
            _partition(client_with_primary=True),
        ),
        Scenario(
            "partition-primary-alone",
            "cut the primary's host off from the other hosts and from the client",
            _GRADUAL,
            _partition(client_with_primary=False),
        ),
        Scenario(
            "manual-failover",
            "SENTINEL FAILOVER with writes paused first",
            Expectations(promote_slack_s=None, acked_loss=False),
            _manual_failover,
        ),
        Scenario(
            "sentinel-minority-loss",
            "one sentinel down, then SIGKILL the primary",
            _KILLED,
            _sentinel_loss(1),
        ),
        Scenario(
            "sentinel-majority-loss",
            "two sentinels down, then SIGKILL the primary: no failover may happen",
            Expectations(failover=False, lost_majority=True),
            _sentinel_loss(2),
        ),
        Scenario(
            "replica-loss",
            "SIGKILL a replica, then start it again",
            Expectations(failover=False),
            _replica_loss,
            hold_s=0.0,  # the fault waits itself
        ),
        Scenario(
            "poweroff-primary",
            "power off the primary's whole host, then power it on",
            _GRADUAL,
            _poweroff_primary,
            needs_power_on=True,
        ),
        Scenario("loop", "kill-primary, --runs times in a row", _KILLED, _kill_primary),
    )
}


# ---- one run ------------------------------------------------------------------------------


def _final_state(t: DrillTargets, node: Node, keys) -> dict:
    client = admin(t, node, timeout=10)
    try:
        return read_final(client, keys)
    finally:
        client.close()


def _fence_closes(t: DrillTargets, primary: Node) -> float | None:
    """Within how many seconds the primary, as it runs, refuses writes once cut off from its
    replicas (core.profiles.fence_closes_s over its live min-replicas-to-write and -max-lag);
    None when nothing fences it (or it did not answer)."""
    config = _ask(lambda: admin(t, primary), lambda c: c.config_get("min-replicas-*")) or {}
    try:
        to_write, lag = int(config["min-replicas-to-write"]), int(config["min-replicas-max-lag"])
    except (KeyError, TypeError, ValueError):
        return None
    closes = profiles.fence_closes_s(to_write, lag)
    return None if closes is None else float(closes)


def _node_info(t: DrillTargets) -> dict[str, dict]:
    """Each server's role, offsets and resync counters (INFO), before and after a run."""
    out = {}
    keys = (
        "role",
        "master_repl_offset",
        "sync_full",
        "sync_partial_ok",
        "sync_partial_err",
        "uptime_in_seconds",
    )
    for node in t.servers:
        info = _ask(lambda n=node: admin(t, n), lambda c: c.info()) or {}
        out[node.addr] = {key: info.get(key, 0) for key in keys}
    return out


class HealFailed(Exception):
    """The heal itself failed: the group may still be broken; the message says what to undo."""


def _heal(run: Run) -> float:
    """Undo the fault; when it took effect (the middle of the attempt that worked, as Run.fault
    stamps the fault), before the timers left on the hosts are cancelled."""
    for attempt in range(3):
        before = run.clock()
        try:
            run.heal()
            healed_at = (before + run.clock()) / 2
            break
        except Exception as exc:
            if attempt == 2:
                timers = run.notes.get("deadman")
                raise HealFailed(f"{exc}; the timers left on the hosts ({timers}) heal in 3 minutes") from exc
            time.sleep(2)
    for host, unit in run.notes.get("deadman", []):
        run.hosts.run(host, f"systemctl stop {unit}.timer {unit}.service 2>/dev/null || true", check=False)
    return healed_at


def _unlink_matching(client: redis.Redis, pattern: str) -> int:
    """UNLINK every key matching ``pattern`` (SCAN MATCH, in batches of 500)."""
    keys = list(client.scan_iter(match=pattern, count=1000))
    for i in range(0, len(keys), 500):
        client.unlink(*keys[i : i + 500])
    return len(keys)


def remove_keys(t: DrillTargets, pattern: str, say: Callable[[str], None] | None = None) -> list[str]:
    """The drill's keys (``pattern``) deleted on every server that answers as a primary: a drill
    leaves no data behind, also when it failed or was interrupted.

    For a ``finally``: best effort, never raising an Exception over the error that ended the
    drill. Returns what went wrong (and says it, with the pattern, so the keys can be removed
    by hand); empty when the keys are gone."""
    problems, primaries = [], 0
    for node in t.servers:
        client = None
        try:
            client = admin(t, node)
            if client.info("replication").get("role") != "master":
                continue
            primaries += 1
            _unlink_matching(client, pattern)
        except Exception as exc:
            problems.append(f"{node.addr}: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
    if not primaries and not problems:
        problems.append("no server answered as primary")
    if problems and say is not None:
        with contextlib.suppress(Exception):
            say(
                f"the drill's keys {pattern} may be left behind ({'; '.join(problems)}): "
                "delete them on the primary with SCAN MATCH and UNLINK"
            )
    return problems


def high_findings(t: DrillTargets) -> list[str]:
    """The compliance checks' findings at high or critical (waivers applied): a drill on a
    group that is already wrong would measure the wrong thing."""
    from redisops.compliance.engine import run_checks
    from redisops.compliance.gather import gather
    from redisops.compliance.model import Severity
    from redisops.compliance.settings import thresholds
    from redisops.compliance.waivers import parse_waivers
    from redisops.inventory import from_inventory

    targets = from_inventory(t.inventory)
    limits = thresholds(targets.thresholds)
    report = run_checks(gather(targets, limits), limits, parse_waivers(targets.waivers))
    return [f"{r.check_id} {r.target}: {r.message}" for r in report.failing(Severity.HIGH) + report.errors()]


def run_once(
    t: DrillTargets,
    scenario: Scenario,
    number: int,
    say: Callable[[str], None],
    site_check: bool = False,
    promote_margin_s: float = 2.0,
    preflight_checks: bool = True,
) -> dict:
    problems = healthy(t)
    if not problems and preflight_checks:
        problems = high_findings(t)
    if problems:
        raise DrillAborted("preflight: " + "; ".join(problems))
    old_addr = agreed_primary(t)
    old = t.server_at(old_addr)
    nodes = node_servers(t)
    running = ", ".join(sorted({n["label"] for n in nodes}))
    say(f"run {number}: preflight OK; primary {old.host} ({old_addr}); the group runs {running}")
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    run_id = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    hosts = Hosts(t.inventory)
    observer = EventObserver(t, clock).start()
    workload = Workload(t, run_id, clock).start()
    # From here on the workload writes: its keys go in the finally, whatever happens (an
    # error, a failed heal, Ctrl-C), once no worker writes any more.
    try:
        run = Run(t, hosts, old, clock, observer, say, notes={})
        healed_at = None
        info_before = _node_info(t)
        fence_closes = _fence_closes(t, old)
        try:
            time.sleep(WARMUP_S)
            started_fault = clock()
            try:
                scenario.inject(run)
            finally:
                run.fault_at = run.fault_at if run.fault_at is not None else started_fault
            fault_at = run.fault_at
            if scenario.expects_failover:
                budget = t.down_after_ms / 1000 + min(10, t.failover_timeout_ms / 1000) + 5
                promoted = wait_until(lambda: observer.seen("+switch-master", fault_at), budget)
                say(f"promoted: {promoted['detail']}" if promoted else f"no promotion within {budget:.0f} s")
            else:
                time.sleep(scenario.hold_s)
        finally:
            healed_at = clock()
            if run.heal is not None:
                say("heal")
                healed_at = _heal(run)
        # Settle: the group healthy again (the old primary back, as a replica when it lost its role).
        settled = wait_until(lambda: not healthy(t), 90, interval=0.5)
        settle = [] if settled else healthy(t)
        time.sleep(COOLDOWN_S)
        ops = workload.stop()
        events = observer.stop()
        new_addr = agreed_primary(t) or ""
        new = t.server_at(new_addr) if new_addr else old
        # Writes stopped: wait for every replica to hold the primary's offset, then compare data.
        wait_until(lambda: not healthy(t) and _offsets_equal(t, new), 30)
        recording = Recording(
            ops=ops,
            events=events,
            fault_at=fault_at,
            down_after_s=t.down_after_ms / 1000,
            group=t.group,
            old_primary=old_addr,
            new_primary=new_addr,
            keys=workload.keys,
            final=_final_state(t, new, workload.keys),
            after=GroupState(
                roles=server_roles(t),
                views=sentinel_views(t),
                settle=settle,
                digests={n.addr: data_digest(t, n, workload.keys.pattern) for n in t.servers},
            ),
            info_before=info_before,
            info_after=_node_info(t),
            notes=run.notes,
            extra_verify=[_site_unchanged(t)] if site_check else [],
            fence_closes_s=fence_closes,
            healed_at=healed_at,
        )
        judged = verdict(scenario.expect, recording, promote_margin_s)
        return {
            "run": number,
            "run_id": run_id,
            "passed": judged["passed"],
            "old_primary": old_addr,
            "new_primary": new_addr,
            # What each node ran when the run started (INFO server): flavour and version.
            "nodes": nodes,
            "fault": scenario.summary,
            "fault_at": round(fault_at or 0.0, 3),
            "healed_at": round(healed_at or 0.0, 3),
            "duration": round(clock(), 3),
            "criteria": judged["criteria"],
            "measures": judged["measures"],
            "details": judged["details"],
            "events": events,
            "timeline": judged["timeline"],
            "verify": judged["verify"],
        }
    finally:
        for stop in (workload.stop, observer.stop):
            with contextlib.suppress(Exception):
                stop()
        remove_keys(t, workload.keys.pattern, say)


def _offsets_equal(t: DrillTargets, primary: Node) -> bool:
    roles = server_roles(t)
    offset = roles.get(primary.addr, {}).get("master_repl_offset")
    return offset is not None and all(
        int(r.get("slave_repl_offset", -1)) == int(offset) for a, r in roles.items() if a != primary.addr
    )


def _site_unchanged(t: DrillTargets) -> dict:
    """site.yml after the drill changes nothing: the roles follow the new primary."""
    proc = subprocess.run(
        # Check mode: whether the roles would change anything; the drill changes nothing here.
        [str(Path(sys.executable).parent / "ansible-playbook"), "--check", "-i", t.inventory,
         f"{NAMESPACE}.{NAME}.site"],
        env=ansible_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    changed = [
        line.split()[0] for line in proc.stdout.splitlines() if "changed=" in line and "changed=0" not in line
    ]
    return {
        "name": "site.yml rerun changes nothing",
        "passed": proc.returncode == 0 and not changed,
        "detail": f"exit {proc.returncode}" + (f"; changed on {', '.join(changed)}" if changed else ""),
    }


def drill(
    t: DrillTargets,
    scenario_name: str,
    runs: int,
    say: Callable[[str], None],
    site_check: bool = True,
) -> dict:
    scenario = SCENARIOS[scenario_name]
    if scenario.needs_power_on and not t.power_on_command:
        raise DrillAborted(
            f"{scenario_name} needs a way to power the host back on: set redis_drill_power_on_command "
            "(a control-node command with {host}, e.g. an IPMI or hypervisor call)"
        )
    result = {
        "drill": "failover",
        "scenario": scenario_name,
        "summary": scenario.summary,
        "started": time.time(),
        "group": t.group,
        "inventory": t.inventory,
        "settings": {
            "down_after_ms": t.down_after_ms,
            "failover_timeout_ms": t.failover_timeout_ms,
            "quorum": t.quorum,
            "runs": runs,
        },
        "runs": [],
    }
    for number in range(1, runs + 1):
        # The idempotence check once, after the last run: it takes as long as a run.
        result["runs"].append(run_once(t, scenario, number, say, site_check=site_check and number == runs))
    result["passed"] = all(r["passed"] for r in result["runs"])
    return result
