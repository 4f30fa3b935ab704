"""One plain HTTP client for every registry: `requests` (already installed with hvac).

What it guarantees, whatever the registry answers:
- every request ends within DEADLINE seconds in total (connect, headers, body, its retries,
  redirects and waits): a watchdog shuts the socket at the deadline, so a registry that
  trickles its headers or body a byte at a time is `unreachable` ("took longer than N s");
  bodies larger than MAX_BODY are refused, not read;
- 429, and 403 with `X-RateLimit-Remaining: 0`, wait for `Retry-After` / `X-RateLimit-Reset`,
  5xx is retried a few times with backoff (never for a POST, which may have been done); all waits for one token add up to at most
  MAX_SLEEP seconds (`for_token()`): a longer wait fails at once as unreachable, naming it;
- redirects are followed only within the same origin (scheme, host, port): a token is
  never sent to another host, nor from https to http;
- TLS: `REQUESTS_CA_BUNDLE`, else `SSL_CERT_FILE`, else the system/certifi bundle;
- one pooled session, safe to share between the worker threads of `tokens verify`.
Every failure is a RegistryUnreachable naming the host, never the value.
"""

from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from tokenward import __version__
from tokenward.errors import RegistryUnreachable
from tokenward.watchdog import Watch, WatchingAdapter, current

MAX_BODY = 1024 * 1024
MAX_REDIRECTS = 3
DEADLINE = 15.0  # seconds for one request, all in (README "Registries", `tokens verify --help`)
MAX_SLEEP = 10.0  # seconds of Retry-After / backoff waits per token, all requests together
USER_AGENT = f"tokenward/{__version__}"


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise RegistryUnreachable(host_of(self.url), f"HTTP {self.status} with a body that is not JSON") from None

    def json_object(self) -> dict:
        data = self.json()
        if not isinstance(data, dict):
            raise RegistryUnreachable(host_of(self.url), f"HTTP {self.status} with JSON that is not an object")
        return data


class ApiRegistry:
    """What every registry reached over its HTTP API starts from: the token's record, the
    shared client, the time, and the API base its `repository` names (`api_base`, given by
    each registry)."""

    needs_value = True

    def __init__(self, record, client: "HttpClient", now) -> None:
        self.record = record
        self.client = client
        self.now = now
        self.base = self.api_base(record.repository)
        self.host = host_of(self.base)

    @staticmethod
    def api_base(repository: str) -> str:
        raise NotImplementedError


class TokenClient:
    """The client as one token's registry sees it: its own budget of retry waits."""

    def __init__(self, client: "HttpClient") -> None:
        self.client = client
        self.sleep_left = client.max_sleep

    def request(self, method: str, url: str, **kwargs: Any) -> "Reply":
        return self.client.request(method, url, budget=self, **kwargs)


def _ca_bundle() -> str | bool:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or True


class HttpClient:
    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (5.0, DEADLINE),
        deadline: float = DEADLINE,
        max_sleep: float = MAX_SLEEP,
        retries: int = 2,
        backoff: float = 0.5,
        pool: int = 16,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.max_sleep = max_sleep
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.requests = 0  # sent, counting retries and redirects (for benchmarks)
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._watches: set[Watch] = set()
        session = requests.Session()
        adapter = WatchingAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        # Proxies from the environment are honoured; credentials from ~/.netrc never are.
        session.trust_env = True
        session.auth = lambda r: r  # no netrc lookup: only the headers we set
        self.session = session
        self.verify = _ca_bundle()

    def close(self) -> None:
        self.session.close()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Ctrl-C: no request starts from now on, and each one under way ends at once
        (its socket shut, as at its deadline); both raise RegistryUnreachable."""
        self._cancelled.set()
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.expire()

    def for_token(self) -> TokenClient:
        return TokenClient(self)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        budget: TokenClient | None = None,
    ) -> Reply:
        """Send, following same-origin redirects and waiting out rate limits; 5xx and
        network errors raise RegistryUnreachable after the retries. All of it ends within
        `deadline` seconds; waits come out of the token's budget (else max_sleep)."""
        budget = budget or TokenClient(self)
        ends = time.monotonic() + self.deadline
        start = origin(url)
        attempt = 0
        redirects = 0
        while True:
            reply = self._send(method, url, headers, json_body, ends)
            status = reply.status
            if status in (301, 302, 303, 307, 308) and reply.headers.get("Location"):
                target = urljoin(url, reply.headers["Location"])
                if origin(target) != start:
                    raise RegistryUnreachable(
                        host_of(url), f"redirected to {host_of(target)[:100]}; not followed with the token"
                    )
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise RegistryUnreachable(host_of(url), "too many redirects")
                if status in (301, 302, 303) and method != "GET":
                    raise RegistryUnreachable(host_of(url), f"HTTP {status} redirect of a {method}; not followed")
                url = target
                continue
            wait = self._rate_limit_wait(reply)
            if wait is not None:
                if attempt >= self.retries or not self._may_wait(wait, budget, ends):
                    raise RegistryUnreachable(host_of(url), f"rate limited (HTTP {status}); retry after {int(wait)}s")
                attempt += 1
                self._wait(wait, budget)
                continue
            if status >= 500:
                # A POST is not repeated: it may have been done before the error (GitLab's
                # self-rotate, twice, revokes the whole token family).
                if attempt >= self.retries or method == "POST":
                    raise RegistryUnreachable(host_of(url), f"HTTP {status} (server error)")
                wait = _retry_after(reply.headers)
                delay = self.backoff * (2**attempt) if wait is None else wait
                if not self._may_wait(delay, budget, ends):
                    raise RegistryUnreachable(host_of(url), f"HTTP {status} (server error); retry after {int(delay)}s")
                attempt += 1
                self._wait(delay, budget)
                continue
            return reply

    def _may_wait(self, seconds: float, budget: TokenClient, ends: float) -> bool:
        return seconds <= budget.sleep_left and time.monotonic() + seconds < ends

    def _wait(self, seconds: float, budget: TokenClient) -> None:
        budget.sleep_left -= seconds
        if self.sleep is time.sleep:
            self._cancelled.wait(seconds)  # Ctrl-C (cancel) ends the wait; the next send refuses
        else:
            self.sleep(seconds)

    def _send(self, method: str, url: str, headers: dict[str, str] | None, json_body: Any, ends: float) -> Reply:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("https", "http"):
            raise RegistryUnreachable(host_of(url), f"not an http(s) URL: {url[:100]!r}")
        left = ends - time.monotonic()
        too_long = RegistryUnreachable(host_of(url), f"took longer than {self.deadline:g}s")
        if left <= 0:
            raise too_long
        interrupted = RegistryUnreachable(host_of(url), "interrupted (Ctrl-C); not known whether it was done")
        with self._lock:
            if self._cancelled.is_set():
                raise RegistryUnreachable(host_of(url), "interrupted (Ctrl-C) before it was sent")
            self.requests += 1
            watch = Watch(left)
            self._watches.add(watch)
        current.watch = watch
        try:
            return self._exchange(method, url, headers, json_body, (min(self.timeout[0], left), min(self.timeout[1], left)), ends)
        except RegistryUnreachable:
            if self._cancelled.is_set():
                raise interrupted from None
            if watch.expired:
                raise too_long from None
            raise
        finally:
            current.watch = None
            watch.stop()
            with self._lock:
                self._watches.discard(watch)

    def _exchange(self, method, url, headers, json_body, timeout: tuple[float, float], ends: float) -> Reply:
        """One HTTP exchange, its body read in full (a RegistryUnreachable if it cannot be)."""
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                json=json_body,
                timeout=timeout,
                verify=self.verify,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError:
            raise RegistryUnreachable(
                host_of(url), "TLS verification failed (set REQUESTS_CA_BUNDLE or SSL_CERT_FILE to its CA)"
            ) from None
        except requests.exceptions.Timeout:
            raise RegistryUnreachable(host_of(url), f"timed out after {timeout[1]:g}s") from None
        except requests.exceptions.ConnectionError:
            raise RegistryUnreachable(host_of(url), "cannot connect") from None
        except Exception as exc:  # noqa: BLE001 - e.g. a header value http.client refuses; never echo it
            raise RegistryUnreachable(host_of(url), f"request failed ({type(exc).__name__})") from None
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_BODY:
                raise RegistryUnreachable(host_of(url), f"answer larger than {MAX_BODY // 1024} KiB")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(64 * 1024):
                if time.monotonic() > ends:
                    raise RegistryUnreachable(host_of(url), f"took longer than {self.deadline:g}s")
                size += len(chunk)
                if size > MAX_BODY:
                    raise RegistryUnreachable(host_of(url), f"answer larger than {MAX_BODY // 1024} KiB")
                chunks.append(chunk)
        except requests.exceptions.RequestException:
            raise RegistryUnreachable(host_of(url), "the connection broke while reading the answer") from None
        finally:
            response.close()
        if time.monotonic() > ends or getattr(current, "watch", None) is not None and current.watch.expired:
            raise RegistryUnreachable(host_of(url), f"took longer than {self.deadline:g}s")
        return Reply(response.status_code, response.headers, b"".join(chunks), url)

    @staticmethod
    def _rate_limit_wait(reply: Reply) -> float | None:
        """Seconds to wait when the reply is a rate limit, else None."""
        headers = reply.headers
        limited = reply.status == 429 or (reply.status == 403 and headers.get("X-RateLimit-Remaining", "").strip() == "0")
        if not limited:
            return None
        wait = _retry_after(headers)
        if wait is None:
            reset = headers.get("X-RateLimit-Reset", "").strip()
            wait = max(0.0, float(reset) - time.time()) if reset.isdigit() else 1.0
        return wait


def _retry_after(headers: Mapping[str, str]) -> float | None:
    text = (headers.get("Retry-After") or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(min(int(text), 10**6))
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - time.time())
