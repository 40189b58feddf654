"""inventories/example/, the inventory an SRE copies for real hosts, checked without contacting any
host: Ansible reads it and finds every group the playbooks use; it sets only variables the roles
declare; its vault example names exactly the secrets its group_vars use; and its values, with the
example's placeholders as the secrets, pass the roles' own validation."""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "example"
VAULT_EXAMPLE = INVENTORY / "group_vars" / "all" / "vault.yml.example"
ROLES = ("redis_server", "redis_sentinel", "redis_exporter", "redis_backup", "redis_compliance")
# The lab inventory's groups (checks/lab/plan.py, render_inventory) and prometheus, which
# playbooks/alert_rules.yml targets; as in the lab, each is a child of all and has no children.
EXPECTED_GROUPS = {
    "redis", "redis_primary", "redis_replicas", "sentinel", "redis_backup", "redis_compliance", "prometheus",
}  # fmt: skip
# MemTotal of the 16 GiB hosts that group_vars/redis/main.yml sizes maxmemory for (the kernel and
# firmware keep a little of the 16384 MiB).
HOST_MEMORY_MB = 15_900
# RFC 5737: no address of the example may be a real one.
DOCUMENTATION_NETWORKS = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
]
# A Prometheus duration (alert for: and windows).
DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")


def filter_file(role: str) -> Path:
    """A role's filter plugin (the collection's plugins/filter/)."""
    return REPO / "plugins" / "filter" / f"{role}.py"


def _load_by_path(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@functools.cache
def filters(role: str):
    return _load_by_path(filter_file(role), f"{role}_filters_for_example_inventory")


@functools.cache
def check_settings():
    """The compliance checks' thresholds (pure Python, importable by path like the filters)."""
    return _load_by_path(REPO / "checks" / "compliance" / "settings.py", "check_settings_for_example")


def _ansible_inventory() -> str:
    for candidate in (REPO / ".venv" / "bin", Path(sys.executable).parent):
        if (candidate / "ansible-inventory").exists():
            return str(candidate / "ansible-inventory")
    return "ansible-inventory"


@functools.cache
def inventory() -> dict:
    """``ansible-inventory --list`` of the example, as Ansible reads it (group_vars merged into each
    host's variables, templates not yet rendered)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_VAULT")}
    # The example has no vault file; a source Ansible cannot parse is an error, not a warning.
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_VERBOSITY="0",
        ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1",
    )
    result = subprocess.run(
        [_ansible_inventory(), "-i", str(INVENTORY), "--list"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def groups() -> dict[str, list[str]]:
    return {name: data.get("hosts", []) for name, data in inventory().items() if name != "_meta"}


def hostvars(host: str) -> dict:
    return inventory()["_meta"]["hostvars"][host]


def vault_example() -> dict:
    return yaml.safe_load(VAULT_EXAMPLE.read_text())


def vars_files() -> list[Path]:
    """group_vars and host_vars files as Ansible loads them (vault.yml.example is not one)."""
    return sorted(
        p for p in INVENTORY.glob("*_vars/**/*") if p.is_file() and p.suffix in (".yml", ".yaml", ".json")
    )


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def _strings(node) -> list[str]:
    return [n for n in _walk(node) if isinstance(n, str)]


# --- (a) the groups ---------------------------------------------------------------------------


def playbook_groups() -> tuple[set[str], tuple[str, ...]]:
    """The groups the plays of playbooks/*.yml target, and the name prefixes of the groups they make
    at run time with group_by (rolling_restart.yml, restore.yml): those are not the inventory's."""
    targeted, runtime = set(), set()
    for path in sorted((REPO / "playbooks").rglob("*.yml")):
        data = yaml.safe_load(path.read_text()) or []
        for play in data:
            if isinstance(play, dict) and "hosts" in play:
                for part in re.split(r"[:,]", str(play["hosts"])):
                    name = re.sub(r"\[.*\]$", "", part.strip().lstrip("&!"))
                    if name and name != "all":
                        targeted.add(name)
        for node in _walk(data):
            if isinstance(node, dict):
                for key in ("ansible.builtin.group_by", "group_by"):
                    if isinstance(node.get(key), dict):
                        runtime.add(node[key]["key"].split("{{")[0])
    return targeted, tuple(sorted(runtime))


def referenced_groups() -> set[str]:
    """Groups the roles and playbooks look up by name (groups['redis_primary']...)."""
    names = set()
    for base in (REPO / "roles", REPO / "playbooks"):
        for path in base.rglob("*"):
            if path.suffix in (".yml", ".j2"):
                names |= set(re.findall(r"groups\[['\"]([A-Za-z0-9_]+)['\"]\]", path.read_text()))
    return names


def test_ansible_reads_it_and_finds_every_group_the_playbooks_use():
    targeted, runtime = playbook_groups()
    assert runtime, "rolling_restart.yml and restore.yml sort hosts into groups with group_by"
    used = {g for g in targeted | referenced_groups() if not g.startswith(runtime)}
    assert used <= EXPECTED_GROUPS, f"groups the playbooks use, missing here: {used - EXPECTED_GROUPS}"
    found = groups()
    for name in sorted(EXPECTED_GROUPS):
        assert found.get(name), f"group {name} is missing or has no host"
        assert "children" not in inventory()[name], f"group {name} has children: the lab's groups have none"
    assert set(inventory()["all"]["children"]) - {"ungrouped"} == EXPECTED_GROUPS


def test_one_sentinel_group_on_three_hosts_with_a_backup_host_apart():
    g = groups()
    assert len(g["redis"]) == 3
    assert len(g["redis_primary"]) == 1 and set(g["redis_primary"]) < set(g["redis"])
    assert set(g["redis_replicas"]) == set(g["redis"]) - set(g["redis_primary"])
    assert set(g["sentinel"]) == set(g["redis"])
    assert g["redis_backup"] and not set(g["redis_backup"]) & set(g["redis"] + g["sentinel"])
    hosts = sorted({h for members in g.values() for h in members})
    addresses = [hostvars(h)["ansible_host"] for h in hosts]
    assert len(set(addresses)) == len(addresses), "each host needs its own ansible_host"
    for host, address in zip(hosts, addresses, strict=True):
        assert host.endswith(".example.net"), host
        assert any(ipaddress.ip_address(address) in n for n in DOCUMENTATION_NETWORKS), (host, address)
    networks = resolved(g["redis"][0])["redis_server_client_networks"]
    assert all(any(ipaddress.ip_network(n).subnet_of(d) for d in DOCUMENTATION_NETWORKS) for n in networks)


def test_connection_is_a_non_root_user_with_become():
    all_vars = yaml.safe_load((INVENTORY / "group_vars" / "all" / "main.yml").read_text())
    assert all_vars["ansible_user"] != "root"
    assert all_vars["ansible_become"] is True
    # Tasks delegated to the control node run as the operator (host_vars/localhost.yml).
    localhost = yaml.safe_load((INVENTORY / "host_vars" / "localhost.yml").read_text())
    assert localhost == {"ansible_become": False}


# --- (b) only the roles' variables ------------------------------------------------------------


@functools.cache
def argument_specs(role: str) -> dict:
    path = REPO / "roles" / role / "meta" / "argument_specs.yml"
    return yaml.safe_load(path.read_text())["argument_specs"]


def declared_variables() -> set[str]:
    return {
        name for role in ROLES for entry in argument_specs(role).values() for name in entry.get("options", ())
    }


def test_every_variable_is_one_a_role_declares():
    declared = declared_variables()
    sources = {path: yaml.safe_load(path.read_text()) or {} for path in vars_files()}
    sources[INVENTORY / "hosts.yml"] = {
        name: value
        for data in _walk(yaml.safe_load((INVENTORY / "hosts.yml").read_text()))
        if isinstance(data, dict) and "hosts" in data
        for host in (data["hosts"] or {}).values()
        for name, value in (host or {}).items()
    }
    for path, data in sources.items():
        unknown = sorted(n for n in data if not n.startswith(("ansible_", "vault_")) and n not in declared)
        assert not unknown, f"{path.relative_to(REPO)} sets {unknown}: no role's argument_specs.yml has them"


# --- (c) the vault ------------------------------------------------------------------------------


def vault_references() -> dict[str, list[str]]:
    """vault_* name -> the files that use it."""
    refs: dict[str, list[str]] = {}
    for path in vars_files():
        for text in _strings(yaml.safe_load(path.read_text())):
            for name in re.findall(r"\bvault_[a-z0-9_]+", text):
                refs.setdefault(name, []).append(str(path.relative_to(INVENTORY)))
    return refs


def test_the_vault_example_lists_exactly_the_secrets_the_group_vars_use():
    example, refs = vault_example(), vault_references()
    assert set(refs) - set(example) == set(), "used in group_vars but missing from vault.yml.example"
    assert set(example) - set(refs) == set(), "in vault.yml.example but used by no group_vars file"
    assert all(name.startswith("vault_") for name in example)
    # Each secret its own placeholder: a copied line cannot leave two users with one password.
    assert len(set(example.values())) == len(example)
    for path in vars_files():
        data = yaml.safe_load(path.read_text()) or {}
        assert not [n for n in data if n.startswith("vault_")], f"{path}: vault_ names belong in vault.yml"


def test_no_secret_is_written_in_clear():
    """Every no_log variable of the roles resolves to a vault secret (or stays empty)."""
    secrets = {n for role in ROLES for e in argument_specs(role).values()
               for n, o in e.get("options", {}).items() if o.get("no_log")}  # fmt: skip
    placeholders = set(vault_example().values())
    for host in sorted(inventory()["_meta"]["hostvars"]):
        values = resolved(host)
        for name in sorted(secrets & set(values)):
            assert values[name] in placeholders | {""}, f"{host}: {name} is not taken from the vault"
        for i, user in enumerate(values["redis_server_acl_users"] + values["redis_sentinel_client_users"]):
            assert user["password"] in placeholders, f"{host}: application user {i} has a password in clear"


# --- (d) the roles' validation ------------------------------------------------------------------


def _trusted(value):
    """Inventory and defaults as Ansible holds them: strings that may be templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    return value


@functools.cache
def role_defaults() -> dict:
    merged = {}
    for role in ROLES:
        merged.update(yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()))
    return merged


@functools.cache
def resolved(host: str) -> dict:
    """A host's role variables as a play sees them: the roles' defaults, the inventory over them and
    the vault example's placeholders, rendered by Ansible's templar. Defaults that need a lookup
    plugin (control-node paths no rule checks) are left out: only a CLI run loads lookups."""
    variables = {
        **role_defaults(), **hostvars(host), **vault_example(),
        "inventory_hostname": host, "groups": groups(), "ansible_inventory_sources": [str(INVENTORY)],
    }  # fmt: skip
    templar = Templar(loader=DataLoader(), variables=_trusted(variables))
    out = {}
    for name, value in variables.items():
        if not name.startswith(("redis_", "ansible_")) or "lookup(" in json.dumps(value):
            continue
        try:
            rendered = templar.template(_trusted(value))
        except Exception as exc:
            raise AssertionError(f"{host}: {name} cannot be rendered: {exc}") from None
        # Plain JSON types, as the filters get them from Ansible.
        out[name] = json.loads(json.dumps(rendered, default=str))
    return out


def _with_prefix(values: dict, prefix: str) -> dict:
    return {k: v for k, v in values.items() if k.startswith(prefix)}


def _addresses() -> dict[str, str]:
    """Inventory host -> ansible_host of every host the roles deploy to (they must all differ)."""
    g = groups()
    hosts = dict.fromkeys(g["redis"] + g["sentinel"] + g["redis_backup"])
    return {h: hostvars(h)["ansible_host"] for h in hosts}


def test_the_values_have_the_types_the_argument_specs_declare():
    for host in sorted(inventory()["_meta"]["hostvars"]):
        values = resolved(host)
        for role in ROLES:
            options = argument_specs(role)["main"]["options"]
            spec = {n: {k: v for k, v in o.items() if k != "description"} for n, o in options.items()}
            result = ArgumentSpecValidator(spec).validate({n: values[n] for n in spec if n in values})
            assert not result.error_messages, f"{host}, {role}: {result.error_messages}"


def test_the_redis_servers_pass_redis_server_validation():
    server = filters("redis_server")
    hosts = groups()["redis"]
    for host in hosts:
        v = resolved(host)
        problems = server.redis_server_problems(
            _with_prefix(v, "redis_server_"), HOST_MEMORY_MB, v["ansible_host"], hosts, _addresses()
        )
        assert problems == [], f"{host}: {problems}"


def test_the_sentinels_pass_redis_sentinel_validation():
    server, sentinel = filters("redis_server"), filters("redis_sentinel")
    for host in groups()["sentinel"]:
        v = resolved(host)
        in_redis = host in groups()["redis"]
        instances = server.redis_instances(v, HOST_MEMORY_MB) if in_redis else []
        ports = [i[k] for i in instances if i["state"] == "present" for k in ("plain_port", "tls_port")]
        problems = sentinel.redis_sentinel_problems(
            _with_prefix(v, "redis_sentinel_"), groups()["sentinel"], v["ansible_host"], ports, _addresses(),
            v["redis_server_firewall_extra_ports"] if in_redis else [],
        )  # fmt: skip
        problems += sentinel.redis_sentinel_inspect_problems(_with_prefix(v, "redis_server_inspect_"))
        assert problems == [], f"{host}: {problems}"


def test_the_exporters_pass_redis_exporter_validation():
    """As roles/redis_exporter/tasks/assert.yml calls it in site.yml's first play (before the
    client certificates exist: no file checks)."""
    exporter = filters("redis_exporter")
    g = groups()
    for host in dict.fromkeys(g["redis"] + g["sentinel"] + g["redis_backup"]):
        v = resolved(host)
        in_redis, in_sentinel = host in g["redis"], host in g["sentinel"]
        settings = {
            **{k: val for k, val in _with_prefix(v, "redis_exporter_").items() if "_alert_" not in k},
            "server_vars": {k: v[k] for k in ("redis_server_instances", "redis_server_tls_mode",
                                              "redis_server_save", "redis_server_appendonly")},
            "sentinel_vars": {k: v[k] for k in ("redis_sentinel_tls_mode", "redis_sentinel_port",
                                                "redis_sentinel_tls_port")},
            "redis_server_firewall_extra_ports": v["redis_server_firewall_extra_ports"],
            "in_redis": in_redis, "in_sentinel": in_sentinel,
            "tls": (in_redis and v["redis_server_tls_mode"] != "off")
            or (in_sentinel and v["redis_sentinel_tls_mode"] != "off"),
            "tls_files": {}, "web_tls_files": {},
        }  # fmt: skip
        problems = exporter.redis_exporter_problems(settings)
        assert problems == [], f"{host}: {problems}"
        exporter.redis_exporter_targets(settings["server_vars"], settings["sentinel_vars"], v["ansible_host"],
                                        v["redis_exporter_port_base"], v["redis_exporter_sentinel_port"],
                                        in_redis, in_sentinel)  # fmt: skip


def test_the_backup_host_passes_redis_backup_validation():
    backup = filters("redis_backup")
    for host in groups()["redis_backup"]:
        v = resolved(host)
        # roles/redis_backup/tasks/assert.yml's own conditions, then its filter (the servers speak TLS).
        assert v["redis_backup_hourly"] >= 1 and v["redis_backup_daily"] >= 0
        assert v["redis_backup_save_timeout"] >= 10 and v["redis_backup_schedule"]
        problems = backup.redis_backup_problems({**_with_prefix(v, "redis_backup_"), "tls": True})
        assert problems == [], f"{host}: {problems}"


def test_the_compliance_host_passes_redis_compliance_validation():
    compliance = filters("redis_compliance")
    for host in groups()["redis_compliance"]:
        v = resolved(host)
        assert v["redis_compliance_fail_on"] in ("info", "low", "medium", "high", "critical")
        for waiver in v["redis_compliance_waivers"]:
            assert {"check", "target", "justification", "expires"} <= set(waiver), waiver
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(waiver["expires"])), waiver
        # playbooks/compliance_timer.yml fills in the hosts' SSH keys; a line of the same form here.
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"
        known_hosts = [f"{hostvars(h)['ansible_host']} {key}" for h in groups()["redis"]]
        settings = {
            **_with_prefix(v, "redis_compliance_"),
            "redis_compliance_inspect_known_hosts": known_hosts,
            "tls": True,
        }
        problems = compliance.redis_compliance_problems(settings)
        assert problems == [], f"{host}: {problems}"


def test_the_thresholds_and_alert_durations_are_usable():
    # The checks read thresholds from the first Redis host (checks/inventory.py).
    first = resolved(groups()["redis"][0])
    check_settings().thresholds(first["redis_compliance_thresholds"])
    classes = check_settings().key_classes(first["redis_compliance_key_classes"])
    assert {c.prefix for c in classes if c.ttl_required} == {"app:session:", "app:cache:"}
    for host in groups()["prometheus"]:
        v = resolved(host)
        durations = {k: val for k, val in v.items() if k.startswith("redis_exporter_alert_")
                     and k.endswith(("_for", "_window"))}  # fmt: skip
        bad = {k: val for k, val in durations.items() if not (val and DURATION.fullmatch(str(val)))}
        assert not bad, f"{host}: not Prometheus durations: {bad}"
