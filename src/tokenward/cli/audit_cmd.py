"""tokens audit: stored tokens that are no longer needed (obsolete.py)."""

from __future__ import annotations

import click

from tokenward.cli.common import json_option, pass_app

TITLES = {
    "trusted-publishing": "Made obsolete by trusted publishing",
    "unused": "Unused",
    "user-wide": "User-wide, but used for few projects",
}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@json_option
@pass_app
def audit(app, term, as_json):
    """Find stored tokens that are no longer needed, each with the step to retire it.

    \b
    Findings:
      trusted-publishing  a PyPI/TestPyPI token whose projects' latest releases
                          were all uploaded through a trusted publisher (every
                          file has a provenance naming one): the projects of
                          its caveats, or for a user-wide token the projects
                          its uses uploaded (audit log)
      unused              no use by `tokens exec` for longer than
                          [defaults] unused_after (180d), or never used and
                          added longer ago than that (never a token a
                          [targets.*] table, notify.email or
                          [rotate.npm] login names: it is used where
                          tokenward cannot see)
      user-wide           a user-wide PyPI/TestPyPI token whose uses uploaded
                          only 1 to 3 projects: project-scoped tokens would do

    The retire step is `tokens revoke NAME` where the registry revokes by API,
    else the registry's token page (PyPI has no revoke API): revoke it there,
    then `tokens revoke NAME --yes` records it and audit stops reporting it.
    A PyPI token of another index than pypi.org or test.pypi.org: "revoke it
    where it was issued (HOST)".
    A kind without a known registry: `tokens remove NAME` once revoked where
    it was issued.

    Reads no token value. Asks the index of each PyPI token (the one
    [trusted_publishing.index] maps its upload URL to, else pypi.org,
    test.pypi.org, else its repository's host) through its public JSON and
    Integrity APIs, with no token: each project once, at most 8 requests at a
    time, each ending within 15 s. A token is judged by at most 50 projects
    (its 50 most recent, or its first 50 caveats; the finding says so), and
    no more is asked about it once one project keeps it; a run sends at most
    5,000 requests (a token left unchecked then says so, exit 3). The other
    two findings need no network; `tokens remind` counts them from the last
    MiB of the audit log.

    --json prints an array of objects with the keys name, finding, detail
    and retire.

    Exit status: 0 nothing found, 1 findings, 3 when an index could not be
    asked for a finding it needed (named on stderr; 3 wins over 1).

    \b
    Examples:
      tokens audit
      tokens audit --json
    """
    from tokenward.obsolete import WHERE_ISSUED, run_audit
    from tokenward.sanitize import safe

    run = run_audit(app)
    for warning in run.warnings:
        term.warn(warning)
    if as_json:
        term.json([f.as_json() for f in run.findings])
    elif not run.findings:
        term.echo("No obsolete tokens found." if not run.unchecked else "No obsolete tokens found among those checked.")
    else:
        lines: list[str] = []
        for finding, title in TITLES.items():
            items = [f for f in run.findings if f.finding == finding]
            if not items:
                continue
            lines.append(f"{title} ({len(items)}):")
            for f in items:
                lines.append(f"  {safe(f.name)} ({safe(f.kind)}): {safe(f.detail)}")
                how = f.retire
                if how.startswith("tokens remove "):  # no known registry: where it was issued
                    how = f"revoke it where it was issued, then `{how}`"
                elif how.startswith(WHERE_ISSUED):  # an index whose token page we do not know
                    how = f"{how}, then `tokens revoke {f.name} --yes` records it"
                elif not how.startswith("tokens "):  # the registry's page: tell tokenward afterwards
                    how = f"revoke it at {how}, then `tokens revoke {f.name} --yes` records it"
                lines.append(f"    -> {safe(how)}")
        term.echo("\n".join(lines))
    for line in run.unchecked:
        term.error(line)
    return run.exit_status
