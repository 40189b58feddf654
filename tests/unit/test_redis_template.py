"""The kit's template lookup renders exactly what ansible.builtin.template's lookup renders (the
role files it writes are compared with the hosts' byte for byte, so any difference would show as
a change on every rerun): ansible_managed, trimmed blocks, backslashes, trailing newlines,
includes beside the template, a variable the play sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.role_code import REPO

TEMPLATE = (
    "{{ ansible_managed | comment }}\n"
    "{% for name in names %}\n"
    "user {{ name }} on ~*\\d &{{ name }}:*\n"
    "{% endfor %}\n"
    "path {{ template_path | basename }} {{ 'a\\\\b' }}\n"
    '{% include "part.j2" %}\n'
    "{{ nested.value }}\n\n"
)

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    names: [alice, bob]
    nested: {value: "{{ names | length }}"}
  tasks:
    - name: Render with both lookups
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: >-
          {{ {'builtin': lookup('ansible.builtin.template', 'conf.j2'),
              'kit': lookup('redisops.kit.redis_template', 'conf.j2')} | to_json }}
        mode: "0600"
"""


def test_same_text_as_the_builtin_lookup(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates/conf.j2").write_text(TEMPLATE)
    (tmp_path / "templates/part.j2").write_text("included {{ names | join(',') }}\n")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    out = tmp_path / "out.json"
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
        ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"),
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        PYTHONWARNINGS="ignore",
    )
    run = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "play.yml", "-e", f"out={out}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rendered = json.loads(out.read_text())
    assert rendered["kit"] == rendered["builtin"]
    assert "user bob on ~*\\d &bob:*" in rendered["kit"]
    assert "included alice,bob" in rendered["kit"]
    assert rendered["kit"].startswith("#")
