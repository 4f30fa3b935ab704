"""Run a child with extra environment, mask secrets in its output, forward signals,
and return its exit status (128+N when it died of signal N)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import BinaryIO

from tokenward.errors import UsageError
from tokenward.masking import Masker

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _pump(source: BinaryIO, sink: BinaryIO, masker: Masker) -> None:
    fd = source.fileno()
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            out = masker.feed(chunk)
            if out:
                sink.write(out)
                sink.flush()
    except OSError:
        pass
    finally:
        tail = masker.flush()
        try:
            if tail:
                sink.write(tail)
            sink.flush()
        except (OSError, ValueError):
            pass


def resolve_command(argv: list[str], env: dict[str, str]) -> str:
    if not argv:
        raise UsageError("no command given: use `tokens exec [OPTIONS] -- COMMAND [ARGS]...`")
    program = argv[0]
    if os.sep in program:
        if not os.access(program, os.X_OK):
            raise UsageError(f"cannot run {program!r}: not an executable file")
        return program
    found = shutil.which(program, path=env.get("PATH"))
    if found is None:
        raise UsageError(f"command not found: {program!r}")
    return found


def run(argv: list[str], env: dict[str, str], secrets: list[str], *, mask: bool = True) -> int:
    executable = resolve_command(argv, env)
    pipes = subprocess.PIPE if mask else None
    child = subprocess.Popen(argv, executable=executable, env=env, stdout=pipes, stderr=pipes)

    previous = {}

    def forward(signum, _frame):
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    if threading.current_thread() is threading.main_thread():
        for signum in FORWARDED:
            previous[signum] = signal.signal(signum, forward)
    try:
        pumps = []
        if mask:
            for source, sink in ((child.stdout, sys.stdout.buffer), (child.stderr, sys.stderr.buffer)):
                thread = threading.Thread(target=_pump, args=(source, sink, Masker(secrets)), daemon=True)
                thread.start()
                pumps.append(thread)
        while True:
            try:
                returncode = child.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - handler replaced above
                continue
        for thread in pumps:
            thread.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - returncode if returncode < 0 else returncode
