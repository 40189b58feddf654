"""The run's vault secrets reach a nested redisops on a pipe (plugins/action/redisops.py) and, from
there, the Ansible commands it runs itself, as private identity files that live while it runs."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultSecret, VaultSecretsContext

from redisops import inventory

from .role_code import _load_by_path

ACTION = _load_by_path(
    Path(__file__).resolve().parents[2] / "plugins" / "action" / "redisops.py", "action_under_test"
)


def test_the_action_sends_every_secret_of_the_run(monkeypatch):
    context = VaultSecretsContext([("default", VaultSecret(b"first")), ("prod", VaultSecret(b"se\ncond"))])
    monkeypatch.setattr(VaultSecretsContext, "current", classmethod(lambda cls, optional=False: context))
    sent = json.loads(ACTION._secrets_payload())
    assert [(s["id"], base64.b64decode(s["secret"])) for s in sent] == [
        ("default", b"first"),
        ("prod", b"se\ncond"),
    ]


def test_redisops_takes_them_and_shares_them_privately(monkeypatch):
    monkeypatch.setattr(inventory, "_GIVEN_VAULT_SECRETS", [])
    monkeypatch.delenv("ANSIBLE_VAULT_IDENTITY_LIST", raising=False)
    payload = json.dumps([{"id": "prod", "secret": base64.b64encode(b"pw-1").decode()}])
    inventory.add_vault_secrets(payload)
    assert inventory._GIVEN_VAULT_SECRETS == [("prod", b"pw-1")]
    vault_id, _, path = os.environ["ANSIBLE_VAULT_IDENTITY_LIST"].partition("@")
    assert vault_id == "prod" and Path(path).read_bytes() == b"pw-1"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(Path(path).parent).st_mode) == 0o700


def test_unreadable_secrets_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(inventory, "_GIVEN_VAULT_SECRETS", [])
    with pytest.raises(inventory.InventoryError, match="--vault-secrets-stdin"):
        inventory.add_vault_secrets("not json")
