"""Every allowed-values list of a role's argument spec is the core's list for that variable, so the
spec, the role's filters and the checks cannot drift apart; the same for the secret variables."""

from __future__ import annotations

from pathlib import Path

import yaml

from redisops.compliance.model import Severity
from redisops.core import choices, secrets
from redisops.inventory import _SECRETS as INVENTORY_SECRETS
from redisops.lab import plan

ROLES = Path(__file__).resolve().parents[2] / "roles"


def _options(key: str):
    """(role, entry point, option path, spec[key]) of every option that has ``key``, nested ones too."""

    def walk(options, path):
        for name, spec in (options or {}).items():
            if key in spec:
                yield ".".join([*path, name]), spec[key]
            yield from walk(spec.get("options"), [*path, name])

    for specs in sorted(ROLES.glob("*/meta/argument_specs.yml")):
        role = specs.parent.parent.name
        for entry, spec in yaml.safe_load(specs.read_text())["argument_specs"].items():
            for name, values in walk(spec.get("options"), []):
                yield role, entry, name, values


def _options_with_choices():
    return _options("choices")


def test_every_argument_spec_choice_is_the_cores():
    found = list(_options_with_choices())
    assert found
    for role, entry, name, values in found:
        assert name in choices.ROLE_VARIABLES, f"{role} {entry}: {name} has choices the core does not list"
        assert list(values) == list(choices.ROLE_VARIABLES[name]), f"{role} {entry}: {name}"


def test_every_variable_the_core_lists_has_its_choices_in_a_spec():
    named = {name for _role, _entry, name, _values in _options_with_choices()}
    assert set(choices.ROLE_VARIABLES) <= named


def test_the_checks_severities_are_the_cores():
    assert tuple(str(s) for s in sorted(Severity)) == choices.SEVERITIES


def test_the_lab_deploys_the_servers_the_roles_do():
    assert plan.FLAVORS == choices.FLAVORS


def test_the_secret_variables_are_the_specs_no_log_options():
    no_log = {name for _role, _entry, name, value in _options("no_log") if value}
    assert no_log == set(secrets.SECRET_VARIABLES)


def test_the_checks_treat_only_secret_variables_as_secrets():
    # redisops.inventory keeps the ones it connects with; each must be one the core calls secret.
    assert set(INVENTORY_SECRETS) <= set(secrets.SECRET_VARIABLES)
