"""The one judgement of a Sentinel group's health, and the topology it rests on."""

from __future__ import annotations

from redisops.core import health as H
from redisops.core import topology as T

PRIMARY, R2, R3 = "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"


def view(name="s1", primary=PRIMARY, **kw) -> H.SentinelView:
    fields = dict(monitors=True, primary=primary, flags="master", other_sentinels=2, replicas=2,
                  linked_replicas=2, ckquorum="OK 3 usable Sentinels")  # fmt: skip
    return H.SentinelView(name, **{**fields, **kw})


def servers(**changes) -> list[H.ServerView]:
    out = {
        PRIMARY: H.ServerView(PRIMARY, "master", offset=1000),
        R2: H.ServerView(R2, "slave", PRIMARY, "up", 1000),
        R3: H.ServerView(R3, "slave", PRIMARY, "up", 990),
    }
    out.update(changes)
    return list(out.values())


def judge(sentinels, read=None, **kw) -> H.Verdict:
    return H.judge("redis-main", sentinels, read, expect_sentinels=3, expect_replicas=2, **kw)


def test_a_whole_group_is_healthy_and_names_its_primary():
    verdict = judge([view("s1"), view("s2"), view("s3")], servers(), max_lag_bytes=1_000_000)
    assert verdict.ok and verdict.primary == PRIMARY and verdict.messages == []


def test_each_sentinel_problem_has_its_kind_and_names_the_sentinel():
    cases = [
        (view(answered=False), H.SILENT, "sentinel on s1 does not answer"),
        (
            view(ckquorum="NOQUORUM 1 usable Sentinels"),
            H.NO_QUORUM,
            "sentinel on s1: CKQUORUM redis-main: NOQUORUM",
        ),
        (
            H.SentinelView("s1", monitors=False),
            H.UNMONITORED,
            "sentinel on s1: group redis-main is not monitored",
        ),
        (view(flags="master,s_down"), H.PRIMARY_FLAGGED, "primary flags master,s_down"),
        (view(other_sentinels=1), H.FEW_SENTINELS, "sees 1 other sentinels of 2"),
        (view(linked_replicas=1), H.FEW_REPLICAS, "sees 1 healthy replicas of 2"),
    ]
    for sentinel, kind, message in cases:
        [problem] = H.sentinel_problems(sentinel, "redis-main", 3, 2)
        assert problem.kind == kind and problem.about == "s1" and message in problem.message, problem


def test_replicas_marked_down_do_not_count_but_the_listed_ones_do_when_that_is_all_that_is_known():
    assert H.sentinel_problems(view(replicas=2, linked_replicas=1), "g", 3, 2)[0].kind == H.FEW_REPLICAS
    assert H.sentinel_problems(view(replicas=2, linked_replicas=None), "g", 3, 2) == []


def test_stale_peers_and_replicas_count_only_when_exact():
    stale = view(other_sentinels=4, replicas=3, linked_replicas=None)
    assert H.sentinel_problems(stale, "g", 3, 2) == []
    assert [p.kind for p in H.sentinel_problems(stale, "g", 3, 2, exact=True)] == [
        H.FEW_SENTINELS,
        H.FEW_REPLICAS,
    ]


def test_a_spare_replica_need_not_be_linked_but_every_other_must():
    sentinel = view(linked_replicas=1, linked_replica_addrs=(R2,))
    assert H.sentinel_problems(sentinel, "g", 3, 2, spare=R3) == []
    [problem] = H.sentinel_problems(sentinel, "g", 3, 2, spare=R2)
    assert problem.text == f"sees 0 healthy replicas of 1 besides {R2}"
    assert H.sentinel_problems(sentinel, "g", 3, 2, spare=PRIMARY) != []  # the primary is never spare


def test_what_was_not_read_is_not_judged():
    assert H.sentinel_problems(H.SentinelView("s1", primary=PRIMARY), "g", 3, 2) == []


def test_sentinels_that_disagree_are_unhealthy_and_name_no_primary():
    verdict = judge([view("s1"), view("s2", primary=R2), view("s3")])
    assert [p.kind for p in verdict.problems] == [H.DISAGREE]
    assert verdict.primary is None
    assert verdict.messages == [
        f"the sentinels name different primaries: {{'s1': '{PRIMARY}', 's2': '{R2}', 's3': '{PRIMARY}'}}"
    ]


def test_silent_sentinels_are_left_out_of_the_agreement():
    verdict = judge([view("s1"), view("s2", answered=False, primary=R2), view("s3")])
    assert [p.kind for p in verdict.problems] == [H.SILENT] and verdict.primary == PRIMARY


def test_without_any_primary_named_the_servers_cannot_be_judged():
    verdict = judge([H.SentinelView("s1", ckquorum="ERR No such master with that name")], servers())
    assert [p.kind for p in verdict.problems] == [H.NO_QUORUM, H.NO_PRIMARY]


def test_each_server_problem_names_the_replica():
    cases = [
        ({R2: H.ServerView(R2, "master")}, [H.NOT_ONE_PRIMARY, H.LINK_DOWN]),
        ({PRIMARY: H.ServerView(PRIMARY, "slave", R2, "up")}, [H.NOT_ONE_PRIMARY]),
        ({R2: H.ServerView(R2)}, [H.LINK_DOWN]),
        ({R2: H.ServerView(R2, "slave", R3, "up", 1000)}, [H.ASTRAY]),
        ({R3: H.ServerView(R3, "slave", PRIMARY, "up", 0)}, [H.LAGGING]),
    ]
    for changes, kinds in cases:
        verdict = judge([view()], servers(**changes), max_lag_bytes=500)
        assert [p.kind for p in verdict.problems] == kinds, (changes, verdict.messages)
    [problem] = judge([view()], servers(**{R2: H.ServerView(R2)})).problems
    assert problem.message == f"replica {R2}: link unreachable"
    [problem] = judge(
        [view()], servers(**{R3: H.ServerView(R3, "slave", PRIMARY, "up", 0)}), max_lag_bytes=500
    ).problems
    assert problem.message == f"replica {R3} is 1000 bytes behind"


def test_views_from_what_sentinel_and_the_servers_answer():
    master = {"ip": "10.0.0.1", "port": "6379", "flags": "master", "num-other-sentinels": "2",
              "num-slaves": "2", "ok-replicas": 1, "ok-replica-addrs": [R2]}  # fmt: skip
    sentinel = H.SentinelView.from_master("s1", master, "OK")
    assert (sentinel.primary, sentinel.other_sentinels, sentinel.replicas, sentinel.linked_replicas) == (
        PRIMARY,
        2,
        2,
        1,
    )
    assert sentinel.linked_replica_addrs == (R2,)
    assert H.SentinelView.from_master("s1", None).monitors is False
    info = {"role": "slave", "master_host": "10.0.0.1", "master_port": 6379, "master_link_status": "up",
            "slave_repl_offset": 42}  # fmt: skip
    assert H.ServerView.from_info(R2, info) == H.ServerView(R2, "slave", PRIMARY, "up", 42)
    assert H.ServerView.from_info(R2, {}) == H.ServerView(R2)
    assert H.sentinel_sees_replica_linked({"flags": "slave", "master-link-status": "ok"})
    assert not H.sentinel_sees_replica_linked({"flags": "slave,s_down", "master-link-status": "ok"})


def test_majorities_and_agreement():
    assert [T.majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    agreed = T.agreement({"s1": PRIMARY, "s2": PRIMARY, "s3": R2, "s4": None})
    assert agreed.named == [PRIMARY, R2] and not agreed.unanimous and agreed.agreed is None
    assert agreed.majority == (PRIMARY, 2) and agreed.dissent(PRIMARY) == {"s3": R2}
    assert T.agreement({"s1": PRIMARY, "s2": R2}).majority is None
    assert T.agreement({"s1": None}).majority is None
    assert T.agreement({"s1": PRIMARY, "s2": None}).agreed == PRIMARY
