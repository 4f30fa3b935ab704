"""tokens rotate: piped, guided on a terminal, by rotate_command, --due, --leaked."""

from __future__ import annotations

import click

from tokenward.cli.common import pass_app
from tokenward.cli.dialog import TerminalDialog
from tokenward.errors import UsageError
from tokenward.rotation import workflows


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name", required=False)
@click.option("--api", "by_api", is_flag=True, help="Let the registry create the new value (GitLab, npm), then revoke the old one.")
@click.option("--otp", metavar="CODE", default=None, help="With --api: the one-time password npm asks for with 2FA.")
@click.option("--due", is_flag=True, help="Rotate every overdue or expired token that has a rotate_command or an [rotate] api kind; list the rest.")
@click.option("--leaked", is_flag=True, help="Leak response for NAME: list every copy, rotate it everywhere, then the revoke step.")
@click.option("--no-command", is_flag=True, help="Ignore a configured rotate_command: read the value from stdin or a prompt.")
@click.option("--open", "open_page", is_flag=True, help="Open the registry's token page in a browser (guided mode).")
@click.option("--yes", "-y", is_flag=True, help="Accept a new token whose scope differs from the old one's without asking (needed when piped).")
@pass_app
def rotate(app, term, name, by_api, otp, due, leaked, no_command, open_page, yes):
    """Replace a token's value in every store it lives in, then in every CI target.

    The new value comes from the token's rotate_command (config [rotate]), else
    from stdin when piped, else a guided walk-through on a terminal: where the
    token is used, the registry page to create the new one, a hidden prompt,
    checks (same kind and registry; a wider scope is flagged), then the exact
    step to revoke the old token. Stores that keep versions keep the previous one.

    After the stores, the new value is pushed to every CI target of the token
    ([targets.NAME] in the config; see `tokens push`). A target that fails is
    one `Error:` line and exit 3; the stores keep the new value, and `tokens
    push` or `tokens sync` pushes it again.

    With --api the registry creates the new value (GitLab: self-rotate, expiring
    after the token's rotation period, at most 365 days; npm: a new token with
    the old one's settings, authorised by the account password of the token
    [rotate.npm] login names, else a hidden prompt). Then, in this order: every
    store, every CI target, the new value verified live, the old value revoked.
    Journalled: an interrupted run is finished by the next `tokens rotate NAME`
    or `tokens sync`. Other kinds have no such API: rotate them guided.

    \b
    Examples:
      echo "$NEW_TOKEN" | tokens rotate pypi-foo
      tokens rotate pypi-foo            # guided, on a terminal
      tokens rotate gl-release --api    # GitLab rotates it itself
      tokens rotate npm-ci --api --otp 123456
      tokens rotate --due               # every overdue token with a rotate_command
      tokens rotate --leaked pypi-foo   # a leaked token: rotate everywhere, then revoke

    \b
    rotate_command in the config (stdout = the new value; TOKENS_NAME, TOKENS_KIND,
    TOKENS_SCOPE, TOKENS_REPOSITORY, TOKENS_PURPOSE are set; a token's own wins):
      [rotate]
      timeout = 120
      [rotate.kind]
      github = "company-mint-token --github"
      [rotate.token]
      npm-ci = ["op", "read", "op://ci/npm-ci/credential"]

    \b
    By API from `rotate --due` (the scheduled job), unattended:
      [rotate]
      api = ["gitlab", "npm"]
      [rotate.npm]
      login = "npm-password"          # an inventory token holding the password
    """
    ui = TerminalDialog(term)
    if otp is not None and not by_api:
        raise UsageError("--otp is for --api (the registry's one-time password); nothing changed")
    if by_api and (due or leaked):
        raise UsageError("--api rotates one NAME: not with --due (see [rotate] api) or --leaked")
    if due:
        if name or leaked:
            raise UsageError("--due rotates every overdue token: give no NAME and no --leaked")
        return workflows.rotate_due(app, ui)
    if not name:
        raise UsageError("missing NAME (or --due)")
    if by_api:
        from tokenward.rotation import api

        return api.rotate_by_api(app, ui, name, otp=otp)
    if leaked:
        return workflows.leak_response(app, ui, name, no_command=no_command, open_page=open_page, yes=yes)
    return workflows.rotate(app, ui, name, no_command=no_command, open_page=open_page, yes=yes)
