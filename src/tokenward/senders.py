"""How each notification channel sends one message: a webhook POST, an SMTP session,
`notify-send`. Each send is bounded by one total deadline (the channel's `timeout`),
however slowly the other side trickles bytes, and every failure becomes a
ChannelError (final) or a TransientError (worth a retry) whose message names the
endpoint only: never a URL's path or credentials, never a password.
"""

from __future__ import annotations

import base64
import html
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_TIMEOUT = 10.0
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}


class ChannelError(Exception):
    """A channel could not deliver. The message names the channel's endpoint only."""


class TransientError(ChannelError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def clean(text: str, limit: int = 120) -> str:
    """A server's words, safe for one line of a terminal: no control characters."""
    text = " ".join(text.split())
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


class Deadline:
    """One total time limit for one send. Per-read socket timeouts alone let a
    receiver that trickles a byte a second hold a run for hours; at the deadline the
    watched sockets are shut down, so whatever read is waiting returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._done = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "Deadline":
        self._end = time.monotonic() + self.seconds
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            for dup in self._watched:
                dup.close()
            self._watched.clear()

    def remaining(self) -> float:
        return max(0.001, self._end - time.monotonic())

    def watch(self, sock: socket.socket) -> socket.socket:
        """Shut `sock` down at the deadline. A duplicate descriptor is kept, because
        TLS wrapping detaches the original object; shutdown acts on the connection."""
        with self._lock:
            if self.expired:
                _shutdown(sock)
            elif not self._done:
                self._watched.append(sock.dup())
        return sock

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for dup in self._watched:
                _shutdown(dup)


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


# -- webhook ------------------------------------------------------------------------


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without `user:password@`, and the (user, password) it carried."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), (unquote(user), unquote(password))


def origin(url: str) -> str:
    """scheme://host[:port] only: a webhook's path is often its secret (Slack), and
    its user:password@ always is."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    if ":" in host:  # IPv6: brackets, as in the URL itself
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")


def _opener(deadline: Deadline):
    """urllib with the environment's proxies, every connection watched by the deadline,
    and no redirects: a POST that is redirected has not been delivered."""
    import http.client
    import urllib.request

    def watched(connection_class):
        class Watched(connection_class):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._create_connection = self._watched_connection

            def _watched_connection(self, address, timeout=None, source_address=None):
                limit = deadline.remaining() if timeout is None else min(timeout, deadline.remaining())
                return deadline.watch(socket.create_connection(address, limit, source_address))

        return Watched

    http_class, https_class = watched(http.client.HTTPConnection), watched(http.client.HTTPSConnection)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(http_class, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(https_class, req, context=self._context)

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None  # urllib then raises HTTPError with the 3xx status

    return urllib.request.build_opener(HTTPHandler, HTTPSHandler, NoRedirects)


def send_webhook(options: dict, document: dict) -> None:
    """POST the document once. Any 2xx status is delivery: the body is not waited for."""
    import http.client
    import urllib.error
    import urllib.request

    from tokenward import __version__

    url, credentials = split_credentials(options["url"])
    where = origin(url)
    headers = {"Content-Type": "application/json", "User-Agent": f"tokenward/{__version__}"}
    if credentials is not None:
        pair = f"{credentials[0]}:{credentials[1]}".encode("utf-8")
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    request = urllib.request.Request(url, data=json.dumps(document).encode("utf-8"), headers=headers, method="POST")
    timeout = options.get("timeout", DEFAULT_TIMEOUT)
    deadline = Deadline(timeout)
    try:
        with deadline, _opener(deadline).open(request, timeout=timeout):
            pass  # urllib returns only 2xx responses; everything else raises
    except urllib.error.HTTPError as exc:
        code = exc.code
        header = exc.headers.get("Retry-After") if exc.headers else None
        exc.close()
        if 300 <= code < 400:
            raise ChannelError(
                f"{where} answered HTTP {code}, a redirect, which is not followed for a notification"
                " (set notify.webhook.url to the final address)"
            ) from None
        if code in TRANSIENT_HTTP:
            retry_after = float(header.strip()) if header and header.strip().isdigit() else None
            raise TransientError(f"{where} answered HTTP {code}", retry_after) from None
        raise ChannelError(f"{where} refused the notification (HTTP {code})") from None
    except Exception as exc:  # noqa: BLE001 - each kind is named below; none carries the URL's secrets out
        import ssl

        if deadline.expired:
            raise TransientError(f"{where} did not answer within {timeout:g}s") from None
        if isinstance(exc, ssl.SSLError) or (isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, ssl.SSLError)):
            # A certificate the other side presents will not change in a second: not retried.
            detail = getattr(exc.reason if isinstance(exc, urllib.error.URLError) else exc, "verify_message", None)
            raise ChannelError(f"TLS with {where} failed ({clean(detail or type(exc.reason if isinstance(exc, urllib.error.URLError) else exc).__name__)}); not retried") from None
        if isinstance(exc, urllib.error.URLError):
            reason = exc.reason if isinstance(exc.reason, str) else type(exc.reason).__name__
            if isinstance(exc.reason, OSError) and exc.reason.strerror:
                reason = exc.reason.strerror
            raise TransientError(f"cannot reach {where} ({clean(reason)})") from None
        if isinstance(exc, http.client.RemoteDisconnected):
            raise TransientError(f"{where} closed the connection without an answer") from None
        if isinstance(exc, http.client.HTTPException):
            raise ChannelError(f"{where} did not answer with valid HTTP ({type(exc).__name__})") from None
        if isinstance(exc, (TimeoutError, socket.timeout)):
            raise TransientError(f"{where} did not answer in time") from None
        if isinstance(exc, OSError):
            raise TransientError(f"cannot reach {where} ({exc.strerror or type(exc).__name__})") from None
        raise ChannelError(f"{where} failed ({type(exc).__name__})") from None


# -- email --------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _smtp_client(use_ssl: bool, deadline: Deadline, **kwargs):
    import smtplib

    base = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP

    class Client(base):
        def _get_socket(self, host, port, timeout):
            sock = smtplib.SMTP._get_socket(self, host, port, min(timeout, deadline.remaining()))
            deadline.watch(sock)
            if use_ssl:
                sock = self.context.wrap_socket(sock, server_hostname=self._host)
            return sock

    return Client(**kwargs)


def send_email(options: dict, subject: str, text: str, password: str | None) -> dict[str, str]:
    """Send one message. Returns the recipients the server refused while it accepted
    others (address -> its reply); refusing them all is a ChannelError."""
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    host = options["host"]
    use_ssl = bool(options.get("ssl", False))
    starttls = bool(options.get("starttls", not use_ssl))
    port = options.get("port") or (465 if use_ssl else 587 if starttls else 25)
    timeout = options.get("timeout", DEFAULT_TIMEOUT)
    to = options["to"] if isinstance(options["to"], list) else [options["to"]]
    username = options.get("username") or options["from"]
    where = f"SMTP {host}:{port}"
    if password is not None and not (use_ssl or starttls) and not is_loopback(host):
        raise ChannelError(f"refusing to send the SMTP password unencrypted to {host}; set starttls or ssl")

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = options["from"]
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="tokenward.invalid")
    message.set_content(text)
    context = ssl.create_default_context(cafile=os.path.expanduser(options["cafile"]) if options.get("cafile") else None)

    stage = "connect"
    deadline = Deadline(timeout)
    try:
        with deadline:
            kwargs: dict[str, Any] = {"host": host, "port": port, "timeout": timeout}
            if use_ssl:
                kwargs["context"] = context
            client = _smtp_client(use_ssl, deadline, **kwargs)
            try:
                client.ehlo()
                if starttls:
                    stage = "starttls"
                    client.starttls(context=context)
                    client.ehlo()
                if password is not None:
                    stage = "login"
                    client.login(username, password)
                stage = "send"
                refused = client.send_message(message)
                stage = "sent"
                try:
                    client.quit()  # the message is delivered: how the server says goodbye does not matter
                except Exception:  # noqa: BLE001
                    pass
            finally:
                client.close()
    except Exception as exc:  # noqa: BLE001 - mapped to one line below; none carries the password
        if stage != "sent":  # once sent, it is delivered whatever happens next
            if deadline.expired:
                raise TransientError(f"{where} did not finish within {timeout:g}s (stage: {stage})") from None
            raise _smtp_failure(exc, where, stage, username) from None
    return {address: f"{code} {clean(_text(reply))}" for address, (code, reply) in sorted(refused.items())}


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _smtp_failure(exc: Exception, where: str, stage: str, username: str) -> ChannelError:
    import smtplib
    import ssl

    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ChannelError(f"{where} refused the login for {username} ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        if stage == "starttls":
            return ChannelError(f"{where} does not offer STARTTLS (set ssl = true for implicit TLS)")
        return ChannelError(f"{where} does not offer {'AUTH' if stage == 'login' else 'what was asked'}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{a} ({code} {clean(_text(reply), 60)})" for a, (code, reply) in sorted(exc.recipients.items()))
        return ChannelError(f"{where} refused every recipient: {refused}")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = clean(_text(exc.smtp_error))
        if 400 <= exc.smtp_code < 500:
            return TransientError(f"{where} answered {exc.smtp_code} {reply}")
        return ChannelError(f"{where} answered {exc.smtp_code} {reply}")
    if isinstance(exc, ssl.SSLError):
        return ChannelError(f"{where}: TLS failed ({exc.reason or type(exc).__name__}); check cafile")
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, TimeoutError, ConnectionError)):
        return TransientError(f"cannot talk to {where} ({type(exc).__name__})")
    if isinstance(exc, smtplib.SMTPException):
        return ChannelError(f"{where} failed ({type(exc).__name__})")
    if isinstance(exc, OSError):
        return TransientError(f"cannot reach {where} ({exc.strerror or type(exc).__name__})")
    return ChannelError(f"{where} failed ({type(exc).__name__})")


# -- desktop ------------------------------------------------------------------------


def send_desktop(options: dict, subject: str, text: str, urgent: bool) -> None:
    exe = shutil.which("notify-send")
    if exe is None:
        raise ChannelError("notify-send not found (Debian/Ubuntu: apt install libnotify-bin)")
    # The Desktop Notifications spec reads the body as markup (<a href>, <img src>, <b>):
    # escaped, a teammate's purpose is shown as text. The summary is plain text.
    body = html.escape(text, quote=False)
    argv = [exe, "--app-name=tokenward", f"--urgency={'critical' if urgent else 'normal'}", subject, body]
    import signal

    try:
        # Its own process group: at the timeout the group is killed, with whatever it started.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise ChannelError(f"notify-send cannot run ({exc.strerror})") from None

    def kill_group() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    try:
        _, err = proc.communicate(timeout=options.get("timeout", DEFAULT_TIMEOUT))
    except subprocess.TimeoutExpired:
        kill_group()
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
        raise ChannelError("notify-send did not finish in time") from None
    finally:
        kill_group()
    if proc.returncode != 0:
        first = clean((err.decode("utf-8", "replace").strip().splitlines() or [""])[0])
        raise ChannelError(f"notify-send exited with status {proc.returncode}" + (f": {first}" if first else ""))
