"""tokens import."""

from __future__ import annotations

from pathlib import Path

import click

from tokenward.cli.common import pass_app
from tokenward.errors import UsageError
from tokenward.importers import FORMATS


@click.command("import", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Format of FILE [default: from its name and content].")
@click.option("--from-keyring", is_flag=True, help="Import twine's keyring slots (https://upload.pypi.org/legacy/ and TestPyPI, user __token__).")
@click.option("--scrub", is_flag=True, help="Then remove the imported values from the source and check they are gone (a file keeps a 0600 backup); refused before importing when that cannot be done safely.")
@click.option("--store", "stores", multiple=True, metavar="STORE", help="Store to keep the values in (repeatable) [default: defaults.stores].")
@click.option("--prefix", default="", help="Prefix for the names of the imported tokens.")
@click.option("--name", "rename", default=None, metavar="NAME", help="Name of the token, when the source holds exactly one.")
@click.option("--allow-env", "allow_env", multiple=True, metavar="VAR", help="Let a JSON record's env template set VAR although it is not a variable carrying {value} or a publish tool's username (repeatable; exec needs it too).")
@pass_app
def import_(app, term, file, fmt, from_keyring, scrub, stores, prefix, rename, allow_env):
    """Import tokens from a ~/.pypirc, a .env file, JSON records, or twine's keyring slot.

    A .pypirc section's password becomes a token named after the section, for the
    section's repository URL (`__token__` passwords as PyPI tokens). A .env file's
    token-like variables, and JSON (lines or an array) of objects with at least
    "name" and "value", work the same way. Every entry is checked before anything is
    written. With --scrub the plaintext is removed from the source afterwards (a linked
    file is rewritten where the link points; a file that is not yours, or that changes
    while the import runs, is left alone).

    \b
    Examples:
      tokens import ~/.pypirc --scrub
      tokens import --from-keyring
    """
    from tokenward import importers, rewrite
    from tokenward import scrub as scrubbing

    if from_keyring == (file is not None):
        raise UsageError("give either FILE or --from-keyring")
    if from_keyring and fmt:
        raise UsageError("--format applies to FILE, not --from-keyring")
    source = importers.read_keyring() if from_keyring else importers.read_source(file, fmt, for_scrub=scrub)
    from tokenward.envpolicy import check_allow_names

    allow = check_allow_names(allow_env)
    plan = importers.check(app, source, stores=tuple(stores), rename=rename, prefix=prefix, allow_env=allow)
    done = plan.add + [entry for entry, _existing in plan.present]
    # The rewrite is made ready (and refused) before anything is imported.
    pending = scrubbing.prepare(source, done, app.now) if scrub and not from_keyring else None
    for note in plan.notes:
        term.note(f"Skipped: {note}.")
    try:
        outcomes = importers.apply(app, plan)
    except BaseException:
        if pending:
            pending.abort()
        raise
    for outcome in outcomes:
        for warning in outcome.warnings:
            term.warn(warning)
        r = outcome.record
        scope = f", scope {r.scope}" if r.scope else ""
        term.note(f"Imported {r.name} ({r.kind}{scope}) to {', '.join(outcome.written)}.")
    for note in plan.shared:
        term.warn(note)
    if not outcomes and not plan.present:
        term.note("Nothing to import.")
    if scrub and from_keyring:
        importers.scrub_keyring(done)
        if done:
            term.note(f"Removed {len(done)} token(s) from twine's keyring slots; `tokens exec` hands them to twine now.")
    elif pending:
        try:
            backup = pending.commit()
        except rewrite.FileChanged as exc:
            raise UsageError(f"{exc}: run `tokens import {file} --scrub` again to scrub it") from None
        snap = pending.pending.snap
        term.note(f"Removed {len(pending.values)} value(s) from {rewrite.describe(snap)}; the original is at {backup} (0600): delete it once you have checked.")
        for path, what in ((snap.real, "its history may still hold the value(s): rotate them"), (backup, "do not commit the backup")):
            top = rewrite.in_git_work_tree(path)
            if top is not None:
                term.warn(f"{path} is in the git work tree {top}: {what}.")
    return 0
