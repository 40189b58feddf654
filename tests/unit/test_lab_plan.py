"""The lab's pure parts: address plan, image key, overlap detection, inventory, mirror."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from redisops.lab import plan as P

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def test_address_plan_default_names_and_addresses():
    plan = P.address_plan()
    assert plan.gateway == "10.213.7.1"
    assert [(h.name, h.address) for h in plan.hosts] == [
        ("redis-1", "10.213.7.11"),
        ("redis-2", "10.213.7.12"),
        ("redis-3", "10.213.7.13"),
    ]
    assert {h.netns for h in plan.hosts} == {"rolab-redis-1", "rolab-redis-2", "rolab-redis-3"}
    # Linux interface names are at most 15 characters.
    assert all(len(h.veth) <= 15 for h in P.address_plan(count=99).hosts)
    # Fixed, unicast, locally administered MACs, distinct per host.
    assert plan.hosts[0].mac == "02:72:6f:d5:07:0b"
    assert len({h.mac for h in P.address_plan(count=99).hosts}) == 99


def test_address_plan_other_subnet_and_count():
    plan = P.address_plan("192.168.77.0/24", 5)
    assert plan.hosts[-1].address == "192.168.77.15"
    assert plan.prefixlen == 24


@pytest.mark.parametrize(
    ("subnet", "count", "message"),
    [
        ("10.213.7.5/24", 3, "not an IPv4 network"),
        ("nonsense", 3, "not an IPv4 network"),
        ("8.8.8.0/24", 3, "not a private range"),
        ("10.0.0.0/28", 6, "too small"),
        ("10.0.0.0/24", 0, "at least 1"),
        ("10.0.0.0/24", 120, "more than this lab supports"),
    ],
)
def test_address_plan_refuses_bad_input(subnet, count, message):
    with pytest.raises(P.LabError, match=message):
        P.address_plan(subnet, count)


def test_address_plan_with_cluster_hosts():
    plan = P.address_plan(count=3, cluster=4)
    assert [(h.name, h.address) for h in plan.cluster] == [
        ("cluster-1", "10.213.7.21"),
        ("cluster-2", "10.213.7.22"),
        ("cluster-3", "10.213.7.23"),
        ("cluster-4", "10.213.7.24"),
    ]
    assert [h.name for h in plan.all_hosts] == [
        "backup-1", "redis-1", "redis-2", "redis-3", "cluster-1", "cluster-2", "cluster-3", "cluster-4",
    ]  # fmt: skip
    assert [h.name for h in plan.sentinel_lab_hosts] == ["backup-1", "redis-1", "redis-2", "redis-3"]
    assert plan.cluster[0].netns == "rolab-cluster-1"
    assert plan.cluster[0].mac == "02:72:6f:d5:07:15"
    # The other hosts are where they are without cluster hosts.
    assert (plan.hosts, plan.extra) == (P.address_plan(count=3).hosts, P.address_plan(count=3).extra)
    assert P.address_plan().cluster == ()
    largest = P.address_plan(count=10, cluster=P.MAX_CLUSTER_HOSTS)
    assert largest.cluster[-1].address == "10.213.7.60"
    # Linux interface names are at most 15 characters; MACs and addresses distinct per host.
    assert all(len(h.veth) <= 15 for h in largest.all_hosts)
    assert len({h.mac for h in largest.all_hosts}) == len(largest.all_hosts) == 51
    assert len({h.address for h in largest.all_hosts}) == 51
    assert len({h.netns for h in largest.all_hosts}) == 51


@pytest.mark.parametrize(
    ("subnet", "count", "cluster", "message"),
    [
        (
            "10.0.0.0/24",
            3,
            P.MAX_CLUSTER_HOSTS + 1,
            r"--cluster-hosts 41 is more than this lab supports \(40\)",
        ),
        ("10.0.0.0/24", 3, -1, "--cluster-hosts must be 0 or more"),
        ("10.0.0.0/27", 3, 11, "too small for --cluster-hosts 11"),
        ("10.0.0.0/24", 11, 1, "--hosts 11 would reach the cluster hosts.*at most 10 hosts"),
    ],
)
def test_address_plan_refuses_too_many_cluster_hosts(subnet, count, cluster, message):
    with pytest.raises(P.LabUsageError, match=message):
        P.address_plan(subnet, count, cluster)


def test_address_plan_cluster_hosts_fit_a_small_subnet_and_many_hosts_without_them():
    assert P.address_plan("10.0.0.0/27", 3, 10).cluster[-1].address == "10.0.0.30"
    assert len(P.address_plan("10.0.0.0/24", 30).hosts) == 30  # no cluster hosts: no limit from them


def test_plan_from_state_with_and_without_cluster_hosts():
    state = {
        "subnet": "10.50.0.0/24",
        "image": "bookworm",
        "hosts": [{"name": "redis-1", "address": "10.50.0.11"}, {"name": "redis-2", "address": "10.50.0.12"}],
        "extra": [{"name": "backup-1", "address": "10.50.0.10"}],
    }
    assert P.plan_from_state(state).cluster == ()
    assert [h.name for h in P.plan_from_state(state).hosts] == ["redis-1", "redis-2"]
    cluster = [{"name": f"cluster-{i}", "address": f"10.50.0.{20 + i}"} for i in (1, 2, 3)]
    plan = P.plan_from_state({**state, "cluster": cluster})
    assert [(h.name, h.address) for h in plan.cluster] == [(c["name"], c["address"]) for c in cluster]
    assert [h.name for h in plan.hosts] == ["redis-1", "redis-2"]
    assert P.plan_from_state({**state, "cluster": []}).cluster == ()
    assert P.plan_from_state(None) == P.address_plan()


def test_overlap_detection_on_captured_routes():
    routes = json.loads((FIXTURES / "ip_route.json").read_text())
    # The machine itself sits on 192.0.2.0/24; the lab's own bridge route is not a clash.
    assert P.overlapping_routes("10.213.7.0/24", routes) == []
    assert P.overlapping_routes("192.0.2.0/24", routes) == ["192.0.2.0/24 dev eth0"]
    assert P.overlapping_routes("192.0.0.0/16", routes) == ["192.0.2.0/24 dev eth0"]
    # The same subnet on someone else's device is a clash.
    other = [{"dst": "10.213.7.0/24", "dev": "br-other"}]
    assert P.overlapping_routes("10.213.7.0/24", other) == ["10.213.7.0/24 dev br-other"]
    assert P.overlapping_routes("10.213.7.0/24", [{"dst": "10.213.7.9", "dev": "tun0"}]) == [
        "10.213.7.9 dev tun0"
    ]


def test_image_cache_key_changes_only_with_content():
    spec = P.image_spec("bookworm")
    key = P.image_cache_key(spec)
    assert key.startswith("bookworm-")
    reordered = replace(spec, packages=tuple(reversed(spec.packages)) + spec.packages[:1])
    assert P.image_cache_key(reordered) == key
    assert P.image_cache_key(replace(spec, packages=(*spec.packages, "curl"))) != key
    assert P.image_cache_key(replace(spec, suite="trixie")) != key
    assert P.image_cache_key(spec, recipe_version=P.IMAGE_RECIPE_VERSION + 1) != key


def test_image_carries_what_roles_install():
    spec = P.image_spec("bookworm")
    for pkg in ("redis-server", "redis-sentinel", "redis-tools", "python3-apt", "openssh-server", "nftables"):
        assert pkg in spec.packages
    assert {"redis-server.service", "redis-sentinel.service"} <= set(spec.disabled_units)


def test_unknown_image_names_the_choices():
    with pytest.raises(P.LabError, match=r"unknown lab image 'jessie'.*bookworm.*--image"):
        P.image_spec("jessie")


def test_inventory_content(tmp_path):
    paths = P.LabPaths(tmp_path)
    inv = P.render_inventory(P.address_plan(count=3), paths)
    assert inv["redis"]["hosts"] == ["redis-1", "redis-2", "redis-3"]
    assert inv["redis_primary"]["hosts"] == ["redis-1"]
    assert inv["redis_replicas"]["hosts"] == ["redis-2", "redis-3"]
    assert inv["sentinel"]["hosts"] == ["redis-1", "redis-2", "redis-3"]
    hv = inv["_meta"]["hostvars"]["redis-2"]
    assert hv["ansible_host"] == "10.213.7.12"
    assert hv["ansible_user"] == "root"
    assert hv["ansible_ssh_private_key_file"] == str(tmp_path / "id_ed25519")
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in hv["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in hv["ansible_ssh_common_args"]
    # The backup host is a lab host of its own, in no Redis or Sentinel group.
    assert inv["redis_backup"]["hosts"] == ["backup-1"]
    assert inv["_meta"]["hostvars"]["backup-1"]["ansible_host"] == "10.213.7.10"
    assert "backup-1" not in inv["redis"]["hosts"] + inv["sentinel"]["hosts"]


def test_inventory_leaves_the_cluster_hosts_out(tmp_path):
    paths = P.LabPaths(tmp_path)
    inv = P.render_inventory(P.address_plan(count=3, cluster=3), paths)
    assert inv == P.render_inventory(P.address_plan(count=3), paths)
    listed = set(inv["_meta"]["hostvars"])
    for group in inv["all"]["children"] + ["redis_primary", "redis_replicas"]:
        listed |= set(inv[group]["hosts"])
    assert listed == {"backup-1", "redis-1", "redis-2", "redis-3"}


def test_cluster_inventory_content(tmp_path):
    paths = P.LabPaths(tmp_path)
    plan = P.address_plan(count=3, cluster=4)
    inv = P.render_cluster_inventory(plan, paths, "valkey")
    names = ["cluster-1", "cluster-2", "cluster-3", "cluster-4"]
    assert inv["all"]["children"] == ["redis", "redis_compliance"]
    assert inv["redis"]["hosts"] == names
    assert inv["redis_compliance"]["hosts"] == ["cluster-4"]
    assert set(inv) == {"_meta", "all", "redis", "redis_compliance"}
    assert list(inv["_meta"]["hostvars"]) == names
    sentinel_lab = P.render_inventory(plan, paths, "valkey")
    assert inv["all"]["vars"] == sentinel_lab["all"]["vars"]
    assert inv["all"]["vars"]["redis_server_flavor"] == "valkey"
    hv = inv["_meta"]["hostvars"]["cluster-2"]
    assert hv == {
        **sentinel_lab["_meta"]["hostvars"]["redis-2"],
        "ansible_host": "10.213.7.22",
        "redisops_lab_netns": "rolab-cluster-2",
    }


def test_cluster_inventory_without_cluster_hosts_lists_the_default_three(tmp_path):
    paths = P.LabPaths(tmp_path)
    inv = P.render_cluster_inventory(P.address_plan("10.50.0.0/24", 2), paths)
    assert inv["redis"]["hosts"] == ["cluster-1", "cluster-2", "cluster-3"]
    assert inv["redis_compliance"]["hosts"] == ["cluster-3"]
    assert inv["_meta"]["hostvars"]["cluster-3"]["ansible_host"] == "10.50.0.23"
    assert inv["all"]["vars"]["redisops_lab_subnet"] == "10.50.0.0/24"
    # A lab whose hosts take the cluster hosts' addresses: nothing to list, no error.
    assert P.render_cluster_inventory(P.address_plan(count=12), paths)["redis"]["hosts"] == []


def test_cluster_inventory_script_reads_lab_state(tmp_path):
    script = REPO / "inventories/lab-cluster/hosts.py"
    assert os.access(script, os.X_OK)
    env = {"REDISOPS_LAB_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, str(script), "--list"], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["redis"]["hosts"] == ["cluster-1", "cluster-2", "cluster-3"]
    state = {"subnet": "10.50.0.0/24", "image": "bookworm", "hosts": [{}] * 3, "cluster": [{}] * 5}
    (tmp_path / "state.json").write_text(json.dumps(state))
    out = subprocess.run(
        [sys.executable, str(script), "--list"], env=env, capture_output=True, text=True, check=True
    )
    inv = json.loads(out.stdout)
    assert inv["redis"]["hosts"] == [f"cluster-{i}" for i in range(1, 6)]
    assert inv["redis_compliance"]["hosts"] == ["cluster-5"]
    out = subprocess.run(
        [sys.executable, str(script), "--host", "cluster-5"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["ansible_host"] == "10.50.0.25"
    # The Sentinel lab's inventory script lists none of them.
    out = subprocess.run(
        [sys.executable, str(REPO / "inventories/lab/hosts.py"), "--list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "cluster-" not in out.stdout


def test_cluster_inventory_shares_the_lab_group_vars():
    shared = REPO / "inventories/lab-cluster/group_vars/all"
    lab = REPO / "inventories/lab/group_vars/all"
    assert (shared / "main.yml").read_text() == (lab / "main.yml").read_text()
    # The users, secrets, TLS and exporters' scrapers are the Sentinel lab's; the waivers name
    # the cluster hosts (their own compliance.yml), the cluster plan is cluster.yml.
    assert not (shared / "compliance.yml").is_symlink()
    for name in ("redis.yml", "monitoring.yml"):
        assert (shared / name).is_symlink()
        assert os.readlink(shared / name) == f"../../../lab/group_vars/all/{name}"
        assert (shared / name).resolve() == (lab / name).resolve()


def test_inventory_script_reads_lab_state(tmp_path):
    state = {"subnet": "10.50.0.0/24", "image": "bookworm", "hosts": [{}] * 4}
    (tmp_path / "state.json").write_text(json.dumps(state))
    out = subprocess.run(
        [sys.executable, str(REPO / "inventories/lab/hosts.py"), "--list"],
        env={"REDISOPS_LAB_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    inv = json.loads(out.stdout)
    assert inv["redis"]["hosts"] == ["redis-1", "redis-2", "redis-3", "redis-4"]
    assert inv["_meta"]["hostvars"]["redis-4"]["ansible_host"] == "10.50.0.14"


def test_inventory_script_without_a_lab_lists_the_default_plan(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "inventories/lab/hosts.py"), "--host", "redis-3"],
        env={"REDISOPS_LAB_DIR": str(tmp_path / "absent")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["ansible_host"] == "10.213.7.13"


def test_hosts_file_lists_every_host():
    text = P.host_file(P.address_plan(count=2))
    assert "10.213.7.11\tredis-1" in text
    assert "10.213.7.12\tredis-2" in text
    assert "10.213.7.10\tbackup-1" in text
    assert text.startswith("127.0.0.1\tlocalhost")


DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_from_deb822_and_one_line_sources():
    assert P.debian_mirror({"debian.sources": DEB822}, "bookworm") == "http://mirror.example/debian"
    one_line = "deb [arch=amd64] http://other.example/debian/ trixie main\n"
    third_party = "deb https://vendor.example/apt cloud-sdk-bookworm main\n"
    sources = {"sources.list": third_party + one_line}
    assert P.debian_mirror(sources, "trixie") == "http://other.example/debian"
    # Any Debian mirror serves another suite too.
    assert P.debian_mirror(sources, "bookworm") == "http://other.example/debian"
    assert P.debian_mirror({"x.list": third_party}, "bookworm") is None


def test_mirror_ignores_third_party_disabled_and_odd_sources():
    docker = "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n"
    debian = "deb http://deb.example/debian bookworm main\n"
    assert (
        P.debian_mirror({"docker.list": docker, "sources.list": debian}, "bookworm")
        == "http://deb.example/debian"
    )
    assert P.debian_mirror({"docker.list": docker}, "bookworm") is None
    assert P.debian_mirror({"old.list.save": debian, "x.list.disabled": debian}, "bookworm") is None
    assert (
        P.debian_mirror({"m.list": "deb mirror+file:/etc/apt/mirrors.txt bookworm main\n"}, "bookworm")
        is None
    )
    off = DEB822.replace("Components: main\n", "Components: main\nEnabled: no\n", 1)
    assert P.debian_mirror({"debian.sources": off}, "bookworm") is None
