"""Render a role template the way ansible.builtin.template's lookup does, without copying every
variable first: the builtin deep-copies all task variables for each file it renders, which was
the largest single cost of a rerun on the control node."""

from __future__ import annotations

DOCUMENTATION = r"""
name: redis_template
short_description: Render a role's template to a string (the builtin template lookup, cheaper)
description:
  - Finds each term under the role's C(templates) directory (the same search as
    ansible.builtin.template) and renders it with the task's variables plus C(ansible_managed)
    and the C(template_*) variables.
  - The variables are layered (a ChainMap) instead of deep-copied; templates only read them.
  - Same Jinja settings as the builtin lookup's defaults (trim_blocks, no backslash escaping,
    trailing newlines kept).
"""

RETURN = r"""
_raw:
  description: The rendered text of each template.
  type: list
  elements: str
"""

import collections
import os

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible.template import generate_ansible_template_vars, trust_as_template


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        rendered = []
        for term in terms:
            path = self.find_file_in_search_path(variables, "templates", term)
            if not path:
                raise AnsibleError(f"the template file {term} could not be found for the lookup")
            text = trust_as_template(self._loader.get_text_file_contents(path))
            extra = generate_ansible_template_vars(path=term, fullpath=path)
            if "ansible_managed" in variables:
                # A value set by the user wins, as with the builtin lookup.
                extra.pop("ansible_managed", None)
            templar = self._templar.copy_with_new_env(
                available_variables=collections.ChainMap(extra, variables),
                searchpath=[os.path.dirname(path)],
            )
            rendered.append(templar.template(text, escape_backslashes=False))
        return rendered
