"""Scrape targets for Prometheus, read from the inventory the roles deploy from.

The redis_exporter role runs one exporter per Redis instance and per Sentinel and node_exporter on
every host; this writes where they are as Prometheus file_sd files (one per job: ``redis``,
``redis_sentinel``, ``node``) with the labels the alert rules and the dashboard group by (``group``,
``host``), and a prometheus.yml that scrapes them and loads the kit's rules. The ports come from the
role's own filter, so the two never disagree.

A Redis instance without save rules (AOF only, or a cache) also gets ``rdb_snapshots: "off"``: its
``rdb_last_save_time`` stays at its start and its changes only grow, so RedisRdbSaveTooOld leaves it
alone (PER-03 skips it for the same reason). Only those targets carry the label, so every other
alert keeps the labels it had, and targets written by other means still get the alert.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from redisops.inventory import InventoryError, _role_filters, exporter_plan, load_inventory

JOBS = ("redis", "redis_sentinel", "node")


def scrape_targets(inventory: str | None = None, vault_password_file: str | None = None) -> dict[str, list]:
    """{job: [{"targets": ["ADDRESS:PORT"], "labels": {"host": ..., "group": ...}}]}."""
    return scrape_plan(inventory, vault_password_file)[0]


def web_settings(hostvars: dict) -> dict | None:
    """How Prometheus must scrape when the role serves HTTPS (redis_exporter_web_tls): the kit's CA,
    and with basic auth the user (node_exporter) and the client certificate (redis_exporter 1.45,
    which has no basic auth, requires one instead). None when the metrics are plain HTTP."""
    on = [v for v in hostvars.values() if v.get("redis_exporter_web_tls") is True]
    if not on:
        return None
    if len(on) != len(hostvars):
        raise InventoryError(
            "redis_exporter_web_tls is on for some hosts only: one scrape job cannot mix http and https; "
            "set it for every host of groups redis, sentinel and redis_backup"
        )
    v = on[0]
    return {
        "ca_file": v["redis_exporter_tls_ca_cert"],
        "auth_user": v.get("redis_exporter_web_auth_user") or "",
        "client_cert": v["redis_exporter_tls_cert"],
        "client_key": v["redis_exporter_tls_key"],
    }


def scrape_plan(
    inventory: str | None = None, vault_password_file: str | None = None
) -> tuple[dict[str, list], dict | None]:
    """The targets per job, and how to scrape them (web_settings)."""
    loaded = load_inventory(inventory, None, vault_password_file)
    servers = set(loaded.groups.get("redis", []))
    sentinels = set(loaded.groups.get("sentinel", []))
    groups: dict[str, str] = {}  # instance -> Sentinel group name
    if sentinels:
        first = loaded.hostvars[sorted(sentinels)[0]]
        for g in _role_filters("redis_sentinel").redis_sentinel_groups(first):
            if g["state"] == "present":
                groups[g["instance"]] = g["name"]
    out: dict[str, list] = {job: [] for job in JOBS}
    hosts = [h for g in ("redis", "sentinel", "redis_backup") for h in loaded.groups.get(g, [])]
    for name in dict.fromkeys(hosts):
        v = loaded.hostvars[name]
        address = v["redis_exporter_listen_address"]
        plan = exporter_plan(v, name in servers, name in sentinels)
        host_port = f"[{address}]" if ":" in address else address
        for t in plan:
            labels = {"host": name}
            if t["kind"] == "redis":
                labels["group"] = groups.get(t["instance"], t["instance"])
                if not t["rdb_snapshots"]:
                    labels["rdb_snapshots"] = "off"
                out["redis"].append({"targets": [f"{host_port}:{t['port']}"], "labels": labels})
            else:
                out["redis_sentinel"].append({"targets": [f"{host_port}:{t['port']}"], "labels": labels})
        if v.get("redis_exporter_node_exporter"):
            port = int(v["redis_exporter_node_port"])
            out["node"].append({"targets": [f"{host_port}:{port}"], "labels": {"host": name}})
    return out, web_settings({name: loaded.hostvars[name] for name in dict.fromkeys(hosts)})


def _web_job(job: str, web: dict | None, password_file: str | None) -> dict:
    """A job's scheme, TLS and credentials (nothing for plain HTTP)."""
    if not web:
        return {}
    tls = {"ca_file": web["ca_file"]}
    out: dict = {"scheme": "https", "tls_config": tls}
    if web["auth_user"]:
        if job == "node":
            if not password_file:
                raise InventoryError(
                    "redis_exporter_web_auth_user is set: give the file holding its password "
                    "(--basic-auth-password-file) so Prometheus can log in to node_exporter"
                )
            out["basic_auth"] = {"username": web["auth_user"], "password_file": password_file}
        else:
            tls.update(cert_file=web["client_cert"], key_file=web["client_key"])
    return out


def prometheus_config(
    directory: Path, rule_files: list[str], interval_s: float = 15.0, web: dict | None = None,
    password_file: str | None = None,
) -> dict:  # fmt: skip
    """A prometheus.yml scraping the file_sd files in ``directory`` and loading ``rule_files``;
    ``web`` (web_settings): over HTTPS, with basic auth from ``password_file`` where asked for."""
    interval = f"{interval_s:g}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": list(rule_files),
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_timeout": f"{min(interval_s, 10.0):g}s",
                **_web_job(job, web, password_file),
                "file_sd_configs": [{"files": [str(directory / f"{job}.json")]}],
            }
            for job in JOBS
        ],
    }


def write_targets(
    directory: Path, targets: dict[str, list], rule_files: list[str], interval_s: float,
    web: dict | None = None, password_file: str | None = None,
) -> None:  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    for job in JOBS:
        tmp = directory / f".{job}.json.tmp"
        tmp.write_text(json.dumps(targets[job], indent=1) + "\n")
        tmp.replace(directory / f"{job}.json")
    config = prometheus_config(directory.resolve(), rule_files, interval_s, web, password_file)
    (directory / "prometheus.yml").write_text("---\n" + yaml.safe_dump(config, sort_keys=False))


def targets_report(targets: dict[str, list], web: dict | None, written: Path | None = None) -> dict:
    """``monitoring targets --format json``: the targets per job, how they are scraped, and where
    the files went (with --dir)."""
    report: dict = {
        "scheme": "https" if web else "http",
        "counts": {job: len(items) for job, items in targets.items()},
        "jobs": targets,
    }
    if written is not None:
        report["dir"] = str(written)
        report["files"] = [*(f"{job}.json" for job in JOBS), "prometheus.yml"]
    return report


def targets_text(targets: dict[str, list], web: dict | None, written: Path | None = None) -> str:
    """A line per target (its metrics URL and labels), or with --dir what was written where."""
    if written is not None:
        counts = ", ".join(f"{len(targets[job])} {job}" for job in JOBS)
        return f"wrote {counts} target(s) and prometheus.yml to {written}\n"
    scheme = "https" if web else "http"
    lines = []
    for job, items in targets.items():
        for item in items:
            labels = " ".join(f"{k}={v}" for k, v in item["labels"].items())
            lines.append(f"{job:<15} {scheme}://{item['targets'][0]}/metrics  {labels}\n")
    return "".join(lines)
