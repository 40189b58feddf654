"""Structure of roles/redis_exporter and its filters: which exporters a host runs, on which ports,
and the scrape targets written for Prometheus from the same reading of the inventory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from redisops.cli import main
from redisops.collection import plugins_ready
from redisops.inventory import load_inventory
from redisops.monitoring.targets import prometheus_config

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "redis_exporter"


def _load_filters():
    spec = importlib.util.spec_from_file_location(
        "exporter_filters_under_test", ROLE.parents[1] / "plugins" / "filter" / "redis_exporter.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


F = _load_filters()


def _yaml(relative: str):
    return yaml.safe_load((ROLE / relative).read_text())


def test_templates_start_with_the_ansible_managed_header():
    for path in sorted((ROLE / "templates").rglob("*.j2")):
        text = path.read_text()
        if text.startswith("#jinja2:"):  # the rules template changes Jinja's delimiters first
            assert text.splitlines()[1] == "[[ ansible_managed | comment ]]", path
        elif text.startswith("#!"):
            assert text.splitlines()[1] == "{{ ansible_managed | comment }}", path
        else:
            assert text.startswith("{{ ansible_managed | comment }}\n"), path


def test_the_exporter_unit_is_hardened_and_keeps_secrets_off_the_command_line():
    unit = (ROLE / "templates/etc/systemd/system/redisops-exporter@.service.j2").read_text()
    expected = ["User={{ redis_exporter_user }}", "NoNewPrivileges=true", "ProtectSystem=strict",
                "CapabilityBoundingSet=", "EnvironmentFile={{ redis_exporter_conf_dir }}/%i.env"]  # fmt: skip
    for line in expected:
        assert f"\n{line}\n" in unit, line
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == "ExecStart=/usr/bin/prometheus-redis-exporter"  # everything else from the file


SERVER = {"redis_server_instances": [{"name": "main", "port": 6379}, {"name": "cache", "port": 6380}]}
SENTINEL = {"redis_sentinel_port": 26379, "redis_sentinel_tls_port": 36379}


@pytest.mark.parametrize(
    ("mode", "urls", "sentinel_url"),
    [
        ("off", ["redis://10.0.0.5:6379", "redis://10.0.0.5:6380"], "redis://10.0.0.5:26379"),
        ("only", ["rediss://10.0.0.5:6379", "rediss://10.0.0.5:6380"], "rediss://10.0.0.5:26379"),
        ("both", ["rediss://10.0.0.5:16379", "rediss://10.0.0.5:16380"], "rediss://10.0.0.5:36379"),
    ],
)
def test_one_exporter_per_instance_and_sentinel_over_tls_when_the_server_has_it(mode, urls, sentinel_url):
    server = {**SERVER, "redis_server_tls_mode": mode}
    sentinel = {**SENTINEL, "redis_sentinel_tls_mode": mode}
    plan = F.redis_exporter_targets(server, sentinel, "10.0.0.5", 9121, 9355, True, True)
    assert [(t["name"], t["port"], t["url"]) for t in plan] == [
        ("redis-main", 9121, urls[0]),
        ("redis-cache", 9122, urls[1]),
        ("sentinel", 9355, sentinel_url),
    ]
    assert [t["tls"] for t in plan] == [mode != "off"] * 3


def test_absent_instances_get_no_exporter_and_a_sentinel_only_host_one():
    server = {"redis_server_instances": [{"name": "main", "port": 6379}, {"name": "old", "port": 6380,
                                                                            "state": "absent"}]}  # fmt: skip
    assert [
        t["name"] for t in F.redis_exporter_targets(server, SENTINEL, "10.0.0.5", 9121, 9355, True, False)
    ] == ["redis-main"]
    assert [
        t["name"] for t in F.redis_exporter_targets({}, SENTINEL, "10.0.0.5", 9121, 9355, False, True)
    ] == ["sentinel"]


def test_overlapping_exporter_ports_name_the_variable():
    with pytest.raises(AnsibleFilterError, match="redis_exporter_sentinel_port"):
        F.redis_exporter_targets(SERVER, SENTINEL, "10.0.0.5", 9121, 9122, True, True)


def test_networks_addresses_and_listen_strings():
    assert F.redis_exporter_networks(["10.0.0.1", "192.0.2.0/24", "2001:db8::1"]) == {
        "v4": ["10.0.0.1", "192.0.2.0/24"],
        "v6": ["2001:db8::1"],
    }
    assert F.redis_exporter_bad_networks(["10.0.0.1", "prometheus.example", "10.0.0.0/33"]) == [
        "prometheus.example",
        "10.0.0.0/33",
    ]
    assert F.redis_exporter_is_ip("10.0.0.1") and not F.redis_exporter_is_ip("redis-1")
    assert F.redis_exporter_listen("2001:db8::1", 9121) == "[2001:db8::1]:9121"
    assert F.redis_exporter_listen("10.0.0.1", 9121) == "10.0.0.1:9121"


def test_the_scrape_targets_of_the_lab_inventory(tmp_path):
    """The lab's default plan: 3 Redis hosts with a sentinel each, and the backup host."""
    assert main(["monitoring", "targets", "-i", str(REPO / "inventories" / "lab"), "--dir", str(tmp_path),
                 "--rules", "rules.yml", "--interval", "5"]) == 0  # fmt: skip
    redis_targets = json.loads((tmp_path / "redis.json").read_text())
    assert [(t["targets"], t["labels"]) for t in redis_targets] == [
        ([f"10.213.7.{11 + i}:9121"], {"host": f"redis-{1 + i}", "group": "redis-main"}) for i in range(3)
    ]
    sentinel_targets = json.loads((tmp_path / "redis_sentinel.json").read_text())
    assert [t["targets"][0].split(":")[1] for t in sentinel_targets] == ["9355"] * 3
    node = json.loads((tmp_path / "node.json").read_text())
    assert {t["labels"]["host"] for t in node} == {"backup-1", "redis-1", "redis-2", "redis-3"}
    config = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    assert config == prometheus_config(tmp_path.resolve(), ["rules.yml"], 5.0)
    assert [job["job_name"] for job in config["scrape_configs"]] == ["redis", "redis_sentinel", "node"]
    assert config["global"]["scrape_interval"] == "5s"


def test_instances_without_save_rules_are_labelled_so_the_snapshot_age_alert_leaves_them_alone(tmp_path):
    """An AOF-only instance's rdb_last_save_time stays at its start and its changes only grow:
    its target says rdb_snapshots="off", and RedisRdbSaveTooOld matches rdb_snapshots!="off"."""
    (tmp_path / "hosts.yml").write_text(
        yaml.safe_dump(
            {"all": {"children": {"redis": {"hosts": {
                "redis-a": {"ansible_host": "10.0.0.11"},  # the role's save rules
                "redis-b": {"ansible_host": "10.0.0.12", "redis_server_save": [],
                            "redis_server_appendonly": True},  # AOF only, host-wide
                "redis-c": {"ansible_host": "10.0.0.13", "redis_server_instances": [
                    {"name": "main", "port": 6379},
                    {"name": "cache", "port": 6380, "save": [], "appendonly": False},
                ]},
            }}}}}
        )
    )  # fmt: skip
    out = tmp_path / "targets"
    assert main(["monitoring", "targets", "-i", str(tmp_path / "hosts.yml"), "--dir", str(out)]) == 0
    labels = {t["targets"][0]: t["labels"] for t in json.loads((out / "redis.json").read_text())}
    assert labels == {
        "10.0.0.11:9121": {"host": "redis-a", "group": "main"},
        "10.0.0.12:9121": {"host": "redis-b", "group": "main", "rdb_snapshots": "off"},
        "10.0.0.13:9121": {"host": "redis-c", "group": "main"},
        "10.0.0.13:9122": {"host": "redis-c", "group": "cache", "rdb_snapshots": "off"},
    }
    rules = yaml.safe_load((REPO / "monitoring" / "redis-ops-kit.rules.yml").read_text())
    alerts = {r.get("alert"): r for g in rules["groups"] for r in g["rules"]}
    expr = alerts["RedisRdbSaveTooOld"]["expr"]
    assert expr.count('rdb_snapshots!="off"') == 2, expr


GOOD = {
    "redis_exporter_listen_address": "10.0.0.5",
    "redis_exporter_port_base": 9121,
    "redis_exporter_sentinel_port": 9355,
    "redis_exporter_node_port": 9100,
    "redis_exporter_scrape_networks": ["10.0.0.1/32"],
    "redis_exporter_redis_password": "x" * 32,
    "redis_exporter_sentinel_password": "y" * 32,
    "redis_exporter_tls_cert": "/pki/client.crt",
    "redis_exporter_tls_key": "/pki/client.key",
    "in_redis": True,
    "in_sentinel": True,
    "tls": True,
    "tls_files": {"redis_exporter_tls_cert": True},
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"redis_exporter_listen_address": "redis-1"}, "redis_exporter_listen_address must be an IP address"),
        ({"redis_exporter_sentinel_port": 70000}, "redis_exporter_sentinel_port must be a port"),
        ({"redis_exporter_scrape_networks": ["prometheus"]}, "redis_exporter_scrape_networks: prometheus"),
        ({"redis_exporter_redis_password": ""}, "set redis_server_monitoring_password"),
        ({"redis_exporter_sentinel_password": ""}, "set redis_sentinel_monitoring_password"),
        (
            {"tls_files": {"redis_exporter_tls_cert": False}},
            "redis_exporter_tls_cert (/pki/client.crt) does not exist",
        ),
    ],
)
def test_each_bad_setting_is_named_with_its_fix(change, named):
    assert F.redis_exporter_problems(GOOD) == []
    (problem,) = F.redis_exporter_problems({**GOOD, **change})
    assert named in problem, problem


def test_a_host_without_sentinel_needs_no_sentinel_password():
    assert (
        F.redis_exporter_problems({**GOOD, "in_sentinel": False, "redis_exporter_sentinel_password": ""})
        == []
    )


def test_units_restart_when_their_files_change_and_start_when_down():
    plan = F.redis_exporter_targets(SERVER, SENTINEL, "10.0.0.5", 9121, 9355, True, True)
    units = F.redis_exporter_units(
        plan, "/etc/x", "/etc/systemd/system/e@.service", [], True, True, "/fw.service"
    )
    assert [u["unit"] for u in units] == [
        "redisops-exporter@redis-main.service",
        "redisops-exporter@redis-cache.service",
        "redisops-exporter@sentinel.service",
        "prometheus-node-exporter.service",
        "redisops-exporter-firewall.service",
    ]
    up = {u["unit"]: {"active": "active", "enabled": "enabled"} for u in units}
    assert F.redis_exporter_unit_actions(units, [], up) == []
    # One environment changed: only its exporter restarts; the shared unit file restarts them all.
    assert F.redis_exporter_unit_actions(units, ["/etc/x/redis-cache.env"], up) == [
        {"name": "redisops-exporter@redis-cache.service", "state": "restarted"}
    ]
    restarted = F.redis_exporter_unit_actions(units, ["/etc/systemd/system/e@.service"], up)
    assert [a["name"] for a in restarted] == [u["unit"] for u in units[:3]]
    # A unit crash-looping (activating) or not enabled is started (and enabled) again.
    down = {**up, "prometheus-node-exporter.service": {"active": "activating", "enabled": "enabled"}}
    assert F.redis_exporter_unit_actions(units, [], down) == [
        {"name": "prometheus-node-exporter.service", "state": "started"}
    ]
    # An exporter whose instance left the inventory is stopped (and disabled).
    assert F.redis_exporter_unit_actions(units, [], up, ["redis-old"]) == [
        {"name": "redisops-exporter@redis-old.service", "state": "stopped"}
    ]


# --- Who may scrape, and where the exporters may connect ----------------------------------

UNIT = "templates/etc/systemd/system/redisops-exporter@.service.j2"
NODE_DROPIN = "templates/etc/systemd/system/prometheus-node-exporter.service.d/redis-ops-kit.conf.j2"
# The lab: Prometheus on the control node (the bridge's gateway), a TLS-only Redis and Sentinel on
# each host; here redis-1.
LAB_CONTROL = "10.213.7.1"
LAB_HOST = "10.213.7.11"


def render(template: str, **overrides) -> str:
    """A template of the role with its defaults, as the template action renders it (trim_blocks on,
    the role's filter plugins loaded)."""
    plugins_ready()
    defaults = {**_yaml("defaults/main.yml"), **_yaml("vars/main.yml")}
    variables = {
        **{k: trust_as_template(v) if isinstance(v, str) else v for k, v in defaults.items()},
        "ansible_managed": "Ansible managed",
        "ansible_host": LAB_HOST,
        **overrides,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    source = trust_as_template((ROLE / template).read_text())
    return templar.template(source, escape_backslashes=False, overrides={"trim_blocks": True})


def _lab_plan(address: str = LAB_HOST) -> list[dict]:
    server = {"redis_server_instances": [{"name": "main", "port": 6379}], "redis_server_tls_mode": "only"}
    sentinel = {**SENTINEL, "redis_sentinel_tls_mode": "only"}
    return F.redis_exporter_targets(server, sentinel, address, 9121, 9355, True, True)


def _ip_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("IPAddressAllow=", "IPAddressDeny="))]


def test_the_exporter_unit_sets_no_ip_address_allow_list_yet():
    # With IPAddressAllow= the lab's exporters could not reach their own Redis (docs/monitoring.md).
    unit = render(
        UNIT, redis_exporter_scrape_networks=[f"{LAB_CONTROL}/32"], __redis_exporter_plan=_lab_plan()
    )
    assert _ip_lines(unit) == []


def test_the_allow_list_keeps_networks_and_both_families():
    plan = F.redis_exporter_targets({}, SENTINEL, "2001:db8::5", 9121, 9355, False, True)
    assert plan[0]["url"] == "rediss://[2001:db8::5]:26379"  # an IPv6 address in brackets; TLS by default
    allow = F.redis_exporter_ip_allow(["192.0.2.0/24", "2001:db8:1::/64", "192.0.2.7/24", "127.0.0.1"])
    assert allow == ["localhost", "192.0.2.0/24", "2001:db8:1::/64"]


def test_node_exporter_answers_only_loopback_and_the_scrape_networks():
    dropin = render(NODE_DROPIN, redis_exporter_scrape_networks=[f"{LAB_CONTROL}/32"])
    assert dropin.splitlines()[:3] == ["#", "# Ansible managed", "#"]
    assert "\n[Service]\n" in dropin
    assert _ip_lines(dropin) == ["IPAddressDeny=any", f"IPAddressAllow=localhost {LAB_CONTROL}"]
    defaults = render("templates/etc/default/prometheus-node-exporter.j2")
    assert f"--web.listen-address={LAB_HOST}:9100 " in defaults  # the inventory address, not every one


def test_the_node_exporter_restarts_when_its_drop_in_changes():
    units = F.redis_exporter_units([], "/etc/x", "/e@.service", [], True, False, "", "/d/redis-ops-kit.conf")
    assert units == [
        {"unit": "prometheus-node-exporter.service",
         "files": ["/etc/default/prometheus-node-exporter", "/d/redis-ops-kit.conf"]}
    ]  # fmt: skip
    vars_main = _yaml("vars/main.yml")
    assert vars_main["__redis_exporter_node_dropin"].endswith("/redis-ops-kit.conf")
    assert "__redis_exporter_node_dropin" in vars_main["__redis_exporter_units"]


def test_the_lab_inventory_lets_only_its_control_node_scrape():
    """The lab's Prometheus runs on the control node: its bridge address is the scrape network, and
    every lab host's exporter settings pass the role's validation with it."""
    lab = load_inventory(str(REPO / "inventories" / "lab"))
    for name in lab.groups["redis"]:
        v = lab.hostvars[name]
        assert v["redis_exporter_scrape_networks"] == [f"{LAB_CONTROL}/32"], name
        plan = F.redis_exporter_targets(
            {k: v[k] for k in v if k.startswith("redis_server_")},
            {k: v[k] for k in v if k.startswith("redis_sentinel_")},
            v["redis_exporter_listen_address"], 9121, 9355, True, name in lab.groups.get("sentinel", []),
        )  # fmt: skip
        assert plan and all(t["address"] == v["ansible_host"] for t in plan), name
        assert F.redis_exporter_ip_allow(v["redis_exporter_scrape_networks"]) == ["localhost", LAB_CONTROL]
        settings = {k: v[k] for k in v if k.startswith("redis_exporter_")}
        settings |= {"in_redis": True, "in_sentinel": True, "tls": True, "tls_files": {}}
        settings["server_vars"] = {k: v[k] for k in v if k.startswith("redis_server_")}
        settings["sentinel_vars"] = {k: v[k] for k in v if k.startswith("redis_sentinel_")}
        assert F.redis_exporter_problems(settings) == [], name


@pytest.mark.parametrize("empty", [[], None, ""])
def test_the_scrape_networks_are_required_and_never_the_client_networks(empty):
    (problem,) = F.redis_exporter_problems({**GOOD, "redis_exporter_scrape_networks": empty})
    assert problem.startswith("redis_exporter_scrape_networks is empty: list the Prometheus servers'")
    assert "never defaults to redis_server_client_networks" in problem
    # The role's default is that empty list: an inventory must name its Prometheus servers.
    assert _yaml("defaults/main.yml")["redis_exporter_scrape_networks"] == []


@pytest.mark.parametrize(
    ("networks", "named"),
    [
        ("10.0.0.1/32", "redis_exporter_scrape_networks must be a list of the Prometheus servers'"),
        (
            ["0.0.0.0/0"],
            "list the Prometheus servers' networks, or set redis_exporter_scrape_networks_allow_any",
        ),
        (["10.0.0.1/32", "::/0"], "'::/0' admits every address"),
        (["10.0.0.0/33"], "redis_exporter_scrape_networks: 10.0.0.0/33 is not an address"),
    ],
)
def test_bad_scrape_networks_are_refused_with_their_fix(networks, named):
    (problem,) = F.redis_exporter_problems({**GOOD, "redis_exporter_scrape_networks": networks})
    assert named in problem, problem


def test_every_address_as_a_scrape_network_needs_the_opt_in():
    for network in ("0.0.0.0/0", "::/0"):
        opted_in = {**GOOD, "redis_exporter_scrape_networks": [network]}
        assert F.redis_exporter_problems({**opted_in, "redis_exporter_scrape_networks_allow_any": True}) == []
