#!/usr/bin/python
"""Form a Redis Cluster from the inventory's nodes, or complete one, from what the nodes report."""

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_cluster
short_description: Form (or complete) a Redis Cluster from live facts, then wait until it is whole
description:
  - Reads every node of the inventory from this host over the network (CLUSTER NODES, CLUSTER INFO,
    INFO replication, DBSIZE), with the admin user and this host's TLS files, over one kept
    connection each.
  - "Forms the cluster only from what the nodes report: a planned primary that holds no slot, and
    whose slot range no node owns, gets its slots (first a distinct configuration epoch when it has
    never met a peer: every node fresh, or a formation that stopped half-way); a node the cluster
    does not know meets it; a slotless node the plan puts in a shard, and that follows nobody,
    replicates the current owner of its shard's slots (a planned replica, or the planned primary of
    a shard that failed over while its host was rebuilt). Each step is sent once. A rerun on a
    formed cluster sends nothing, also after a failover has moved a primary (the plan is not
    reasserted). Refused: a node holding keys outside any cluster, a node that knows nodes the
    inventory does not list, two clusters that do not know each other."
  - A node that cannot be read (restarting, loading) is read again until the deadline.
  - Then reads all nodes again every I(interval) seconds until every node reports cluster_state
    ok, all 16384 slots served, no open slot, one view of the topology and every shard with its
    replicas linked, for at most I(timeout) seconds; fails with what is still wrong.
  - With I(form=false) it only reads and judges (changed is always false).
options:
  connection:
    description: How to reach a node (host, port and tls are replaced by each node's).
    type: dict
    required: true
  nodes:
    description: >-
      The inventory's nodes, each with C(host) (inventory name), C(name) (instance), C(address),
      C(port) (the client port the node announces), C(bus_port) and C(tls) (whether that port is TLS).
    type: list
    elements: dict
    required: true
  replicas: {description: Replicas per shard., type: int, required: true}
  form: {description: Send the missing steps (false - read and judge only)., type: bool, default: true}
  timeout: {description: Seconds to wait for the cluster to become whole., type: float, default: 60}
  interval: {description: Seconds between reads., type: float, default: 0.25}
"""

RETURN = r"""
steps: {description: The commands sent (node and command)., type: list, returned: always}
problems:
  description: What is wrong with the cluster at the end (empty when whole).
  type: list
  returned: always
pending: {description: Steps the module could not take yet., type: list, returned: always}
placement:
  description: Replicas beside their primary, hosts with several primaries.
  type: list
  returned: always
nodes:
  description: Per inventory node - id, role, primary (for a replica) and slots.
  type: dict
  returned: always
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.redisops.kit.plugins.module_utils.core import cluster
from ansible_collections.redisops.kit.plugins.module_utils.redis_ops import CONNECTION_SPEC
from ansible_collections.redisops.kit.plugins.module_utils.resp import RespClient, RespError

NODE_KEYS = ("host", "name", "address", "port", "bus_port", "tls")
CLIENT_NAME = "redisops-cluster"


def main():
    module = AnsibleModule(
        argument_spec={
            "connection": {"type": "dict", "required": True, "options": CONNECTION_SPEC},
            "nodes": {"type": "list", "elements": "dict", "required": True},
            "replicas": {"type": "int", "required": True},
            "form": {"type": "bool", "default": True},
            "timeout": {"type": "float", "default": 60},
            "interval": {"type": "float", "default": 0.25},
        },
        supports_check_mode=True,
    )
    p = module.params
    for i, node in enumerate(p["nodes"]):
        missing = [k for k in NODE_KEYS if k not in node]
        if missing or not str(node.get("port", "")).isdigit() or not str(node.get("bus_port", "")).isdigit():
            module.fail_json(msg=f"nodes[{i}] needs {', '.join(NODE_KEYS)} (ports numeric): {node!r}")
    nodes = [
        cluster.Node(host=n["host"], name=n["name"], address=str(n["address"]), port=int(n["port"]),
                     bus_port=int(n["bus_port"]))
        for n in p["nodes"]
    ]  # fmt: skip
    try:
        plan = cluster.plan(nodes, p["replicas"])
    except cluster.ClusterPlanError as exc:
        module.fail_json(msg=str(exc))
    by_key = {n.key: n for n in nodes}
    tls = {f"{n['host']}/{n['name']}": bool(n["tls"]) for n in p["nodes"]}
    clients = {
        key: RespClient(
            {**p["connection"], "host": node.address, "port": node.port, "tls": tls[key]},
            timeout=5.0,
            name=CLIENT_NAME,
        )
        for key, node in by_key.items()
    }

    def read(key: str) -> cluster.NodeFacts:
        node, client = by_key[key], clients[key]
        try:
            nodes_text = client.call("CLUSTER", "NODES")
            info_text = client.call("CLUSTER", "INFO")
            replication = cluster.parse_info(client.call("INFO", "replication"))
            keys = int(client.call("DBSIZE") or 0)
        except RespError as exc:
            if str(exc).startswith(("WRONGPASS", "NOAUTH")):
                module.fail_json(
                    msg=f"{key} refuses the admin user: redis_server_admin_password does not match the "
                    "live server"
                )
            return cluster.NodeFacts(key=key, endpoint=node.endpoint, error=str(exc))
        except OSError as exc:
            client.close()
            return cluster.NodeFacts(key=key, endpoint=node.endpoint, error=str(exc) or type(exc).__name__)
        found = cluster.facts(key, node.endpoint, nodes_text, info_text, keys)
        return cluster.NodeFacts(**{**found.__dict__, "replication": replication})

    sent: list[str] = []
    done: set[tuple[str, tuple[str, ...]]] = set()
    deadline = time.monotonic() + max(p["timeout"], 0)
    pending: list[str] = []
    while True:
        found = {key: read(key) for key in by_key}
        out_of_time = time.monotonic() + p["interval"] > deadline
        if p["form"]:
            problems = cluster.formation_problems(plan, found)
            if problems:
                module.fail_json(
                    msg="the cluster cannot be formed: " + " | ".join(problems),
                    steps=sent,
                    changed=bool(sent),
                )
            # A node restarted by this run may still be loading: read it again until the deadline.
            waiting = cluster.unread(found)
            steps, pending = ([], waiting) if waiting else cluster.formation_steps(plan, found)
            # A step is sent once: one answered OK is under way (a MEET's handshake, a REPLICATE's sync).
            fresh = [step for step in steps if (step.node, step.command) not in done]
            pending += [
                f"{s.node}: {' '.join(s.command[:2])} sent, not in effect yet"
                for s in steps
                if s not in fresh
            ]
            if fresh and module.check_mode:
                sent += [f"{s.node}: {' '.join(s.command)} ({s.why})" for s in fresh]
                break
            for step in fresh:
                try:
                    reply = clients[step.node].call(*step.command, retry=False)
                except (RespError, OSError) as exc:
                    module.fail_json(
                        msg=f"{step.node}: {' '.join(step.command[:2])} failed: {exc}",
                        steps=sent,
                        changed=bool(sent),
                    )
                if reply != "OK":
                    module.fail_json(
                        msg=f"{step.node}: {' '.join(step.command[:2])} answered {reply!r}",
                        steps=sent,
                        changed=bool(sent),
                    )
                done.add((step.node, step.command))
                sent.append(f"{step.node}: {' '.join(step.command)} ({step.why})")
            if fresh and not out_of_time:
                time.sleep(p["interval"])
                continue
        problems = cluster.health_problems(found, len(plan), p["replicas"]) + pending
        if not problems or out_of_time:
            break
        time.sleep(p["interval"])
    for client in clients.values():
        client.close()
    problems = (
        []
        if module.check_mode and sent
        else cluster.health_problems(found, len(plan), p["replicas"]) + pending
    )
    host_of = {n.endpoint: n.host for n in nodes}
    key_of = {n.endpoint: n.key for n in nodes}
    view = next((f.peers for f in found.values() if f.reachable), ())
    by_id = {peer.id: peer for peer in view}
    summary = {}
    for key, fact in found.items():
        if not fact.reachable:
            summary[key] = {"error": fact.error}
            continue
        me = fact.myself
        primary = by_id.get(me.master)
        summary[key] = {
            "id": me.id,
            "role": "primary" if me.is_primary else "replica",
            "primary": key_of.get(primary.endpoint, primary.endpoint) if primary else "",
            "slots": [f"{a}-{b}" for a, b in me.slots],
        }
    result = {
        "changed": bool(sent),
        "steps": sent,
        "problems": problems,
        "pending": pending,
        "placement": cluster.placement_problems(view, host_of),
        "nodes": summary,
    }
    if problems and p["form"] and not module.check_mode:
        module.fail_json(msg="the cluster is not whole: " + " | ".join(problems), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
