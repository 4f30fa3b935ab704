"""tokens sync, tokens rollback."""

from __future__ import annotations

import click

from tokenward.cli.common import json_option, pass_app
from tokenward.errors import ExitStatus

CTX = {"help_option_names": ["-h", "--help"]}


@click.command(context_settings=CTX)
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--prefer", metavar="STORE", default=None, help="Settle conflicts with this store's value.")
@click.option("--discover", is_flag=True, help="Add tokens found in Vault/AWS stores to this inventory.")
@click.option("--verify", is_flag=True, help="Read every value, the keyring's too, instead of trusting metadata (slow).")
@json_option
@pass_app
def sync(app, term, names, dry_run, prefer, discover, verify, as_json):
    """Make every store of each token hold its newest value.

    The newest rotated_at wins; stores with equal fingerprints are in sync.
    Different values with no order between them (say, one changed by hand in
    AWS) are a conflict: reported and left alone unless --prefer STORE. Nothing
    is ever deleted. The plan is printed first; --dry-run stops there.

    Then every CI target ([targets.NAME]) that is stale (holds a value from
    before the token's last rotation) or whose last push failed gets the
    token's current value; a target that fails is one `Error:` line (exit 1,
    like a store that failed). Targets never pushed are left to `tokens push`.

    \b
    Example:
      tokens sync --dry-run
      tokens sync pypi-foo --prefer vault
      tokens sync --discover        # a new machine joins the team inventory
    """
    from tokenward.sync import Sync, to_json
    from tokenward.sync.report import error_lines, plan_lines, push_error_lines, result_lines, summary_line

    progress = None
    if not as_json and term.err.isatty():

        def progress(done: int, total: int) -> None:
            width = 30
            filled = width * done // total if total else width
            end = "\n" if done >= total else ""
            term.err.write(f"\rSyncing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} tokens{end}")
            term.err.flush()

    def show_plan(report) -> None:
        if as_json:
            return
        for error in error_lines(report):
            term.note(f"Error: {error}")
        lines = plan_lines(report) + [f"  {t}  push: stale or failed CI target" for t in report.pending_targets]
        if lines:
            term.echo("Plan:")
            for line in lines:
                term.echo(line)
        elif report.plans:
            term.echo("Nothing to do: every store holds each token's newest value.")

    runner = Sync(app, names, prefer=prefer, discover=discover, verify=verify, progress=progress)
    report = runner.run(dry_run=dry_run, on_plan=show_plan)
    if as_json:
        term.json(to_json(report))
        return report.exit_status if dry_run else max(report.exit_status, _finish_api_rotations(app, term, names)[0])
    # Interrupted API rotations are finished before the summary, which counts those that failed:
    # the summary is the last word and never says "0 failed" above an exit status 3.
    api_status, api_failed = (0, 0) if dry_run else _finish_api_rotations(app, term, names)
    if not dry_run:
        for line in result_lines(report):
            term.echo(line)
        for line in push_error_lines(report):
            term.note(f"Error: {line}")
    if report.undiscovered:
        term.note(
            f"{report.undiscovered} tokens in remote stores are not in this inventory; `tokens sync --discover` adds them."
        )
    for warning in report.all_warnings:
        term.note(f"Warning: {warning}")
    if report.skipped_remote:
        term.note(f"Skipped {len(report.skipped_remote)} remote secrets without tokenward metadata or a valid name.")
    if not report.plans:
        term.echo("No tokens to sync." if not discover else "No tokens found.")
    else:
        term.echo(summary_line(report, also_failed=api_failed))
    if report.exit_status and any(p.status == "conflict" for p in report.plans) and not prefer:
        term.note("Conflicts were left alone; settle each with `tokens sync NAME --prefer STORE`.")
    return max(report.exit_status, api_status)


def _finish_api_rotations(app, term, names) -> tuple[int, int]:
    """Rotations by API (`rotate --api`) that were interrupted: finished after the stores
    are in sync (the new value to every target, verified, the old one revoked).
    (exit status, how many of them failed)."""
    from tokenward.rotation import api_journal

    pending = [n for n in api_journal.pending(app.data_dir) if not names or n in names]
    if not pending:
        return 0, 0
    from tokenward.cli.dialog import TerminalDialog
    from tokenward.errors import TokenwardError
    from tokenward.rotation import api

    status = failed = 0
    for name in pending:
        try:
            resumed = api.resume(app, TerminalDialog(term), name) or 0
        except TokenwardError as exc:
            term.note(f"Error: the interrupted API rotation of {name} is not finished: {exc}")
            resumed = int(ExitStatus.STORE)
        status = max(status, resumed)
        failed += bool(resumed)
    return status, failed


@click.command(context_settings=CTX)
@click.argument("name")
@pass_app
def rollback(app, term, name):
    """Restore a token's previous value in every store.

    The value before the last rotation is read from a store that keeps versions
    (Vault, AWS) and written everywhere as a new rotation, so `sync` carries it
    to other machines; then pushed to the token's CI targets, as `tokens rotate`
    does (a target that fails: one `Error:` line, exit 3; `tokens push` retries).

    \b
    Example:
      tokens rollback pypi-foo
    """
    from tokenward.cli.dialog import TerminalDialog
    from tokenward.lifecycle import rollback_token
    from tokenward.rotation.workflows import push_targets

    outcome, source, before, value = rollback_token(app, name)
    term.note(f"Rolled {name} back to its previous value (read from {source}); now in {', '.join(outcome.written)}.")
    status = 0
    if outcome.failed:
        for message in outcome.failed.values():
            term.note(f"Error: {message}")
        term.note(f"Not yet written to {', '.join(outcome.failed)}: `tokens sync {name}` finishes it.")
        status = int(ExitStatus.STORE)
    if not push_targets(app, TerminalDialog(term), name, value):
        status = int(ExitStatus.STORE)
    if not outcome.failed:
        term.note(_revoke_hint(before))
    return status


def _revoke_hint(before) -> str:
    """The value rolled back *from* is the one to revoke; the restored one stays in use."""
    from tokenward.tokens import TOKEN_PAGE

    page = TOKEN_PAGE.get(before.kind)
    where = f"at {page}" if page else "where it was issued"
    since = before.rotated_at.date().isoformat()
    return (
        f"If the value you rolled back from leaked, revoke that {before.kind} token {where}: the one in use since "
        f"{since}. Do not revoke the restored one: it is in use again."
    )
