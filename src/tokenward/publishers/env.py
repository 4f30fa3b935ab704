"""The variables a token is handed in when no tool module decides: by the token's kind,
or by the token's own `--env VAR=TEMPLATE` mapping."""

from __future__ import annotations

import re
from typing import Mapping

from tokenward.errors import UsageError
from tokenward.registries.kinds import TABLE

# For a command exec does not recognise, the token's kind decides.
KIND_ENV: dict[str, dict[str, str]] = {f.kind: dict(f.env) for f in TABLE}  # from registries/kinds.py

ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_for_kind(kind: str, value: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The variables to add to the child's environment (a pure function)."""
    templates = dict(overrides) if overrides else dict(KIND_ENV.get(kind, KIND_ENV["generic"]))
    return render_env(templates, value)


def render_env(templates: Mapping[str, str], value: str) -> dict[str, str]:
    return {var: template.replace("{value}", value) for var, template in templates.items()}


def parse_env_templates(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--env VAR=TEMPLATE` options -> {VAR: TEMPLATE}; `{value}` stands for the token."""
    templates: dict[str, str] = {}
    for item in items:
        var, eq, template = item.partition("=")
        if not eq or not ENV_VAR_RE.match(var):
            raise UsageError(f"--env {var or item!r}: use VAR=TEMPLATE, e.g. --env 'MY_TOKEN={{value}}'")
        if var in templates:
            raise UsageError(f"--env {var} is given twice")
        templates[var] = template
    if templates and not any("{value}" in t for t in templates.values()):
        raise UsageError("--env: no template contains {value}, so the command would never get the token")
    return templates
