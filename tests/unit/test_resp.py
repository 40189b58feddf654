"""The switchover module's RESP client (plugins/module_utils/resp.py): what it sends and how it
reads each kind of reply, over a socket pair. The lab's rolling restart runs it for real."""

from __future__ import annotations

import socket

import pytest

from tests.unit.role_code import PLUGINS, _load_by_path

R = _load_by_path(PLUGINS / "module_utils" / "resp.py", "resp_under_test")


def connected(replies: bytes):
    client = R.RespClient({"port": 0})
    ours, theirs = socket.socketpair()
    client.sock, client.reader = ours, ours.makefile("rb")
    theirs.sendall(replies)
    return client, theirs


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        (b"+OK\r\n", "OK"),
        (b":42\r\n", 42),
        (b"$5\r\nhello\r\n", "hello"),
        (b"$-1\r\n", None),
        (b"*-1\r\n", None),
        (b"*2\r\n$2\r\nip\r\n*1\r\n:7\r\n", ["ip", [7]]),
        (b"$13\r\nrole:master\r\n\r\n", "role:master\r\n"),  # a bulk reply may hold CRLF
    ],
)
def test_each_kind_of_reply_is_read(wire, value):
    client, _ = connected(wire)
    assert client.call("X") == value


def test_commands_go_out_as_arrays_of_bulk_strings():
    client, theirs = connected(b"+OK\r\n")
    client.call("CONFIG", "SET", "replica-priority", 99)
    assert theirs.recv(1024) == b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$16\r\nreplica-priority\r\n$2\r\n99\r\n"


def test_an_error_reply_raises_with_its_text_and_keeps_the_connection():
    client, _ = connected(b"-NOGOODSLAVE No suitable replica to promote\r\n+PONG\r\n")
    with pytest.raises(R.RespError, match="NOGOODSLAVE No suitable replica"):
        client.call("SENTINEL", "FAILOVER", "main")
    assert client.call("PING") == "PONG"


def test_a_closed_connection_is_an_error_without_retry_and_is_reopened_next_time():
    client, theirs = connected(b"$10\r\nshort")
    theirs.close()
    with pytest.raises(ConnectionError):
        client.call("SENTINEL", "FAILOVER", "main", retry=False)
    assert client.sock is None


def test_a_connection_the_server_killed_is_reopened_and_the_command_sent_again():
    client, theirs = connected(b"")
    theirs.close()  # CLIENT KILL: the kept connection is gone
    fresh, server = socket.socketpair()
    server.sendall(b"+OK\r\n")

    def reopen():
        client.sock, client.reader = fresh, fresh.makefile("rb")

    client._connect = reopen
    assert client.call("CONFIG", "SET", "replica-priority", "100") == "OK"
    assert server.recv(1024).startswith(b"*4\r\n$6\r\nCONFIG")


def test_a_named_client_logs_in_then_names_itself(monkeypatch):
    ours, theirs = socket.socketpair()
    theirs.sendall(b"+OK\r\n+OK\r\n+PONG\r\n")
    monkeypatch.setattr(R.socket, "create_connection", lambda address, timeout: ours)
    client = R.RespClient({"port": 6379, "user": "admin", "password": "s3cret"}, name="redisops-switchover")
    assert client.call("PING") == "PONG"
    sent = theirs.recv(4096)
    assert sent.startswith(b"*3\r\n$4\r\nAUTH\r\n$5\r\nadmin\r\n$6\r\ns3cret\r\n")
    assert b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$19\r\nredisops-switchover\r\n*1\r\n$4\r\nPING" in sent
