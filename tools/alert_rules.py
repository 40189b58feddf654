"""The kit's Prometheus alert rules, rendered without Ansible.

The redis_exporter role installs ``redis-ops-kit.rules.yml.j2`` with Ansible's template module.
The same rules are committed, rendered with the role's defaults, as ``monitoring/redis-ops-kit.rules.yml``
for Prometheus servers the kit does not manage, and promtool's unit tests run against that copy.
Rendering here with plain Jinja2 (the template's ``#jinja2:`` delimiters, and Ansible's
``ansible_managed`` and ``comment`` as their defaults produce them) lets a unit test prove the
committed copy is the template's output, without an Ansible run.

Regenerate the committed copy with ``python tools/alert_rules.py > monitoring/redis-ops-kit.rules.yml``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import jinja2
import yaml

REPO = Path(__file__).resolve().parents[1]  # a checkout tool: the package does not ship it
ROLE = REPO / "roles" / "redis_exporter"
TEMPLATE = ROLE / "templates" / "etc" / "prometheus" / "rules" / "redis-ops-kit.rules.yml.j2"
DEFAULTS = ROLE / "defaults" / "main.yml"
RULES_FILE = REPO / "monitoring" / "redis-ops-kit.rules.yml"

OVERRIDE = "#jinja2:"
# Ansible's own default for ansible_managed: the rendered file must not change with who renders it.
ANSIBLE_MANAGED = "Ansible managed"


def comment(text: str) -> str:
    """Ansible's ``comment`` filter in its default (plain) style: '# ' lines framed by '#'."""
    return "\n".join(["#", *(f"# {line}".rstrip() for line in str(text).splitlines()), "#"])


def defaults() -> dict:
    """The alert variables and their defaults, as the role declares them."""
    return {
        name: value
        for name, value in yaml.safe_load(DEFAULTS.read_text()).items()
        if name.startswith("redis_exporter_alert_") or name == "redis_exporter_runbook_url"
    }


def template_source() -> tuple[str, dict]:
    """The template without its ``#jinja2:`` line, and the Jinja options that line sets."""
    text = TEMPLATE.read_text()
    options: dict = {}
    if text.startswith(OVERRIDE):
        line, _, text = text.partition("\n")
        for pair in line[len(OVERRIDE) :].split(","):
            key, _, value = pair.partition(":")
            options[key.strip()] = ast.literal_eval(value.strip())
    return text, options


def render_rules(overrides: dict | None = None) -> str:
    """The rules file as the role installs it: the defaults, with ``overrides`` over them."""
    source, options = template_source()
    env = jinja2.Environment(
        # As Ansible's template module: blocks eat their newline, the file keeps its last one.
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        **options,
    )
    env.filters["comment"] = comment
    variables = {**defaults(), **(overrides or {}), "ansible_managed": ANSIBLE_MANAGED}
    return env.from_string(source).render(variables)


if __name__ == "__main__":
    sys.stdout.write(render_rules())
