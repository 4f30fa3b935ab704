"""`tokens exec`: one command, with the right token in its environment and nowhere else.

plan_exec decides (which token, which variables, a narrowed copy for PyPI) without
starting anything; run_exec runs the child, masks its output and writes the audit log.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

from tokenward import runner
from tokenward.app import App
from tokenward.envpolicy import check_templates
from tokenward.errors import TokenExpired, TokenwardError, UsageError, defer
from tokenward.lifecycle import get_value, record_use
from tokenward.paths import FILE_MODE
from tokenward.publishers import (
    Context,
    Target,
    env_for_kind,
    is_pypi_server,
    npm_userconfig,
    parse_command,
    render_env,
    shadowing,
    tool_env,
)
from tokenward.report import view
from tokenward.selection import choose, describe_target, fit
from tokenward.tokens import normalize_project

NARROW_LIFETIME = timedelta(minutes=15)
# not_before a little in the past, so a server whose clock is behind ours still accepts it.
CLOCK_SLACK = timedelta(minutes=5)


@dataclass
class ExecPlan:
    token: str
    env: dict[str, str]  # only the variables we add
    secrets: list[str]  # every value to mask: the stored one and the narrowed copy
    target: Target = field(default_factory=lambda: Target(""))
    narrowed: bool = False
    warnings: list[str] = field(default_factory=list)
    npm_registry: str | None = None  # write a temporary userconfig reading ${NODE_AUTH_TOKEN}
    context: Context | None = None


def narrow_pypi_token(value: str, projects: tuple[str, ...] | list[str], now: datetime, *, lifetime: timedelta = NARROW_LIFETIME) -> str:
    """A copy of a PyPI token that can upload only `projects`, and only until now + lifetime.

    Caveats only narrow a macaroon, so this is done offline with pypitoken, without PyPI.
    Importing pypitoken costs ~90 ms; only runs that upload to PyPI/TestPyPI pay it."""
    names = sorted({normalize_project(p) for p in projects})
    if not names:
        raise UsageError("cannot narrow a PyPI token without the project names")
    not_before = int((now - CLOCK_SLACK).timestamp())
    not_after = int((now + lifetime).timestamp())
    import pypitoken

    try:
        token = pypitoken.Token.load(value)
        token.restrict(not_before=not_before, not_after=not_after, project_names=names)
        return token.dump()
    except Exception:  # noqa: BLE001 - pypitoken raises several types; none may carry the value
        raise UsageError("the stored value is not a PyPI token that can be narrowed; use --no-narrow") from None


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


def plan_exec(
    app: App,
    token: str | None,
    argv: list[str],
    *,
    strict: bool = False,
    narrow: bool = True,
    context: Context | None = None,
    allow_env: tuple[str, ...] = (),
) -> ExecPlan:
    if not argv:
        raise UsageError("no command given: use `tokens exec [--token NAME] -- COMMAND [ARGS]...`")
    context = context or Context.current()
    target = parse_command(argv, context)
    warnings: list[str] = []
    if token is None:
        record = choose(app.inventory.all(), target, app.now).record
    else:
        record = app.inventory.get(token)
        if target.publishes and target.repository:
            _width, reason = fit(record, target, app.now)
            if reason and not reason.startswith("expired"):
                warnings.append(f"{token} may not fit {describe_target(target)}: {reason}")
    name = record.name
    if record.env:
        # Before the value is read: a template may not make the child run someone's code.
        check_templates(record.env, allow_env, owner=name)
    state = view(record, app.now, app.config.warn_before)
    if state.status in ("revoked", "invalid"):
        raise TokenExpired(
            f"{name} is {state.status} at its registry (tokens verify {record.verified_at.date().isoformat()});"
            f" rotate it first (`tokens rotate {name}`)"
        )
    if state.status == "expired":
        if record.expires_at is None or record.expires_at > app.now:
            raise TokenExpired(f"{name} has expired at its registry; rotate it first (`tokens rotate {name}`)")
        raise TokenExpired(f"{name} expired on {record.expires_at.date().isoformat()}; rotate it first (`tokens rotate {name}`)")
    if state.status == "overdue":
        message = f"{name} is overdue for rotation (due {state.due_at.date().isoformat()}); run `tokens rotate {name}`"
        if strict:
            raise UsageError(message + " (refused with --strict)")
        warnings.append(message)
    value, _store, read_warnings = get_value(app, name)
    warnings.extend(read_warnings)

    handed = value
    narrowed = False
    pypi_upload = target.publishes and is_pypi_server(target.repository) and record.kind in ("pypi", "testpypi")
    if narrow and pypi_upload:
        if target.projects:
            handed = narrow_pypi_token(value, target.projects, app.now)
            narrowed = True
        else:
            warnings.append(f"not narrowing {name}: the projects uploaded are not known ({target.problem or 'none found'})")

    if record.env:
        added = render_env(record.env, handed)
    elif target.tool and target.publishes:
        added = tool_env(target, handed)
    else:
        added = env_for_kind(record.kind, handed)
    npm_registry = target.repository if target.tool == "npm" and "NODE_AUTH_TOKEN" in added else None
    secrets = [value] + ([handed] if handed != value else [])
    return ExecPlan(name, added, secrets, target, narrowed, warnings, npm_registry, context)


@contextmanager
def npm_config(plan: ExecPlan, env: dict[str, str]) -> Iterator[None]:
    """A 0600 userconfig in a 0700 directory for npm; it names ${NODE_AUTH_TOKEN}, never the value."""
    if plan.npm_registry is None:
        yield
        return
    existing_path = env.get("NPM_CONFIG_USERCONFIG") or env.get("npm_config_userconfig") or str(Path.home() / ".npmrc")
    try:
        existing = Path(existing_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        existing = ""
    directory = tempfile.mkdtemp(prefix="tokenward-npm-")
    try:
        path = os.path.join(directory, "npmrc")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(npm_userconfig(plan.npm_registry, existing))
        env.pop("npm_config_userconfig", None)
        env["NPM_CONFIG_USERCONFIG"] = path
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_exec(
    app: App,
    plan: ExecPlan,
    argv: list[str],
    *,
    mask: bool = True,
    warn: Callable[[str], None] | None = None,
) -> int:
    parent = dict(os.environ)
    env, replaced = child_environment(parent, plan.env)
    for message in plan.warnings + replaced + shadowing(plan.target, parent, plan.context):
        if warn:
            warn(message)
    runner.resolve_command(argv, env)  # a missing command is bad input, before the token is marked used
    target = plan.target
    use = {
        "command": os.path.basename(argv[0]),
        "tool": target.tool or None,
        "repository": target.repository if target.publishes else None,
        "projects": list(target.projects),
        "narrowed": plan.narrowed,
    }
    status: int | None = None
    try:
        with npm_config(plan, env):
            status = runner.run(argv, env, plan.secrets, mask=mask)
    finally:
        try:
            record_use(app, plan.token, **use, exit_status=status)
        except TokenwardError as exc:
            if status is None:
                raise
            defer(exc)  # reported after the command's output; `exec` keeps the command's status
    if status and plan.narrowed and warn:
        # PyPI checks a project-name caveat only against an existing project: a first
        # upload (which creates the project) is refused with any narrowed token.
        warn(
            f"the command failed with {plan.token} narrowed to {', '.join(target.projects)}; if this is the first "
            "upload of a new project, PyPI refuses project-scoped tokens: rerun with --no-narrow"
        )
    return status
