"""What a failed lab-tier playbook shows: every failed task, not only the run's tail."""

from tests.lab.conftest import failures

# The shape of the default callback's output with the YAML result format: a host that failed
# early (redis-3), then a long run, then two hosts failing on a retried task.
RUN = """\
TASK [redis_server : Write the firewall rules] *********************************
changed: [redis-1]
fatal: [redis-3]: FAILED! =>
    changed: false
    msg: 'Unable to start service redis-ops-kit-firewall.service'

TASK [redis_sentinel : Wait until this sentinel sees the other sentinels] ******
FAILED - RETRYING: [redis-1]: Wait until this sentinel sees the other sentinels (1 retries left).
failed: [redis-1] (item=redis-main) =>
    attempts: 30
    num-other-sentinels: '1'
fatal: [redis-2]: FAILED! =>
    attempts: 30

PLAY RECAP *********************************************************************
redis-1                    : ok=62   changed=13   unreachable=0    failed=1
"""


def test_every_failed_task_is_reported_with_its_task_line():
    found = failures(RUN)
    assert len(found) == 3
    assert found[0].splitlines()[:2] == [
        "TASK [redis_server : Write the firewall rules] *********************************",
        "fatal: [redis-3]: FAILED! =>",
    ]
    assert "Unable to start service redis-ops-kit-firewall.service" in found[0]
    assert found[1].splitlines()[1] == "failed: [redis-1] (item=redis-main) =>"
    assert "num-other-sentinels: '1'" in found[1]
    assert "RETRYING" not in "".join(found)
    assert found[2].splitlines()[1:] == ["fatal: [redis-2]: FAILED! =>", "    attempts: 30"]


def test_a_long_failure_is_cut_and_a_clean_run_has_none():
    long_run = "TASK [x] ***\nfatal: [h]: FAILED! =>\n" + "".join(f"    line {i}\n" for i in range(100))
    (only,) = failures(long_run, max_lines=10)
    assert len(only.splitlines()) == 10
    assert failures("TASK [x] ***\nok: [h]\n\nPLAY RECAP ***\n") == []
