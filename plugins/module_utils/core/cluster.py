"""A Redis Cluster's shape, once: the plan from the inventory (shards, replicas, slot ranges, which
host holds what), the live state as the nodes report it (CLUSTER NODES, CLUSTER INFO), the steps
that form a cluster from that state, and whether the cluster is healthy.

The plan is only ever used to form a cluster from fresh nodes. Once formed, the live cluster is
the truth: a replica that a failover promoted stays primary, and the plan is not reasserted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SLOTS = 16384
# Below three primaries a failover cannot win a majority after one loss.
MIN_PRIMARIES = 3
# Flags of a node that is not (yet) a sound member.
BAD_FLAGS = ("fail", "fail?", "handshake", "noaddr", "nofailover")


class ClusterPlanError(ValueError):
    """The inventory cannot make the cluster it asks for; the message names the variable and the fix."""


@dataclass(frozen=True)
class Node:
    """One instance of the inventory: the host it runs on, its name, and where it is reached."""

    host: str
    name: str
    address: str
    port: int  # the client port the node announces (its TLS port when the bus is TLS)
    bus_port: int

    @property
    def key(self) -> str:
        return f"{self.host}/{self.name}"

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class Shard:
    primary: Node
    replicas: tuple[Node, ...]
    slots: tuple[int, int]  # first and last slot, inclusive


def slot_ranges(shards: int) -> list[tuple[int, int]]:
    """16384 slots in ``shards`` contiguous ranges whose sizes differ by one at most."""
    if shards < 1:
        raise ValueError("at least one shard")
    base, extra = divmod(SLOTS, shards)
    ranges, start = [], 0
    for i in range(shards):
        size = base + (1 if i < extra else 0)
        ranges.append((start, start + size - 1))
        start += size
    return ranges


def plan(nodes: Iterable[Node], replicas: int, where: str = "redis_cluster_replicas") -> list[Shard]:
    """Shards from the inventory's nodes: each shard one primary and ``replicas`` replicas, every
    replica on another host than its primary and than its shard's other replicas.

    Primaries are spread first: the first instance of each host in inventory order, then the
    second, until there are enough. A shard's replicas go to the next hosts round the list. Raises
    ClusterPlanError when the inventory cannot satisfy that, before anything is changed.
    """
    nodes = list(nodes)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ClusterPlanError(
            f"{where} is {replicas!r}: use a whole number of replicas per shard, 0 or more"
        )
    hosts: list[str] = []
    by_host: dict[str, list[Node]] = {}
    for node in nodes:
        if node.host not in by_host:
            hosts.append(node.host)
        by_host.setdefault(node.host, []).append(node)
    total = len(nodes)
    per_shard = replicas + 1
    if total % per_shard:
        raise ClusterPlanError(
            f"{total} cluster nodes cannot make shards of 1 primary and {replicas} replica(s) each "
            f"({where}): "
            f"list a multiple of {per_shard} instances across the hosts of group 'redis'"
        )
    shards = total // per_shard
    if shards < MIN_PRIMARIES:
        raise ClusterPlanError(
            f"{total} cluster nodes with {where} {replicas} make {shards} shard(s): a cluster needs at least "
            f"{MIN_PRIMARIES} primaries to fail over after a loss; add instances or hosts"
        )
    if replicas and len(hosts) < per_shard:
        raise ClusterPlanError(
            f"{where} {replicas} needs {per_shard} hosts so that no replica shares a host with its "
            "primary or "
            f"another replica of its shard; group 'redis' has {len(hosts)}"
        )
    # Primaries: round by instance index, host by host.
    primaries: list[Node] = []
    depth = max(len(v) for v in by_host.values())
    for index in range(depth):
        for host in hosts:
            if index < len(by_host[host]) and len(primaries) < shards:
                primaries.append(by_host[host][index])
    free = {host: [n for n in by_host[host] if n not in primaries] for host in hosts}
    result = []
    for shard_index, (primary, slots) in enumerate(zip(primaries, slot_ranges(shards), strict=True)):
        taken = {primary.host}
        chosen: list[Node] = []
        start = hosts.index(primary.host)
        for step in range(1, len(hosts) * (replicas + 1) + 1):
            if len(chosen) == replicas:
                break
            host = hosts[(start + step) % len(hosts)]
            if host in taken or not free[host]:
                continue
            chosen.append(free[host].pop(0))
            taken.add(host)
        if len(chosen) < replicas:
            raise ClusterPlanError(
                f"shard {shard_index + 1} (primary {primary.key}) cannot get {replicas} replica(s) on "
                "hosts other "
                f"than {', '.join(sorted(taken))}: spread the instances more evenly across the hosts "
                "of group "
                f"'redis' (each host needs room for the replicas of the others' primaries)"
            )
        result.append(Shard(primary=primary, replicas=tuple(chosen), slots=slots))
    leftover = [n.key for host in hosts for n in free[host]]
    if leftover:  # pragma: no cover - the counts above rule it out
        raise ClusterPlanError(f"nodes {', '.join(leftover)} have no place in the plan")
    return result


# ---------------------------------------------------------------------------------- live state
_SLOT = re.compile(r"^(\d+)(?:-(\d+))?$")
_OPEN = re.compile(r"^\[(\d+)-([<>])-([0-9a-f]+)\]$")


@dataclass(frozen=True)
class Peer:
    """One line of CLUSTER NODES."""

    id: str
    ip: str
    port: int
    bus_port: int
    flags: frozenset[str]
    master: str  # the primary's id for a replica, '' for a primary
    config_epoch: int
    link: str
    slots: tuple[tuple[int, int], ...]
    migrating: tuple[tuple[int, str], ...] = ()  # (slot, target id)
    importing: tuple[tuple[int, str], ...] = ()  # (slot, source id)

    @property
    def myself(self) -> bool:
        return "myself" in self.flags

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def slot_count(self) -> int:
        return sum(b - a + 1 for a, b in self.slots)


def parse_nodes(text: str) -> list[Peer]:
    """CLUSTER NODES: one Peer per line.

    ``<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot> ...``
    """
    peers = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 8:
            continue
        address = words[1].split(",", 1)[0]
        hostport, _, bus = address.partition("@")
        ip, _, port = hostport.rpartition(":")
        slots, migrating, importing = [], [], []
        for word in words[8:]:
            opened = _OPEN.match(word)
            if opened:
                slot, arrow, other = int(opened.group(1)), opened.group(2), opened.group(3)
                (migrating if arrow == ">" else importing).append((slot, other))
                continue
            match = _SLOT.match(word)
            if match:
                first = int(match.group(1))
                slots.append((first, int(match.group(2) or first)))
        peers.append(
            Peer(
                id=words[0],
                ip=ip,
                port=int(port or 0),
                bus_port=int(bus or 0),
                flags=frozenset(words[2].split(",")),
                master="" if words[3] == "-" else words[3],
                config_epoch=int(words[6]) if words[6].isdigit() else 0,
                link=words[7],
                slots=tuple(slots),
                migrating=tuple(migrating),
                importing=tuple(importing),
            )
        )
    return peers


def parse_info(text: str) -> dict[str, str]:
    """CLUSTER INFO (or INFO): ``key:value`` lines."""
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and not key.startswith("#"):
            out[key] = value
    return out


@dataclass(frozen=True)
class NodeFacts:
    """What one node says about itself and the cluster."""

    key: str  # the inventory's host/instance
    endpoint: str
    myself: Peer | None = None
    peers: tuple[Peer, ...] = ()
    info: Mapping[str, str] = field(default_factory=dict)
    keys: int = 0
    replication: Mapping[str, str] = field(default_factory=dict)  # INFO replication
    error: str = ""  # why it could not be read

    @property
    def reachable(self) -> bool:
        return not self.error and self.myself is not None

    @property
    def fresh(self) -> bool:
        """Never joined a cluster: knows only itself, owns no slot, epoch 0, holds no key."""
        return (
            self.reachable
            and len(self.peers) == 1
            and not self.myself.slots
            and self.myself.config_epoch == 0
            and int(self.info.get("cluster_current_epoch", "0") or 0) == 0
            and self.myself.is_primary
        )

    def known_ids(self) -> set[str]:
        return {p.id for p in self.peers}


def facts(key: str, endpoint: str, nodes_text: str, info_text: str, keys: int = 0) -> NodeFacts:
    peers = tuple(parse_nodes(nodes_text))
    myself = next((p for p in peers if p.myself), None)
    return NodeFacts(
        key=key, endpoint=endpoint, myself=myself, peers=peers, info=parse_info(info_text), keys=keys
    )


def owner_of(slot: int, peers: Iterable[Peer]) -> Peer | None:
    """The primary that owns ``slot`` in this view."""
    for peer in peers:
        if peer.is_primary and any(a <= slot <= b for a, b in peer.slots):
            return peer
    return None


def assigned(peers: Iterable[Peer]) -> int:
    return sum(p.slot_count for p in peers if p.is_primary)


# ---------------------------------------------------------------------------------- formation
@dataclass(frozen=True)
class Step:
    """One command on one node, with why: the module runs them in order."""

    node: str  # inventory key
    command: tuple[str, ...]
    why: str


def formation_problems(plan_: list[Shard], found: Mapping[str, NodeFacts]) -> list[str]:
    """What stops the kit from forming (or completing) this cluster at all: unreachable nodes,
    data on a node that is not in a cluster, two clusters that do not know each other."""
    problems = []
    for key, fact in sorted(found.items()):
        if not fact.reachable:
            problems.append(
                f"{key} ({fact.endpoint}) could not be read: {fact.error or 'not in cluster mode'}"
            )
    if problems:
        return problems
    for key, fact in sorted(found.items()):
        if len(fact.peers) == 1 and not fact.myself.slots and fact.keys:
            problems.append(
                f"{key} ({fact.endpoint}) holds {fact.keys} key(s) but belongs to no cluster: a node "
                "joins empty; "
                "move its data away (or FLUSHALL it if it is not wanted) and run again"
            )
    # Nodes that hold slots and do not know each other: fine while each knows only itself (the
    # epochs and slots were just given out) or while gossip from a node both know has not reached
    # them yet; two clusters when their slots overlap or they know others but none in common.
    holders = {k: f for k, f in found.items() if f.myself.slots}
    for a in sorted(holders):
        for b in sorted(holders):
            fa, fb = holders[a], holders[b]
            if a >= b or fb.myself.id in fa.known_ids() or fa.myself.id in fb.known_ids():
                continue
            overlap = any(x <= d and c <= y for x, y in fa.myself.slots for c, d in fb.myself.slots)
            # Both know others, and none in common: gossip will never introduce them.
            apart = len(fa.peers) > 1 and len(fb.peers) > 1 and not fa.known_ids() & fb.known_ids()
            if overlap or apart:
                problems.append(
                    f"{a} and {b} both hold slots and do not know each other: they belong to "
                    "different clusters, "
                    "which the kit will not merge (move one side's data away and reset it by hand)"
                )
    return problems


def formation_steps(plan_: list[Shard], found: Mapping[str, NodeFacts]) -> tuple[list[Step], list[str]]:
    """The next steps towards the planned cluster from what the nodes report, and what is left
    for later (or for someone else) as messages.

    Each step is one the server itself would refuse if it were wrong, and none is taken twice:
    - all nodes fresh: every planned primary gets its configuration epoch (1..N, distinct) and its
      slot range (only slots no node knows an owner of);
    - a node the first primary's view does not list is MEETs'd to it;
    - once every node knows every other one, a slotless node the plan makes a replica and that
      follows nobody REPLICATEs the current owner of its shard's first slot (after a failover,
      the promoted replica: the plan is never reasserted over the live cluster).
    Call again after running them until no step is left.
    """
    steps: list[Step] = []
    pending: list[str] = []
    nodes = {s.primary.key: s.primary for s in plan_} | {r.key: r for s in plan_ for r in s.replicas}
    all_fresh = all(f.fresh for f in found.values())
    if all_fresh:
        for epoch, shard in enumerate(plan_, start=1):
            key = shard.primary.key
            steps.append(
                Step(
                    key,
                    ("CLUSTER", "SET-CONFIG-EPOCH", str(epoch)),
                    f"distinct epoch {epoch} for shard {epoch}",
                )
            )
            first, last = shard.slots
            steps.append(
                Step(key, ("CLUSTER", "ADDSLOTSRANGE", str(first), str(last)), f"slots {first}-{last}")
            )
        return steps, pending
    # The anchor: a member holding slots, the planned first primary if it does.
    members = [k for k in (s.primary.key for s in plan_) if k in found and not found[k].fresh]
    members += [k for k in sorted(found) if not found[k].fresh and k not in members]
    holders = [k for k in members if found[k].myself.slots]
    anchor_key = (holders or members)[0]
    anchor = found[anchor_key]
    known = anchor.known_ids()
    for key in sorted(found):
        fact = found[key]
        if key == anchor_key or fact.myself.id in known or anchor.myself.id in fact.known_ids():
            continue
        node = nodes[anchor_key]
        steps.append(
            Step(
                key,
                ("CLUSTER", "MEET", node.address, str(node.port), str(node.bus_port)),
                f"join the cluster through {anchor_key}",
            )
        )
    if steps:
        return steps, pending
    # Everyone must see everyone (no handshake) before replicas are assigned.
    ids = {f.myself.id for f in found.values()}
    for key, fact in sorted(found.items()):
        unsure = [p for p in fact.peers if p.id in ids and (p.flags & {"handshake", "noaddr"})]
        missing = ids - fact.known_ids()
        if missing or unsure:
            pending.append(f"{key} does not see every node yet")
    if pending:
        return steps, pending
    view = anchor.peers
    for shard in plan_:
        owner = owner_of(shard.slots[0], view)
        for replica in shard.replicas:
            fact = found.get(replica.key)
            if fact is None or fact.myself.slots or not fact.myself.is_primary:
                continue  # owns slots (a primary now), or already follows a primary: the live cluster decides
            if owner is None:
                pending.append(f"no node owns slot {shard.slots[0]} yet (shard of {shard.primary.key})")
                continue
            if owner.id == fact.myself.id:
                continue
            steps.append(
                Step(
                    replica.key,
                    ("CLUSTER", "REPLICATE", owner.id),
                    f"replica of the shard {shard.slots[0]}-{shard.slots[1]} (primary {owner.endpoint})",
                )
            )
    for shard in plan_:
        fact = found.get(shard.primary.key)
        unowned = owner_of(shard.slots[0], view) is None and assigned(view) < SLOTS
        if fact and fact.myself.is_primary and not fact.myself.slots and unowned:
            pending.append(f"{shard.primary.key} holds no slot and slots are unassigned")
    return steps, pending


# ---------------------------------------------------------------------------------- judgements
def views_agree(found: Mapping[str, NodeFacts]) -> list[str]:
    """Every reachable node sees the same nodes, the same primaries and the same slot owners."""

    def shape(fact: NodeFacts) -> tuple:
        return tuple(sorted((p.id, "master" if p.is_primary else p.master, p.slots) for p in fact.peers))

    shapes = {key: shape(f) for key, f in found.items() if f.reachable}
    if len(set(shapes.values())) <= 1:
        return []
    common = max(set(shapes.values()), key=list(shapes.values()).count)
    return [
        f"{key} sees another topology than the others" for key, s in sorted(shapes.items()) if s != common
    ]


def placement_problems(peers: Iterable[Peer], host_of: Mapping[str, str]) -> list[str]:
    """Replicas on their primary's host, and hosts with more than one primary holding slots.

    ``host_of``: 'ip:port' -> inventory host, as the nodes announce themselves.
    """
    peers = [p for p in peers if not (p.flags & {"handshake", "noaddr"})]
    by_id = {p.id: p for p in peers}
    problems = []
    primaries_on: dict[str, list[str]] = {}
    for peer in peers:
        host = host_of.get(peer.endpoint, peer.ip)
        if peer.is_primary and peer.slots:
            primaries_on.setdefault(host, []).append(peer.endpoint)
        elif not peer.is_primary and peer.master in by_id:
            primary = by_id[peer.master]
            if host_of.get(primary.endpoint, primary.ip) == host:
                problems.append(
                    f"replica {peer.endpoint} runs on the same host ({host}) as its primary "
                    f"{primary.endpoint}: "
                    "losing that host loses the shard"
                )
    for host, endpoints in sorted(primaries_on.items()):
        if len(endpoints) > 1:
            problems.append(
                f"host {host} runs {len(endpoints)} primaries ({', '.join(sorted(endpoints))}): "
                "losing it fails "
                "several shards at once (after a failover, move one back with CLUSTER FAILOVER on "
                "its replica)"
            )
    return problems


def health_problems(
    found: Mapping[str, NodeFacts], shards: int | None = None, replicas: int | None = None
) -> list[str]:
    """Why the cluster is not whole: unreachable nodes, state not ok, slots not all covered, open
    slots, failing nodes, views that differ, shards without their replicas."""
    problems = []
    for key, fact in sorted(found.items()):
        if not fact.reachable:
            problems.append(
                f"{key} ({fact.endpoint}) could not be read: {fact.error or 'not in cluster mode'}"
            )
            continue
        state = fact.info.get("cluster_state", "?")
        if state != "ok":
            problems.append(f"{key} reports cluster_state:{state}")
        ok = int(fact.info.get("cluster_slots_ok", "0") or 0)
        if ok != SLOTS:
            problems.append(f"{key} sees {ok} of {SLOTS} slots served")
        for peer in fact.peers:
            bad = sorted(peer.flags & set(BAD_FLAGS) - {"nofailover"})
            if bad:
                problems.append(f"{key} flags {peer.endpoint} {','.join(bad)}")
        me = fact.myself
        if not me.is_primary and fact.replication and fact.replication.get("master_link_status") != "up":
            problems.append(f"{key} is a replica whose link to its primary is not up (still syncing?)")
        for slot, other in me.migrating:
            problems.append(f"{key} has slot {slot} open (migrating to {other[:8]})")
        for slot, other in me.importing:
            problems.append(f"{key} has slot {slot} open (importing from {other[:8]})")
    problems += views_agree(found)
    reachable = [f for f in found.values() if f.reachable]
    if reachable and (shards is not None or replicas is not None):
        view = reachable[0].peers
        primaries = [p for p in view if p.is_primary and p.slots]
        if shards is not None and len(primaries) != shards:
            problems.append(f"{len(primaries)} primaries hold slots; the inventory plans {shards}")
        if replicas is not None:
            for primary in primaries:
                linked = [p for p in view if p.master == primary.id and "fail" not in p.flags]
                if len(linked) < replicas:
                    problems.append(
                        f"primary {primary.endpoint} has {len(linked)} replica(s); the inventory "
                        f"plans {replicas}"
                    )
    return problems
