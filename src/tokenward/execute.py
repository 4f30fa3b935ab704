"""`tokens exec`: one command, with the right token in its environment and nowhere else.

plan_exec decides (which token, which variables, a narrowed copy for PyPI) without
starting anything; run_exec runs the child, masks its output and writes the audit log.
"""

from __future__ import annotations

import os
import re
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tokenward import runner
from tokenward.app import App
from tokenward.envpolicy import check_templates
from tokenward.errors import OutputError, TokenExpired, TokenwardError, UsageError, defer
from tokenward.lifecycle import get_value, record_use
from tokenward.publishers import PUBLISHERS, Context, Publisher, Target, env_for_kind, is_pypi_server, parse_command, render_env
from tokenward.policy import AT_REGISTRY, DEAD, Status
from tokenward.report import view

if TYPE_CHECKING:
    from tokenward.trusted import Minted

NARROW_LIFETIME = timedelta(minutes=15)
# What twine, uv and the other tools print when the registry refuses the token (PyPI answers
# 403 "Invalid or non-existent authentication information" / "Invalid API Token: ...").
# Only then is the narrowing the likely cause; a network error is not.
REFUSED = re.compile(rb"\b403\b|forbidden|invalid or non-existent authentication|invalid api token", re.IGNORECASE)
# not_before a little in the past, so a server whose clock is behind ours still accepts it.
CLOCK_SLACK = timedelta(minutes=5)


class ExecPlan:
    def __init__(
        self,
        token: str,
        env: dict[str, str],
        secrets: list[str],
        target: Target | None = None,
        narrowed: bool = False,
        warnings: list[str] | None = None,
        publisher: Publisher | None = None,
        context: Context | None = None,
        executable: str = "",
        minted: Minted | None = None,
    ) -> None:
        self.token = token
        self.env = env  # only the variables we add
        self.secrets = secrets  # every value to mask: the stored one and the narrowed copy
        self.target = Target() if target is None else target
        self.narrowed = narrowed
        self.warnings = [] if warnings is None else warnings
        self.publisher = publisher  # set when the tool's own variables carry the token
        self.context = context
        self.executable = executable  # argv[0] found on PATH before any value was read
        self.minted = minted  # trusted publishing: a token minted for this run only (trusted.py)


def narrow_pypi_token(value: str, projects: tuple[str, ...] | list[str], now: datetime, *, lifetime: timedelta = NARROW_LIFETIME) -> str:
    """A copy of a PyPI token that can upload only `projects`, and only until now + lifetime.

    Caveats only narrow a macaroon, so this is done offline with pypitoken, without PyPI.
    Importing pypitoken costs ~90 ms; only runs that upload to PyPI/TestPyPI pay it."""
    from tokenward.tokens import normalize_project

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


def _refuse_plain_http(record, target: Target) -> None:
    """A token crosses plain http only when its own repository URL says http://."""
    if not (target.publishes and target.repository):
        return
    from urllib.parse import urlsplit

    from tokenward.selection import record_repository

    if urlsplit(target.repository.strip()).scheme.lower() != "http":
        return
    own = record_repository(record)
    if urlsplit(own).scheme.lower() != "http":
        raise UsageError(
            f"`{target.command}` would send {record.name} over plain http to {target.repository}, and its repository is "
            f"{own or 'not recorded'}: refused whatever --token says (use an https URL)"
        )


def _same_destination_with_templates(record, target: Target, argv: list[str], context: Context) -> None:
    """The destination resolved again from the child's final environment (the parent's plus
    the token's templates, which an allowed HOME or XDG_CONFIG_HOME may move): it must be
    the one the token was chosen for."""
    if not target.tool:
        return
    final = {**context.env, **render_env(record.env, "")}
    home = Path(final["HOME"]) if final.get("HOME") else context.home
    again = parse_command(argv, Context(final, context.cwd, home))
    if (again.publishes, again.repository, again.projects) != (target.publishes, target.repository, target.projects):
        where = again.repository or f"an unknown destination ({again.problem})"
        raise UsageError(
            f"{record.name}'s env template changes where `{target.command}` uploads: to {where} instead of "
            f"{target.repository or 'an unknown destination'}; refused (choose another --token, or change its --env)"
        )


def plan_exec(
    app: App,
    token: str | None,
    argv: list[str],
    *,
    strict: bool = False,
    narrow: bool = True,
    context: Context | None = None,
    allow_env: tuple[str, ...] = (),
    trusted: bool | None = None,
    warn: Callable[[str], None] | None = None,
) -> ExecPlan:
    """`trusted`: --trusted-publishing (True) / --no-trusted-publishing (False) / neither.
    `warn` hears at once why a trusted-publishing exchange fell back to a stored token."""
    if not argv:
        raise UsageError("no command given: use `tokens exec [--token NAME] -- COMMAND [ARGS]...`")
    context = context or Context.current()
    # A command that cannot run is bad input, found before any value is read or any use announced.
    executable = runner.resolve_command(argv, dict(context.env))
    target = parse_command(argv, context)
    warnings: list[str] = []
    fell_back: list[TokenwardError] = []  # why an exchange failed under `prefer`: said once a stored token is found
    if token is None or trusted:
        minted = _trusted_publishing(app, target, token, trusted, context, fell_back.append)
        if minted is not None:
            return _minted_plan(minted, target, context, executable)
    if token is None:
        from tokenward.selection import choose

        try:
            record = choose(app.inventory.all(), target, app.now).record
        except TokenwardError as exc:
            if not fell_back:
                raise
            # One line that says both, never "using a stored token instead" then "no token fits"
            # (nor "no stored token" when several fit equally).
            both = TokenwardError(f"{fell_back[0]}; and no stored token can be used instead: {exc}")
            both.exit_status = exc.exit_status
            raise both from None
    if fell_back:
        from tokenward.trusted import fallback_note

        (warnings.append if warn is None else warn)(fallback_note(fell_back[0]))  # type: ignore[arg-type]
    if token is not None:
        record = app.inventory.get(token)
        if target.publishes and target.repository:
            from tokenward.selection import describe_target, fit

            _width, reason = fit(record, target, app.now)
            if reason and not reason.startswith(DEAD):
                warnings.append(f"{token} may not fit {describe_target(target)}: {reason}")
        elif target.publishes:
            warnings.append(f"cannot tell where `{target.command}` sends the token ({target.problem}); using {token} as --token says")
    name = record.name
    _refuse_plain_http(record, target)
    if record.env:
        # Before the value is read: a template may not make the child run someone's code.
        check_templates(record.env, allow_env, owner=name)
        _same_destination_with_templates(record, target, argv, context)
    state = view(record, app.now, app.config.warn_before)
    if state.status in AT_REGISTRY:
        raise TokenExpired(
            f"{name} is {state.status} at its registry (tokens verify {record.verified_at.date().isoformat()});"
            f" rotate it first (`tokens rotate {name}`)"
        )
    if state.status == Status.EXPIRED:
        if record.expires_at is None or record.expires_at > app.now:
            raise TokenExpired(f"{name} has expired at its registry; rotate it first (`tokens rotate {name}`)")
        raise TokenExpired(f"{name} expired on {record.expires_at.date().isoformat()}; rotate it first (`tokens rotate {name}`)")
    if state.status == Status.OVERDUE:
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

    publisher = None
    if record.env:
        added = render_env(record.env, handed)
    elif target.tool and target.publishes:
        publisher = PUBLISHERS[target.tool]
        added = publisher.env(target, handed)
    else:
        added = env_for_kind(record.kind, handed)
    secrets = [value] + ([handed] if handed != value else [])
    return ExecPlan(name, added, secrets, target, narrowed, warnings, publisher, context, executable)


def _trusted_publishing(app: App, target: Target, token, trusted, context: Context, warn) -> "Minted | None":
    """A token minted from the CI's OIDC identity when the mode and the destination say so;
    None to go on with stored tokens (after saying why, when an exchange failed)."""
    from tokenward import trusted as tp

    override = tp.override_mode(trusted)
    decision = tp.decide(app.config.trusted_publishing, override, target, named=token is not None)
    if decision is None:
        return None
    try:
        return tp.mint(decision, env=context.env)
    except tp.NoIdentity:
        if decision.mode == "only":
            raise
        return None  # not in CI: stored tokens, as always
    except tp.TrustedPublishingFailed as exc:
        if decision.mode == "only":
            raise
        warn(exc)
        return None


def _minted_plan(minted: "Minted", target: Target, context: Context, executable: str) -> ExecPlan:
    from tokenward.trusted import AUDIT_NAME

    if minted.protocol == "npm":  # npm exchanges the identity itself: no token from us
        return ExecPlan(AUDIT_NAME, {}, [], target, context=context, executable=executable, minted=minted)
    publisher = PUBLISHERS[target.tool]
    added = publisher.env(target, minted.value)
    return ExecPlan(AUDIT_NAME, added, [minted.value], target, publisher=publisher, context=context, executable=executable, minted=minted)


def run_exec(
    app: App,
    plan: ExecPlan,
    argv: list[str],
    *,
    mask: bool = True,
    warn: Callable[[str], None] | None = None,
    error: Callable[[str], None] | None = None,
) -> int:
    """Run the child; its exit status, or 1 when it succeeded but its output could not be
    written to our stdout (as `cat > /dev/full` does): output is never dropped silently.
    A minted token that the registry can revoke (crates.io) is revoked once the child is
    gone, however it ended."""
    try:
        return _run_exec(app, plan, argv, mask=mask, warn=warn, error=error)
    finally:
        problem = plan.minted.revoke() if plan.minted else None
        if problem and warn:
            warn(problem)


def _record_use(app: App, plan: ExecPlan, **fields) -> None:
    if plan.minted is None:
        record_use(app, plan.token, **fields)
        return
    from tokenward import audit
    from tokenward.trusted import VIA

    # No inventory record to touch: the minted value exists for this run only.
    audit.append(app.data_dir, "exec", plan.token, via=VIA, index=plan.minted.host, **fields)


def _run_exec(
    app: App,
    plan: ExecPlan,
    argv: list[str],
    *,
    mask: bool,
    warn: Callable[[str], None] | None,
    error: Callable[[str], None] | None,
) -> int:
    parent = dict(os.environ)
    env, replaced = child_environment(parent, plan.env)
    target = plan.target
    context = plan.context or Context.current(parent)
    shadows = PUBLISHERS[target.tool].shadowing(target, parent, context) if target.tool and target.publishes else []
    for message in plan.warnings + replaced + shadows:
        if warn:
            warn(message)
    runner.resolve_command(argv, env)  # again: a --env template may have changed PATH
    use = {
        "command": os.path.basename(argv[0]),
        "tool": target.tool or None,
        "repository": target.repository if target.publishes else None,
        "repository_source": target.source or None if target.publishes else None,
        "projects": list(target.projects),
        "narrowed": plan.narrowed,
    }
    status: int | None = None
    lost: dict[str, str] = {}
    refused = False
    try:
        with plan.publisher.prepare(target, env) if plan.publisher else nullcontext():
            outcome = runner.run_child(argv, env, plan.secrets, mask=mask, watch=REFUSED if plan.narrowed else None)
        status, lost, refused = outcome.status, outcome.lost, outcome.seen
    finally:
        try:
            _record_use(app, plan, **use, exit_status=status, **({"output_lost": sorted(lost)} if lost else {}))
        except TokenwardError as exc:
            if status is None:
                raise
            defer(exc)  # reported after the command's output; `exec` keeps the command's status
    for stream, why in lost.items():
        if error:  # stderr lost too: nobody to tell, the status still says it
            error(f"cannot write the command's {stream}: {why}")
    if status == 0 and "stdout" in lost:
        status = int(OutputError.exit_status)  # as `tokens get > /dev/full`: the result was not delivered
    if status and plan.narrowed and refused and warn:
        # PyPI checks a project-name caveat only against an existing project: a first
        # upload (which creates the project) is refused with any narrowed token.
        warn(
            f"the command failed with {plan.token} narrowed to {', '.join(target.projects)}; if this is the first "
            "upload of a new project, PyPI refuses project-scoped tokens: rerun with --no-narrow"
        )
    return status
