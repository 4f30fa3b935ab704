"""tokens schedule install | remove | print."""

from __future__ import annotations

import shutil

import click

from tokenward import schedule as sched
from tokenward.errors import UsageError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _job_options(func):
    func = click.option("--notify", "channels", multiple=True, type=click.Choice(("webhook", "email", "desktop")), help="Channel the job notifies (repeatable) [default: defaults.notify].")(func)
    func = click.option("--store", "store", metavar="STORE", default=None, help="Team mode: remind from this Vault/AWS store's metadata.")(func)
    func = click.option("--at", "at", metavar="HH:MM", default="09:00", show_default=True, help="Time of day to run (local time; UTC on GitHub).")(func)
    func = click.option("--calendar", "calendar", metavar="PATH", default=None, type=click.Path(dir_okay=False), help="Also refresh this iCalendar feed (`tokens calendar`) every day, for a calendar app to subscribe to.")(func)
    return func


def _config_file(ctx: click.Context) -> str | None:
    return (ctx.find_root().obj or {}).get("config_file")


def _job(ctx: click.Context, at: str, store: str | None, channels: tuple[str, ...], *, quiet: bool, calendar: str | None = None) -> tuple[sched.Job, str | None]:
    """Check the job's options against the config before anything is written."""
    from tokenward import notify
    from tokenward.config import load_config

    config_file = _config_file(ctx)
    config = load_config(config_file)
    store_type = None
    if store:
        from tokenward.stores.base import MetadataStore, open_store

        store_type = config.store(store).type
        if not isinstance(open_store(config.store(store)), MetadataStore):
            raise UsageError(f"store {store!r} (a {store_type}) carries no metadata; --store needs a vault or aws store")
    for channel in channels:
        notify.channel_options(config, channel)
    job = sched.make_job(at, store=store, channels=channels, config_file=config_file or (str(config.path) if config.path else None), quiet=quiet, calendar=calendar)
    return job, store_type


@click.group(context_settings=CONTEXT)
def schedule():
    """Install, remove or print the daily `tokens remind` job.

    \b
    Examples:
      tokens schedule install                 # systemd user timer, else crontab
      tokens schedule install --cron --at 08:30 --notify email
      tokens schedule print --github-actions --store vault > .github/workflows/token-reminder.yml
    """


@schedule.command(context_settings=CONTEXT)
@click.option("--systemd", "kind", flag_value="systemd", help="A systemd user service + timer (Persistent=true).")
@click.option("--cron", "kind", flag_value="cron", help="A line in your crontab.")
@_job_options
@click.pass_context
def install(ctx, kind, at, store, channels, calendar):
    """Install the daily reminder for the current user. Running it again changes nothing.

    Without --systemd or --cron: a systemd user timer when a user manager runs
    in this session, else a crontab line.

    \b
    Example:
      tokens schedule install --systemd --at 08:30 --notify desktop
      tokens schedule install --calendar ~/Calendars/tokens.ics
    """
    sched.parse_at(at)  # bad input first, wherever this runs
    if kind is None:
        if sched.systemd_user_available():
            kind = "systemd"
        elif shutil.which("crontab"):
            kind = "cron"
        else:
            raise UsageError("no systemd user manager and no crontab here; use `tokens schedule print --github-actions` or run `tokens remind` from your own scheduler")
    job, _ = _job(ctx, at, store, channels, quiet=kind == "cron", calendar=calendar)
    if calendar:  # the feed exists from now on, so a calendar can subscribe at once
        from tokenward.cli.calendar_cmd import calendar as write_calendar

        ctx.invoke(write_calendar, output=job.before[0][job.before[0].index("--output") + 1], store_name=store, quiet=True)
    if kind == "systemd":
        change = sched.install_systemd(job)
        where = f"systemd user timer {sched.UNIT}.timer, daily at {job.at}"
    else:
        change = sched.install_cron(job)
        where = f"crontab line, daily at {job.at}"
    if change.changed:
        click.echo(f"Installed the reminder ({where}): wrote {', '.join(change.changed)}.", err=True)
    else:
        click.echo(f"The reminder is already installed ({where}); nothing changed.", err=True)
    if change.activated:
        click.echo(f"Enabled {sched.UNIT}.timer.", err=True)
    if change.hint:
        click.echo(f"Note: {change.hint}", err=True)
    for warning in change.warnings:
        click.echo(f"Warning: {warning}", err=True)
    return 0


@schedule.command(context_settings=CONTEXT)
@click.option("--systemd", "kind", flag_value="systemd", help="Only the systemd units.")
@click.option("--cron", "kind", flag_value="cron", help="Only the crontab line.")
def remove(kind):
    """Remove the installed reminder (both kinds unless one is named).

    \b
    Example:
      tokens schedule remove
    """
    removed: list[str] = []
    if kind in (None, "systemd"):
        removed += sched.remove_systemd().changed
    if kind in (None, "cron"):
        removed += sched.remove_cron().changed
    if removed:
        click.echo(f"Removed the reminder: {', '.join(removed)}.", err=True)
    else:
        click.echo("No reminder was installed; nothing changed.", err=True)
    return 0


@schedule.command("print", context_settings=CONTEXT)
@click.option("--systemd", "kind", flag_value="systemd", default=True, help="The systemd user units [default].")
@click.option("--cron", "kind", flag_value="cron", help="The crontab line.")
@click.option("--github-actions", "kind", flag_value="github-actions", help="A GitHub Actions workflow (team mode).")
@click.option("--install", "install", metavar="SPEC", default=None, help="With --github-actions (required): where the runner installs tokenward from, pinned: tokenward==X.Y.Z, git+https://HOST/OWNER/REPO@<40-hex commit>, or a path in the repository. An unpinned name is refused.")
@_job_options
@click.pass_context
def print_(ctx, kind, at, store, channels, calendar, install):
    """Print the job instead of installing it: the units, the line, or a workflow.

    The workflow installs tokenward only from where --install says, pinned, and
    refuses --notify desktop (a runner has no desktop).

    \b
    Example:
      tokens schedule print --github-actions --store vault --notify webhook --install tokenward==0.9.0
    """
    if calendar and kind == "github-actions":
        raise UsageError("--calendar writes a file on this machine; it has no meaning in a GitHub Actions workflow")
    if install is not None and kind != "github-actions":
        raise UsageError("--install is for --github-actions only")
    if kind == "github-actions":
        sched.check_install_spec(install)
        if "desktop" in channels:
            raise UsageError("--notify desktop has no desktop on a GitHub Actions runner; use webhook or email")
    job, store_type = _job(ctx, at, store, channels, quiet=kind == "cron", calendar=calendar)
    if kind == "systemd":
        for filename, text in sched.systemd_units(job).items():
            click.echo(f"# {sched.unit_dir() / filename}\n{text}")
    elif kind == "cron":
        click.echo(sched.cron_line(job))
    else:
        click.echo(sched.github_workflow(job, store=store, store_type=store_type, install=install), nl=False)
    return 0
