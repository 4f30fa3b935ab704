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
