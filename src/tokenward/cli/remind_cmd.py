"""tokens remind."""

from __future__ import annotations

import click

from tokenward import remind as reminder
from tokenward.cli.common import json_option, pass_app
from tokenward.errors import ConfigError, ExitStatus, TokenwardError, UsageError
from tokenward.policy import parse_period

CHANNELS = ("webhook", "email", "desktop")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--within", metavar="PERIOD", default=None, help="Count tokens due within PERIOD as due soon, e.g. 30d [default: defaults.warn_before].")
@click.option(
    "--notify",
    "channels",
    multiple=True,
    type=click.Choice(CHANNELS),
    help="Send to this channel too (repeatable) [default: defaults.notify]. Configure it under [notify.CHANNEL].",
)
@click.option("--no-notify", is_flag=True, help="Only print the report, even when defaults.notify names channels.")
@click.option("--store", "store_name", metavar="STORE", default=None, help="Team mode: build the report from this Vault/AWS store's metadata instead of the local inventory.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when no token needs attention (cron mails any output).")
@click.option("--verify", "verify_first", is_flag=True, help="Ask each token's registry first, as `tokens verify` does (network; reads values; each request ends within 15 s, retry waits add at most 10 s per token).")
@json_option
@pass_app
def remind(app, term, within, channels, no_notify, store_name, quiet, as_json, verify_first):
    """Report expired, overdue and due-soon tokens; for cron, systemd timers and CI.

    Reads the local inventory only: no store and no network, unless a channel
    needs them (a webhook POST; email reads its SMTP password token from its
    store) or --verify asks the registries first (a registry it cannot reach
    is a warning; the report then uses what the inventory knew). Each channel is sent only what is news: a token whose status got
    worse, or whose last reminder is older than the channel's `repeat` (1d).

    Revoked and invalid tokens (see `tokens verify`) are reported like expired ones.
    The report ends with the number of tokens `tokens audit` finds unused or
    user-wide but used for few projects (counted offline; --json:
    audit_findings); they do not change the exit status.

    Exit status: 1 when any token is revoked, invalid, overdue or expired, 3 when a notification
    could not be delivered, else 0.

    \b
    Examples:
      tokens remind --within 30d
      tokens remind --notify webhook --notify email
      tokens remind --store vault --json      # one job reminds the whole team
    """
    warn_before = parse_period(within, what="--within period") if within else app.config.warn_before
    chosen = [] if no_notify else list(dict.fromkeys(channels or app.config.default_notify))
    options = {}
    if chosen:  # notify's imports (socket, subprocess) cost ~13 ms: only when notifying
        from tokenward import notify

        options = {channel: notify.channel_options(app.config, channel) for channel in chosen}

    if verify_first:
        if store_name:
            raise UsageError("--verify reads values from the local inventory's stores; it cannot be used with --store")
        from tokenward.registries.checks import carry_to_stores, verify_tokens

        run = verify_tokens(app)
        for warning in run.warnings + carry_to_stores(app, run.checks):
            term.warn(warning)
        for check in run.checks:
            if check.verdict.result == "unreachable":
                term.warn(f"{check.record.name}: not verified: {check.verdict.reason}")

    entries: dict = {}
    if store_name:
        records, warnings, entries = _team_records(app, store_name)
        source = f"store:{store_name}"
    else:
        # --json and notifications carry full records; the text report needs only summary rows.
        records = app.inventory.all() if as_json or chosen else None
        warnings, source = [], "local"
    _check_password_token(app, options, entries)
    for warning in warnings:
        term.warn(warning)

    if records is None:
        groups = reminder.build_fast(app.inventory.summaries(stores=False), app.now, warn_before)
    else:
        groups = reminder.build(records, app.now, warn_before)
    deliveries = []
    if chosen:
        deliveries = notify.deliver(
            groups,
            chosen,
            config=app.config,
            data_dir=app.data_dir,
            now=app.now,
            source=source,
            smtp_password=lambda token: _read_password(app, token, store_name, entries),
        )

    # What `tokens audit` would find without the network (unused, user-wide tokens): counted
    # from the local inventory and audit log only, never in team mode.
    obsolete = None
    if not store_name:
        from tokenward.obsolete import offline_count

        try:
            obsolete = offline_count(app)
        except (TokenwardError, OSError) as exc:  # an unreadable audit log must not stop the reminder
            term.warn(f"audit findings not counted: {getattr(exc, 'strerror', None) or exc}")
    if as_json:
        data = reminder.as_json(groups, app.now)
        data["source"] = source
        data["notifications"] = [d.as_json() for d in deliveries]
        data["audit_findings"] = obsolete
        term.json(data)
    elif not quiet or any(groups.values()):
        term.echo(reminder.as_text(groups) + reminder.audit_note(obsolete))
    failed = False
    for d in deliveries:
        if d.error:
            failed = True
            term.warn(f"notification by {d.channel} failed: {d.error}")
        elif d.sent:
            term.note(f"Notified by {d.channel}: {', '.join(d.sent)}.")
            if d.refused:  # partial delivery: some recipients never got it
                failed = True
                refused = "; ".join(f"{address} ({reply})" for address, reply in d.refused.items())
                term.warn(f"notification by {d.channel} did not reach every recipient; refused: {refused}")
        elif d.held and not quiet:
            term.note(f"Nothing new for {d.channel}: {', '.join(d.held)} already notified.")
    if failed:
        return int(ExitStatus.STORE)
    return int(ExitStatus.FINDINGS) if reminder.needs_action(groups) else 0


def _team_records(app, store_name: str):
    from tokenward.stores.base import MetadataStore

    config = app.config.store(store_name)  # unknown store: exit 2
    store = app.store(store_name)
    if not isinstance(store, MetadataStore):
        raise UsageError(f"store {store_name!r} (a {config.type}) carries no metadata; team mode needs a vault or aws store")
    entries = store.list_entries()
    records, warnings = reminder.records_from_entries(entries, store_name)
    return records, warnings, entries


def _check_password_token(app, options: dict, entries: dict) -> None:
    """An email channel's password token must exist before anything is sent."""
    token = options.get("email", {}).get("password_token")
    if not token or token in entries:
        return
    if app.inventory.find(token) is None:
        raise ConfigError(
            f"{app.config.where}: notify.email.password_token names {token!r}, which is not in the inventory"
            " (add it with `tokens add`)"
        )


def _read_password(app, token: str, store_name: str | None, entries: dict) -> str:
    from tokenward import lifecycle

    if store_name and token in entries and app.inventory.find(token) is None:
        return app.store(store_name).get(token)
    return lifecycle.get_value(app, token)[0]
