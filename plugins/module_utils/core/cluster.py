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
    second, until there are enough; losing any one host must leave a majority of them. A shard's
    replicas go to the hosts with the most instances left, the next round the list first. Raises
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
    # Losing any one host must leave a majority of the primaries, or no failover can be voted.
    on_host = {host: sum(p.host == host for p in primaries) for host in hosts}
    crowded = max(on_host, key=on_host.get)
    if shards - on_host[crowded] < shards // 2 + 1:
        raise ClusterPlanError(
            f"{shards} shards on {len(hosts)} host(s) put {on_host[crowded]} primaries on {crowded}: "
            "losing it "
            f"leaves {shards - on_host[crowded]} of {shards}, no majority, and no failover can be voted; "
            f"add hosts (or raise {where} so there are fewer shards)"
        )
    free = {host: [n for n in by_host[host] if n not in primaries] for host in hosts}
    result = []
    for shard_index, (primary, slots) in enumerate(zip(primaries, slot_ranges(shards), strict=True)):
        taken = {primary.host}
        chosen: list[Node] = []
        start = hosts.index(primary.host)
        order = [hosts[(start + step) % len(hosts)] for step in range(1, len(hosts))]
        while len(chosen) < replicas:
            # The host with the most instances left first (ties: the next round the list), so
            # hosts with many instances do not end up holding replicas of their own primaries.
            candidates = [h for h in order if h not in taken and free[h]]
            if not candidates:
                break
            host = max(candidates, key=lambda h: (len(free[h]), -order.index(h)))
            chosen.append(free[host].pop(0))
            taken.add(host)
        if len(chosen) < replicas:
            raise ClusterPlanError(
                f"shard {shard_index + 1} (primary {primary.key}) cannot get {replicas} replica(s) on hosts "
                f"other than {', '.join(sorted(taken))}: spread the instances more evenly across the hosts "
                "of group 'redis' (each host needs room for the replicas of the others' primaries)"
            )
        result.append(Shard(primary=primary, replicas=tuple(chosen), slots=slots))
    leftover = [n.key for host in hosts for n in free[host]]
    if leftover:  # pragma: no cover - the counts above rule it out
        raise ClusterPlanError(f"nodes {', '.join(leftover)} have no place in the plan")
    return result


def max_primaries_per_host(primaries: int, hosts: int) -> int:
    """How many primaries a host holds at most when they are spread evenly (CLU-04's bound)."""
    return -(-primaries // max(hosts, 1))


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


UNSURE = frozenset({"handshake", "noaddr"})


def _settled_peers(fact: NodeFacts) -> list[Peer]:
    """The peers a node knows for sure: not those still in handshake (listed under a temporary id)."""
    return [p for p in fact.peers if not p.flags & UNSURE]


def unread(found: Mapping[str, NodeFacts]) -> list[str]:
    """The nodes that could not be read (down, restarting, loading, not in cluster mode)."""
    return [
        f"{key} ({fact.endpoint}) could not be read: {fact.error or 'not in cluster mode'}"
        for key, fact in sorted(found.items())
        if not fact.reachable
    ]


def formation_problems(plan_: list[Shard], found: Mapping[str, NodeFacts]) -> list[str]:
    """What stops the kit from forming (or completing) this cluster at all: data on a node that is
    not in a cluster, a node that knows nodes outside the inventory, two clusters that do not know
    each other. Unread nodes are left to ``unread`` (they may be restarting)."""
    problems = []
    found = {k: f for k, f in found.items() if f.reachable}
    planned = {s.primary.endpoint for s in plan_} | {r.endpoint for s in plan_ for r in s.replicas}
    for key, fact in sorted(found.items()):
        if len(fact.peers) == 1 and not fact.myself.slots and fact.keys:
            problems.append(
                f"{key} ({fact.endpoint}) holds {fact.keys} key(s) but belongs to no cluster: a node joins "
                "empty; move its data away (or FLUSHALL it if it is not wanted) and run again"
            )
        strangers = sorted({p.endpoint for p in _settled_peers(fact)} - planned)
        if strangers:
            problems.append(
                f"{key} ({fact.endpoint}) knows nodes the inventory does not list "
                f"({', '.join(strangers)}): it belongs to another cluster, or the inventory lacks nodes; "
                "the kit will not merge clusters (add the nodes to the inventory, or CLUSTER FORGET them on "
                "every node)"
            )
    # Nodes that hold slots and do not know each other: fine while each knows only itself (the
    # epochs and slots were just given out) or while gossip from a node both know has not reached
    # them yet; two clusters when their slots overlap or they know others but none in common.
    holders = {k: f for k, f in found.items() if f.myself.slots}
    for a in sorted(holders):
        for b in sorted(holders):
            fa, fb = holders[a], holders[b]
            known_a = {p.endpoint for p in _settled_peers(fa)}
            known_b = {p.endpoint for p in _settled_peers(fb)}
            if a >= b or fb.endpoint in known_a or fa.endpoint in known_b:
                continue
            overlap = any(x <= d and c <= y for x, y in fa.myself.slots for c, d in fb.myself.slots)
            # Both know others, and none in common: gossip will never introduce them.
            others_a, others_b = known_a - {fa.endpoint}, known_b - {fb.endpoint}
            apart = others_a and others_b and not others_a & others_b
            if overlap or apart:
                problems.append(
                    f"{a} and {b} both hold slots and do not know each other: they belong to different "
                    "clusters, which the kit will not merge (move one side's data away and reset it by hand)"
                )
    return problems


def _views(found: Mapping[str, NodeFacts]) -> list[list[Peer]]:
    return [list(f.peers) for f in found.values() if f.reachable]


def _owned_anywhere(first: int, last: int, found: Mapping[str, NodeFacts]) -> bool:
    return any(
        p.is_primary and any(a <= last and first <= b for a, b in p.slots)
        for view in _views(found)
        for p in view
    )


def formation_steps(plan_: list[Shard], found: Mapping[str, NodeFacts]) -> tuple[list[Step], list[str]]:
    """The next steps towards the planned cluster from what the nodes report, and what is left
    for later as messages.

    Each step is one the server itself would refuse if it were wrong, and none is sent while its
    effect is under way:
    - a planned primary that holds no slot, whose slot range no node knows an owner of, gets it
      (ADDSLOTSRANGE), first its own configuration epoch when it has never met a peer (1..N when
      every node is fresh, else above every epoch seen);
    - a node that the first primary does not know, and that has not met it yet (not even in a
      handshake), MEETs it;
    - once every node sees every other one, a slotless node the plan puts in a shard REPLICATEs
      that shard's current owner: a planned replica that follows nobody, or the shard's planned
      primary when a failover gave its slots to one of the shard's replicas (a host rebuilt
      empty). The plan is never reasserted over the live cluster otherwise.
    Call again after running them until no step is left.
    """
    steps: list[Step] = []
    pending: list[str] = []
    found = {k: f for k, f in found.items() if f.reachable}
    nodes = {s.primary.key: s.primary for s in plan_} | {r.key: r for s in plan_ for r in s.replicas}
    all_fresh = bool(found) and all(f.fresh for f in found.values())
    top_epoch = max(
        [int(f.info.get("cluster_current_epoch", "0") or 0) for f in found.values()]
        + [p.config_epoch for view in _views(found) for p in view],
        default=0,
    )
    next_epoch = top_epoch
    for number, shard in enumerate(plan_, start=1):
        fact = found.get(shard.primary.key)
        if fact is None or fact.myself.slots or not fact.myself.is_primary:
            continue
        first, last = shard.slots
        if _owned_anywhere(first, last, found):
            continue  # its shard lives elsewhere (a failover, or another plan): see below
        if fact.fresh:
            next_epoch = number if all_fresh else next_epoch + 1
            steps.append(
                Step(
                    shard.primary.key,
                    ("CLUSTER", "SET-CONFIG-EPOCH", str(next_epoch)),
                    f"distinct epoch {next_epoch}",
                )
            )
        steps.append(
            Step(
                shard.primary.key,
                ("CLUSTER", "ADDSLOTSRANGE", str(first), str(last)),
                f"slots {first}-{last}",
            )
        )
    if steps:
        return steps, pending
    # The anchor: a member holding slots, the planned first primary if it does.
    members = [k for k in (s.primary.key for s in plan_) if k in found and not found[k].fresh]
    members += [k for k in sorted(found) if not found[k].fresh and k not in members]
    holders = [k for k in members if found[k].myself.slots]
    if not (holders or members):
        return steps, ["no node holds slots yet"]
    anchor_key = (holders or members)[0]
    anchor = found[anchor_key]
    anchor_knows = {p.endpoint for p in anchor.peers}  # handshakes included: a MEET under way
    for key in sorted(found):
        fact = found[key]
        if key == anchor_key or fact.endpoint in anchor_knows:
            continue
        if anchor.endpoint in {p.endpoint for p in fact.peers}:
            continue  # it met the anchor; the handshake or gossip is under way
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
    endpoints = {f.endpoint for f in found.values()}
    for key, fact in sorted(found.items()):
        seen = {p.endpoint for p in _settled_peers(fact)}
        if endpoints - seen:
            pending.append(f"{key} does not see every node yet")
    if pending:
        return steps, pending
    view = anchor.peers
    for shard in plan_:
        owner = owner_of(shard.slots[0], view)
        members = list(shard.replicas)
        if owner is not None and owner.endpoint in {r.endpoint for r in shard.replicas}:
            members.append(shard.primary)  # failed over: the planned primary rejoins as a replica
        for member in members:
            fact = found.get(member.key)
            if fact is None or fact.myself.slots or not fact.myself.is_primary:
                continue  # owns slots (a primary now), or already follows a primary: the live cluster decides
            if owner is None:
                pending.append(f"no node owns slot {shard.slots[0]} yet (shard of {shard.primary.key})")
                continue
            if owner.id == fact.myself.id:
                continue
            steps.append(
                Step(
                    member.key,
                    ("CLUSTER", "REPLICATE", owner.id),
                    f"replica of the shard {shard.slots[0]}-{shard.slots[1]} (primary {owner.endpoint})",
                )
            )
    for shard in plan_:
        if owner_of(shard.slots[0], view) is None and not _owned_anywhere(*shard.slots, found):
            pending.append(f"slots {shard.slots[0]}-{shard.slots[1]} have no owner yet")
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


def _settled(peers: Iterable[Peer]) -> list[Peer]:
    return [p for p in peers if not (p.flags & UNSURE)]


def replicas_beside_primary(peers: Iterable[Peer], host_of: Mapping[str, str]) -> list[str]:
    """Replicas on their primary's host: losing that host loses the shard.

    ``host_of``: 'ip:port' -> inventory host, as the nodes announce themselves.
    """
    peers = _settled(peers)
    by_id = {p.id: p for p in peers}
    problems = []
    for peer in peers:
        if peer.is_primary or peer.master not in by_id:
            continue
        primary = by_id[peer.master]
        host = host_of.get(peer.endpoint, peer.ip)
        if host_of.get(primary.endpoint, primary.ip) == host:
            problems.append(
                f"replica {peer.endpoint} runs on the same host ({host}) as its primary "
                f"{primary.endpoint}: losing that host loses the shard"
            )
    return problems


def crowded_hosts(peers: Iterable[Peer], host_of: Mapping[str, str]) -> list[str]:
    """Hosts with more primaries (holding slots) than an even spread gives each: losing such a
    host fails several shards at once."""
    primaries_on: dict[str, list[str]] = {}
    for peer in _settled(peers):
        if peer.is_primary and peer.slots:
            primaries_on.setdefault(host_of.get(peer.endpoint, peer.ip), []).append(peer.endpoint)
    hosts = set(host_of.values()) | set(primaries_on)
    bound = max_primaries_per_host(sum(len(v) for v in primaries_on.values()), len(hosts))
    return [
        f"host {host} runs {len(endpoints)} primaries ({', '.join(sorted(endpoints))}), more than the "
        f"{bound} an even spread gives each: losing it fails several shards at once (after a failover, "
        "move one back with CLUSTER FAILOVER on its replica)"
        for host, endpoints in sorted(primaries_on.items())
        if len(endpoints) > bound
    ]


def placement_problems(peers: Iterable[Peer], host_of: Mapping[str, str]) -> list[str]:
    """Both of the above: what the formation reports after every run."""
    peers = list(peers)
    return replicas_beside_primary(peers, host_of) + crowded_hosts(peers, host_of)


def short_shards(view: Iterable[Peer], replicas: int, down: frozenset[str]) -> list[tuple[Peer, int]]:
    """Each primary holding slots with fewer than ``replicas`` replicas not flagged ``down``, and
    how many it has."""
    view = list(view)
    out = []
    for primary in (p for p in view if p.is_primary and p.slots):
        linked = sum(1 for p in view if p.master == primary.id and not p.flags & down)
        if linked < replicas:
            out.append((primary, linked))
    return out


def health_problems(
    found: Mapping[str, NodeFacts], shards: int | None = None, replicas: int | None = None
) -> list[str]:
    """Why the cluster is not whole: unreachable nodes, state not ok, slots not all covered, open
    slots, failing nodes, views that differ, shards without their replicas."""
    problems = unread(found)
    for key, fact in sorted(found.items()):
        if not fact.reachable:
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
            problems += [
                f"primary {primary.endpoint} has {linked} replica(s); the inventory plans {replicas}"
                for primary, linked in short_shards(view, replicas, frozenset({"fail"}))
            ]
    return problems
