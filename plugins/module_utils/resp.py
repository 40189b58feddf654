"""A small RESP2 client over one kept connection (plain TCP or TLS with a client certificate).

For the few modules whose timing matters (the switchover pauses writes while it talks to the
primary, the replicas and a sentinel): redis-cli costs a process, a handshake and an AUTH per
command, 10-20 ms each, where a kept connection answers in well under a millisecond.
Everything else uses redis-cli (redis_ops.RedisCli). Standard library only.
"""

from __future__ import annotations

import socket
import ssl


class RespError(Exception):
    """The server answered with an error reply (the text is the reply)."""


class RespClient:
    """One connection to one server or sentinel, as CONNECTION_SPEC describes it (host, port,
    tls, cacert, cert, key, user, password). Like redis-cli, the server's certificate is checked
    against the CA but not against the host name."""

    def __init__(self, conn: dict, timeout: float = 5.0, name: str = ""):
        self.conn = conn
        self.timeout = timeout
        self.name = name  # CLIENT SETNAME: who ran a command, in CLIENT LIST and the slowlog
        self.sock: socket.socket | None = None
        self.reader = None

    def _connect(self) -> None:
        conn = self.conn
        sock = socket.create_connection((conn.get("host") or "127.0.0.1", int(conn["port"])), self.timeout)
        try:
            if conn.get("tls"):
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_REQUIRED
                if conn.get("cacert"):
                    context.load_verify_locations(cafile=conn["cacert"])
                else:
                    context.load_default_certs()
                if conn.get("cert"):
                    context.load_cert_chain(conn["cert"], conn.get("key"))
                sock = context.wrap_socket(sock)
            sock.settimeout(self.timeout)
            self.sock, self.reader = sock, sock.makefile("rb")
            if conn.get("password"):
                user = [conn["user"]] if conn.get("user") else []
                self._command("AUTH", *user, conn["password"])
            if self.name:
                self._command("CLIENT", "SETNAME", self.name)
        except BaseException:
            sock.close()
            self.sock = self.reader = None
            raise

    def call(self, *args: object, retry: bool = True) -> object:
        """One command; its reply (str, int, None or a list of them). An error reply raises
        RespError. A connection found closed (a server's CLIENT KILL, as Sentinel sends to the
        replicas it reconfigures) is reopened and the command sent once more when ``retry``:
        only for commands that may run twice (every one the switchover sends but SENTINEL
        FAILOVER). Otherwise a lost connection raises OSError and the next call reopens it."""
        for attempt in (1, 2):
            if self.sock is None:
                self._connect()
            try:
                return self._command(*args)
            except OSError:
                self.close()
                if not retry or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _command(self, *args: object) -> object:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self) -> object:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.reader.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError("connection closed by the server")
            return data[:-2].decode(errors="replace")
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._reply() for _ in range(size)]
        raise ConnectionError(f"unexpected reply from the server: {line[:40]!r}")

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = self.reader = None
