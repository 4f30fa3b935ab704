"""A total deadline per HTTP request, for every requests session tokenward opens.

requests/urllib3 time out each socket read, not a whole answer. A `Watch` is armed for
one request in its thread; the pool's connections attach to it when they send, and at
the deadline its timer shuts the socket down, which ends any blocked read at once. A
connection detaches before it goes back to the pool, so a late timer never touches a
connection another request is using. Used by the registry client (registries/http.py)
and the Vault store (stores/deadline.py).
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import urllib3.poolmanager
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

current = threading.local()


class Watch:
    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._conn: Any = None
        self._active = True
        self.expired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def attach(self, conn: Any) -> None:
        with self._lock:
            if not self._active:
                return
            self._conn = conn
            conn._tokenward_watch = self
            if self.expired:
                _shut(conn)

    def detach(self, conn: Any) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def expire(self) -> None:
        """End the request now, as its deadline would (Ctrl-C: HttpClient.cancel)."""
        self._timer.cancel()
        self._fire()

    def _fire(self) -> None:
        with self._lock:
            if not self._active:
                return
            self.expired = True
            if self._conn is not None:
                _shut(self._conn)

    def stop(self) -> None:
        with self._lock:
            self._active = False
            self._conn = None
        self._timer.cancel()


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Watched:
    def connect(self) -> None:
        watch = getattr(current, "watch", None)
        super().connect()  # type: ignore[misc]
        if watch is not None:
            watch.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(current, "watch", None)
        if watch is not None:
            watch.attach(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _Detaching:
    def _put_conn(self, conn: Any) -> None:
        watch = getattr(conn, "_tokenward_watch", None)
        if watch is not None:
            watch.detach(conn)
        super()._put_conn(conn)  # type: ignore[misc]


class _HTTPPool(_Detaching, HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_Detaching, HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class WatchingAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any):
        manager = super().proxy_manager_for(proxy, **kwargs)
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:  # not SOCKS
            manager.pool_classes_by_scheme = _POOLS
        return manager
