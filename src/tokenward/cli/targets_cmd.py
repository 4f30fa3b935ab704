"""push, targets: CI secrets that hold a token (targets/)."""

from __future__ import annotations

import click

from tokenward.cli.common import json_option, pass_app
from tokenward.errors import ExitStatus


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[TARGET]...")
@click.option("--dry-run", is_flag=True, help="Show what would be pushed; read no value, send nothing.")
@json_option
@pass_app
def push(app, term, names, dry_run, as_json):
    """Write each target's token to its CI secret (all targets without TARGET).

    Targets are [targets.NAME] tables in the config: a GitHub Actions secret
    (repository or environment; the value sealed with its public key, fetched
    on each push) or a GitLab CI project variable (created when absent,
    updated otherwise). Each target's `auth` token, from the inventory, calls
    the CI API. The value is read from the token's stores and never printed.
    `tokens rotate` pushes by itself; this is for new targets and failed ones.
    A token whose shared store (Vault, AWS) another machine rotated since this
    one's last sync is refused (exit 3, nothing pushed): `tokens sync` first.

    A failing target prints one `Error: target NAME: ...` line and is recorded
    (see `tokens targets`); the others are pushed all the same. Exit status: 0
    all pushed, 2 bad config (unknown target, token or auth token; a value a
    masked GitLab variable cannot hold) before anything is written, 3 any
    target failed.

    \b
    Examples:
      tokens push                    # every target
      tokens push release-pypi --dry-run
    """
    from tokenward.targets.base import cleartext
    from tokenward.targets.push import push_targets, select
    from tokenward.targets.status import target_rows

    chosen = select(app, names)
    for target in chosen:
        warning = cleartext(target)
        if warning:
            term.warn(warning)
    if dry_run:
        rows = {r.name: r for r in target_rows(app)}
        plan = [rows[t.name] for t in chosen]
        if as_json:
            term.json([{**r.as_json(), "action": "push"} for r in plan])
        else:
            for r in plan:
                term.echo(f"would push {r.token} to {r.name} ({r.type} {r.where}; now {r.state})")
            if not plan:
                term.note("No targets configured.")
        return 0
    results = push_targets(app, chosen)
    if as_json:
        # The keys of `sync --json`'s targets; `name` as in `targets --json`.
        term.json([{"name": r.target, "result": "pushed" if r.ok else "failed", "error": r.error} for r in results])
    else:
        done = [r.target for r in results if r.ok]
        if done:
            term.note(f"Pushed to {', '.join(done)}.")
        elif not results:
            term.note("No targets configured.")
    for r in results:
        if not r.ok:
            term.error(r.error or f"target {r.target}: failed")
    return int(ExitStatus.STORE) if any(not r.ok for r in results) else 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@json_option
@pass_app
def targets(app, term, as_json):
    """List the CI targets and whether each holds its token's current value.

    States, from the inventory (a CI secret cannot be read back): current
    (holds the value the token has now), stale (pushed before the token's last
    rotation), never (not pushed from here yet, or pushed to a repo, secret,
    project, variable or scope it no longer names), failed (the last push
    failed; the error is shown). `tokens push` pushes the rest; `tokens sync`
    the stale, failed and re-pointed ones.
    A token in a shared store (Vault, AWS) is checked there first (its version,
    no value): rotated by another machine since this one's last sync, its
    targets are stale here until `tokens sync`.

    \b
    Example:
      tokens targets --json
    """
    from tokenward.sanitize import safe
    from tokenward.targets.base import not_in_inventory
    from tokenward.targets.status import against_shared_stores, target_rows

    rows, warnings = against_shared_stores(app, target_rows(app))
    for warning in warnings:
        term.warn(warning)
    for target in app.config.targets.values():
        for role, name in not_in_inventory(app.inventory, target):
            term.warn(f"target {target.name} names {role} {name!r}, which is not in the inventory: push and rotate refuse it")
    if as_json:
        term.json([r.as_json() for r in rows])
        return 0
    if not rows:
        term.note("No targets configured ([targets.NAME] in the config).")
        return 0
    from tokenward.output import table

    body = [
        [r.name, r.type, r.where, r.token, r.pushed_at.isoformat(timespec="seconds") if r.pushed_at else "-", r.state]
        for r in rows
    ]
    term.echo(table(body, ["NAME", "TYPE", "WHERE", "TOKEN", "PUSHED", "STATE"], term.paint, 5))
    for r in rows:
        if r.error:
            term.note(safe(r.error))
    return 0
