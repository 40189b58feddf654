"""Shared helpers of the kit's Ansible modules: talking to Redis through redis-cli,
parsing its config format, and masking secrets.

redis-cli gets its password from the REDISCLI_AUTH environment variable, never from
the command line, so no secret appears in the process list.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

from ansible_collections.redisops.kit.plugins.module_utils.core import health, sizes
from ansible_collections.redisops.kit.plugins.module_utils.core.secrets import (
    MASK,
    SECRET_KEYS,
    SENTINEL_SECRET_KEYS,
)

# Directives that may appear several times and add up (CONFIG SET takes them joined).
MULTI_KEYS = ("save", "rename-command", "client-output-buffer-limit", "include", "loadmodule", "user")


class RedisCliError(Exception):
    pass


class RedisAuthError(RedisCliError):
    """The server answered but refused our user or password."""


class RedisDownError(RedisCliError):
    """Nothing answered (no server, or no redis-cli on the host yet)."""


# The connection argument of every module; only the password is secret, so the rest
# stays readable in logs and diffs.
# The sockets an instance or sentinel must listen on (listen_drift compares them).
LISTEN_SPEC = {
    "type": "dict",
    "options": {
        "bind": {"type": "list", "elements": "str"},
        "ports": {"type": "list", "elements": "int"},
    },
}
CONNECTION_SPEC = {
    "host": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "required": True},
    "tls": {"type": "bool", "default": False},
    "cacert": {"type": "str"},
    "cert": {"type": "str"},
    "key": {"type": "str"},
    "user": {"type": "str"},
    "password": {"type": "str", "no_log": True},
}


# The command-line clients of the Redis and the Valkey packages, in order of preference.
CLIENTS = ("redis-cli", "valkey-cli")


class RedisCli:
    """A connection to one Redis instance through redis-cli, with ACL user and optional TLS."""

    def __init__(self, conn: dict, binary: str | None = None):
        self.conn = conn
        # Either client speaks to either server: a host mid-migration may have only one of them.
        self.binary = binary or next((b for b in CLIENTS if shutil.which(b)), CLIENTS[0])

    def argv(self, *args: str) -> list[str]:
        conn = self.conn
        argv = [
            self.binary,
            "--no-auth-warning",
            "-h",
            conn.get("host") or "127.0.0.1",
            "-p",
            str(conn["port"]),
        ]
        if conn.get("tls"):
            argv.append("--tls")
            for opt in ("cacert", "cert", "key"):
                if conn.get(opt):
                    argv += [f"--{opt}", conn[opt]]
        if conn.get("user"):
            argv += ["--user", conn["user"]]
        return [*argv, *args]

    def _run(self, argv: list[str], stdin: str | None, timeout: float) -> subprocess.CompletedProcess:
        """redis-cli with the password in its environment; no answer or no redis-cli are errors."""
        env = dict(os.environ)
        if self.conn.get("password"):
            env["REDISCLI_AUTH"] = self.conn["password"]
        try:
            return subprocess.run(
                argv, input=stdin, capture_output=True, text=True, env=env, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise RedisCliError(f"no answer within {timeout:.0f} s") from None
        except OSError as exc:
            # No redis-cli yet (a host before its first deploy): nothing can be running.
            raise RedisDownError(f"cannot run {self.binary}: {exc}") from None

    def call(self, *args: str, timeout: float = 10, secret_arg: str | None = None) -> str:
        """Run one command. ``secret_arg`` is sent as its last argument through stdin (redis-cli -x),
        so it never appears in the process list."""
        argv = self.argv(*args)
        if secret_arg is not None:
            argv.insert(1, "-x")
        proc = self._run(argv, secret_arg, timeout)
        out, err = proc.stdout.strip(), proc.stderr.strip()
        if "Could not connect" in err or "Connection refused" in err:
            raise RedisDownError(err)
        if "WRONGPASS" in err or out.startswith(("NOAUTH", "WRONGPASS")):
            raise RedisAuthError(f"authentication failed for user {self.conn.get('user')!r}: {err or out}")
        if proc.returncode != 0:
            raise RedisCliError(err or out or f"redis-cli exited {proc.returncode}")
        first = out.splitlines()[0] if out else ""
        if first.startswith(("ERR", "WRONGTYPE", "NOPERM", "NOAUTH", "LOADING", "READONLY", "BUSY")):
            raise RedisCliError(out)
        return out

    def call_many(self, commands: list[list[str]], timeout: float = 10) -> list[str]:
        """Several commands in one redis-cli run (one connection); their replies, one line each.

        Only for commands with one-line replies (OK, integers); any error reply raises.
        """
        script = "\n".join(" ".join(quote_arg(a) for a in cmd) for cmd in commands) + "\n"
        proc = self._run(self.argv(), script, timeout)
        replies = proc.stdout.strip().splitlines()
        bad = [r for r in replies if r.startswith(("ERR", "NOPERM", "NOAUTH", "WRONGPASS", "(error)"))]
        if proc.returncode != 0 or bad or len(replies) != len(commands):
            problem = (
                proc.stderr.strip() or "; ".join(bad) or f"{len(replies)} replies to {len(commands)} commands"
            )
            raise RedisCliError(problem)
        return replies


def quote_arg(arg: str) -> str:
    """One argument quoted for redis-cli's stdin (parsed like a config line)."""
    return '"' + "".join("\\" + c if c in '"\\' else c for c in str(arg)) + '"'


def split_args(line: str) -> list[str]:
    """Split a config line like Redis's sdssplitargs: "double" (with escapes) and 'single' quotes.

    Escapes produce bytes (``\\xc3\\xa4`` is one UTF-8 character), as in Redis.
    """
    hexdigits = "0123456789abcdefABCDEF"
    args, i, n = [], 0, len(line)
    while i < n:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            break
        cur, quote = bytearray(), None
        while i < n:
            ch = line[i]
            if quote == '"':
                if (
                    ch == "\\"
                    and i + 3 < n
                    and line[i + 1] == "x"
                    and all(c in hexdigits for c in line[i + 2 : i + 4])
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 4
                    continue
                if ch == "\\" and i + 1 < n:
                    nxt = line[i + 1]
                    cur += {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}.get(nxt, nxt).encode()
                    i += 2
                    continue
                if ch == '"':
                    quote = None
                    i += 1
                    break
                cur += ch.encode()
            elif quote == "'":
                if ch == "\\" and i + 1 < n and line[i + 1] == "'":
                    cur += b"'"
                    i += 2
                    continue
                if ch == "'":
                    quote = None
                    i += 1
                    break
                cur += ch.encode()
            elif ch in "\"'" and not cur:
                quote = ch
            elif ch.isspace():
                break
            else:
                cur += ch.encode()
            i += 1
        args.append(cur.decode("utf-8", errors="surrogateescape"))
    return args


def config_lines(text: str):
    """Each line of a config file with its arguments ([] for blank lines and comments)."""
    for raw in text.splitlines():
        line = raw.strip()
        yield raw, (split_args(line) if line and not line.startswith("#") else [])


# Valkey's names for directives the kit writes by their Redis names: CONFIG REWRITE (Sentinel
# runs it on every failover) writes the new names, which mean the same setting.
DIRECTIVE_ALIASES = {
    "primaryuser": "masteruser",
    "primaryauth": "masterauth",
    "commandlog-execution-slower-than": "slowlog-log-slower-than",
    "commandlog-slow-execution-max-len": "slowlog-max-len",
    "slaveof": "replicaof",
}
# Directives whose lines add up to one value: "save 3600 1" + "save 300 100" is what
# CONFIG REWRITE writes as "save 3600 1 300 100".
ONE_VALUE = ("save",)


def parse_conf(text: str) -> dict[str, list[list[str]]]:
    """Directive name -> list of argument lists, one per line, in file order.

    Names are the kit's (Redis's) names, whatever the server wrote; multi-line values of
    ONE_VALUE directives are one line."""
    directives: dict[str, list[list[str]]] = {}
    for _raw, args in config_lines(text):
        if args:
            name = args[0].lower()
            directives.setdefault(DIRECTIVE_ALIASES.get(name, name), []).append(args[1:])
    for name in ONE_VALUE:
        if name in directives:
            directives[name] = [[arg for line in directives[name] for arg in line]]
    return directives


def parse_info(text: str) -> dict[str, str]:
    """INFO output as field -> value (section headers and blank lines left out)."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and not key.startswith("#"):
            info[key] = value
    return info


def read_or_report(module, read, conf_file: str | None, what: str, wrong_password: str, **empty):
    """``read()`` against a server on our port, or end the module saying why it could not be read.

    Nothing answering is ``running: false``. A server that refuses the admin user or errors is
    an error when it is ours (its config file exists: ``wrong_password`` says which variable is
    wrong); otherwise it is a stranger on our port (the distribution's stock service), reported
    as not running. ``what`` names the server in messages; ``empty`` are the fields to return
    when there is nothing to read.
    """
    ours = bool(conf_file) and os.path.exists(conf_file)
    port = module.params["connection"]["port"]
    try:
        return read()
    except RedisDownError as exc:
        module.exit_json(changed=False, running=False, reason=str(exc), **empty)
    except RedisAuthError as exc:
        if ours:
            module.fail_json(msg=f"{what} on port {port} refuses the admin user: {wrong_password} ({exc})")
        module.exit_json(changed=False, running=False, foreign=True, reason=str(exc), **empty)
    except RedisCliError as exc:
        if ours:
            module.fail_json(msg=f"cannot read the state of {what} on port {port}: {exc}")
        module.exit_json(changed=False, running=False, foreign=True, reason=str(exc), **empty)


def changed_directives(old: str, new: str) -> list[str]:
    before, after = parse_conf(old), parse_conf(new)
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def config_set_value(lines: list[list[str]]) -> str:
    """The single value CONFIG SET takes for a directive written over one or more lines."""
    return " ".join(arg for args in lines for arg in args)


def _secret_words(line: str, kind: str) -> set[str]:
    if kind == "config":
        args = line.strip().split(None, 1)
        if len(args) > 1 and args[0].lower() == "sentinel":
            # sentinel sentinel-pass SECRET / sentinel auth-pass GROUP SECRET
            head = _sentinel_head(line.split())
            parts = line.strip().split(None, len(head))
            return {parts[-1]} if head and len(parts) > len(head) else set()
        return {args[1]} if args and args[0].lower() in SECRET_KEYS and len(args) > 1 else set()
    return {w for w in line.split(" ") if (w.startswith("#") and len(w) == 65) or w.startswith(">")}


def _sentinel_head(words: list[str]) -> list[str]:
    """The words before the secret of a Sentinel secret line, or [] for other lines."""
    if len(words) > 1 and words[0].lower() == "sentinel" and words[1].lower() in SENTINEL_SECRET_KEYS:
        return words[:3] if words[1].lower() == "auth-pass" else words[:2]
    return []


def _mask_key(words: list[str], kind: str) -> tuple:
    if kind == "acl":
        return tuple(words[:2])
    if words[0].lower() == "sentinel":
        return tuple(w.lower() for w in _sentinel_head(words) or words[:2])
    return (words[0].lower(),)


def _mask(text: str, kind: str, previous: str | None) -> str:
    """Mask every secret in ``text``. Where ``previous`` (the other side of a diff) held a
    different secret on the same directive or user, say so, so a diff still shows the change."""

    def kind_of(words: list[str]) -> str:
        # A config file may hold ACL users too (sentinel.conf): mask those like an ACL file.
        return "acl" if kind == "acl" or words[0].lower() == "user" else "config"

    before = {}
    for line in (previous or "").splitlines():
        words = line.split()
        if words:
            before[_mask_key(words, kind_of(words))] = _secret_words(line, kind_of(words))
    out = []
    for raw in text.splitlines():
        words = raw.split()
        secrets = _secret_words(raw, kind_of(words)) if words else set()
        if not secrets:
            out.append(raw)
            continue
        key = _mask_key(words, kind_of(words))
        mask = MASK if previous is None or before.get(key) == secrets else f"{MASK}(changed)"
        if kind_of(words) == "config":
            indent = raw[: len(raw) - len(raw.lstrip())]
            kept = _sentinel_head(words) or words[:1]
            out.append(f"{indent}{' '.join(kept)} {mask}")
        else:
            out.append(" ".join(mask if w in secrets else w for w in raw.split(" ")))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def mask_config(text: str, previous: str | None = None) -> str:
    return _mask(text, "config", previous)


def mask_acl(text: str, previous: str | None = None) -> str:
    return _mask(text, "acl", previous)


def write_atomically(path: str, content: str, owner: str, group: str, mode: str) -> None:
    """Replace ``path`` in one rename; the temporary file has its owner and mode before any content."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".ansible-")
    try:
        os.fchown(fd, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)
        os.fchmod(fd, int(mode, 8))
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def metadata_differs(path: str, owner: str, group: str, mode: str) -> bool:
    st = os.stat(path)
    return (
        st.st_uid != pwd.getpwnam(owner).pw_uid
        or st.st_gid != grp.getgrnam(group).gr_gid
        or (st.st_mode & 0o7777) != int(mode, 8)
    )


def pairs_to_dicts(text: str, first_key: str = "name") -> list[dict[str, str]]:
    """redis-cli's flat output of a list of field/value maps (SENTINEL MASTERS, REPLICAS...) as dicts.

    Every map starts with ``first_key``; an empty value is an empty line.
    """
    lines = text.split("\n") if text else []
    out: list[dict[str, str]] = []
    for i in range(0, len(lines) - 1, 2):
        key, value = lines[i], lines[i + 1]
        if key == first_key or not out:
            out.append({})
        out[-1][key] = value
    if len(lines) % 2 and out:
        out[-1][lines[-1]] = ""
    return out


def acl_canonical(cli: RedisCli, wanted: dict[str, list[str]]) -> dict[str, str]:
    """How the server itself lists these users' rules (ACL LIST form, after the name), through
    throw-away users: each is created with the wanted rules and then ``off`` (nobody can log in as
    one), read back and deleted at once, so check mode may use them too. The hashes travel
    through redis-cli's stdin. Raises RedisCliError when the server refuses the rules."""
    probes = {name: f"redisops-probe-{uuid.uuid4().hex[:10]}" for name in wanted}
    try:
        cli.call_many([["ACL", "SETUSER", probes[n], *rules, "off"] for n, rules in wanted.items()])
        listed = acl_list(cli.call("ACL", "LIST"))
    finally:
        with contextlib.suppress(RedisCliError):
            cli.call("ACL", "DELUSER", *probes.values())
    out = {}
    for name, rules in wanted.items():
        words = listed.get(probes[name], "").split()
        # The probe is off; the user is on when its own rules say on last.
        on_off = [w for w in rules if w in ("on", "off")]
        if words and words[0] in ("on", "off"):
            words[0] = on_off[-1] if on_off else "off"
        out[name] = " ".join(words)
    return out


def acl_list(text: str) -> dict[str, str]:
    """ACL LIST output as user name -> the rules after the name."""
    users = {}
    for line in text.splitlines():
        words = line.strip().split(" ", 2)
        if len(words) >= 2 and words[0] == "user":
            users[words[1]] = words[2] if len(words) > 2 else ""
    return users


# --- The live configuration against the wanted one ------------------------------------
#
# What the role writes is compared with what the running server says (CONFIG GET), not only
# with the file: a CONFIG SET by hand changes the server and leaves the file as it was.

# Sentinel owns replicaof (it moves the primary); CONFIG GET cannot read the others.
NOT_LIVE = ("replicaof", "rename-command", "include", "loadmodule", "user")
# Sizes: written in units (100mb), answered in bytes.
MEMORY_KEYS = (
    "maxmemory", "repl-backlog-size", "client-query-buffer-limit", "proto-max-bulk-len",
    "active-defrag-ignore-bytes", "hash-max-listpack-value", "zset-max-listpack-value",
)  # fmt: skip


def _size_bytes(text: str) -> str:
    size = sizes.parse(text, negative=True)
    return text if size is None else str(size)


# Values compared as written: OpenSSL reads protocol and cipher names case-sensitively
# (ecdhe-rsa-aes128-gcm-sha256 names no cipher), so a change of case is a change.
CASE_KEPT = ("dir", "logfile", "aclfile", "masteruser", "tls-protocols", "tls-ciphers", "tls-ciphersuites")


def live_form(name: str, value: str) -> str:
    """A directive's value in the form CONFIG GET answers it, whether written in the file or
    answered by the server: sizes in bytes, one space between words, yes/no and names in lower
    case (paths, user names, TLS protocols and ciphers and secrets as they are)."""
    text = " ".join(str(value).split()) if name not in SECRET_KEYS else str(value)
    if name in MEMORY_KEYS:
        return _size_bytes(text)
    if name in SECRET_KEYS or name in CASE_KEPT or "file" in name:
        return text
    return text.lower()


def wanted_live(text: str) -> dict[str, str]:
    """The directives of a config file that the running server can be asked about, as CONFIG GET
    would answer them (one string per directive)."""
    return {
        name: live_form(name, config_set_value(lines))
        for name, lines in parse_conf(text).items()
        if name not in NOT_LIVE
    }


def config_drift(wanted: dict[str, str], live: dict[str, str]) -> list[dict[str, str]]:
    """Directives whose running value differs from the wanted one: [{directive, live, wanted}].

    ``live`` is CONFIG GET's answer (Valkey's names are read as the kit's); a directive the
    server does not know is left out, not reported. Secrets are masked."""
    live = {DIRECTIVE_ALIASES.get(k.lower(), k.lower()): v for k, v in live.items()}
    drift = []
    for name, value in sorted(wanted.items()):
        if name not in live:
            continue
        current = live_form(name, live[name])
        if current != value:
            secret = name in SECRET_KEYS
            drift.append(
                {
                    "directive": name,
                    "live": MASK if secret else current,
                    "wanted": MASK + "(changed)" if secret else value,
                }
            )
    return drift


def config_get(cli: RedisCli, names: list[str]) -> dict[str, str]:
    """CONFIG GET of the named directives in one call: name -> value."""
    out = cli.call("CONFIG", "GET", *names)
    lines = out.split("\n") if out else []
    return {lines[i]: lines[i + 1] for i in range(0, len(lines) - 1, 2)}


def listening(ports: list[int]) -> set[str]:
    """The TCP sockets listening on these ports on this host, as 'address:port' ([v6]:port)."""
    import ipaddress as _ip

    found = set()
    for family, path in ((4, "/proc/net/tcp"), (6, "/proc/net/tcp6")):
        try:
            with open(path) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A: LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            port = int(hex_port, 16)
            if port not in ports:
                continue
            raw = bytes.fromhex(hex_addr)
            # /proc prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            addr = _ip.ip_address(raw)
            found.add(f"{addr}:{port}" if family == 4 else f"[{addr}]:{port}")
    return found


def listen_drift(listen: dict | None) -> dict[str, str] | None:
    """A module's C(listen) ({bind, ports}; port 0 = none) against the sockets listening on this
    host, or None when they agree or there is nothing to compare."""
    if not listen:
        return None
    ports = [int(p) for p in listen.get("ports") or [] if int(p)]
    return socket_drift(listen.get("bind") or [], ports, listening(ports))


def drift_diff(drift: list[dict[str, str]], path: str) -> dict[str, str]:
    """An Ansible diff of what runs against what is wanted, one line per drifted setting."""
    return {
        "before": "".join(f"{d['directive']} {d['live']}\n" for d in drift),
        "after": "".join(f"{d['directive']} {d['wanted']}\n" for d in drift),
        "before_header": f"{path} (running)",
        "after_header": f"{path} (wanted)",
    }


def socket_drift(bind: list[str], ports: list[int], live: set[str]) -> dict[str, str] | None:
    """The listening sockets wanted (every bind address on every port) against those found;
    an address with Redis's '-' prefix may be missing. None when they agree."""
    import ipaddress as _ip

    def sock(addr: str, port: int) -> str:
        ip = _ip.ip_address(addr)
        return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"

    required, optional = set(), set()
    for entry in bind:
        addr = entry.lstrip("-")
        if addr == "*":
            addr = "0.0.0.0"
        try:
            wanted = {sock(addr, p) for p in ports if p}
        except ValueError:
            return None  # a host name: nothing to compare the sockets with
        (optional if entry.startswith("-") else required).update(wanted)
    if required <= live <= required | optional:
        return None
    return {
        "directive": "listening sockets",
        "live": " ".join(sorted(live)) or "(none)",
        "wanted": " ".join(sorted(required)),
    }


def sentinel_health(cli) -> dict:
    """What one sentinel sees, as redis_sentinel_info returns it: its id, each monitored group
    (with the replicas that are up and linked: num-slaves also counts those marked down) and
    CKQUORUM per group."""
    myid = cli.call("SENTINEL", "MYID")
    masters = {m["name"]: m for m in pairs_to_dicts(cli.call("SENTINEL", "MASTERS"))}
    ckquorum = {}
    for name, master in masters.items():
        try:
            replicas = pairs_to_dicts(cli.call("SENTINEL", "REPLICAS", name))
        except RedisCliError:
            replicas = []
        ok = [r for r in replicas if health.sentinel_sees_replica_linked(r)]
        master["ok-replicas"] = len(ok)
        master["ok-replica-addrs"] = sorted(f"{r.get('ip')}:{r.get('port')}" for r in ok)
        try:
            ckquorum[name] = cli.call("SENTINEL", "CKQUORUM", name)
        except RedisCliError as exc:
            ckquorum[name] = str(exc)
    return {"running": True, "myid": myid, "masters": masters, "ckquorum": ckquorum}
