"""The cluster's plan, its live state and the formation steps (core/cluster.py), on data."""

from __future__ import annotations

import itertools

import pytest

from redisops.core import cluster as C


def nodes(hosts: int, per_host: int) -> list[C.Node]:
    return [
        C.Node(f"h{h}", f"n{i}", f"10.0.0.{h}", 7001 + i, 17001 + i)
        for h in range(1, hosts + 1)
        for i in range(per_host)
    ]


def test_slot_ranges_cover_every_slot_once_in_near_equal_parts():
    for shards in (1, 3, 4, 7, 16):
        ranges = C.slot_ranges(shards)
        assert ranges[0][0] == 0 and ranges[-1][1] == C.SLOTS - 1
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
        sizes = {b - a + 1 for a, b in ranges}
        assert max(sizes) - min(sizes) <= 1


def test_three_hosts_with_two_instances_make_three_shards_with_replicas_elsewhere():
    plan = C.plan(nodes(3, 2), 1)
    assert [s.primary.key for s in plan] == ["h1/n0", "h2/n0", "h3/n0"]
    assert [[r.key for r in s.replicas] for s in plan] == [["h2/n1"], ["h3/n1"], ["h1/n1"]]
    assert [s.slots for s in plan] == [(0, 5461), (5462, 10922), (10923, 16383)]
    for shard in plan:
        assert all(r.host != shard.primary.host for r in shard.replicas)


def test_two_replicas_each_on_its_own_host():
    plan = C.plan(nodes(3, 3), 2)
    for shard in plan:
        hosts = [shard.primary.host, *(r.host for r in shard.replicas)]
        assert len(set(hosts)) == 3


@pytest.mark.parametrize(
    ("hosts", "per_host", "replicas", "says"),
    [
        (1, 6, 1, "needs 2 hosts"),
        (3, 1, 1, "multiple of 2"),
        (2, 2, 1, "at least 3 primaries"),
        (3, 2, 2, "make 2 shard(s)"),
        (4, 2, 2, "multiple of 3"),
    ],
)
def test_impossible_inventories_are_refused_naming_the_variable(hosts, per_host, replicas, says):
    with pytest.raises(C.ClusterPlanError) as err:
        C.plan(nodes(hosts, per_host), replicas)
    assert says in str(err.value)


def test_uneven_hosts_that_cannot_host_a_replica_elsewhere_are_refused():
    # h1 has 4 instances, h2 and h3 one each: 3 shards of 2, but h1 would hold a primary and its replica.
    lopsided = [C.Node("h1", f"n{i}", "10.0.0.1", 7001 + i, 17001 + i) for i in range(4)]
    lopsided += [C.Node("h2", "n0", "10.0.0.2", 7001, 17001), C.Node("h3", "n0", "10.0.0.3", 7001, 17001)]
    with pytest.raises(C.ClusterPlanError) as err:
        C.plan(lopsided, 1)
    assert "spread the instances" in str(err.value)


def test_bad_replica_counts_are_refused():
    for bad in (-1, True, "1"):
        with pytest.raises(C.ClusterPlanError, match="redis_cluster_replicas"):
            C.plan(nodes(3, 2), bad)


# CLUSTER NODES as the Redis docs show it, with a hostname and two open slots.
A, B, M, R = "292f8b36" * 5, "07c37dfe" * 5, "e7d1eecc" * 5, "67ed2db8" * 5
NODES = "\n".join(
    [
        f"{B} 10.0.0.2:7001@17001 master - 0 1426238316232 2 connected 5461-10922",
        f"{R} 10.0.0.3:7002@17002 slave {M} 0 1426238316232 3 connected",
        f"{A} 10.0.0.1:7001@17001,h1 myself,master - 0 0 1 connected 0-5460 [93->-{M}]",
        f"{M} 10.0.0.3:7001@17001 master - 0 1426238316232 3 connected 10923-16383 [77-<-{A}]",
    ]
)


def test_cluster_nodes_is_read_with_roles_slots_and_open_slots():
    peers = C.parse_nodes(NODES)
    me = next(p for p in peers if p.myself)
    assert me.endpoint == "10.0.0.1:7001" and me.bus_port == 17001 and me.is_primary
    assert me.slots == ((0, 5460),) and me.slot_count == 5461
    assert me.migrating == ((93, M),)
    replica = next(p for p in peers if not p.is_primary)
    assert replica.master == M and replica.slots == ()
    assert C.owner_of(6000, peers).endpoint == "10.0.0.2:7001"
    assert C.assigned(peers) == C.SLOTS


def fresh(key: str, endpoint: str, ident: str, keys: int = 0) -> C.NodeFacts:
    port = endpoint.split(":")[1]
    line = f"{ident} {endpoint}@{int(port) + 10000} myself,master - 0 0 0 connected\n"
    return C.facts(key, endpoint, line, "cluster_state:fail\ncluster_current_epoch:0\n", keys)


def test_fresh_nodes_get_epochs_and_slots_first():
    plan = C.plan(nodes(3, 2), 1)
    found = {n.key: fresh(n.key, n.endpoint, f"{i:040x}") for i, n in enumerate(nodes(3, 2))}
    assert all(f.fresh for f in found.values())
    steps, pending = C.formation_steps(plan, found)
    assert not pending
    assert [(s.node, s.command) for s in steps] == [
        ("h1/n0", ("CLUSTER", "SET-CONFIG-EPOCH", "1")),
        ("h1/n0", ("CLUSTER", "ADDSLOTSRANGE", "0", "5461")),
        ("h2/n0", ("CLUSTER", "SET-CONFIG-EPOCH", "2")),
        ("h2/n0", ("CLUSTER", "ADDSLOTSRANGE", "5462", "10922")),
        ("h3/n0", ("CLUSTER", "SET-CONFIG-EPOCH", "3")),
        ("h3/n0", ("CLUSTER", "ADDSLOTSRANGE", "10923", "16383")),
    ]


def seeded(node: C.Node, ident: str, epoch: int, slots: str) -> C.NodeFacts:
    line = f"{ident} {node.endpoint}@{node.bus_port} myself,master - 0 0 {epoch} connected {slots}\n"
    return C.facts(node.key, node.endpoint, line, f"cluster_state:fail\ncluster_current_epoch:{epoch}\n")


def test_then_every_node_meets_the_first_primary_and_nothing_else_until_all_see_all():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    ids = {n.key: f"{i + 1:040x}" for i, n in enumerate(ns)}
    found = {n.key: fresh(n.key, n.endpoint, ids[n.key]) for n in ns}
    for epoch, shard in enumerate(plan, start=1):
        found[shard.primary.key] = seeded(
            shard.primary, ids[shard.primary.key], epoch, f"{shard.slots[0]}-{shard.slots[1]}"
        )
    assert C.formation_problems(plan, found) == []
    steps, _ = C.formation_steps(plan, found)
    assert {s.node for s in steps} == {n.key for n in ns} - {"h1/n0"}
    assert all(s.command == ("CLUSTER", "MEET", "10.0.0.1", "7001", "17001") for s in steps)


def member_view(ns: list[C.Node], ids: dict, roles: dict, slots: dict, me: str) -> str:
    lines = []
    for n in ns:
        flags = ("myself," if n.key == me else "") + ("master" if roles[n.key] == "-" else "slave")
        master = roles[n.key] if roles[n.key] == "-" else ids[roles[n.key]]
        line = f"{ids[n.key]} {n.endpoint}@{n.bus_port} {flags} {master} 0 0 1 connected"
        lines.append(f"{line} {slots.get(n.key, '')}".rstrip())
    return "\n".join(lines) + "\n"


def cluster_facts(ns, ids, roles, slots, state="ok", link="up"):
    out = {}
    for n in ns:
        text = member_view(ns, ids, roles, slots, n.key)
        served = C.SLOTS if state == "ok" else 0
        info = f"cluster_state:{state}\ncluster_slots_ok:{served}\ncluster_current_epoch:3\n"
        fact = C.facts(n.key, n.endpoint, text, info)
        repl = {"role": "master"} if roles[n.key] == "-" else {"role": "slave", "master_link_status": link}
        out[n.key] = C.NodeFacts(**{**fact.__dict__, "replication": repl})
    return out


def test_once_all_see_all_the_planned_replicas_replicate_their_shard_owner():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    ids = {n.key: f"{i + 1:040x}" for i, n in enumerate(ns)}
    roles = {n.key: "-" for n in ns}
    slots = {s.primary.key: f"{s.slots[0]}-{s.slots[1]}" for s in plan}
    found = cluster_facts(ns, ids, roles, slots, state="ok")
    steps, pending = C.formation_steps(plan, found)
    assert not pending
    assert [(s.node, s.command) for s in steps] == [
        ("h2/n1", ("CLUSTER", "REPLICATE", ids["h1/n0"])),
        ("h3/n1", ("CLUSTER", "REPLICATE", ids["h2/n0"])),
        ("h1/n1", ("CLUSTER", "REPLICATE", ids["h3/n0"])),
    ]


def formed(ns, plan):
    ids = {n.key: f"{i + 1:040x}" for i, n in enumerate(ns)}
    roles = {n.key: "-" for n in ns}
    for shard in plan:
        for r in shard.replicas:
            roles[r.key] = shard.primary.key
    slots = {s.primary.key: f"{s.slots[0]}-{s.slots[1]}" for s in plan}
    return ids, roles, slots


def test_a_formed_cluster_gets_no_step_and_is_whole():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    found = cluster_facts(ns, *formed(ns, plan))
    assert C.formation_steps(plan, found) == ([], [])
    assert C.health_problems(found, 3, 1) == []
    host_of = {n.endpoint: n.host for n in ns}
    assert C.placement_problems(found["h1/n0"].peers, host_of) == []


def test_after_a_failover_the_promoted_replica_stays_primary_and_placement_is_reported():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    ids, roles, slots = formed(ns, plan)
    # h2/n1 (replica of h1/n0) was promoted; h1/n0 came back as its replica.
    roles["h2/n1"], roles["h1/n0"] = "-", "h2/n1"
    slots["h2/n1"] = slots.pop("h1/n0")
    found = cluster_facts(ns, ids, roles, slots)
    assert C.formation_steps(plan, found) == ([], [])
    assert C.health_problems(found, 3, 1) == []
    problems = C.placement_problems(found["h1/n0"].peers, {n.endpoint: n.host for n in ns})
    assert problems and "host h2 runs 2 primaries" in problems[0]


def test_unhealthy_states_are_named():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    found = cluster_facts(ns, *formed(ns, plan), state="fail", link="down")
    problems = " | ".join(C.health_problems(found, 3, 1))
    assert "cluster_state:fail" in problems and "of 16384 slots served" in problems
    assert "link to its primary is not up" in problems
    found["h3/n1"] = C.NodeFacts(key="h3/n1", endpoint="10.0.0.3:7002", error="Connection refused")
    assert "h3/n1 (10.0.0.3:7002) could not be read: Connection refused" in C.health_problems(found)


def test_a_node_with_keys_outside_any_cluster_and_two_clusters_are_refused():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    found = {n.key: fresh(n.key, n.endpoint, f"{i:040x}") for i, n in enumerate(ns)}
    found["h2/n1"] = fresh("h2/n1", ns[3].endpoint, "f" * 40, keys=12)
    assert "holds 12 key(s) but belongs to no cluster" in C.formation_problems(plan, found)[0]
    a = seeded(ns[0], "a" * 40, 1, "0-100")
    b = seeded(ns[2], "b" * 40, 1, "50-200")
    assert "different clusters" in C.formation_problems(plan, {"h1/n0": a, "h2/n0": b})[0]


def test_nodes_that_met_one_node_but_not_yet_each_other_are_one_cluster_forming():
    ns = nodes(3, 1)
    anchor, left, right = ("a" * 40, ns[0]), ("b" * 40, ns[1]), ("c" * 40, ns[2])

    def view(me, others, slots):
        lines = [f"{me[0]} {me[1].endpoint}@{me[1].bus_port} myself,master - 0 0 1 connected {slots}"]
        lines += [f"{o[0]} {o[1].endpoint}@{o[1].bus_port} master - 0 0 1 connected" for o in others]
        return C.facts(me[1].key, me[1].endpoint, "\n".join(lines), "cluster_current_epoch:3\n")

    found = {
        "h1/n0": view(anchor, [left, right], "0-5461"),
        "h2/n0": view(left, [anchor], "5462-10922"),
        "h3/n0": view(right, [anchor], "10923-16383"),
    }
    assert C.formation_problems(C.plan(ns, 0), found) == []


def test_uneven_hosts_get_replicas_where_instances_are_left():
    uneven = [
        C.Node(f"h{h}", f"n{i}", f"10.0.0.{h}", 7001 + i, 17001 + i)
        for h, c in ((1, 1), (2, 2), (3, 3))
        for i in range(c)
    ]
    plan = C.plan(uneven, 1)
    assert [(s.primary.key, [r.key for r in s.replicas]) for s in plan] == [
        ("h1/n0", ["h3/n1"]),
        ("h2/n0", ["h3/n2"]),
        ("h3/n0", ["h2/n1"]),
    ]


def test_a_host_whose_loss_takes_the_majority_of_primaries_is_refused():
    with pytest.raises(C.ClusterPlanError, match="put 2 primaries on h1: losing it leaves 1 of 3"):
        C.plan(nodes(2, 3), 1)
    assert len(C.plan(nodes(3, 2), 0)) == 6  # 2 of 6 on each host: 4 left, a majority


def test_a_formation_that_stopped_half_way_is_completed():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    ids = {n.key: f"{i + 1:040x}" for i, n in enumerate(ns)}
    found = {n.key: fresh(n.key, n.endpoint, ids[n.key]) for n in ns}
    first = plan[0]
    found[first.primary.key] = seeded(first.primary, ids[first.primary.key], 1, "0-5461")
    steps, _ = C.formation_steps(plan, found)
    assert [(s.node, s.command) for s in steps] == [
        ("h2/n0", ("CLUSTER", "SET-CONFIG-EPOCH", "2")),
        ("h2/n0", ("CLUSTER", "ADDSLOTSRANGE", "5462", "10922")),
        ("h3/n0", ("CLUSTER", "SET-CONFIG-EPOCH", "3")),
        ("h3/n0", ("CLUSTER", "ADDSLOTSRANGE", "10923", "16383")),
    ]


def test_a_meet_under_way_is_not_sent_again_nor_taken_for_another_cluster():
    ns = nodes(3, 1)
    plan = C.plan(ns, 0)
    a, b, c = ns
    # b and c met a: a lists them in handshake (temporary ids), each lists a in handshake.
    view_a = "\n".join(
        [
            f"{'a' * 40} {a.endpoint}@{a.bus_port} myself,master - 0 0 1 connected 0-5461",
            f"{'1' * 40} {b.endpoint}@{b.bus_port} handshake - 0 0 0 connected",
            f"{'2' * 40} {c.endpoint}@{c.bus_port} handshake - 0 0 0 connected",
        ]
    )

    def met(me, ident, epoch, slots, temp):
        lines = [
            f"{ident} {me.endpoint}@{me.bus_port} myself,master - 0 0 {epoch} connected {slots}",
            f"{temp} {a.endpoint}@{a.bus_port} handshake - 0 0 0 connected",
        ]
        return C.facts(me.key, me.endpoint, "\n".join(lines), "cluster_current_epoch:3\n")

    found = {
        a.key: C.facts(a.key, a.endpoint, view_a, "cluster_current_epoch:3\n"),
        b.key: met(b, "b" * 40, 2, "5462-10922", "3" * 40),
        c.key: met(c, "c" * 40, 3, "10923-16383", "4" * 40),
    }
    assert C.formation_problems(plan, found) == []
    steps, pending = C.formation_steps(plan, found)
    assert steps == [] and pending


def test_a_node_that_knows_nodes_outside_the_inventory_is_refused():
    ns = nodes(3, 1)
    plan = C.plan(ns, 0)
    a = ns[0]
    text = "\n".join(
        [
            f"{'a' * 40} {a.endpoint}@{a.bus_port} myself,master - 0 0 1 connected",
            f"{'9' * 40} 10.9.9.9:7001@17001 master - 0 0 2 connected 0-16383",
        ]
    )
    found = {a.key: C.facts(a.key, a.endpoint, text, "cluster_current_epoch:2\n")}
    problems = C.formation_problems(plan, found)
    assert problems and "knows nodes the inventory does not list (10.9.9.9:7001)" in problems[0]


def test_a_planned_primary_rebuilt_after_its_shard_failed_over_rejoins_as_its_replica():
    ns = nodes(3, 2)
    plan = C.plan(ns, 1)
    ids, roles, slots = formed(ns, plan)
    # h1/n0 was lost; its replica h2/n1 took over; h1/n0 came back empty with a new id and met.
    roles["h2/n1"], roles["h1/n0"] = "-", "-"
    slots["h2/n1"] = slots.pop("h1/n0")
    ids["h1/n0"] = "f" * 40
    found = cluster_facts(ns, ids, roles, slots)
    steps, _ = C.formation_steps(plan, found)
    assert [(s.node, s.command) for s in steps] == [("h1/n0", ("CLUSTER", "REPLICATE", ids["h2/n1"]))]
