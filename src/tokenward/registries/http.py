"""One plain HTTP client for every registry: `requests` (already installed with hvac).

What it guarantees, whatever the registry answers:
- timeouts on connect and read; bodies larger than MAX_BODY are refused, not read;
- 429, and 403 with `X-RateLimit-Remaining: 0`, wait for `Retry-After` / `X-RateLimit-Reset`
  when that is at most `max_wait` seconds, else fail as unreachable naming the wait;
- 5xx is retried a few times with backoff, then unreachable;
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
from requests.adapters import HTTPAdapter

from tokenward import __version__
from tokenward.errors import RegistryUnreachable

MAX_BODY = 1024 * 1024
MAX_REDIRECTS = 3
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


def _ca_bundle() -> str | bool:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or True


class HttpClient:
    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (5.0, 20.0),
        max_wait: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
        pool: int = 16,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.max_wait = max_wait
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.requests = 0  # sent, counting retries and redirects (for benchmarks)
        self._lock = threading.Lock()
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
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

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None, json_body: Any = None) -> Reply:
        """Send, following same-origin redirects and waiting out rate limits; 5xx and
        network errors raise RegistryUnreachable after the retries."""
        start = origin(url)
        attempt = 0
        redirects = 0
        while True:
            reply = self._send(method, url, headers, json_body)
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
                if wait > self.max_wait or attempt >= self.retries:
                    raise RegistryUnreachable(host_of(url), f"rate limited (HTTP {status}); retry after {int(wait)}s")
                attempt += 1
                self.sleep(wait)
                continue
            if status >= 500:
                if attempt >= self.retries:
                    raise RegistryUnreachable(host_of(url), f"HTTP {status} (server error)")
                wait = _retry_after(reply.headers)
                delay = self.backoff * (2**attempt) if wait is None else min(wait, self.max_wait)
                attempt += 1
                self.sleep(delay)
                continue
            return reply

    def _send(self, method: str, url: str, headers: dict[str, str] | None, json_body: Any) -> Reply:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("https", "http"):
            raise RegistryUnreachable(host_of(url), f"not an http(s) URL: {url[:100]!r}")
        with self._lock:
            self.requests += 1
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                json=json_body,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError:
            raise RegistryUnreachable(
                host_of(url), "TLS verification failed (set REQUESTS_CA_BUNDLE or SSL_CERT_FILE to its CA)"
            ) from None
        except requests.exceptions.Timeout:
            raise RegistryUnreachable(host_of(url), f"timed out after {self.timeout[1]:g}s") from None
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
                size += len(chunk)
                if size > MAX_BODY:
                    raise RegistryUnreachable(host_of(url), f"answer larger than {MAX_BODY // 1024} KiB")
                chunks.append(chunk)
        except requests.exceptions.RequestException:
            raise RegistryUnreachable(host_of(url), "the connection broke while reading the answer") from None
        finally:
            response.close()
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
