"""The roles' READMEs are generated from their argument specs (tools/role_docs.py) and never drift."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_role_docs():
    spec = importlib.util.spec_from_file_location("role_docs", REPO / "tools" / "role_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


role_docs = _load_role_docs()


def test_every_readme_matches_its_argument_spec(capsys):
    assert role_docs.main(["--check"]) == 0, (
        f"{capsys.readouterr().err}regenerate them: python tools/role_docs.py"
    )


def test_every_role_with_an_argument_spec_has_a_readme():
    roles = sorted(p.parents[1].name for p in (REPO / "roles").glob("*/meta/argument_specs.yml"))
    assert len(roles) == 6
    assert sorted(p.parent.name for p in role_docs.readmes()) == roles


@pytest.fixture
def roles_copy(tmp_path):
    """Two roles' meta, and their READMEs, in a directory of their own."""
    for role in ("redis_server", "redis_backup"):
        shutil.copytree(REPO / "roles" / role / "meta", tmp_path / "roles" / role / "meta")
        shutil.copy(REPO / "roles" / role / "README.md", tmp_path / "roles" / role / "README.md")
    return tmp_path / "roles"


def test_check_names_the_readme_a_spec_change_made_stale(roles_copy, capsys):
    spec = roles_copy / "redis_backup" / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("System user the runs execute as.", "The runs' user."))
    assert role_docs.main(["--check", "--roles", str(roles_copy)]) == 1
    err = capsys.readouterr().err
    assert "roles/redis_backup/README.md: stale" in err
    assert "redis_server" not in err

    assert role_docs.main(["--roles", str(roles_copy)]) == 0
    assert "| The runs' user. |" in (roles_copy / "redis_backup" / "README.md").read_text()
    assert role_docs.main(["--check", "--roles", str(roles_copy)]) == 0


def test_check_names_a_missing_readme(roles_copy, capsys):
    (roles_copy / "redis_server" / "README.md").unlink()
    assert role_docs.main(["--check", "--roles", str(roles_copy)]) == 1
    assert "roles/redis_server/README.md: stale" in capsys.readouterr().err


def test_the_readme_shows_usage_entry_points_defaults_and_secrets():
    text = (REPO / "roles" / "redis_server" / "README.md").read_text()
    assert text.startswith("# redis_server\n")
    assert "    - role: redisops.kit.redis_server\n" in text
    assert "    tasks_from: assert.yml\n" in text
    assert "Requires ansible-core 2.19 or later." in text
    assert "| `assert.yml` | `tasks_from: assert.yml` or `tasks_from: assert` |" in text
    # A literal default, one with choices, and a computed one (from the description's last line).
    assert "| `redis_server_maxmemory_samples` | int | `5` |  | no | Keys sampled per eviction. |" in text
    # Quoted where YAML would read a boolean.
    assert '| `redis_server_tls_mode` | str | `only` | `"off"`, `both`, `only` | no |' in text
    assert "| `redis_server_conf_dir` | path | `{{ '/etc/' ~ redis_server_flavor }}` |  | no |" in text
    assert "Default (computed)" not in text
    # no_log options are the secrets; a role without any falls back to names (redis_backup: none).
    assert '| `redis_server_admin_password` **secret** | str | `""` |' in text
    assert "`redis_server_admin_user` **secret**" not in text
    assert "**secret**" not in (REPO / "roles" / "redis_backup" / "README.md").read_text()


def test_the_exporter_readme_lists_the_options_of_rules_yml():
    text = (REPO / "roles" / "redis_exporter" / "README.md").read_text()
    rules = next(line for line in text.splitlines() if line.startswith("`rules.yml` takes only:"))
    assert "`redis_exporter_alert_memory_used_ratio`" in rules
    assert "`redis_exporter_listen_address`" not in rules


def test_pipes_in_a_default_do_not_split_the_table():
    text = (REPO / "roles" / "redis_sentinel" / "README.md").read_text()
    assert "`{{ redis_server_flavor \\| default('redis') }}`" in text


def test_the_secret_names_are_a_fallback_only():
    options = {"a_password": {}, "a_tls_key": {}, "a_token": {}}
    assert role_docs._secrets(options) == ["a_password", "a_token"]
    options["a_hash"] = {"no_log": True}
    assert role_docs._secrets(options) == ["a_hash"]
