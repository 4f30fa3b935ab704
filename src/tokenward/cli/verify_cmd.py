"""verify, revoke: ask the registry that issued a token."""

from __future__ import annotations

import sys

import click

from tokenward.cli.common import json_option, pass_app
from tokenward.errors import ExitStatus, UsageError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--jobs", type=click.IntRange(1, 64), default=16, show_default=True, help="Registry requests in flight at once (a bounded pool).")
@json_option
@pass_app
def verify(app, term, names, jobs, as_json):
    """Ask each token's registry whether its stored value is live.

    Without NAME: every token. Reads each value once from its stores and prints
    none. Results: live, invalid (the registry rejects it), revoked, expired,
    unknown (no API for this kind: PyPI), unreachable (network error, 5xx,
    timeout, rate limit, an answer not as documented). Where the registry tells:
    owner, expires_at, scopes, last_used_at. The last result is kept in the
    inventory (see `tokens show`) and carried to Vault/AWS metadata.

    PyPI offers no verification API: PyPI tokens are checked offline from their
    caveats (`unknown` unless their expiry has passed).

    A token whose registry names an expiry that has passed is expired,
    whatever else the registry says. Dates outside 2000..2200 are ignored (a
    warning says so), and any field that echoes the token's value is dropped.

    Time bound: each registry request ends within 15 s in total (connect,
    headers, body, redirects, retries), else the token is unreachable ("took
    longer than 15s"); waits for Retry-After or rate limits add at most 10 s
    per token, a longer requested wait fails at once. A token takes one
    request (npm: two).

    Exit status: 0 all live/unknown, 1 any invalid/revoked/expired, 3 any
    unreachable (3 wins over 1).

    \b
    Examples:
      tokens verify
      tokens verify gh-release npm-publish --json
    """
    from tokenward.registries.checks import carry_to_stores, verify_tokens

    run = verify_tokens(app, list(names), jobs=jobs)
    for warning in run.warnings:
        term.warn(warning)
    warnings = carry_to_stores(app, run.checks)
    if as_json:
        term.json([c.as_json() for c in run.checks])
    elif not run.checks:
        term.note("No tokens.")
    else:
        from tokenward.output import table

        rows = []
        for c in run.checks:
            v = c.verdict
            rows.append([
                c.record.name,
                c.record.kind,
                v.result,
                v.owner or "-",
                v.expires_at.date().isoformat() if v.expires_at else "-",
                ",".join(v.scopes) if v.scopes else "-",
                v.last_used_at.date().isoformat() if v.last_used_at else "-",
            ])  # fmt: skip
        headers = ["NAME", "KIND", "RESULT", "OWNER", "EXPIRES", "SCOPES", "LAST USED"]
        term.echo(table(rows, headers))
        for c in run.checks:
            if c.verdict.reason and c.verdict.result != "live":
                term.note(f"{c.record.name}: {c.verdict.result}: {c.verdict.reason}")
    for warning in warnings:
        term.warn(warning)
    return run.exit_status


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--leaked", is_flag=True, help="The value leaked: GitHub values go to GitHub's credential revocation service.")
@pass_app
def revoke(app, term, name, yes, leaked):
    """Revoke a token's current value at its registry, and mark it revoked.

    GitLab, npm and crates.io revoke by API. GitHub revokes a value only
    through its leaked-credential service (--leaked). Elsewhere (PyPI, Docker
    Hub, GitHub) tokenward shows the registry's page and asks you to confirm
    once you have revoked it there. The value stays in its stores until
    `tokens remove`; `tokens rotate` gives the token a new value.

    \b
    Examples:
      tokens revoke gl-release
      tokens revoke pypi-old --yes
    """
    from tokenward.registries.checks import guided_steps, plan_revoke, revoke_token

    plan = plan_revoke(app, name, leaked=leaked)
    if not plan.by_api:
        for line in guided_steps(plan):
            term.note(line)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"revoking {name} needs confirmation: pass --yes")
        question = f"{plan.how[0].upper()}{plan.how[1:]}?" if plan.by_api else f"Have you revoked {name} there?"
        if not click.confirm(question, err=True):
            term.note(f"Not revoked: {name} is unchanged.")
            return int(ExitStatus.FINDINGS)
    message, warnings = revoke_token(app, plan)
    for warning in warnings:
        term.warn(warning)
    term.note(f"{name}: {message}. Its status is now revoked; its value stays in {', '.join(plan.record.stores)} until `tokens remove {name}`.")
    return 0
