"""The click-free fast entry for the two hot commands, and their plain bodies.

`tokens get NAME [--store S]` and `tokens exec [--token NAME] [--no-mask] [--no-narrow]
[--strict] -- COMMAND...` are what scripts and CI run on every publish; importing click
and the CLI around it costs more than the Secret Service read itself (issue 13). So the
entry point first asks `fast_command` whether argv is exactly one of those plain forms;
only then does it run the command here, through the same plain functions the click
commands call (`get_command`, `exec_command` below; the click commands are thin
wrappers over them) and the same error-to-exit mapping (tokenward.exits). Anything
else — another option, `--help`/`-h`, `--debug`, a global option, an option value that
looks like an option, a repeated option, shell completion — returns None and goes to the
click CLI unchanged. tests/test_fast_entry.py runs a table of argv forms through both
entries and compares exit status, stdout and stderr.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

# Commands that change the inventory or the audit log: checked for writability before
# they do anything (a --dry-run changes nothing and is not).
WRITING_COMMANDS = {"add", "rotate", "remove", "sync", "rollback", "import", "exec", "edit", "revoke", "push", "verify"}

_EXEC_FLAGS = {"--no-mask": "no_mask", "--no-narrow": "no_narrow", "--strict": "strict"}


def with_app(config_file: str | None, command_name: str, func: Callable, /, *args, **kwargs):
    """Hand `func` a loaded App and a Terminal; close the inventory afterwards."""
    from tokenward.app import App
    from tokenward.output import Terminal

    app = App.load(config_file)
    try:
        if command_name in WRITING_COMMANDS and not kwargs.get("dry_run"):
            app.check_writable()
        return func(app, Terminal.detect(), *args, **kwargs)
    finally:
        app.close()


def get_command(app, term, name: str, store: str | None) -> int:
    """`tokens get`: the value on stdout (a newline only on a terminal)."""
    from tokenward.lifecycle import get_value

    value, _source, warnings = get_value(app, name, store)
    for warning in warnings:
        term.warn(warning)
    term.out.write(value + ("\n" if term.out.isatty() else ""))
    return 0


def exec_command(app, term, token: str | None, no_mask: bool, no_narrow: bool, strict: bool, allow_env, command, trusted=None) -> int:
    """`tokens exec`: plan (which token, which variables), announce, run the child.
    `trusted`: --trusted-publishing (True) / --no-trusted-publishing (False) / neither (None)."""
    from tokenward.envpolicy import check_allow_names
    from tokenward.execute import plan_exec, run_exec

    argv = list(command)
    plan = plan_exec(
        app, token, argv, strict=strict, narrow=not no_narrow, allow_env=check_allow_names(allow_env), trusted=trusted,
        warn=term.warn,
    )  # fmt: skip
    target = plan.target
    if plan.minted is not None:
        import time

        from tokenward.trusted import announce

        term.note(announce(plan.minted, target, time.time()))
    else:
        where = f" for {target.repository}" if target.publishes and target.repository else ""
        if target.source and target.source != "default":
            where += f" ({target.source})"
        if plan.narrowed:
            term.note(f"tokens: using {plan.token}{where}, narrowed to {', '.join(target.projects)} for 15 minutes")
        elif token is None:
            term.note(f"tokens: using {plan.token}{where}")
    return run_exec(app, plan, argv, mask=not no_mask, warn=term.warn, error=term.error)


def _plain_value(value: str) -> bool:
    """An option value or NAME taken with certainty: not empty, not option-like."""
    return bool(value) and not value.startswith("-")


def _parse_get(args: list[str]) -> dict | None:
    if len(args) == 1:
        name, store = args[0], None
    elif len(args) == 2 and args[1].startswith("--store="):
        name, store = args[0], args[1][len("--store=") :]
    elif len(args) == 3 and args[1] == "--store":
        name, store = args[0], args[2]
    else:
        return None
    if not _plain_value(name) or (store is not None and not _plain_value(store)):
        return None
    return {"name": name, "store": store}


def _parse_exec(args: list[str]) -> dict | None:
    if "--" not in args:
        return None
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    if not command:
        return None
    parsed: dict = {"token": None, "no_mask": False, "no_narrow": False, "strict": False}
    seen: set[str] = set()
    i = 0
    while i < len(options):
        arg = options[i]
        if arg in _EXEC_FLAGS:
            key, i = _EXEC_FLAGS[arg], i + 1
            value: object = True
        elif arg == "--token" and i + 1 < len(options):
            key, value, i = "token", options[i + 1], i + 2
        elif arg.startswith("--token="):
            key, value, i = "token", arg[len("--token=") :], i + 1
        else:
            return None
        if key in seen or (key == "token" and not _plain_value(value)):  # type: ignore[arg-type]
            return None
        seen.add(key)
        parsed[key] = value
    parsed["command"] = tuple(command)
    return parsed


def fast_command(args: list[str], environ: Mapping[str, str] = os.environ) -> tuple[str, Callable[[], int]] | None:
    """(command name, a call running it) when `args` is a form taken here; else None."""
    if len(args) < 2 or "_TOKENS_COMPLETE" in environ:
        return None
    config_file = environ.get("TOKENS_CONFIG") or None  # as click reads the --config envvar
    if args[0] == "get":
        parsed = _parse_get(args[1:])
        if parsed is None:
            return None
        return "get", lambda: with_app(config_file, "get", get_command, parsed["name"], parsed["store"])
    if args[0] == "exec":
        parsed = _parse_exec(args[1:])
        if parsed is None:
            return None
        return "exec", lambda: _run_exec(config_file, parsed)
    return None


def _run_exec(config_file: str | None, parsed: dict) -> int:
    return with_app(
        config_file, "exec", exec_command, parsed["token"], parsed["no_mask"], parsed["no_narrow"], parsed["strict"],
        (), parsed["command"],
    )  # fmt: skip


def run_fast(args: list[str]) -> None:
    """Run `args` here and exit when it is a fast form; return when it is not."""
    found = fast_command(args)
    if found is None:
        return
    name, invoke = found
    from tokenward.exits import is_debug, run

    try:
        run(_as_click_would(invoke), debug=is_debug(args), keeps_status=lambda: name == "exec")
    except SystemExit as done:
        _exit_now(done.code)


def _exit_now(code: object) -> None:
    """Exit without the interpreter's teardown of every loaded module (a few ms of each
    `get`/`exec`, README "Performance"): by now the work is done and recorded — the
    inventory is closed, the audit line written and its descriptor closed, the output
    flushed and its errors reported (exits.run) — and nothing of ours registers atexit
    work. Only a status other than an int falls back to sys.exit's own handling."""
    if code is not None and not isinstance(code, int):
        raise SystemExit(code)
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # noqa: BLE001 - as at the interpreter's own exit: nothing more to report it on
            pass
    os._exit(code or 0)


def _as_click_would(invoke: Callable[[], int]) -> Callable[[], int]:
    """What click.Command.main adds around a command: a blank line on stderr before a
    Ctrl-C or EOF is reported, and a broken pipe ending the run with status 1."""

    def call() -> int:
        import sys

        try:
            return invoke()
        except (EOFError, KeyboardInterrupt):
            from tokenward.exits import echo_err

            echo_err("")
            raise KeyboardInterrupt from None
        except OSError as exc:
            import errno

            if exc.errno != errno.EPIPE:
                raise
            from tokenward.exits import silence_stdout

            silence_stdout()
            sys.exit(1)

    return call
