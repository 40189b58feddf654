"""Every entry point of every role's argument spec states the role's defaults: the options are the keys
of defaults/main.yml and each default is the value there.

A default that is a Jinja expression is not a spec default: ansible-core templates the whole spec as the
validation task's arguments on every run, so it would be evaluated even when the variable is set, and a
failed validation would print it rendered (a password taken from another variable, in clear). Those
options end their description with "Default (computed): EXPR", the expression without its braces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
ROLE_NAMES = sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml"))
COMPUTED = "Default (computed): "
# playbooks/alert_rules.yml runs rules.yml on the Prometheus hosts: it takes the alert rules' options only.
RULES_ENTRY_POINTS = {("redis_exporter", "rules.yml"), ("redis_exporter", "rules")}


def _defaults(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())


def _specs(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def _entry_points() -> list[tuple[str, str]]:
    return [(role, entry) for role in ROLE_NAMES for entry in _specs(role)]


def _is_template(value) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, list):
        return any(_is_template(item) for item in value)
    if isinstance(value, dict):
        return any(_is_template(item) for item in value.values())
    return False


def _needs_parentheses(expression: str) -> bool:
    """Whether an expression has an operator that binds less tightly than ~ (filters and calls bind
    more tightly): the text outside strings and brackets has a token other than names and '|'."""
    outside, depth, quote = "", 0, None
    for char in expression:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            outside += char
    keywords = {"if", "else", "and", "or", "not", "in", "is"}
    return any(t in keywords or (t != "|" and not re.fullmatch(r"[\w.]+", t)) for t in outside.split())


def _string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def expression(value) -> str:
    """The Jinja expression that evaluates to a defaults/main.yml value, without {{ }}:
    "/etc/{{ redis_server_flavor }}" is '/etc/' ~ redis_server_flavor."""
    if isinstance(value, str) and "{{" in value:
        terms = []
        for i, part in enumerate(re.split(r"\{\{(.*?)\}\}", value, flags=re.S)):
            if i % 2 == 0:
                if part:
                    terms.append(_string(part))
            else:
                term = " ".join(part.split())
                terms.append(term)
                if _needs_parentheses(term):
                    terms[-1] = f"({term})"
        if len(terms) == 1 and terms[0].startswith("("):
            return terms[0][1:-1]
        return " ~ ".join(terms)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(expression(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(k)}: {expression(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no expression for {value!r}")


def test_the_roles_have_argument_specs():
    assert ROLE_NAMES == [
        "redis_backup",
        "redis_cluster",
        "redis_compliance",
        "redis_exporter",
        "redis_sentinel",
        "redis_server",
    ]


@pytest.mark.parametrize(("role", "entry"), _entry_points())
def test_the_options_are_the_defaults(role, entry):
    defaults, options = set(_defaults(role)), set(_specs(role)[entry]["options"])
    if (role, entry) in RULES_ENTRY_POINTS:
        assert options < defaults
        rule_settings = {
            "redis_exporter_rules_dir",
            "redis_exporter_prometheus_service",
            "redis_exporter_runbook_url",
        }
        assert options == rule_settings | {n for n in defaults if n.startswith("redis_exporter_alert_")}
    else:
        assert sorted(defaults - options) == [], "defaults without an argument spec"
        assert sorted(options - defaults) == [], "argument specs without a default"


@pytest.mark.parametrize(("role", "entry"), _entry_points())
def test_each_default_is_the_role_default(role, entry):
    defaults = _defaults(role)
    for name, spec in _specs(role)[entry]["options"].items():
        value = defaults[name]
        description = spec["description"] if isinstance(spec["description"], list) else [spec["description"]]
        computed = [line for line in description if line.startswith(COMPUTED)]
        if _is_template(value):
            assert "default" not in spec, f"{name}: a Jinja default belongs in the description"
            assert computed == [description[-1]], f"{name}: the description must end with {COMPUTED!r}"
            assert description[-1] == COMPUTED + expression(value), name
        else:
            assert computed == [], f"{name}: a literal default is a default:, not a description line"
            assert "default" in spec, f"{name}: no default: (defaults/main.yml has {value!r})"
            # Compare types too: YAML's true equals 1 in Python.
            assert (type(spec["default"]), spec["default"]) == (type(value), value), name


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_no_spec_text_is_a_template(role):
    """ansible-core templates the argument spec before validating: a Jinja string in it would run."""
    text = (ROLES / role / "meta" / "argument_specs.yml").read_text()
    assert [m for m in ("{{", "{%", "{#") if m in text] == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/etc/{{ redis_server_flavor }}", "'/etc/' ~ redis_server_flavor"),
        ("{{ redis_server_flavor | default('redis') }}", "redis_server_flavor | default('redis')"),
        (["{{ ansible_host }}", "127.0.0.1"], "[ansible_host, '127.0.0.1']"),
        ("{{ a if b else c }}/x", "(a if b else c) ~ '/x'"),
        ("{{ lookup('env', 'HOME') }}/.x", "lookup('env', 'HOME') ~ '/.x'"),
        ("{{ a if b else\n   c ~ 'd' }}", "a if b else c ~ 'd'"),
    ],
)
def test_the_expression_of_a_template(value, expected):
    assert expression(value) == expected
