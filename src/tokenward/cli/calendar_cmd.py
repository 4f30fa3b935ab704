"""tokens calendar."""

from __future__ import annotations

import click

from tokenward.cli.common import pass_app
from tokenward.cli.report_cmd import CONTEXT, quiet_option, records_for, store_option


@click.command(context_settings=CONTEXT)
@click.option("-o", "--output", "output", metavar="FILE", default="-", type=click.Path(dir_okay=False, allow_dash=True), help="Write the feed to FILE [default: stdout].")
@store_option
@quiet_option
@pass_app
def calendar(app, term, output, store_name, quiet):
    """Write an iCalendar feed of every token's deadline (RFC 5545).

    One all-day event per token on its effective deadline (rotation due, expiry or
    the registry's expiry: the earliest), an alarm `defaults.warn_before` ahead, and
    a UID that stays the same across rotations, so a calendar that re-imports or
    subscribes to the file moves the event instead of adding one. Names, kinds and
    purposes only; never a value. `tokens schedule install --calendar FILE`
    refreshes the file every day.

    \b
    Examples:
      tokens calendar --output ~/tokens.ics
      tokens calendar --store vault -o team-tokens.ics
    """
    from tokenward.calendar_feed import build_feed
    from tokenward.duedates import write_output

    records, source = records_for(app, term, store_name)
    name = "tokenward: token deadlines" if source == "local" else f"tokenward: token deadlines ({store_name})"
    feed = build_feed(
        records, warn_before=app.config.warn_before, now=app.now, data_dir=app.data_dir, source=source, name=name
    )
    if feed.warning:
        term.warn(feed.warning)
    if output == "-":
        click.echo(feed.data.decode("utf-8"), nl=False)
        return 0
    path = write_output(output, feed.data)
    if not quiet:
        term.note(f"Wrote {feed.events} events to {path}.")
    return 0
