"""`tokens exec`: one command, with the token in its environment and nowhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tokenward import runner
from tokenward.app import App
from tokenward.errors import TokenExpired, UsageError
from tokenward.lifecycle import get_value, record_use
from tokenward.publishers import env_for_kind
from tokenward.report import view


@dataclass
class ExecPlan:
    token: str
    env: dict[str, str]  # only the variables we add
    secrets: list[str]
    warnings: list[str] = field(default_factory=list)


def child_environment(parent: dict[str, str], added: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The child's full environment, and warnings for parent variables we replace."""
    warnings = [
        f"{var} is set in your environment; tokens exec replaces it for this command"
        for var in sorted(added)
        if var in parent and parent[var] != added[var]
    ]
    env = dict(parent)
    env.update(added)
    return env, warnings


def plan_exec(app: App, token: str | None, argv: list[str], *, strict: bool = False) -> ExecPlan:
    if not argv:
        raise UsageError("no command given: use `tokens exec --token NAME -- COMMAND [ARGS]...`")
    if token is None:
        raise UsageError("name the token with --token NAME")
    record = app.inventory.get(token)
    state = view(record, app.now, app.config.warn_before)
    warnings: list[str] = []
    if state.status == "expired":
        raise TokenExpired(f"{token} expired on {record.expires_at.date().isoformat()}; rotate it first (`tokens rotate {token}`)")
    if state.status == "overdue":
        message = f"{token} is overdue for rotation (due {state.due_at.date().isoformat()}); run `tokens rotate {token}`"
        if strict:
            raise UsageError(message + " (refused with --strict)")
        warnings.append(message)
    value, _store, read_warnings = get_value(app, token)
    warnings.extend(read_warnings)
    added = env_for_kind(record.kind, value, record.env or None)
    return ExecPlan(token=token, env=added, secrets=[value], warnings=warnings)


def run_exec(app: App, plan: ExecPlan, argv: list[str], *, mask: bool = True, warn=None) -> int:
    env, shadow_warnings = child_environment(dict(os.environ), plan.env)
    for message in plan.warnings + shadow_warnings:
        if warn:
            warn(message)
    runner.resolve_command(argv, env)  # a missing command is bad input, before the token is marked used
    status = runner.run(argv, env, plan.secrets, mask=mask)
    record_use(app, plan.token, command=os.path.basename(argv[0]), exit_status=status)
    return status
