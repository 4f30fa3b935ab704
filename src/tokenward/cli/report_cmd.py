"""tokens report --html."""

from __future__ import annotations

import click

from tokenward.cli.common import pass_app

CONTEXT = {"help_option_names": ["-h", "--help"]}

store_option = click.option(
    "--store",
    "store_name",
    metavar="STORE",
    default=None,
    help="Team mode: from this Vault/AWS store's metadata instead of the local inventory.",
)
quiet_option = click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for the scheduled job).")


def records_for(app, term, store_name: str | None):
    """The records to show and where they came from: the local inventory, or in team
    mode a store's metadata, read exactly as `tokens remind --store` reads it."""
    if not store_name:
        return app.inventory.all(), "local"
    from tokenward.cli.remind_cmd import _team_records

    records, warnings, _ = _team_records(app, store_name)
    for warning in warnings:
        term.warn(warning)
    return records, f"store:{store_name}"


@click.command(context_settings=CONTEXT)
@click.option("--html", "html_file", metavar="FILE", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="Write the page to FILE (`-` for stdout).")
@store_option
@quiet_option
@pass_app
def report(app, term, html_file, store_name, quiet):
    """Write one self-contained HTML page of every token's state.

    Status counts, a timeline of the next deadlines and the table of tokens, from
    the inventory alone (no store, no network) or, with --store, from a team store's
    metadata. The page loads nothing: inline CSS and SVG, no script, and a Content
    Security Policy that forbids fetching anything. Never a value.

    \b
    Example:
      tokens report --html tokens.html
    """
    from tokenward import report_html
    from tokenward.duedates import write_output

    records, source = records_for(app, term, store_name)
    page = report_html.render(records, now=app.now, warn_before=app.config.warn_before, source=source)
    data = page.encode("utf-8", "replace")
    if html_file == "-":
        click.echo(page, nl=False)
        return 0
    path = write_output(html_file, data)
    if not quiet:
        term.note(f"Wrote {path} ({len(records)} tokens, {len(data):,} bytes).")
    return 0
