"""tokens exec."""

from __future__ import annotations

import click

from tokenward.cli.common import pass_app
from tokenward.fastpath import exec_command


@click.command(
    "exec",
    context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--token", "token", metavar="NAME", default=None, help="The token to use [default: chosen from the command].")
@click.option("--no-mask", is_flag=True, help="Do not mask the value in the command's output (hands it the real streams).")
@click.option("--no-narrow", is_flag=True, help="Hand a PyPI token as stored, not a copy narrowed to the projects and 15 minutes.")
@click.option("--strict", is_flag=True, help="Refuse an overdue token instead of warning.")
@click.option("--allow-env", "allow_env", multiple=True, metavar="VAR", help="Let the token's env template set VAR although it is outside what a template may set (BASH_ENV, LD_PRELOAD, constants, ...; repeatable). Never unlocks a variable that changes where the token goes (URLs, proxies, CA bundles).")
@click.option(
    "--trusted-publishing",
    "trusted_on",
    is_flag=True,
    help="For this run: require a token minted from the CI's OIDC identity (no stored token) "
    "[default: [trusted_publishing] mode, \"prefer\": mint in CI where the upload URL has a minting index].",
)
@click.option("--no-trusted-publishing", "trusted_off", is_flag=True, help="For this run: never mint a token; stored tokens only.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]...")
@pass_app
def exec_(app, term, token, no_mask, no_narrow, strict, allow_env, trusted_on, trusted_off, command):
    """Run COMMAND with the right token in its environment, and nowhere else.

    Without --token, the token is chosen from the command line: the tool (twine, uv,
    poetry, hatch, flit, pdm, npm, cargo, gh), the repository it uploads to, and the
    projects in the dist files; the narrowest token that covers them wins. The
    repository is read from every source the tool reads (its options, with its own
    abbreviation rules; its variables; its config files), in the tool's order; when it
    cannot be told for certain, exec refuses unless --token names the token.

    Each tool gets the variables it reads (twine: TWINE_USERNAME=__token__ and
    TWINE_PASSWORD; uv: UV_PUBLISH_TOKEN; ...). An upload to PyPI or TestPyPI gets a
    copy of the token narrowed to those projects for 15 minutes. The value is masked as
    **** in the command's output. Exits with the command's exit status.

    Trusted publishing: in CI with an OIDC identity (GitHub Actions, GitLab CI, ...),
    an upload to PyPI, TestPyPI or crates.io gets a short-lived token minted by the
    registry instead of a stored one: masked, audited, never stored; crates.io's is
    revoked when the command exits. npm mints its own: exec sets no token. A refused
    exchange falls back to a stored token (mode "prefer") or stops (exit 3).

    \b
    Examples:
      tokens exec -- twine upload dist/*
      tokens exec --token pypi-foo -- uv publish
    """
    if trusted_on and trusted_off:
        from tokenward.errors import UsageError

        raise UsageError("--trusted-publishing and --no-trusted-publishing contradict each other: give one of them")
    trusted = True if trusted_on else (False if trusted_off else None)
    return exec_command(app, term, token, no_mask, no_narrow, strict, allow_env, command, trusted)
