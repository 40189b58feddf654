"""Filters of the redis_cluster role: the inventory's cluster nodes and whether the inventory can
make the cluster it asks for. The planning itself is the core's (core/cluster.py)."""

from __future__ import annotations

from ansible_collections.redisops.kit.plugins.filter.redis_server import redis_range_problems, redis_whole
from ansible_collections.redisops.kit.plugins.module_utils.core import cluster

MAX_REPLICAS = 5
FORM_TIMEOUT_S = (10, 3600)


def redis_cluster_nodes(host_vars: list) -> list[dict]:
    """Every instance of the given hosts (their hostvars, after redis_server resolved their
    instances) as the redis_cluster module takes it: host, name, address, the client port the
    node announces (its TLS port when the bus is TLS), bus_port, tls and its min_replicas_to_write."""
    nodes = []
    for hv in host_vars:
        host = hv.get("inventory_hostname")
        for inst in hv.get("__redis_server_instances") or []:
            tls = bool(inst.get("tls_cluster"))
            nodes.append(
                {
                    "host": host,
                    "name": inst["name"],
                    "address": str(hv.get("ansible_host") or host),
                    "port": int(inst["tls_port"] if tls else inst["plain_port"]),
                    "bus_port": int(inst.get("bus_port") or 0),
                    "tls": tls,
                    "cluster": bool(inst.get("cluster")),
                    "min_replicas_to_write": inst.get("min_replicas_to_write", 0),
                }
            )
    return nodes


def _plan(nodes: list[dict], replicas) -> list[cluster.Shard]:
    return cluster.plan(
        [cluster.Node(n["host"], n["name"], n["address"], int(n["port"]), int(n["bus_port"])) for n in nodes],
        redis_whole(replicas) if redis_whole(replicas) is not None else replicas,
    )


def redis_cluster_problems(settings: dict, nodes: list[dict]) -> list[str]:
    """Why the inventory cannot make the cluster it asks for (empty when it can), before any host
    is changed: every node in cluster mode, a plan with every replica on another host than its
    primary, and writes that one lost replica cannot stop."""
    problems = []
    replicas = settings.get("redis_cluster_replicas", 1)
    problems += redis_range_problems(
        "redis_cluster_replicas", replicas, 0, MAX_REPLICAS, "replicas per shard"
    )
    low, high = FORM_TIMEOUT_S
    if "redis_cluster_form_timeout_s" in settings:
        problems += redis_range_problems(
            "redis_cluster_form_timeout_s", settings["redis_cluster_form_timeout_s"], low, high, "seconds"
        )
    off = sorted({n["host"] for n in nodes if not n.get("cluster")})
    if off:
        problems.append(
            f"hosts {', '.join(off)} of group 'redis' do not run in cluster mode: set "
            "redis_server_cluster_enabled: "
            "true for every host of a cluster inventory (a host runs either Sentinel groups or cluster nodes)"
        )
    if problems:
        return problems
    if not nodes:
        return ["group 'redis' has no instances: list the cluster's hosts in group 'redis'"]
    try:
        _plan(nodes, replicas)
    except cluster.ClusterPlanError as exc:
        problems.append(str(exc))
    count = redis_whole(replicas)
    for node in nodes:
        to_write = redis_whole(node.get("min_replicas_to_write")) or 0
        if to_write and to_write >= count:
            problems.append(
                f"{node['host']} ({node['name']}): min_replicas_to_write {to_write} with "
                "redis_cluster_replicas "
                f"{count}: a shard would refuse every write after one replica is lost or promoted; "
                "use at most "
                f"{max(count - 1, 0)} (null gives 0 in cluster mode)"
            )
    return problems


def redis_cluster_plan(nodes: list[dict], replicas) -> list[dict]:
    """The plan as data, for the playbook to print: each shard's primary, replicas and slots."""
    return [
        {
            "primary": shard.primary.key,
            "replicas": [r.key for r in shard.replicas],
            "slots": f"{shard.slots[0]}-{shard.slots[1]}",
        }
        for shard in _plan(nodes, replicas)
    ]


class FilterModule:
    def filters(self):
        return {
            "redis_cluster_nodes": redis_cluster_nodes,
            "redis_cluster_problems": redis_cluster_problems,
            "redis_cluster_plan": redis_cluster_plan,
        }
