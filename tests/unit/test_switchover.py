"""The planned switchover's sequence (core/switchover.py), on scripted adapters: the order of the
steps and what each failure leaves behind. The lab tier runs it for real (the manual-failover
drill and the rolling restart) and reads the resyncs back from the servers."""

from __future__ import annotations

import pytest

from redisops.core import switchover as S

OLD, NEW = ("10.0.0.11", "6379"), ("10.0.0.12", "6379")
CAUGHT_UP = {
    "role": "master",
    "connected_slaves": "2",
    "master_repl_offset": "500",
    "slave0": "ip=10.0.0.12,port=6379,state=online,offset=500,lag=0",
    "slave1": "ip=10.0.0.13,port=6379,state=online,offset=500,lag=0",
}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Primary:
    def __init__(self, infos=None, fail_on=()):
        self.calls: list[tuple] = []
        self.infos = list(infos or [CAUGHT_UP])
        self.fail_on = fail_on

    def replication(self):
        return self.infos.pop(0) if len(self.infos) > 1 else self.infos[0]

    def config_get(self, name):
        return {"repl-ping-replica-period": "10"}[name]

    def call(self, *args):
        self.calls.append(args)
        if any(args[: len(prefix)] == prefix for prefix in self.fail_on):
            raise ConnectionError(f"{args[0]} failed")


class Sentinel:
    def __init__(self, answer="OK", names=(OLD, NEW)):
        self.answer, self.names, self.asked = answer, list(names), 0

    def primary(self, group):
        self.asked += 1
        return self.names.pop(0) if len(self.names) > 1 else self.names[0]

    def failover(self, group):
        return self.answer


def run(primary, sentinel, clock=None):
    clock = clock or Clock()
    return S.switch_over(primary, sentinel, "main", OLD[0], 2, clock=clock, sleep=clock.sleep)


def test_the_ping_is_held_before_the_pause_and_restored_before_the_rewrite():
    primary = Primary()
    done = run(primary, Sentinel())
    assert done["new_primary"] == "10.0.0.12:6379"
    assert primary.calls == [
        ("CONFIG", "SET", "repl-ping-replica-period", "3600"),
        ("CLIENT", "PAUSE", "15000", "WRITE"),
        ("REPLICAOF", *NEW),
        ("CONFIG", "SET", "repl-ping-replica-period", "10"),
        ("CONFIG", "REWRITE"),
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("CLIENT", "KILL", "TYPE", "pubsub"),
        ("CLIENT", "UNPAUSE"),
    ]


def test_sentinel_is_asked_to_fail_over_only_once_the_replicas_hold_the_primarys_offset():
    behind = {**CAUGHT_UP, "slave1": "ip=10.0.0.13,port=6379,state=online,offset=420,lag=0"}
    primary = Primary([behind, behind, CAUGHT_UP])

    class Watching(Sentinel):
        def failover(self, group):
            self.seen = primary.infos[:]  # what was left to read when the failover was asked
            return super().failover(group)

    sentinel = Watching()
    run(primary, sentinel)
    assert sentinel.seen == [CAUGHT_UP]


def test_replicas_that_never_catch_up_resume_writes_here_and_restore_the_ping():
    behind = {**CAUGHT_UP, "slave1": "ip=10.0.0.13,port=6379,state=online,offset=420,lag=0"}
    primary, sentinel = Primary([behind]), Sentinel()
    with pytest.raises(S.SwitchoverError, match="did not catch up") as caught:
        run(primary, sentinel)
    assert caught.value.resumed and sentinel.asked == 0
    assert primary.calls[-2:] == [("CONFIG", "SET", "repl-ping-replica-period", "10"), ("CLIENT", "UNPAUSE")]


def test_a_refused_failover_resumes_writes_on_the_old_primary():
    primary = Primary()
    with pytest.raises(S.SwitchoverError, match="NOGOODSLAVE") as caught:
        run(primary, Sentinel(answer="NOGOODSLAVE No suitable replica to promote"))
    assert caught.value.resumed and ("CLIENT", "UNPAUSE") in primary.calls
    assert ("REPLICAOF", *NEW) not in primary.calls


def test_no_new_primary_in_time_keeps_writes_paused():
    """Sentinel was asked: this server may still be promoted away, so writes must not resume."""
    primary = Primary()
    with pytest.raises(S.SwitchoverError, match="did not name another primary") as caught:
        run(primary, Sentinel(names=[OLD]))
    assert not caught.value.resumed and ("CLIENT", "UNPAUSE") not in primary.calls
    assert primary.calls[-1] == ("CONFIG", "SET", "repl-ping-replica-period", "10")


@pytest.mark.parametrize(("role", "resumed"), [("slave", True), ("master", False)])
def test_a_failed_demotion_resumes_only_once_this_server_is_a_replica(role, resumed):
    primary = Primary([CAUGHT_UP, {**CAUGHT_UP, "role": role}], fail_on=[("CONFIG", "REWRITE")])
    with pytest.raises(S.SwitchoverError, match="demoting this server failed") as caught:
        run(primary, Sentinel())
    assert caught.value.resumed is resumed
    assert (("CLIENT", "UNPAUSE") in primary.calls) is resumed


def test_a_hold_that_cannot_be_set_is_refused_before_the_pause():
    primary = Primary(fail_on=[("CONFIG", "SET")])
    with pytest.raises(S.SwitchoverError, match="refused before the failover") as caught:
        run(primary, Sentinel())
    assert caught.value.resumed and "may still be" in str(caught.value)
    assert ("CLIENT", "PAUSE", "15000", "WRITE") not in primary.calls


@pytest.mark.parametrize(
    ("info", "named", "said"),
    [
        (CAUGHT_UP, OLD, None),
        ({**CAUGHT_UP, "role": "slave"}, OLD, "not the primary of main (Sentinel names 10.0.0.11:6379)"),
        (CAUGHT_UP, NEW, "not the primary of main (Sentinel names 10.0.0.12:6379)"),
        (CAUGHT_UP, None, "Sentinel names no primary"),
        (
            {**CAUGHT_UP, "slave1": "ip=10.0.0.13,port=6379,state=wait_bgsave,offset=0,lag=0"},
            OLD,
            "1 online replica(s) of 2",
        ),
    ],
)
def test_a_switchover_needs_this_primary_and_every_replica_online(info, named, said):
    found = S.problems(info, named, "main", OLD[0], 2)
    assert (found == []) if said is None else (said in found[0]), found


class FlakySentinel(Sentinel):
    """Answers the failover, then fails the first questions about the primary."""

    def __init__(self, failures: int):
        super().__init__(names=[NEW])
        self.failures = failures

    def primary(self, group):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("sentinel restarting")
        return super().primary(group)


def test_a_sentinel_that_fails_to_answer_for_a_moment_is_asked_again():
    primary = Primary()
    assert run(primary, FlakySentinel(failures=3))["new_primary"] == "10.0.0.12:6379"
    assert primary.calls[-1] == ("CLIENT", "UNPAUSE")


def test_a_sentinel_that_never_answers_keeps_writes_paused_and_restores_the_ping():
    primary = Primary()
    with pytest.raises(S.SwitchoverError, match="the last question failed: sentinel restarting") as caught:
        run(primary, FlakySentinel(failures=10**6))
    assert not caught.value.resumed and ("CLIENT", "UNPAUSE") not in primary.calls
    assert primary.calls[-1] == ("CONFIG", "SET", "repl-ping-replica-period", "10")


def test_a_failed_demotion_of_a_server_now_a_replica_says_so():
    primary = Primary([CAUGHT_UP, {**CAUGHT_UP, "role": "slave"}], fail_on=[("CONFIG", "REWRITE")])
    with pytest.raises(S.SwitchoverError, match=r"now a replica of 10\.0\.0\.12:6379"):
        run(primary, Sentinel())
