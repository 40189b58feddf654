"""Parsing the machine's state: nspawn command lines, mountinfo, links, container inits."""

import json
from pathlib import Path

from redisops.lab import system as S

LAB = Path("/var/lib/redisops-lab/hosts")
HOST_MOUNTINFO = (
    "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "44 27 0:39 / /var/lib/redisops-lab/hosts/redis-1/root rw,relatime - overlay overlay "
    "rw,lowerdir=/var/cache/redisops-lab/images/bookworm-52cb,upperdir=/var/lib/redisops-lab/hosts/redis-1/upper,"
    "workdir=/var/lib/redisops-lab/hosts/redis-1/work,uuid=on\n"
    "45 44 0:40 / /var/lib/redisops-lab/hosts/redis-1/root/proc rw - proc proc rw\n"
    "46 27 0:41 / /var/lib/redisops-lab/hosts/with\\040space rw - tmpfs tmpfs rw\n"
    "47 27 0:42 / /var/lib/other rw - tmpfs tmpfs rw\n"
)
CONTAINER_MOUNTINFO = (
    "113 89 0:39 / / rw,relatime shared:4 - overlay overlay rw,lowerdir=/var/cache/x,"
    "upperdir=/var/lib/redisops-lab/hosts/redis-2/upper,workdir=/var/lib/redisops-lab/hosts/redis-2/work\n"
    "114 113 0:50 / /proc rw - proc proc rw\n"
)


def test_container_root_of_nspawn_command_lines():
    argv = ["systemd-nspawn", "-D", "/var/lib/redisops-lab/hosts/redis-1/root", "--boot"]
    assert S.container_root_of(argv) == "/var/lib/redisops-lab/hosts/redis-1/root"
    assert S.container_root_of(["/usr/bin/systemd-nspawn", "--directory=/x", "-b"]) == "/x"
    assert S.container_root_of(["sshd", "-D", "/x"]) is None
    assert S.container_root_of([]) is None


def test_containers_under_only_our_prefix():
    procs = [
        S.Process(10, ("systemd-nspawn", "-D", str(LAB / "redis-1/root"), "--boot")),
        S.Process(11, ("systemd-nspawn", "-D", "/srv/other/root", "--boot")),
        S.Process(12, ("bash", "-c", f"echo -D {LAB}")),
    ]
    assert S.containers_under(procs, LAB) == {10: str(LAB / "redis-1/root")}


def test_mounts_under_deepest_first_and_unescaped():
    points = S.mounts_under(HOST_MOUNTINFO, LAB)
    assert points == [
        "/var/lib/redisops-lab/hosts/redis-1/root/proc",
        "/var/lib/redisops-lab/hosts/redis-1/root",
        "/var/lib/redisops-lab/hosts/with space",
    ]


def test_links_named_by_name_and_prefix():
    links = json.dumps(
        [{"ifname": n} for n in ("lo", "eth0", "rolab0", "vrl-redis-1", "vrl-redis-2", "veth9")]
    )
    assert S.links_named(links, names=["rolab0"], prefixes=["vrl-"]) == [
        "rolab0",
        "vrl-redis-1",
        "vrl-redis-2",
    ]
    assert S.links_named("", names=["rolab0"]) == []


def test_namespace_init_and_its_overlay_root():
    assert S.is_namespace_init("Name:\tsystemd\nNSpid:\t26231\t1\n")
    assert not S.is_namespace_init("Name:\tsystemd\nNSpid:\t1\n")
    assert not S.is_namespace_init("Name:\tsshd\nNSpid:\t26272\t57\n")
    assert S.root_upperdir(CONTAINER_MOUNTINFO) == "/var/lib/redisops-lab/hosts/redis-2/upper"
    assert S.root_upperdir(HOST_MOUNTINFO) is None


def test_container_inits_under_a_fake_proc(tmp_path):
    init = tmp_path / "4242"
    init.mkdir()
    (init / "status").write_text("Name:\tsystemd\nNSpid:\t4242\t1\n")
    (init / "mountinfo").write_text(CONTAINER_MOUNTINFO)
    other = tmp_path / "77"
    other.mkdir()
    (other / "status").write_text("Name:\tbash\nNSpid:\t77\n")
    (tmp_path / "self").mkdir()
    assert S.container_inits_under(LAB, proc=tmp_path) == {4242: str(LAB / "redis-2/upper")}
