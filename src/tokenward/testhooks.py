"""Test-only crash points: the crash tests (tests/test_crashes.py) kill `tokens` with
SIGKILL at a named point to prove that an interrupted rotate or sync loses nothing.

Inert unless $TOKENWARD_TEST_CRASH_AT is set (`POINT` or `POINT#N`: the Nth time the
point is reached); nothing in tokenward sets it.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get("TOKENWARD_TEST_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition("#")
    if point == name:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)


def pause_point(name: str) -> None:
    """Test-only: with $TOKENWARD_TEST_PAUSE_AT = NAME and $TOKENWARD_TEST_PAUSE_DIR set,
    announce arrival (a file `reached-PID`) and wait until the test creates `go`, so a
    test can make two machines reach the same point before either goes on."""
    if os.environ.get("TOKENWARD_TEST_PAUSE_AT") != name:
        return
    import time
    from pathlib import Path

    where = Path(os.environ["TOKENWARD_TEST_PAUSE_DIR"])
    (where / f"reached-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (where / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
