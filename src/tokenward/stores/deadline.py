"""A total deadline per request to a remote store (Vault, AWS).

requests/urllib3 and botocore time out each socket read, not a whole request: a server
that sends its headers and then one byte a second never times out. Vault's requests
session uses the same watchdog as the registry client (tokenward/watchdog.py): the socket is shut
down at the deadline, which ends any blocked read at once. botocore has no such hook,
so an AWS call runs in a daemon thread that is abandoned at the deadline (its socket is
closed with the process); the call is reported as taking too long either way.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import requests

from tokenward.watchdog import Watch, WatchingAdapter, current


class TooSlow(requests.exceptions.Timeout):
    """The whole request took longer than its deadline."""


class DeadlineSession(requests.Session):
    """A requests session whose every request ends within `deadline` seconds in total."""

    def __init__(self, deadline: float, pool_maxsize: int) -> None:
        super().__init__()
        self.deadline = deadline
        adapter = WatchingAdapter(pool_connections=1, pool_maxsize=pool_maxsize)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        watch = Watch(self.deadline)
        current.watch = watch
        try:
            response = super().request(*args, **kwargs)
        except requests.exceptions.RequestException:
            if watch.expired:
                raise TooSlow(f"took longer than {self.deadline:g}s") from None
            raise
        finally:
            current.watch = None
            watch.stop()
        if watch.expired:
            raise TooSlow(f"took longer than {self.deadline:g}s")
        return response


def call_within(deadline: float, func: Callable[[], Any], too_slow: Callable[[], BaseException]) -> Any:
    """`func()`'s result or exception, or `too_slow()` raised after `deadline` seconds."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = func()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="tokenward-store-call")
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        raise too_slow()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")
