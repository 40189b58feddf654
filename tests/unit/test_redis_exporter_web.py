"""Issue 20: the exporters' metrics over HTTPS with optional authentication, off by default.
node_exporter 1.5 (bookworm) takes a web config file (TLS, bcrypt basic auth); bookworm's
redis_exporter 1.45 has only --tls-server-* (no basic auth): it requires a client certificate."""

from __future__ import annotations

import pytest
import yaml

from redisops.inventory import InventoryError
from redisops.monitoring.targets import prometheus_config, web_settings

from .test_input_validation import EXPORTER, exporter, named
from .test_redis_exporter_role import ROLE, render

HASH = "$2b$12$" + "a" * 53
WEB = {"redis_exporter_web_tls": True, "redis_exporter_web_auth_user": "prometheus",
       "redis_exporter_web_auth_password_hash": HASH}  # fmt: skip


def test_off_by_default():
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    assert defaults["redis_exporter_web_tls"] is False
    assert (
        defaults["redis_exporter_web_auth_user"] == ""
        and defaults["redis_exporter_web_auth_password_hash"] == ""
    )
    assert "'/hosts/' ~ inventory_hostname" in defaults["redis_exporter_web_tls_cert"]
    assert "redisops.kit.redis_pki_dir" in defaults["redis_exporter_web_tls_cert"]


def test_valid_web_settings_pass():
    assert exporter(**WEB) == []
    assert exporter(redis_exporter_web_tls=True) == []


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        ({**WEB, "redis_exporter_web_tls": False}, "basic auth over plain HTTP"),
        ({**WEB, "redis_exporter_web_auth_password_hash": ""}, "go together"),
        ({**WEB, "redis_exporter_web_auth_password_hash": "plain-password-0123456789"}, "not a bcrypt hash"),
        ({**WEB, "redis_exporter_web_auth_password_hash": "$2b$04$" + "a" * 53}, "cost 4"),
        ({**WEB, "redis_exporter_web_auth_user": "prom etheus"}, "redis_exporter_web_auth_user"),
        ({"redis_exporter_web_tls": "yes"}, "redis_exporter_web_tls is"),
        ({"redis_exporter_web_tls": True, "web_tls_files": {"redis_exporter_web_tls_cert": False}},
         "redis_exporter_web_tls_cert"),
    ],
)  # fmt: skip
def test_bad_web_settings_are_named_with_their_fix(overrides, said):
    assert named(exporter(**overrides), said)


def test_the_hash_rule_is_the_toolkits_bcrypt():
    assert EXPORTER.BCRYPT_HASH.fullmatch(HASH) and not EXPORTER.BCRYPT_HASH.fullmatch("$1$abc")


def test_redis_exporter_serves_https_and_wants_a_client_certificate_with_auth():
    item = {"name": "redis-main", "kind": "redis", "url": "rediss://10.0.0.5:6379", "port": 9121, "tls": True}
    plain = render("templates/etc/redisops-exporter/exporter.env.j2", item=item)
    assert "TLS_SERVER" not in plain
    text = render("templates/etc/redisops-exporter/exporter.env.j2", item=item, **WEB)
    assert "REDIS_EXPORTER_TLS_SERVER_CERT_FILE=/etc/redisops-exporter/tls/web.crt" in text
    assert "REDIS_EXPORTER_TLS_SERVER_KEY_FILE=/etc/redisops-exporter/tls/web.key" in text
    assert "REDIS_EXPORTER_TLS_SERVER_MIN_VERSION=TLS1.2" in text
    assert "REDIS_EXPORTER_TLS_SERVER_CA_CERT_FILE=/etc/redisops-exporter/tls/web-ca.crt" in text
    # Never a password of the web side in the environment or on the command line.
    assert HASH not in text and "BASIC_AUTH" not in text


def test_node_exporter_gets_a_web_config_file_with_the_hash_only():
    plain = render("templates/etc/default/prometheus-node-exporter.j2")
    assert "--web.config.file" not in plain
    args = render("templates/etc/default/prometheus-node-exporter.j2", **WEB)
    assert "--web.config.file=/etc/redis-ops-kit/node-exporter/web.yml" in args
    config = yaml.safe_load(render("templates/etc/redis-ops-kit/node-exporter/web.yml.j2", **WEB))
    assert config["tls_server_config"] == {"cert_file": "/etc/redis-ops-kit/node-exporter/web.crt",
                                           "key_file": "/etc/redis-ops-kit/node-exporter/web.key",
                                           "min_version": "TLS12"}  # fmt: skip
    assert config["basic_auth_users"] == {"prometheus": HASH}
    tls_only = yaml.safe_load(
        render("templates/etc/redis-ops-kit/node-exporter/web.yml.j2", redis_exporter_web_tls=True)
    )
    assert "basic_auth_users" not in tls_only


def test_units_restart_when_their_web_files_change():
    plan = [{"name": "redis-main", "tls": False}]
    units = EXPORTER.redis_exporter_units(plan, "/c", "/u", [], True, False, "/f", "", ["/c/tls/web.crt"],
                                          ["/n/web.yml"])  # fmt: skip
    assert "/c/tls/web.crt" in units[0]["files"] and "/n/web.yml" in units[1]["files"]


HOSTVARS = {h: {"redis_exporter_web_tls": True, "redis_exporter_tls_ca_cert": "/pki/ca.crt",
                "redis_exporter_tls_cert": "/pki/hosts/redisops-client.crt",
                "redis_exporter_tls_key": "/pki/hosts/redisops-client.key",
                "redis_exporter_web_auth_user": "prometheus"} for h in ("r1", "r2")}  # fmt: skip


def test_prometheus_scrapes_over_https_with_the_kits_ca_and_credentials(tmp_path):
    web = web_settings(HOSTVARS)
    config = prometheus_config(tmp_path, [], 15.0, web, "/etc/prometheus/node.password")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert all(
        job["scheme"] == "https" and job["tls_config"]["ca_file"] == "/pki/ca.crt" for job in jobs.values()
    )
    assert jobs["node"]["basic_auth"] == {
        "username": "prometheus",
        "password_file": "/etc/prometheus/node.password",
    }
    assert jobs["redis"]["tls_config"]["cert_file"] == "/pki/hosts/redisops-client.crt"
    assert "basic_auth" not in jobs["redis"] and "basic_auth" not in jobs["redis_sentinel"]
    with pytest.raises(InventoryError, match="--basic-auth-password-file"):
        prometheus_config(tmp_path, [], 15.0, web, None)


def test_prometheus_stays_on_http_when_web_tls_is_off_and_refuses_a_mix(tmp_path):
    assert web_settings({"r1": {"redis_exporter_web_tls": False}}) is None
    config = prometheus_config(tmp_path, [], 15.0, None)
    assert all("scheme" not in job for job in config["scrape_configs"])
    with pytest.raises(InventoryError, match="some hosts only"):
        web_settings({**HOSTVARS, "b1": {"redis_exporter_web_tls": False}})
