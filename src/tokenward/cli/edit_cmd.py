"""tokens edit."""

from __future__ import annotations

import click

from tokenward.cli.common import pass_app
from tokenward.errors import ExitStatus


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--purpose", default=None, help="What the token is for (\"\" clears it).")
@click.option("--scope", default=None, help="What it may touch: `user`, `project:foo,bar` or `project-id:ID,...` (\"\" for unknown).")
@click.option("--repository", metavar="URL", default=None, help="Upload endpoint it is for, http(s) (\"\" for the kind's default).")
@click.option("--rotate-every", metavar="PERIOD", default=None, help="Rotation period: 90d, 12w, 6mo, 1y.")
@click.option("--expires", metavar="DATE", default=None, help="Hard expiry (a DATE as for `tokens add`), or `none` to remove it.")
@click.option("--env", "env", multiple=True, metavar="VAR=TEMPLATE", help="Variables `tokens exec` sets instead of the tool's; replaces the token's set (repeatable).")
@click.option("--allow-env", "allow_env", multiple=True, metavar="VAR", help="Let --env set VAR although it is outside what a template may set (as for `tokens add`).")
@pass_app
def edit(app, term, name, purpose, scope, repository, rotate_every, expires, env, allow_env):
    """Change a token's metadata (never its value), here and in its Vault/AWS stores.

    Checked as `tokens add` checks them. The change goes to the inventory, the
    audit log, and the metadata of each Vault or AWS store holding the token
    (no new value version), so teammates see it with `tokens sync --discover`.
    --env stays in this machine's inventory, as with `tokens add`.

    \b
    Examples:
      tokens edit pypi-foo --purpose "publish foo from CI" --rotate-every 6mo
      tokens edit gh-release --expires 2026-12-31
      tokens edit npm-ci --repository https://npm.example.com/ --scope project:@team/pkg
    """
    templates = None
    if env:
        from tokenward.envpolicy import check_allow_names, check_templates
        from tokenward.publishers import parse_env_templates

        templates = parse_env_templates(env)
        check_templates(templates, check_allow_names(allow_env))
    from tokenward.edit import edit_token

    outcome = edit_token(
        app, name, purpose=purpose, scope=scope, repository=repository, rotate_every=rotate_every, expires=expires, env=templates
    )
    for warning in outcome.warnings:
        term.warn(warning)
    if outcome.changed:
        where = ", ".join(["the inventory", *outcome.carried])
        term.note(f"Changed {', '.join(outcome.changed)} of {name} in {where}.")
    else:
        carried = f"; written again to {', '.join(outcome.carried)}" if outcome.carried else ""
        term.note(f"{name} already had those values{carried}.")
    if outcome.not_carried:
        for store_name, reason in outcome.not_carried.items():
            term.note(f"Error: not written to store {store_name!r}: {reason}")
        return int(ExitStatus.STORE)
    return 0
