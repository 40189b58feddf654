"""The planned switchover's sequence (core/switchover.py), on scripted adapters: the order of the
steps, the timing of the failover to Sentinel's INFO, and what each failure leaves behind. The
lab tier runs it for real (the manual-failover drill and the rolling restart) and reads the
resyncs back from the servers."""

from __future__ import annotations

import math

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
        return {"repl-ping-replica-period": "10", "replica-priority": "100"}[name]

    def call(self, *args):
        self.calls.append(args)
        if any(args[: len(prefix)] == prefix for prefix in self.fail_on):
            raise ConnectionError(f"{args[0]} failed")


class Replica(Primary):
    """The replica Sentinel will promote; remembers when its priority changed."""

    def __init__(self, clock):
        super().__init__()
        self.clock, self.priority, self.changed_at = clock, "100", -1.0

    def call(self, *args):
        super().call(*args)
        if args[:3] == ("CONFIG", "SET", "replica-priority"):
            self.priority, self.changed_at = args[3], self.clock()


class Sentinel:
    """One sentinel: GET-MASTER-ADDR answers from ``names``; SENTINEL MASTER lists the new primary
    once the failover has ended (failover-timeout 1); it reads each replica every 10 s, the
    first time at ``info_at``, and once its info-period is set (SENTINEL DEBUG, unless
    ``debug`` is False: Sentinel before 7.0), at its next tick and then once per period."""

    def __init__(self, answer="OK", names=(OLD, NEW), clock=None, info_at=0.3, ends=True, debug=True):
        self.answer, self.names, self.asked = answer, list(names), 0
        self.clock, self.info_at, self.ends = clock or Clock(), info_at, ends
        self.timeout, self.sets, self.failover_at, self.replica = "60000", [], None, None
        self.can_debug, self.periods = debug, [(float("-inf"), 10.0)]  # (from, period s)
        self.debugs: list[tuple] = []

    def debug(self, *args):
        if not self.can_debug:
            raise ConnectionError("ERR unknown subcommand 'DEBUG'")
        self.debugs.append(args)
        if args:
            self.periods.append((self.clock(), int(args[1]) / 1000))
        if args:
            return {}  # +OK
        # As Sentinel names them (sentinel.c, addReplySentinelDebugInfo).
        return {"INFO-PERIOD": str(int(self.periods[-1][1] * 1000)), "PING-PERIOD": "1000"}

    def primary(self, group):
        self.asked += 1
        return self.names.pop(0) if len(self.names) > 1 else self.names[0]

    def failover(self, group):
        self.failover_at = self.clock()
        return self.answer

    def master(self, group):
        ended = self.ends and ("failover-timeout", "1") in self.sets
        listed = NEW if ended else OLD
        record = {"ip": listed[0], "port": listed[1], "failover-timeout": self.timeout}
        if self.failover_at is not None and self.answer == "OK" and not ended:
            record["failover-state"] = "reconf_slaves"
        return record

    def last_info(self) -> float:
        now = self.clock()
        last = self.info_at + math.floor((min(now, self.periods[1][0] if len(self.periods) > 1 else now)
                                          - self.info_at) / 10) * 10  # fmt: skip
        for since, period in self.periods[1:]:
            if since > now:
                break
            nxt = max(last + period, since)
            while nxt <= now:
                last, nxt = nxt, nxt + period
        return last

    def replicas(self, group):
        seen = self.replica is not None and self.replica.changed_at <= self.last_info()
        flags = "slave,promoted" if self.failover_at is not None else "slave"
        age = str(int((self.clock() - self.last_info()) * 1000))
        return [
            {"ip": "10.0.0.13", "port": "6379", "flags": "slave", "slave-priority": "100",
             "slave-repl-offset": "500", "run-id": "b", "info-refresh": "4000"},
            {"ip": NEW[0], "port": NEW[1], "flags": flags,
             "slave-priority": self.replica.priority if seen else "100",
             "slave-repl-offset": "500", "run-id": "a", "info-refresh": age},
        ]  # fmt: skip

    def set(self, group, option, value):
        self.sets.append((option, value))
        self.timeout = value


def run(primary, sentinel, clock=None, **kwargs):
    clock = clock or sentinel.clock
    return S.switch_over(primary, sentinel, "main", OLD[0], 2, clock=clock, sleep=clock.sleep, **kwargs)


def test_the_ping_is_held_before_the_pause_and_restored_after_it():
    primary = Primary()
    done = run(primary, Sentinel(), timed=False)
    assert done["new_primary"] == "10.0.0.12:6379" and not done["timed"]
    assert primary.calls == [
        ("CONFIG", "SET", "repl-ping-replica-period", "3600"),
        ("CLIENT", "PAUSE", "15000", "WRITE"),
        ("REPLICAOF", *NEW),
        ("CLIENT", "UNPAUSE"),  # the paused writes meet a replica: READONLY, ask Sentinel again
        ("CONFIG", "SET", "repl-ping-replica-period", "10"),  # before the rewrite: not pinned in the file
        ("CONFIG", "REWRITE"),  # replicaof in the file before anything else can fail
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("CLIENT", "KILL", "TYPE", "pubsub"),
    ]


def timed_run(info_at=0.3, names=(OLD, OLD, NEW), debug=True, **kwargs):
    clock = Clock()
    primary, sentinel = Primary(), Sentinel(names=names, clock=clock, info_at=info_at, debug=debug)
    replicas = {NEW: Replica(clock), ("10.0.0.13", "6379"): Replica(clock)}
    sentinel.replica = replica = replicas[NEW]
    made = []

    def server(ip, port):
        made.append((ip, port))
        return replicas[(ip, port)]

    done = run(primary, sentinel, server=server, **kwargs)
    return done, primary, sentinel, replica, made, replicas[("10.0.0.13", "6379")]


def test_the_failover_is_timed_to_sentinels_info_of_the_replica_it_will_promote():
    done, primary, sentinel, replica, made, other = timed_run()
    # Both replicas are read directly (their own offsets), and the one Sentinel ranks first
    # (same priority and offset: the smaller run id) leads on priority alone for the
    # switchover, one below the others, before the INFO the timing waits for.
    assert sorted(made) == [NEW, NEW, ("10.0.0.13", "6379")]
    assert replica.calls[0] == ("CONFIG", "SET", "replica-priority", "99")
    # Then the sentinel reads its replicas every second (its next tick first), not every 10 s,
    # until the switchover ends; SENTINEL FAILOVER arrives when that INFO is FIRE_AGE_MS old.
    assert sentinel.debugs == [(), ("info-period", "1000"), ("info-period", "10000")]
    assert sentinel.failover_at == pytest.approx(S.FIRE_AGE_MS / 1000, abs=0.001)
    assert done["timed"] and done["waited_s"] == pytest.approx(S.FIRE_AGE_MS / 1000, abs=0.01)
    assert not done["warnings"]
    # Once Sentinel names the promoted replica, its failover is ended and its timeout set back.
    assert sentinel.sets == [("failover-timeout", "1"), ("failover-timeout", "60000")]
    assert replica.calls[1:] == [("CONFIG", "SET", "replica-priority", "100"), ("CONFIG", "REWRITE")]
    # The other replica follows the new primary from here, not from Sentinel's late command.
    assert other.calls == [("REPLICAOF", *NEW), ("CONFIG", "REWRITE")]
    assert done["steps"]["ending"] < done["steps"]["resumed"]
    assert primary.calls[1] == ("CLIENT", "PAUSE", "15000", "WRITE")
    # Demoted as soon as the promotion is seen (before the failover ends), again (a no-op) after.
    assert primary.calls[2:5] == [("REPLICAOF", *NEW), ("REPLICAOF", *NEW), ("CLIENT", "UNPAUSE")]
    assert done["paused_s"] < 0.1


def test_a_moment_already_near_is_taken_without_waiting_for_the_next_info():
    """The replica already leads on priority: nothing to lower, and its INFO 0.5 s ago is used."""
    clock = Clock()
    clock.now = 0.8
    primary, sentinel = Primary(), Sentinel(names=(OLD, NEW), clock=clock, info_at=0.3)
    sentinel.replica = Replica(clock)
    sentinel.replica.priority = "50"
    done = run(primary, sentinel, server=lambda ip, port: sentinel.replica)
    assert done["timed"]
    assert ("CONFIG", "SET", "replica-priority", "50") not in sentinel.replica.calls
    assert sentinel.failover_at == pytest.approx(0.3 + S.FIRE_AGE_MS / 1000, abs=0.001)


def test_a_sentinel_without_debug_is_timed_to_its_ten_second_info():
    """Sentinel before 7.0 (or an ACL without SENTINEL DEBUG): the wait is for its own INFO."""
    done, _, sentinel, _, _, _ = timed_run(info_at=3.0, debug=False)
    assert done["timed"] and sentinel.failover_at == pytest.approx(3.0 + S.FIRE_AGE_MS / 1000, abs=0.001)
    assert any("info-period could not be shortened" in w for w in done["warnings"])


def test_an_info_period_already_short_is_left_alone():
    clock = Clock()
    primary, sentinel = Primary(), Sentinel(names=(OLD, OLD, NEW), clock=clock)
    sentinel.periods.append((-5.0, 0.5))  # an operator's SENTINEL DEBUG info-period 500
    replicas = {NEW: Replica(clock), ("10.0.0.13", "6379"): Replica(clock)}
    sentinel.replica = replicas[NEW]
    done = run(primary, sentinel, server=lambda ip, port: replicas[(ip, port)])
    assert done["timed"] and sentinel.debugs == [()]


def test_an_info_period_that_cannot_be_set_back_is_a_warning_not_a_failure():
    """Sentinel reads every second during a failover anyway: the switchover stands."""

    class Stuck(Sentinel):
        def debug(self, *args):
            if args and args[1] != "1000":
                raise ConnectionError("connection lost")
            return super().debug(*args)

    clock = Clock()
    primary, sentinel = Primary(), Stuck(names=(OLD, OLD, NEW), clock=clock)
    replicas = {NEW: Replica(clock), ("10.0.0.13", "6379"): Replica(clock)}
    sentinel.replica = replicas[NEW]
    done = run(primary, sentinel, server=lambda ip, port: replicas[(ip, port)])
    assert done["new_primary"] == "10.0.0.12:6379"
    left = [w for w in done["warnings"] if "SENTINEL DEBUG info-period 10000" in w]
    assert len(left) == 1, done["warnings"]


def test_an_operators_info_period_is_read_and_set_back():
    clock = Clock()
    primary, sentinel = Primary(), Sentinel(names=(OLD, OLD, NEW), clock=clock)
    sentinel.periods.append((-50.0, 5.0))  # SENTINEL DEBUG info-period 5000, long ago
    replicas = {NEW: Replica(clock), ("10.0.0.13", "6379"): Replica(clock)}
    sentinel.replica = replicas[NEW]
    run(primary, sentinel, server=lambda ip, port: replicas[(ip, port)])
    assert sentinel.debugs == [(), ("info-period", "1000"), ("info-period", "5000")]


def test_no_moment_within_the_timeout_goes_on_untimed():
    done, _, sentinel, _, _, _ = timed_run(info_at=5.0, align_timeout=2.0, debug=False)
    assert not done["timed"] and sentinel.failover_at == pytest.approx(2.0, abs=0.02)


def test_the_pause_lasts_until_sentinel_master_lists_the_new_primary():
    """redis-py reads SENTINEL MASTERS, which the leader changes only when its failover ends."""
    clock = Clock()
    sentinel = Sentinel(names=(OLD, NEW), clock=clock, ends=False)
    sentinel.info_at = 0.0
    with pytest.raises(S.SwitchoverError, match="did not name another primary") as caught:
        run(Primary(), sentinel)
    assert not caught.value.resumed
    assert sentinel.sets == [("failover-timeout", "1"), ("failover-timeout", "60000")]


def test_a_refused_failover_restores_the_priority_and_never_touches_the_timeout():
    clock = Clock()
    primary, sentinel = Primary(), Sentinel(answer="NOGOODSLAVE No suitable replica", clock=clock)
    replica = Replica(clock)
    sentinel.replica = replica
    with pytest.raises(S.SwitchoverError, match="NOGOODSLAVE") as caught:
        run(primary, sentinel, server=lambda ip, port: replica)
    assert caught.value.resumed and sentinel.sets == []
    assert replica.calls[-2:] == [("CONFIG", "SET", "replica-priority", "100"), ("CONFIG", "REWRITE")]


def test_a_priority_that_cannot_be_lowered_is_refused_before_the_pause():
    clock = Clock()
    primary, sentinel, replica = Primary(), Sentinel(clock=clock), Replica(clock)
    replica.fail_on = [("CONFIG", "SET")]
    with pytest.raises(
        S.SwitchoverError, match=r"cannot lower the replica-priority of 10\.0\.0\.12:6379"
    ) as caught:
        run(primary, sentinel, server=lambda ip, port: replica)
    assert caught.value.resumed and ("CLIENT", "PAUSE", "15000", "WRITE") not in primary.calls


@pytest.mark.parametrize(
    ("views", "first"),
    [
        # priority first, then the larger offset, then the smaller run id
        ([("a", 100, 10, "b"), ("b", 90, 5, "a")], "b"),
        ([("a", 100, 10, "b"), ("b", 100, 20, "a")], "b"),
        ([("a", 100, 10, "B"), ("b", 100, 10, "a")], "b"),
        # never: priority 0, down or disconnected
        ([("a", 0, 10, "a"), ("b", 100, 1, "b")], "b"),
        ([("a", 1, 10, "a", "slave,s_down"), ("b", 100, 1, "b")], "b"),
        ([("a", 1, 10, "a", "slave,disconnected"), ("b", 100, 1, "b")], "b"),
    ],
)
def test_candidates_are_ranked_as_sentinel_ranks_them(views, first):
    records = [
        {"ip": v[0], "slave-priority": str(v[1]), "slave-repl-offset": str(v[2]), "run-id": v[3],
         "flags": v[4] if len(v) > 4 else "slave"}
        for v in views
    ]  # fmt: skip
    assert S.candidates(records)[0]["ip"] == first


@pytest.mark.parametrize(
    ("mine", "others", "lead"),
    [(100, [100, 100], 99), (50, [100], None), (1, [1], 0), (100, [0, 100], 99), (100, [], None)],
)
def test_the_lead_priority_is_one_below_every_other_candidate(mine, others, lead):
    target = {"slave-priority": str(mine), "flags": "slave"}
    views = [target, *({"slave-priority": str(p), "flags": "slave"} for p in others)]
    assert S.lead_priority(target, views) == lead


@pytest.mark.parametrize(
    ("age", "overhead", "wait"),
    [
        (0, 30, (S.FIRE_AGE_MS - 30) / 1000),
        (S.FIRE_AGE_MS - 30, 30, 0.0),
        (S.FIRE_AGE_MS, 30, None),
        (5000, 0, None),
    ],
)
def test_fire_in(age, overhead, wait):
    assert S.fire_in(age, overhead) == (pytest.approx(wait) if wait is not None else None)


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
    primary = Primary([CAUGHT_UP, {**CAUGHT_UP, "role": role}], fail_on=[("REPLICAOF",)])
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
    assert ("CLIENT", "UNPAUSE") in primary.calls


def test_a_sentinel_that_never_answers_keeps_writes_paused_and_restores_the_ping():
    primary = Primary()
    with pytest.raises(S.SwitchoverError, match="the last question failed: sentinel restarting") as caught:
        run(primary, FlakySentinel(failures=10**6))
    assert not caught.value.resumed and ("CLIENT", "UNPAUSE") not in primary.calls
    assert primary.calls[-1] == ("CONFIG", "SET", "repl-ping-replica-period", "10")


def test_a_failed_demotion_of_a_server_now_a_replica_says_so():
    primary = Primary([CAUGHT_UP, {**CAUGHT_UP, "role": "slave"}], fail_on=[("REPLICAOF",)])
    primary.fail_on = [("REPLICAOF",)]
    with pytest.raises(S.SwitchoverError, match=r"now a replica of 10\.0\.0\.12:6379"):
        run(primary, Sentinel())


def test_a_failure_after_writes_resumed_says_the_switchover_finished():
    primary = Primary(fail_on=[("CLIENT", "KILL")])
    with pytest.raises(S.SwitchoverError, match=r"switchover to 10\.0\.0\.12:6379 finished, but") as caught:
        run(primary, Sentinel(), timed=False)
    assert caught.value.resumed
    # The file says replicaof before the failure, and the PING period came back anyway.
    assert primary.calls.index(("CONFIG", "REWRITE")) < primary.calls.index(
        ("CLIENT", "KILL", "TYPE", "normal")
    )
    assert ("CONFIG", "SET", "repl-ping-replica-period", "10") in primary.calls


def test_a_replica_that_cannot_be_repointed_is_left_to_sentinel_with_a_warning():
    clock = Clock()
    primary, sentinel = Primary(), Sentinel(names=(OLD, OLD, NEW), clock=clock)
    replicas = {NEW: Replica(clock), ("10.0.0.13", "6379"): Replica(clock)}
    replicas[("10.0.0.13", "6379")].fail_on = [("REPLICAOF",)]
    sentinel.replica = replicas[NEW]
    done = run(primary, sentinel, server=lambda ip, port: replicas[(ip, port)])
    assert done["new_primary"] == "10.0.0.12:6379"
    assert done["warnings"] == ["10.0.0.13:6379 was left for Sentinel to repoint (REPLICAOF failed)"]
    assert ("CLIENT", "UNPAUSE") in primary.calls and ("CONFIG", "REWRITE") in primary.calls


def test_a_replica_that_cannot_be_reached_makes_the_switchover_untimed_not_refused():
    clock = Clock()
    primary, sentinel = Primary(), Sentinel(clock=clock)

    def unreachable(ip, port):
        raise ConnectionError(f"cannot reach {ip}:{port}")

    done = run(primary, sentinel, server=unreachable)
    assert done["new_primary"] == "10.0.0.12:6379" and not done["timed"]
    assert any("untimed: cannot lower the replica-priority" in w for w in done["warnings"])


class LostAnswer(Sentinel):
    """SENTINEL FAILOVER is sent but its answer is lost; ``running``: Sentinel did start it."""

    def __init__(self, running: bool, **kwargs):
        super().__init__(**kwargs)
        self.running = running

    def failover(self, group):
        super().failover(group)
        raise TimeoutError("no reply within 5 s")

    def master(self, group):
        record = super().master(group)
        record["config-epoch"] = "8" if self.running and self.failover_at is not None else "7"
        return record


def test_a_lost_failover_answer_keeps_writes_paused_when_a_failover_started():
    primary = Primary()
    done = run(primary, LostAnswer(running=True), timed=False)
    assert done["new_primary"] == "10.0.0.12:6379"
    assert any("a failover of main is running" in w for w in done["warnings"])
    # Never resumed on the old primary before it was demoted.
    assert primary.calls.index(("REPLICAOF", *NEW)) < primary.calls.index(("CLIENT", "UNPAUSE"))


def test_a_lost_failover_answer_resumes_writes_when_no_failover_started():
    primary = Primary()
    with pytest.raises(S.SwitchoverError, match="did not fail over: no answer") as caught:
        run(primary, LostAnswer(running=False, names=[OLD]), timed=False)
    assert caught.value.resumed and ("REPLICAOF", *NEW) not in primary.calls


def test_a_failover_timeout_left_at_one_millisecond_is_refused_before_the_pause():
    primary, sentinel = Primary(), Sentinel()
    sentinel.timeout = "1"
    with pytest.raises(S.SwitchoverError, match="failover-timeout 1 ms") as caught:
        run(primary, sentinel)
    assert caught.value.resumed and sentinel.failover_at is None
    assert ("CLIENT", "PAUSE", "15000", "WRITE") not in primary.calls
