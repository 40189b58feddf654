"""Checks: Redis Cluster (each node's state and open slots, every node's view of the topology,
slots covered, shards with replicas on other hosts, one primary per host, unique epochs, balance,
node timeout, bus ports closed to clients). They judge what the nodes report (CLUSTER INFO,
CLUSTER NODES), with the core's parsing and judgements (core/cluster.py), against the inventory's
plan (redis_cluster_replicas, the nodes' hosts)."""

from __future__ import annotations

from redisops.compliance.facts import ClusterFacts, RedisFacts, as_float
from redisops.compliance.model import Fail, Severity, Skip, check
from redisops.compliance.settings import Context
from redisops.core import cluster as C

SOURCE = "Redis docs, Redis Cluster specification and scaling tutorial; CLUSTER INFO, CLUSTER NODES"


def _plan(facts: RedisFacts) -> dict:
    return facts.expected.get("cluster") or {}


def _node(facts: RedisFacts) -> C.NodeFacts:
    if not _plan(facts) and not facts.cluster_nodes:
        raise Skip("not a cluster node")
    if not facts.cluster_nodes:
        raise Skip("CLUSTER NODES was not read (the compliance user needs it: rerun cluster.yml)")
    return C.facts(facts.target, f"{facts.address}:{facts.port}", facts.cluster_nodes, "")


def _nodes(cluster: ClusterFacts) -> list[RedisFacts]:
    found = [f for f in cluster.redis if _plan(f) or f.cluster_nodes]
    if not found:
        raise Skip("the inventory has no cluster node")
    read = [f for f in found if f.cluster_nodes]
    if not read:
        raise Skip("no cluster node could be read")
    return read


def _host_of(cluster: ClusterFacts) -> dict[str, str]:
    """'ip:port' as the nodes announce themselves -> inventory host."""
    out: dict[str, str] = {}
    for facts in cluster.redis:
        out.update(_plan(facts).get("nodes") or {})
        out.setdefault(f"{facts.address}:{facts.port}", facts.host)
    return out


def _view(cluster: ClusterFacts) -> tuple[RedisFacts, list[C.Peer]]:
    """The topology as the first readable node sees it."""
    first = _nodes(cluster)[0]
    return first, C.parse_nodes(first.cluster_nodes)


@check(
    "CLU-01",
    area="cluster",
    scope="redis",
    severity=Severity.CRITICAL,
    title="Every cluster node reports cluster_state ok with all 16384 slots served",
    rationale="A node whose state is fail refuses every query (CLUSTERDOWN) while "
    "cluster-require-full-coverage is yes; slots in pfail or fail have lost their primary, and their "
    "keys cannot be written until a replica is promoted.",
    bad="cluster_state:fail\ncluster_slots_ok:10923\ncluster_slots_fail:5461",
    good="cluster_state:ok\ncluster_slots_assigned:16384\ncluster_slots_ok:16384\ncluster_slots_fail:0",
    remediation="Find the shard without a live primary (CLUSTER NODES: fail flags); start its primary or let "
    "a replica take over (CLUSTER FAILOVER FORCE on the replica if the primary is gone for good). A slot "
    "with no owner at all: assign it (a restore of that shard), never by hand on a live cluster.",
    source=SOURCE,
)
def cluster_state_ok(facts: RedisFacts, ctx: Context):
    _node(facts)
    info = facts.cluster_info
    if not info:
        raise Skip("CLUSTER INFO was not read")
    state = info.get("cluster_state", "?")
    if state != "ok":
        yield Fail(f"cluster_state:{state}")
    served = int(as_float(info.get("cluster_slots_ok"), 0))
    if served != C.SLOTS:
        assigned = int(as_float(info.get("cluster_slots_assigned"), 0))
        yield Fail(f"{served} of {C.SLOTS} slots served ({assigned} assigned)")
    for kind in ("pfail", "fail"):
        count = int(as_float(info.get(f"cluster_slots_{kind}"), 0))
        if count:
            yield Fail(f"{count} slots in {kind}")


@check(
    "CLU-02",
    area="cluster",
    scope="redis",
    severity=Severity.HIGH,
    title="No slot is left open (migrating or importing)",
    rationale="A slot left migrating or importing by an interrupted reshard answers ASK for some keys "
    "and blocks later add-node, rebalance and reshard runs until it is closed; a MIGRATE that failed "
    "half-way can leave a key on both nodes.",
    bad="07c37dfe... 10.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460 [93->-e7d1eecc...]",
    good="07c37dfe... 10.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460",
    remediation="Finish the move (CLUSTER SETSLOT <slot> NODE <target> on the target, then the source) "
    "once every key of the slot is on the target, or roll it back (CLUSTER SETSLOT <slot> STABLE on both); "
    "redis-cli --cluster fix does the same, never while a primary is unreachable.",
    source=SOURCE,
)
def no_open_slots(facts: RedisFacts, ctx: Context):
    me = _node(facts).myself
    if me is None:
        raise Skip("CLUSTER NODES has no 'myself' line")
    for slot, other in me.migrating:
        yield Fail(f"slot {slot} is migrating to node {other[:12]}")
    for slot, other in me.importing:
        yield Fail(f"slot {slot} is importing from node {other[:12]}")


@check(
    "CLU-03",
    area="cluster",
    scope="cluster",
    severity=Severity.CRITICAL,
    title="Every shard has its replicas, linked and on other hosts than its primary",
    rationale="A shard without a replica loses its slots' data with its primary; a replica on its "
    "primary's host goes down with it. Either way one host loss makes part of the keyspace unavailable "
    "(and, with full coverage required, the whole cluster).",
    bad="primary 10.0.0.1:7001 (redis-1): replica 10.0.0.1:7002 (redis-1)",
    good="primary 10.0.0.1:7001 (redis-1): replica 10.0.0.2:7002 (redis-2)",
    remediation="Start the missing replica or add one (cluster.yml completes a shard whose planned replica "
    "is empty); a replica beside its primary: CLUSTER REPLICATE <another shard's primary id> on it, or fail "
    "the shard over to a replica on another host.",
    source=SOURCE,
)
def shards_have_replicas_elsewhere(cluster: ClusterFacts, ctx: Context):
    first, peers = _view(cluster)
    want = _plan(first).get("replicas")
    host_of = _host_of(cluster)
    if want is not None:
        for primary, linked in C.short_shards(peers, int(want), frozenset({"fail", "fail?"})):
            yield Fail(
                f"primary {primary.endpoint} ({host_of.get(primary.endpoint, '?')}) has {linked} working "
                f"replica(s); the inventory plans {want}"
            )
    for problem in C.replicas_beside_primary(peers, host_of):
        yield Fail(problem)


@check(
    "CLU-04",
    area="cluster",
    scope="cluster",
    severity=Severity.HIGH,
    title="No host runs more primaries than an even spread gives it (one each, with a host per shard)",
    rationale="After a failover the promoted replica may sit on a host that already runs a primary; losing "
    "that host then fails two shards at once, and with three primaries the survivors are no majority, so "
    "no replica can be promoted at all. With more shards than hosts, a host holds its even share.",
    bad="host redis-2 runs 2 primaries (10.0.0.2:7001, 10.0.0.2:7002)",
    good="redis-1, redis-2, redis-3: one primary each",
    remediation="Move one primary back: CLUSTER FAILOVER on its replica that sits on a host without a "
    "primary (cluster.yml reports the placement but never moves primaries on its own).",
    source=SOURCE + "; Redis docs, Redis Cluster tutorial (manual failover)",
)
def one_primary_per_host(cluster: ClusterFacts, ctx: Context):
    _, peers = _view(cluster)
    for problem in C.crowded_hosts(peers, _host_of(cluster)):
        yield Fail(problem)


@check(
    "CLU-05",
    area="cluster",
    scope="cluster",
    severity=Severity.MEDIUM,
    title="Every primary has its own configuration epoch",
    rationale="Two primaries with one epoch are a collision the cluster resolves only slowly by bumping "
    "one of them; until then a conflicting slot claim may be settled the wrong way.",
    bad="10.0.0.1:7001 epoch 1; 10.0.0.2:7001 epoch 1",
    good="10.0.0.1:7001 epoch 1; 10.0.0.2:7001 epoch 2; 10.0.0.3:7001 epoch 3",
    remediation="Let the cluster resolve it (it bumps one); a formation by hand should have set distinct "
    "epochs first (CLUSTER SET-CONFIG-EPOCH, as cluster.yml does).",
    source=SOURCE + "; CLUSTER SET-CONFIG-EPOCH",
)
def unique_epochs(cluster: ClusterFacts, ctx: Context):
    _, peers = _view(cluster)
    seen: dict[int, list[str]] = {}
    for primary in (p for p in peers if p.is_primary and p.slots):
        seen.setdefault(primary.config_epoch, []).append(primary.endpoint)
    for epoch, endpoints in sorted(seen.items()):
        if len(endpoints) > 1:
            yield Fail(f"primaries {', '.join(sorted(endpoints))} share configuration epoch {epoch}")


@check(
    "CLU-06",
    area="cluster",
    scope="cluster",
    severity=Severity.HIGH,
    title="Every node sees the same topology, and every node of the inventory",
    rationale="Nodes that disagree on who owns a slot or who is primary send clients back and forth "
    "(MOVED loops) and vote on different facts; a node of the inventory the others do not know is outside "
    "the cluster, and a node they know that the inventory lacks is a stranger on the bus.",
    bad="redis-1 sees 6 nodes; redis-3 sees 5 (10.0.0.2:7002 missing)",
    good="every node: the same 6 nodes, 3 primaries, the same slot ranges",
    remediation="Wait a few node timeouts after a change (gossip converges); a node that stays apart: "
    "cluster.yml MEETs inventory nodes the cluster lacks; a stranger: CLUSTER FORGET it on every node "
    "within 60 s.",
    source=SOURCE,
)
def one_view(cluster: ClusterFacts, ctx: Context):
    nodes = _nodes(cluster)
    found = {f.target: C.facts(f.target, f"{f.address}:{f.port}", f.cluster_nodes, "") for f in nodes}
    for problem in C.views_agree(found):
        yield Fail(problem)
    planned = set(_plan(nodes[0]).get("nodes") or {})
    if planned:
        known = {p.endpoint for p in C.parse_nodes(nodes[0].cluster_nodes) if "handshake" not in p.flags}
        for missing in sorted(planned - known):
            yield Fail(f"the inventory's node {missing} is not in the cluster")
        for stranger in sorted(known - planned):
            yield Fail(f"node {stranger} is in the cluster but not in the inventory")


@check(
    "CLU-07",
    area="cluster",
    scope="cluster",
    severity=Severity.HIGH,
    title="No node is flagged failing (fail, pfail), in handshake or without address",
    rationale="A fail or pfail flag is a node the others cannot reach; handshake or noaddr a node that never "
    "completed joining. Each is a shard without its replica, or a primary about to be replaced.",
    bad="e7d1eecc... 10.0.0.3:7001@17001 master,fail - 1700000000 1699999990 3 disconnected",
    good="e7d1eecc... 10.0.0.3:7001@17001 master - 0 1700000000 3 connected 10923-16383",
    remediation="Start the node or repair its network (client and bus ports); a node gone for good: "
    "CLUSTER FORGET <id> on every node within 60 s, then give its shard a new replica.",
    source=SOURCE,
)
def no_failing_nodes(cluster: ClusterFacts, ctx: Context):
    seen: set[tuple[str, str]] = set()
    for facts in _nodes(cluster):
        for peer in C.parse_nodes(facts.cluster_nodes):
            bad = sorted(peer.flags & {"fail", "fail?", "handshake", "noaddr"})
            if bad and (peer.endpoint, ",".join(bad)) not in seen:
                seen.add((peer.endpoint, ",".join(bad)))
                yield Fail(f"{facts.host} flags {peer.endpoint} {','.join(bad)}")


@check(
    "CLU-08",
    area="cluster",
    scope="cluster",
    severity=Severity.MEDIUM,
    title="Slots and memory are balanced across the primaries",
    rationale="A primary holding more slots (or more memory) than the others fills up, evicts or refuses "
    "writes first, and a failover of it moves more data at once.",
    bad="10.0.0.1:7001: 8192 slots; 10.0.0.2:7001: 4096; 10.0.0.3:7001: 4096",
    good="5461, 5461 and 5462 slots; used_memory within 20% of each other",
    remediation="Move slots from the fullest primary (redis-cli --cluster rebalance, or cluster_scale.yml "
    "once it exists); memory without slot imbalance: find the big keys (PRF-05, PRF-09) or hot hash tags.",
    source=SOURCE + "; redis-cli --cluster rebalance (threshold)",
)
def balanced(cluster: ClusterFacts, ctx: Context):
    _, peers = _view(cluster)
    primaries = [p for p in peers if p.is_primary and p.slots]
    if len(primaries) < 2:
        raise Skip("fewer than two primaries hold slots")
    share = ctx.thresholds.cluster_imbalance_max_pct / 100
    counts = {p.endpoint: p.slot_count for p in primaries}
    mean = C.SLOTS / len(primaries)
    for endpoint, count in sorted(counts.items()):
        if abs(count - mean) > mean * share:
            yield Fail(f"{endpoint} holds {count} slots, the mean is {mean:.0f}")
    memory = {
        (_plan(f).get("announced") or f"{f.address}:{f.port}"): as_float(f.info.get("used_memory"), 0)
        for f in cluster.redis
        if f.cluster_nodes
    }
    used = {e: memory[e] for e in counts if memory.get(e)}
    if len(used) >= 2:
        top, low = max(used.values()), min(used.values())
        floor = ctx.thresholds.cluster_imbalance_min_bytes
        if top > low * (1 + 2 * share) and top - low > floor:
            fullest = max(used, key=used.get)
            yield Fail(f"{fullest} uses {top / 2**20:.0f} MB, the emptiest primary {low / 2**20:.0f} MB")


@check(
    "CLU-09",
    area="cluster",
    scope="redis",
    severity=Severity.MEDIUM,
    title="The node timeout is sane and the one the inventory sets",
    rationale="cluster-node-timeout is both how long a dead primary goes unnoticed and how long a primary "
    "cut off in a minority keeps taking writes that are then lost; below a second, ordinary pauses "
    "(a fork, a slow disk) turn into failovers.",
    bad="cluster-node-timeout 15000 on one node, 5000 on the others",
    good="cluster-node-timeout 5000 on every node (redis_server_cluster_node_timeout)",
    remediation="Set redis_server_cluster_node_timeout (1000-60000 ms) and rerun cluster.yml, which sets it "
    "live on every node.",
    source=SOURCE + " (cluster-node-timeout)",
)
def node_timeout(facts: RedisFacts, ctx: Context):
    plan = _plan(facts)
    if not plan:
        raise Skip("not a cluster node of the inventory")
    if "cluster-node-timeout" not in facts.config:
        raise Skip(facts.unread or "CONFIG GET was not read")
    live = int(as_float(facts.config["cluster-node-timeout"], 0))
    low, high = ctx.thresholds.cluster_node_timeout_min_ms, ctx.thresholds.cluster_node_timeout_max_ms
    if not low <= live <= high:
        yield Fail(f"cluster-node-timeout {live} ms is outside {low}-{high} ms")
    if plan.get("node_timeout") and live != int(plan["node_timeout"]):
        yield Fail(f"cluster-node-timeout {live} ms; the inventory sets {plan['node_timeout']} ms")


@check(
    "CLU-10",
    area="cluster",
    scope="redis",
    severity=Severity.HIGH,
    title="The cluster bus port is closed to clients",
    rationale="The cluster bus has no password: whoever reaches a bus port can join the cluster and "
    "reconfigure it (take slots, fail nodes over). Only tls-cluster authenticates it, and the firewall "
    "should admit the cluster's own hosts only.",
    bad="bus port 17001 answers a connection from the checking host 10.0.0.1 (a client network)",
    good="bus port 17001 refuses or drops the checking host; the cluster's hosts reach it",
    remediation="Keep redis_server_firewall on (it opens bus ports to the hosts of group 'redis' only) and "
    "rerun cluster.yml; with another firewall, admit the cluster's hosts to the bus ports and no one else.",
    source="Redis docs, Redis Cluster tutorial (ports); redis.conf (tls-cluster)",
)
def bus_closed_to_clients(facts: RedisFacts, ctx: Context):
    bus = facts.bus or {}
    if not bus.get("port"):
        raise Skip("not a cluster node of the inventory, or its bus port was not probed")
    members = {address.rsplit(":", 1)[0] for address in (_plan(facts).get("nodes") or {})}
    if bus.get("from") in members:
        raise Skip(f"checked from {bus['from']}, a host of the cluster, which may reach the bus")
    if bus.get("open"):
        yield Fail(
            f"bus port {bus['port']} accepts connections from {bus.get('from') or 'the checking host'}"
        )
