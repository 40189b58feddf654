"""Issue 20, part 2 on the lab: every input that can hurt the cluster is refused by site.yml's first
play, with a message naming the variable, before any host changes.

Each bad input runs playbooks/site.yml once with the input as extra vars (a JSON file, so types stay
what they are: strings stay strings, booleans booleans). The run must fail, name the variable in a
failed task, never reach the deploying plays, report changed=0 everywhere, and leave every file the
roles manage on every host (the backup host included) byte for byte as it was: a sha256 of each,
with its mode, owner and mtime, and the main PID of each service the roles run, gathered over the
lab's SSH with one command per host. A last run without bad input then changes nothing.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from .conftest import (
    INVENTORY,
    SERVER,
    assert_unchanged,
    failures,
    lab_ssh,
    playbook_failure,
    recap,
    run_playbook,
)

GOOD_PASSWORD = "bad-input-test-secret-0123456789"
APP = {"name": "app", "password": GOOD_PASSWORD, "keys": ["app:*"], "channels": ["app:*"]}

# (id, extra vars, what the failure must name). Distinct inputs; the ones issue 20 lists first.
BAD_INPUTS = [
    # Listen addresses: every address needs the explicit opt-in, however it is written.
    ("bind-v6-any-written-::0", {"redis_server_bind": ["::0"]}, "redis_server_bind_allow_wildcard"),
    (
        "bind-v6-any-long-form",
        {"redis_server_bind": ["0:0::0", "127.0.0.1"]},
        "redis_server_bind_allow_wildcard",
    ),
    ("bind-star", {"redis_server_bind": ["*"]}, "redis_server_bind_allow_wildcard"),
    ("bind-dash-v6-star", {"redis_server_bind": ["127.0.0.1", "-::*"]}, "redis_server_bind_allow_wildcard"),
    ("bind-two-in-one-entry", {"redis_server_bind": ["127.0.0.1 10.0.0.1"]}, "redis_server_bind"),
    ("bind-a-string-not-a-list", {"redis_server_bind": "127.0.0.1"}, "redis_server_bind"),
    ("bind-a-host-name", {"redis_server_bind": ["redis-1.lan"]}, "redis_server_bind"),
    ("sentinel-bind-any-v4", {"redis_sentinel_bind": ["0.0.0.0"]}, "redis_sentinel_bind_allow_wildcard"),
    (
        "sentinel-bind-any-v6",
        {"redis_sentinel_bind": ["::", "127.0.0.1"]},
        "redis_sentinel_bind_allow_wildcard",
    ),
    (
        "exporter-listen-any-v4",
        {"redis_exporter_listen_address": "0.0.0.0"},
        "redis_exporter_listen_allow_wildcard",
    ),
    (
        "exporter-listen-any-v6",
        {"redis_exporter_listen_address": "::"},
        "redis_exporter_listen_allow_wildcard",
    ),
    # Networks: CIDR, and /0 needs its own opt-in.
    (
        "clients-any-v4",
        {"redis_server_client_networks": ["0.0.0.0/0"]},
        "redis_server_client_networks_allow_any",
    ),
    ("clients-any-v6", {"redis_server_client_networks": ["::/0"]}, "redis_server_client_networks_allow_any"),
    ("clients-prefix-33", {"redis_server_client_networks": ["10.0.0.0/33"]}, "redis_server_client_networks"),
    (
        "scrapers-any",
        {"redis_exporter_scrape_networks": ["0.0.0.0/0"]},
        "redis_exporter_scrape_networks_allow_any",
    ),
    # Ports: 1-65535, never shared.
    (
        "firewall-port-70000",
        {"redis_server_firewall_extra_ports": [70000]},
        "redis_server_firewall_extra_ports",
    ),
    (
        "firewall-port-twice",
        {"redis_server_firewall_extra_ports": [26379, 26379]},
        "redis_server_firewall_extra_ports",
    ),
    ("exporter-on-the-redis-port", {"redis_exporter_port_base": 6379}, "redis_exporter_port_base"),
    (
        "exporter-on-the-sentinel-port",
        {"redis_exporter_sentinel_port": 26379},
        "redis_exporter_sentinel_port",
    ),
    ("node-exporter-port-70000", {"redis_exporter_node_port": 70000}, "redis_exporter_node_port"),
    # ACL rules one word each, booleans real booleans.
    (
        "acl-keys-smuggle-rules",
        {"redis_server_acl_users": [{**APP, "keys": ["app:* nopass +@all"]}]},
        "redis_server_acl_users[0]",
    ),
    (
        "acl-channels-with-space",
        {"redis_server_acl_users": [{**APP, "channels": ["app:* allchannels"]}]},
        "redis_server_acl_users[0]",
    ),
    (
        "acl-commands-with-tab",
        {"redis_server_acl_users": [{**APP, "commands": ["+get\t+@all"]}]},
        "redis_server_acl_users[0]",
    ),
    (
        "acl-enabled-string-no",
        {"redis_server_acl_users": [{**APP, "enabled": "no"}]},
        "redis_server_acl_users[0]",
    ),
    ("firewall-string-no", {"redis_server_firewall": "no"}, "redis_server_firewall"),
    ("protected-mode-string-false", {"redis_server_protected_mode": "false"}, "redis_server_protected_mode"),
    (
        "sentinel-few-string-yes",
        {"redis_sentinel_allow_fewer_than_three": "yes"},
        "redis_sentinel_allow_fewer_than_three",
    ),
    ("exporter-firewall-string-no", {"redis_exporter_firewall": "no"}, "redis_exporter_firewall"),
    (
        "restart-on-failure-string-no",
        {"redis_server_restart_on_failure": "no"},
        "redis_server_restart_on_failure",
    ),
    (
        "debug-command-boolean",
        {"redis_server_enable_debug_command": False},
        "redis_server_enable_debug_command",
    ),
    # Secrets.
    (
        "admin-password-newline",
        {"redis_server_admin_password": GOOD_PASSWORD + "\n"},
        "redis_server_admin_password",
    ),
    ("password-minimum-8", {"redis_server_password_min_length": 8}, "redis_server_password_min_length"),
    (
        "sentinel-password-minimum-10",
        {"redis_sentinel_password_min_length": 10},
        "redis_sentinel_password_min_length",
    ),
    (
        "sentinel-peer-password-cr",
        {"redis_sentinel_peer_password": GOOD_PASSWORD + "\r"},
        "redis_sentinel_peer_password",
    ),
    (
        "monitoring-password-spaces",
        {"redis_server_monitoring_password": "monitoring secret with spaces 01"},
        "redis_server_monitoring_password",
    ),
    # TLS.
    ("tls-1.0-and-1.1", {"redis_server_tls_protocols": "TLSv1 TLSv1.1"}, "redis_server_tls_protocols"),
    ("sentinel-tls-1.1", {"redis_sentinel_tls_protocols": "TLSv1.1"}, "redis_sentinel_tls_protocols"),
    ("renew-beyond-validity", {"redis_server_tls_renew_days": 400}, "redis_server_tls_renew_days"),
    # Numbers in range.
    ("min-replicas-99", {"redis_server_min_replicas_to_write": 99}, "redis_server_min_replicas_to_write"),
    ("maxclients-minus-5", {"redis_server_maxclients": -5}, "redis_server_maxclients"),
    (
        "instance-maxclients-0",
        {"redis_server_instances": [{"name": "main", "port": 6379, "maxclients": 0}]},
        "redis_server_instances[0].maxclients",
    ),
    ("timeout-negative", {"redis_server_timeout": -1}, "redis_server_timeout"),
    ("tcp-backlog-0", {"redis_server_tcp_backlog": 0}, "redis_server_tcp_backlog"),
    ("slowlog-len-negative", {"redis_server_slowlog_max_len": -1}, "redis_server_slowlog_max_len"),
    (
        "latency-threshold-negative",
        {"redis_server_latency_monitor_threshold": -100},
        "redis_server_latency_monitor_threshold",
    ),
    ("maxmemory-samples-0", {"redis_server_maxmemory_samples": 0}, "redis_server_maxmemory_samples"),
    ("max-lag-0", {"redis_server_min_replicas_max_lag": 0}, "redis_server_min_replicas_max_lag"),
    (
        "diskless-delay-a-day",
        {"redis_server_repl_diskless_sync_delay": 86400},
        "redis_server_repl_diskless_sync_delay",
    ),
    ("backlog-not-a-size", {"redis_server_repl_backlog_size": "lots"}, "redis_server_repl_backlog_size"),
    ("backlog-a-share", {"redis_server_repl_backlog_size": "10%"}, "redis_server_repl_backlog_size"),
    (
        "sentinel-down-after-an-hour",
        {"redis_sentinel_down_after_milliseconds": 3600000},
        "redis_sentinel_down_after_milliseconds",
    ),
    ("sentinel-parallel-syncs-500", {"redis_sentinel_parallel_syncs": 500}, "redis_sentinel_parallel_syncs"),
    ("sentinel-announce-any", {"redis_sentinel_announce_ip": "0.0.0.0"}, "redis_sentinel_announce_ip"),
    # Service users never root; paths and names that reach config lines.
    ("server-user-root", {"redis_server_user": "root"}, "redis_server_user"),
    ("server-group-root", {"redis_server_group": "root"}, "redis_server_group"),
    ("sentinel-user-root", {"redis_sentinel_user": "root"}, "redis_sentinel_user"),
    ("exporter-user-root", {"redis_exporter_user": "root"}, "redis_exporter_user"),
    ("conf-dir-relative", {"redis_server_conf_dir": "etc/redis"}, "redis_server_conf_dir"),
    (
        "rename-with-space",
        {"redis_server_rename_commands": {"FLUSHALL X": ""}},
        "redis_server_rename_commands",
    ),
]


def managed_snapshot(hosts) -> dict[str, str]:
    """Per host: sha256, mode, owner and mtime of every file the roles manage, the targets of their
    unit links, and the main PID of every service they run. sentinel.conf is left out: Sentinel
    rewrites it itself (epochs, learned peers)."""
    cmd = "; ".join(
        [
            "files=$({ find /etc/redis /etc/valkey /etc/redis-ops-kit /etc/redisops /etc/redisops-exporter "
            "/etc/redisops-backup -type f ! -name sentinel.conf",
            "find /etc/systemd/system -maxdepth 1 -type f \\( -name 'redis*' -o -name 'sentinel*' "
            "-o -name 'redisops*' -o -name 'valkey*' -o -name 'disable-thp*' \\)",
            "find /etc/systemd/system -mindepth 2 -maxdepth 2 -type f -path '*.service.d/*'",
            "ls -d /etc/default/prometheus-node-exporter /etc/sysctl.d/60-redis.conf "
            "/etc/logrotate.d/redis-ops-kit* /usr/local/sbin/redisops-*",
            "} 2>/dev/null | sort -u)",
            'echo "$files" | xargs -r sha256sum',
            "echo \"$files\" | xargs -r stat -c '%n %a %U:%G %Y'",
            "find /etc/systemd/system -type l \\( -name 'redis*' -o -name 'valkey*' -o -name 'redisops*' \\) "
            "-printf '%p -> %l\\n' | sort",
            "for u in $(systemctl list-units --no-legend --plain --type=service --state=running "
            "'redis-server@*' 'valkey-server@*' 'redis-sentinel@*' 'valkey-sentinel@*' 'redisops-exporter@*' "
            "'prometheus-node-exporter*' | awk '{print $1}')",
            'do echo "$u $(systemctl show -p MainPID --value $u)"',
            "done",
        ]
    )
    # One SSH command per host, all hosts at once: the test runs this twice per bad input.
    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = pool.map(lambda h: lab_ssh(h.name, cmd).stdout, hosts)
        return dict(zip([h.name for h in hosts], outputs, strict=True))


@pytest.fixture(scope="module")
def deployed(lab):
    """site.yml run once against the lab (fresh or already deployed)."""
    proc = run_playbook("playbooks/site.yml")
    assert proc.returncode == 0, playbook_failure(proc)
    return lab


@pytest.fixture(scope="module")
def before(deployed):
    snapshot = managed_snapshot(deployed.all_hosts)
    # The snapshot covers what the roles wrote on every kind of host.
    for host in deployed.hosts:
        assert (
            SERVER.conf_file() in snapshot[host.name]
            and "/etc/redis-ops-kit/firewall.nft" in snapshot[host.name]
        )
        assert "redisops-exporter@" in snapshot[host.name]
    return snapshot


def assert_refused_before_any_change(proc, named: str, hosts, before) -> None:
    assert proc.returncode != 0, f"accepted:\n{proc.stdout[-3000:]}"
    failed = "\n\n".join(failures(proc.stdout))
    assert named in failed, f"{named!r} not named by a failed task:\n{playbook_failure(proc)}"
    # Refused in the first play (validation): no deploying play started.
    assert "PLAY [Deploy Redis servers]" not in proc.stdout, playbook_failure(proc)
    assert all(c["changed"] == 0 for c in recap(proc.stdout).values()), proc.stdout[-3000:]
    assert managed_snapshot(hosts) == before


def test_there_are_forty_distinct_bad_inputs():
    assert len(BAD_INPUTS) >= 40
    assert len({i for i, _, _ in BAD_INPUTS}) == len(BAD_INPUTS)
    assert len({json.dumps(e, sort_keys=True) for _, e, _ in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize(
    ("extra", "named"), [(e, n) for _, e, n in BAD_INPUTS], ids=[i for i, _, _ in BAD_INPUTS]
)
def test_a_bad_input_is_refused_before_any_host_changes(deployed, before, extra, named, tmp_path):
    extra_file = Path(tmp_path) / "extra.json"
    extra_file.write_text(json.dumps(extra))
    proc = run_playbook("playbooks/site.yml", "-e", f"@{extra_file}")
    assert_refused_before_any_change(proc, named, deployed.all_hosts, before)


def test_two_inventory_hosts_with_one_address_are_refused(deployed, before, tmp_path):
    """The lab inventory with a second source that gives redis-2 the address of redis-1."""
    first, second = deployed.hosts[0], deployed.hosts[1]
    (tmp_path / "same-address.yml").write_text(
        yaml.safe_dump({"all": {"hosts": {second.name: {"ansible_host": first.address}}}})
    )
    proc = run_playbook("-i", str(INVENTORY), "-i", str(tmp_path / "same-address.yml"), "playbooks/site.yml")
    assert_refused_before_any_change(
        proc, f"the same ansible_host {first.address}", deployed.all_hosts, before
    )


def test_a_run_without_the_ca_the_hosts_trust_stops_before_making_a_second(deployed, before, tmp_path):
    """A PKI directory without the CA (an AWX job's fresh HOME, a new laptop, a lost backup)."""
    pki = tmp_path / "pki"
    proc = run_playbook("playbooks/site.yml", "-e", f"redis_server_tls_pki_dir={pki}")
    assert proc.returncode != 0, proc.stdout[-3000:]
    failed = "\n\n".join(failures(proc.stdout))
    assert "already trust a CA" in failed and "redis_server_tls_replace_ca" in failed, playbook_failure(proc)
    assert all(c["changed"] == 0 for c in recap(proc.stdout).values()), proc.stdout[-3000:]
    assert not pki.exists()  # no second CA was made
    assert managed_snapshot(deployed.all_hosts) == before


def test_the_refused_runs_left_the_cluster_as_it_was(deployed, before):
    proc = run_playbook("playbooks/site.yml")
    assert_unchanged(proc, deployed.all_hosts)
