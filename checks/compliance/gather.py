"""Gathering: the only layer that talks to servers and hosts.

Each target is read once (redis-py for Redis and Sentinel, testinfra for hosts), in parallel
with a bounded pool. A target that cannot be read becomes facts with ``error`` set, never an
exception: the run goes on and reports it.

CONFIG GET and ACL LIST are never read over the network (CONFIG GET answers masterauth, ACL LIST
every user's hash): each host's reader (redis_server's files/redisops-inspect) reads them over
loopback and masks every secret before printing. It is run as root over the host connection
('redisops check' with host facts) or through its forced SSH command (scheduled runs, with the
key in the targets' ``inspect``). Without either, those facts are marked unread and the checks
that need them are skipped.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from redisops.compliance.facts import BackupFacts, ClusterFacts, HostFacts, RedisFacts, SentinelFacts
from redisops.compliance.server import identify
from redisops.compliance.settings import Thresholds
from redisops.core.cluster import parse_info as parse_cluster_info
from redisops.inventory import Endpoint, HostSpec, Targets

# The reader as the redis_server role installs it, and what a run without host access needs to
# run it: the key of an account whose only command is the reader.
INSPECT_READER = "/usr/local/libexec/redisops-inspect"
# Anything that still looks like a secret in the reader's output: refused, never stored.
_HASH = re.compile(r"#[0-9a-fA-F]{64}")
HOST, SSH, NONE = "host", "ssh", ""
_LENGTH = {
    "string": "STRLEN",
    "hash": "HLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "stream": "XLEN",
}
SOCKET_TIMEOUT = 5.0


def _client(endpoint: Endpoint, db: int = 0):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kwargs: dict[str, Any] = {
        "host": endpoint.address,
        "port": endpoint.port,
        "username": endpoint.username or None,
        "password": endpoint.password or None,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": SOCKET_TIMEOUT,
        "decode_responses": True,
        "protocol": 2,
        "db": db,
        # One try: a run is repeated on schedule, and a dead target must not cost a minute.
        "retry": Retry(NoBackoff(), 0),
    }
    if endpoint.tls:
        kwargs.update(
            ssl=True,
            ssl_ca_certs=endpoint.ca_cert or None,
            ssl_certfile=endpoint.cert or None,
            ssl_keyfile=endpoint.key or None,
        )
    return redis.Redis(**kwargs)


def certificate_problem(path: str) -> str:
    """Why a local certificate file cannot work ('' when it looks fine or cannot be judged)."""
    if not path:
        return ""
    if not Path(path).is_file():
        return "does not exist"
    try:
        end = subprocess.run(
            ["openssl", "x509", "-noout", "-enddate", "-checkend", "0", "-in", path],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if end.returncode != 0 and end.stdout.startswith("notAfter="):
        return f"expired on {end.stdout.splitlines()[0].split('=', 1)[1]}: renew it"
    if not end.stdout.startswith("notAfter="):
        return "is not a readable certificate"
    return ""


def describe_error(exc: BaseException, endpoint: Endpoint) -> str:
    """What went wrong, in words an operator acts on (never the password)."""
    import redis

    text = str(exc).replace(endpoint.password, "***") if endpoint.password else str(exc)
    where = f"{endpoint.address}:{endpoint.port}"
    if (
        isinstance(exc, redis.AuthenticationError)
        or "WRONGPASS" in text
        or "invalid username-password" in text
    ):
        return f"authentication as {endpoint.username!r} refused by {where}: check the password variable"
    if "DENIED" in text and "protected mode" in text:
        return (
            f"{where} refuses remote clients: protected mode is on because the default user has no "
            "password (an open default user, SEC-01); fix the ACL from the host itself"
        )
    if isinstance(exc, redis.exceptions.NoPermissionError) or "NOPERM" in text:
        return f"user {endpoint.username!r} may not run a needed command on {where}: {text}"
    if "certificate" in text.lower() or "ssl" in text.lower() or "eof occurred" in text.lower():
        # A server that refuses our certificate just closes the handshake: look at our own files.
        for what, path in (("client certificate", endpoint.cert), ("CA certificate", endpoint.ca_cert)):
            problem = certificate_problem(path)
            if problem:
                return f"TLS handshake with {where} failed: our {what} {path} {problem}"
        return f"TLS handshake with {where} failed: {text}"
    if isinstance(exc, redis.TimeoutError):
        return f"{where} did not answer within {SOCKET_TIMEOUT:.0f} s (host down or firewalled?)"
    if isinstance(exc, redis.ConnectionError):
        if "refused" in text.lower():
            # The host answers but nothing listens: the usual first-hour case is hosts that have
            # not been deployed yet.
            return (
                f"nothing listens on {where} (connection refused): deploy it with "
                "'ansible-playbook playbooks/site.yml', or check the inventory's port"
            )
        return f"cannot connect to {where}: {text}"
    if isinstance(exc, OSError):
        return f"cannot use {where}: {text}"
    return f"{type(exc).__name__} from {where}: {text}"


def _plain(value):
    """redis-py replies as JSON types (bytes never: decode_responses is on)."""
    return json.loads(json.dumps(value, default=str))


def _pairs(reply) -> dict:
    return dict(zip(reply[::2], reply[1::2], strict=False)) if isinstance(reply, list) else {}


def _reading(value) -> int | None:
    """An integer reply, or None when the command failed: an error is no reading."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def describe_keys(client, names: list[str]) -> list[dict]:
    """Per key its type, TTL (PTTL, ms), memory and length, in two pipelines. A reading that failed
    is None (unknown), never a value: a PTTL refused or lost is not 'no TTL' (-1). A key gone since
    it was picked (TYPE none, PTTL -2) is left out."""
    pipe = client.pipeline(transaction=False)
    for key in names:
        pipe.type(key)
        pipe.pttl(key)
        pipe.memory_usage(key, samples=5)
    meta = pipe.execute(raise_on_error=False)
    types = [kind if isinstance(kind, str) else None for kind in meta[0::3]]
    pipe = client.pipeline(transaction=False)
    for key, kind in zip(names, types, strict=True):
        pipe.execute_command(_LENGTH.get(kind or "", "EXISTS"), key)
    lengths = pipe.execute(raise_on_error=False)
    out = []
    for i, key in enumerate(names):
        ttl = _reading(meta[3 * i + 1])
        if types[i] == "none" or ttl == -2:
            continue
        out.append(
            {
                "name": key,
                "type": types[i] or "unknown",
                "ttl_ms": ttl,
                "bytes": _reading(meta[3 * i + 2]),
                "length": _reading(lengths[i]),
            }
        )
    return out


def _count(value) -> int | None:
    """A count in an XINFO reply: an integer, None when the server has none (lag it cannot tell,
    a field older servers lack)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _group(reply: dict) -> dict:
    """A consumer group as the facts keep it (XINFO GROUPS): counts and ids, never an entry.
    ``lag`` (Redis 7.0 on) is None when the server cannot tell it or does not report it."""
    return {
        "name": str(reply.get("name", ""))[:64],
        "consumers": _count(reply.get("consumers")),
        "pending": _count(reply.get("pending")),
        "last_delivered_id": str(reply.get("last-delivered-id", ""))[:64],
        "entries_read": _count(reply.get("entries-read")),
        "lag": _count(reply.get("lag")),
    }


def _consumer(reply: dict) -> dict:
    """A consumer as the facts keep it (XINFO CONSUMERS): its name, pending entries, and idle
    (since its last attempted read or claim) and inactive (since its last successful one, Redis
    7.2 on: else None) in ms."""
    return {
        "name": str(reply.get("name", ""))[:64],
        "pending": _count(reply.get("pending")),
        "idle_ms": _count(reply.get("idle")),
        "inactive_ms": _count(reply.get("inactive")),
    }


def describe_streams(client, streams: list[dict], limit: Thresholds) -> list[str]:
    """The consumer groups of sampled streams (``{name, ...}`` of describe_keys), set on each as
    ``groups`` (at most stream_groups_max, the ones with the most pending and undelivered entries
    first) and ``groups_total``; for each kept group with pending entries its consumers holding
    some, the longest idle first (at most stream_consumers_keep), under ``consumers``, and
    ``consumers_pending`` how many hold some. Two pipelines (XINFO GROUPS, then XINFO CONSUMERS),
    bounded by the thresholds; entries are never read. Returns why streams could not be read."""
    errors: list[str] = []
    if not streams:
        return errors
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        pipe.execute_command("XINFO", "GROUPS", stream["name"])
    replies = pipe.execute(raise_on_error=False)
    wanted: list[tuple[dict, dict]] = []
    for stream, reply in zip(streams, replies, strict=True):
        if not isinstance(reply, list):
            errors.append(str(reply)[:200])
            continue
        groups = [_group(_pairs(g)) for g in reply]
        groups.sort(key=lambda g: (-(g["pending"] or 0), -(g["lag"] or 0), g["name"]))
        stream["groups_total"] = len(groups)
        stream["groups"] = groups[: max(0, limit.stream_groups_max)]
        wanted += [(stream, g) for g in stream["groups"] if (g["pending"] or 0) > 0]
    if not wanted:
        return errors
    pipe = client.pipeline(transaction=False)
    for stream, group in wanted:
        pipe.execute_command("XINFO", "CONSUMERS", stream["name"], group["name"])
    for (_, group), reply in zip(wanted, pipe.execute(raise_on_error=False), strict=True):
        if not isinstance(reply, list):
            errors.append(str(reply)[:200])
            continue
        holding = [c for c in (_consumer(_pairs(r)) for r in reply) if (c["pending"] or 0) > 0]
        holding.sort(key=lambda c: (-(c["idle_ms"] or 0), c["name"]))
        group["consumers_pending"] = len(holding)
        group["consumers_kept"] = holding[: max(0, limit.stream_consumers_keep)]
    return errors


def keyspace_sizes(info: dict) -> dict[int, int]:
    """Keys per logical database that holds any, from INFO keyspace (db0:keys=...)."""
    sizes = {}
    for name, value in info.items():
        if re.fullmatch(r"db\d+", str(name)) and isinstance(value, dict):
            try:
                keys = int(value.get("keys", 0))
            except (TypeError, ValueError):
                continue
            if keys > 0:
                sizes[int(name[2:])] = keys
    return sizes


def share_budget(sizes: dict[int, int], budget: int) -> dict[int, int]:
    """The sample budget split over the databases: the smallest get all their keys, the others
    equal shares of what is left (every database with keys is sampled, none beyond its size)."""
    shares, left = {}, budget
    ordered = sorted(sizes.items(), key=lambda item: (item[1], item[0]))
    for i, (db, keys) in enumerate(ordered):
        shares[db] = min(keys, left // (len(ordered) - i))
        left -= shares[db]
    return {db: share for db, share in sorted(shares.items()) if share > 0}


def sample_database(
    client, want: int, keys_in_db: int, count: int, rng: random.Random
) -> tuple[list[str], bool]:
    """Up to ``want`` distinct key names of the client's database, and whether they are all of it.
    A database no larger than ``want`` (INFO keyspace) is scanned whole: SCAN from cursor 0 to 0. A
    larger one is sampled from a random cursor: SCAN walks the hash table from that bucket on, and
    the hash is seeded per process, so the keys found there are a random subset, another one at every
    run; at the table's end it goes on from cursor 0. Bounded by ``want`` keys or one whole pass;
    never KEYS."""
    names: list[str] = []
    seen: set[str] = set()

    def take(page) -> None:
        for name in page:
            if name not in seen:
                seen.add(name)
                names.append(name)

    if keys_in_db <= want:
        cursor = None
        while cursor != 0:
            cursor, page = client.scan(cursor=cursor or 0, count=count)
            take(page)
        return names[:want], len(names) <= want  # keys added since INFO: then a sample after all
    cursor, wrapped = rng.getrandbits(64), False
    while len(names) < want:
        cursor, page = client.scan(cursor=cursor, count=count)
        take(page)
        if cursor == 0:
            if wrapped:
                break
            wrapped = True
    return names[:want], False


def sample_keys(client_for, info: dict, limit: Thresholds, rng: random.Random | None = None) -> dict:
    """A bounded random key sample of every database that holds keys (INFO keyspace): the budget
    (key_sample_budget) split over them, per key its type, TTL, memory and length, pipelined.
    ``client_for(db)`` gives a client on that database; one that cannot be read (SELECT refused by
    an older compliance user) is left out and named in ``unread``."""
    rng = rng or random.SystemRandom()
    sizes = keyspace_sizes(info)
    shares = share_budget(sizes, limit.key_sample_budget)
    keys, complete, unread = [], set(shares) == set(sizes), {}  # a budget under the databases' count
    streams_left, stream_errors = max(0, limit.stream_sample_max), []
    for db, want in shares.items():
        try:
            client = client_for(db)
            names, whole = sample_database(client, want, sizes[db], limit.key_scan_count, rng)
            step = max(1, limit.key_scan_count)
            described = []
            for i in range(0, len(names), step):
                described += [{**key, "db": db} for key in describe_keys(client, names[i : i + step])]
            keys += described
            # The consumer groups of the first sampled streams (the sample is random already).
            streams = [k for k in described if k["type"] == "stream"][:streams_left]
            streams_left -= len(streams)
            try:
                stream_errors += describe_streams(client, streams, limit)
            except Exception as exc:  # the keys were read: only their groups are missing
                stream_errors += [str(exc)[:200]] * len(streams)
        except Exception as exc:
            unread[db] = str(exc)[:200]
            whole = False
        complete = complete and whole
    return {
        "scanned": len(keys),
        "budget": limit.key_sample_budget,
        "complete": complete,
        "unread": unread,
        "keys": keys,
        # Sampled streams whose groups could not be read (XINFO refused): why, at most a few.
        "stream_errors": stream_errors[:3],
        "streams_unread": len(stream_errors),
    }


# What the checks keep of CLIENT LIST: buffers, ages, what the client last ran and its name (to find it);
# never its address, nor the databases and users it works with.
CLIENT_FIELDS = ("id", "name", "age", "idle", "qbuf", "omem", "tot-mem", "cmd")
_CLIENT_NUMBERS = ("id", "age", "idle", "qbuf", "omem", "tot-mem")


def client_buffers(entry: dict) -> int:
    """A CLIENT LIST entry's memory: tot-mem (Redis 6.2 on), else its output and query buffers."""
    if "tot-mem" in entry:
        return int(entry["tot-mem"])
    return int(entry.get("omem", 0)) + int(entry.get("qbuf", 0))


def read_clients(client, keep: int) -> dict:
    """The normal and pub/sub clients (CLIENT LIST TYPE: replicas are MEM-07's), only CLIENT_FIELDS
    of each, the ``keep`` with the most memory; ``listed`` counts them all."""
    clients = []
    for kind in ("normal", "pubsub"):
        for entry in client.client_list(_type=kind):
            kept = {"type": kind}
            for name in CLIENT_FIELDS:
                if name in entry:
                    value = entry[name]
                    kept[name] = int(value) if name in _CLIENT_NUMBERS else str(value)[:64]
            clients.append(kept)
    clients.sort(key=client_buffers, reverse=True)
    return {"listed": len(clients), "kept": clients[: max(0, keep)]}


def served_certificate_end(endpoint: Endpoint) -> float:
    """When the certificate the server presents expires (epoch seconds), from a TLS handshake of
    our own: scheduled runs see certificate expiry without SSH to the host."""
    context = ssl.create_default_context(cafile=endpoint.ca_cert or None)
    context.check_hostname = False  # targets are addresses; the CA still verifies the chain
    if endpoint.cert:
        context.load_cert_chain(endpoint.cert, endpoint.key or None)
    with (
        socket.create_connection((endpoint.address, endpoint.port), timeout=SOCKET_TIMEOUT) as raw,
        context.wrap_socket(raw) as tls,
    ):
        return float(ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"]))


def _optional(facts, what: str, read):
    """A section some checks need: when it cannot be read the others still run, and the gap
    is reported (the run could not check everything)."""
    try:
        return read()
    except Exception as exc:
        facts.gaps.append(f"could not read {what}: {str(exc)[:200]}")
        return None


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply or "")


def probe_bus(address: str, port: int, timeout: float = 2.0) -> dict[str, Any]:
    """Whether a cluster node's bus port accepts a connection from here, and from which address
    (the checking host's, as the node's firewall sees it)."""
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.connect((address, port))  # no packet: the route's source address
            source = udp.getsockname()[0]
        except OSError:
            source = ""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return {"port": port, "open": True, "from": source}
    except OSError:
        return {"port": port, "open": False, "from": source}


def _cluster(endpoint: Endpoint, client, facts: RedisFacts) -> None:
    """A cluster node's view of the cluster, and whether its bus answers the checking host."""
    why = " (the compliance user needs it: rerun cluster.yml)"
    nodes = _optional(facts, "CLUSTER NODES" + why, lambda: client.execute_command("CLUSTER", "NODES"))
    facts.cluster_nodes = _text(nodes) if nodes is not None else ""
    info = _optional(facts, "CLUSTER INFO" + why, lambda: client.execute_command("CLUSTER", "INFO"))
    if isinstance(info, dict):
        facts.cluster_info = {str(k): str(v) for k, v in info.items()}
    elif info is not None:
        facts.cluster_info = parse_cluster_info(_text(info))
    bus = int((endpoint.expected.get("cluster") or {}).get("bus_port") or 0)
    if bus:
        facts.bus = probe_bus(endpoint.address, bus)


def _sample(endpoint: Endpoint, client, facts: RedisFacts, limit: Thresholds) -> dict:
    """The key sample over every database, each other than 0 on a client of its own; a database
    that could not be read is a gap of the run."""
    others: dict[int, Any] = {}

    def client_for(db: int):
        if db == 0:
            return client
        others[db] = _client(endpoint, db)
        return others[db]

    try:
        sample = sample_keys(client_for, facts.info, limit)
    finally:
        for other in others.values():
            other.close()
    for db, why in sample["unread"].items():
        facts.gaps.append(
            f"could not sample db{db}: {why} (the compliance user needs SELECT: rerun site.yml)"
        )
    if sample["streams_unread"]:
        facts.gaps.append(
            f"could not read the consumer groups of {sample['streams_unread']} sampled streams: "
            f"{sample['stream_errors'][0]} (the compliance user needs XINFO GROUPS and CONSUMERS: rerun "
            "site.yml)"
        )
    return sample


def gather_redis(endpoint: Endpoint, limit: Thresholds) -> RedisFacts:
    facts = RedisFacts(
        target=endpoint.target,
        host=endpoint.host,
        instance=endpoint.instance,
        address=endpoint.address,
        port=endpoint.port,
        expected=dict(endpoint.expected),
    )
    client = _client(endpoint)
    try:
        # What most checks need: without it the target is unreadable.
        facts.info = _plain(client.info("all"))
        facts.server = identify(facts.info).to_dict()
    except Exception as exc:  # any failure is a finding of its own, never a crash
        facts.error = describe_error(exc, endpoint)
        client.close()
        return facts
    try:
        facts.slowlog_len = _optional(facts, "SLOWLOG LEN", client.slowlog_len) or 0
        entries = _optional(facts, "SLOWLOG GET", lambda: client.slowlog_get(10)) or []
        facts.slowlog = [
            {
                "id": e["id"],
                "start_time": e["start_time"],
                "duration_us": e["duration"],
                "command": str(e["command"])[:200],
                "client_name": str(e.get("client_name") or "")[:64],
            }
            for e in entries
        ]
        facts.latency_latest = _plain(
            _optional(facts, "LATENCY LATEST", lambda: client.execute_command("LATENCY", "LATEST")) or []
        )
        facts.latency_doctor = str(
            _optional(facts, "LATENCY DOCTOR", lambda: client.execute_command("LATENCY", "DOCTOR")) or ""
        )
        facts.clients = _optional(
            facts,
            "CLIENT LIST (the compliance user needs it: rerun site.yml)",
            lambda: read_clients(client, limit.client_list_keep),
        )
        if str(facts.info.get("cluster_enabled", "0")) == "1" or endpoint.expected.get("cluster"):
            _cluster(endpoint, client, facts)
        stats = _optional(facts, "MEMORY STATS", lambda: client.execute_command("MEMORY", "STATS"))
        facts.memory_stats = _plain(_pairs(stats)) if stats else {}
        # One node per group samples keys: the primary holds the truth.
        if facts.info.get("role") == "master":
            facts.keys = _optional(
                facts, "a key sample (SCAN)", lambda: _sample(endpoint, client, facts, limit)
            )
        if endpoint.tls:
            facts.tls_cert_not_after = (
                _optional(facts, "the served certificate", lambda: served_certificate_end(endpoint)) or 0.0
            )
    finally:
        client.close()
    return facts


def gather_sentinel(endpoint: Endpoint) -> SentinelFacts:
    facts = SentinelFacts(
        target=endpoint.target,
        host=endpoint.host,
        address=endpoint.address,
        port=endpoint.port,
        expected=dict(endpoint.expected),
    )
    client = _client(endpoint)
    try:
        facts.info = _plain(client.info())
        facts.server = identify(facts.info).to_dict()
        for raw in client.execute_command("SENTINEL", "MASTERS"):
            master = _pairs(raw)
            name = master.get("name", "")
            facts.masters[name] = master
            facts.replicas[name] = [_pairs(r) for r in client.execute_command("SENTINEL", "REPLICAS", name)]
            facts.sentinels[name] = [_pairs(s) for s in client.execute_command("SENTINEL", "SENTINELS", name)]
            try:
                facts.ckquorum[name] = str(client.execute_command("SENTINEL", "CKQUORUM", name))
            except Exception as exc:  # CKQUORUM answers an error when quorum is not reachable
                facts.ckquorum[name] = f"ERROR {exc}"
        if endpoint.tls:
            facts.tls_cert_not_after = served_certificate_end(endpoint)
    except Exception as exc:
        facts.error = describe_error(exc, endpoint)
    finally:
        client.close()
    return facts


_PROBE = Path(__file__).with_name("host_probe.py")
_PROBED = ("container", "sysctl", "thp", "mem_total_bytes", "processes", "files", "units", "listening",
           "certificates", "packages", "sentinel_conf", "now")  # fmt: skip


def _testinfra_host(spec: HostSpec):
    """The testinfra host of a spec's connection ({"url": "ansible://redis-1", ...})."""
    import testinfra

    conn = dict(spec.connection)
    return testinfra.get_host(conn.pop("url"), **conn)


def gather_host(spec: HostSpec) -> HostFacts:

    facts = HostFacts(target=spec.target, address=spec.address, expected=dict(spec.expected))
    want = {
        "files": [f["path"] for f in spec.expected.get("files", [])],
        "units": spec.expected.get("units", []),
        "certs": spec.expected.get("certs", []),
        "sentinel_confs": [f["path"] for f in spec.expected.get("files", []) if f.get("writable_by_owner")],
    }
    command = f"python3 -c {shlex.quote(_PROBE.read_text())} {shlex.quote(json.dumps(want))}"
    try:
        out = _testinfra_host(spec).run(command)
        if out.rc != 0:
            facts.error = f"host probe failed on {spec.target} (exit {out.rc}): {out.stderr.strip()[:300]}"
            return facts
        data = json.loads(out.stdout)
        for key in _PROBED:  # only what the probe gathers: a host cannot rewrite its expectations
            if key in data:
                setattr(facts, key, data[key])
        denied = [f["path"] for f in facts.files if f.get("error") == "permission denied"]
        if denied:
            facts.error = (
                f"the probe on {spec.target} may not read {', '.join(denied)}: connect as root or "
                "set ansible_become for the host (the checks read owners, modes and certificates)"
            )
    except Exception as exc:
        facts.error = f"cannot reach host {spec.target} ({spec.address}): {str(exc).strip()[:300]}"
    return facts


# Reads the metrics file and the clock in one round trip; a missing file is a fact, not an error.
_READ_TEXTFILE = (
    "import json,sys,time\n"
    "try:\n text=open(sys.argv[1]).read(); ok=True\n"
    "except FileNotFoundError:\n text=''; ok=False\n"
    "print(json.dumps({'exists': ok, 'text': text, 'now': time.time()}))"
)


def gather_backup_host(spec: HostSpec) -> BackupFacts:

    from redisops.backup.store import parse_metrics

    textfile = spec.expected.get("textfile", "")
    facts = BackupFacts(target=spec.target, address=spec.address, textfile=textfile)
    command = f"python3 -c {shlex.quote(_READ_TEXTFILE)} {shlex.quote(textfile)}"
    try:
        out = _testinfra_host(spec).run(command)
        if out.rc != 0:
            why = out.stderr.strip()[:300]
            facts.error = f"cannot read {textfile} on {spec.target} (exit {out.rc}): {why}"
            return facts
        data = json.loads(out.stdout)
        facts.exists, facts.now = bool(data["exists"]), float(data["now"])
        facts.groups = parse_metrics(data["text"])
    except Exception as exc:
        facts.error = f"cannot reach backup host {spec.target} ({spec.address}): {str(exc).strip()[:300]}"
    return facts


def inspect_path(hosts: bool, inspect: dict) -> str:
    """How this run reads configuration and ACL: over the host connection as root when host facts
    are gathered, else over SSH with the reader's own key, else not at all."""
    if hosts:
        return HOST
    if inspect.get("key") and inspect.get("known_hosts") and inspect.get("user"):
        return SSH
    return NONE


def ssh_command(inspect: dict, address: str) -> list[str]:
    """The reader through its forced command: the key can run nothing else, the host key must be
    in the known_hosts file the redis_compliance role wrote (never learnt on first use)."""
    return [
        "ssh", "-T", "-i", inspect["key"], "-p", str(int(inspect.get("port") or 22)),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={inspect['known_hosts']}", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", f"ConnectTimeout={SOCKET_TIMEOUT:.0f}", "-l", inspect["user"], "--", address,
    ]  # fmt: skip


def parse_inspection(text: str) -> dict[tuple[str, str], dict]:
    """The reader's JSON as (kind, name) -> {config, acl, error}; a reply that still holds a hash
    is refused whole (the host runs an old or altered reader)."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
        raise ValueError("the reader's answer is not {targets: [...]}")
    out = {}
    for item in data["targets"]:
        if any(_HASH.search(str(line)) for line in item.get("acl", [])):
            raise ValueError("the reader's answer holds an unmasked password hash: refused")
        out[(str(item.get("kind", "")), str(item.get("name", "")))] = item
    if not out and data.get("error"):
        raise ValueError(str(data["error"])[:300])
    return out


def inspect_host(host: str, path: str, spec: HostSpec | None, inspect: dict, address: str) -> dict:
    """Run the reader on one host: {(kind, name): item}, or {"error": why}."""
    try:
        if path == HOST:
            out = _testinfra_host(spec).run(INSPECT_READER)
            code, stdout, stderr = out.rc, out.stdout, out.stderr
        else:
            proc = subprocess.run(
                ssh_command(inspect, address),
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        if code == 127 or (not stdout.strip() and code != 0):
            how = "over SSH with the reader's key" if path == SSH else "as root"
            return {
                "error": f"cannot run the reader on {host} {how} (exit {code}): {stderr.strip()[:300]}; "
                "rerun site.yml (it installs the reader) and compliance_timer.yml (the key)"
            }
        return parse_inspection(stdout)
    except Exception as exc:
        return {"error": f"cannot run the reader on {host}: {str(exc).strip()[:300]}"}


def apply_inspection(cluster: ClusterFacts, path: str, readings: dict[str, dict]) -> None:
    """Each Redis and Sentinel target's configuration and ACL from its host's reader; a target left
    without them says why (facts.unread) and, when a reader was tried, is a gap of the run."""
    for facts in (*cluster.redis, *cluster.sentinels):
        if facts.error:
            continue
        if path == NONE:
            facts.unread = "no host access (--no-host-facts) and no SSH key for the on-host reader"
            continue
        reading = readings.get(facts.host) or {"error": f"the reader was not run on {facts.host}"}
        kind = "sentinel" if isinstance(facts, SentinelFacts) else "redis"
        name = "main" if kind == "sentinel" else facts.instance
        item = reading.get((kind, name)) if "error" not in reading else None
        why = reading.get("error") or (
            (item or {}).get("error") if item else f"the reader on {facts.host} does not know {kind} {name}"
        )
        if item and not item.get("error"):
            if kind == "redis":
                facts.config = {str(k): str(v) for k, v in (item.get("config") or {}).items()}
            facts.acl = [str(line) for line in item.get("acl") or []]
            continue
        facts.unread = why
        facts.gaps.append(f"could not read the configuration and ACL: {why}")


def gather(
    targets: Targets, limit: Thresholds, hosts: bool = True, workers: int = 16, inspect: dict | None = None
) -> ClusterFacts:
    """Every target in parallel (bounded pool); the result always has one facts per target.
    ``inspect`` overrides the targets' own way to reach the on-host reader over SSH."""
    # testinfra's Ansible backend runs ansible-inventory by name: this Python's tools first.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    started = time.time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        redis_jobs = [pool.submit(gather_redis, e, limit) for e in targets.endpoints if e.kind == "redis"]
        sentinel_jobs = [pool.submit(gather_sentinel, e) for e in targets.endpoints if e.kind == "sentinel"]
        host_jobs = [pool.submit(gather_host, h) for h in targets.hosts] if hosts else []
        backup_jobs = [pool.submit(gather_backup_host, h) for h in targets.backup_hosts] if hosts else []
        how = {**targets.inspect, **(inspect or {})}
        path = inspect_path(hosts and bool(targets.hosts), how)
        specs = {h.target: h for h in targets.hosts}
        addresses = {e.host: e.address for e in targets.endpoints}
        inspect_jobs = (
            {h: pool.submit(inspect_host, h, path, specs.get(h), how, a) for h, a in addresses.items()}
            if path
            else {}
        )
        cluster = ClusterFacts(
            redis=[j.result() for j in redis_jobs],
            sentinels=[j.result() for j in sentinel_jobs],
            hosts=[j.result() for j in host_jobs],
            backups=[j.result() for j in backup_jobs],
            backup_facts_gathered=hosts,
            groups=targets.groups,
            secret_lengths=targets.secret_lengths,
            gathered_at=started,
            host_facts_gathered=hosts and bool(targets.hosts),
        )
        apply_inspection(cluster, path, {h: j.result() for h, j in inspect_jobs.items()})
    cluster.gather_seconds = time.time() - started
    return cluster
