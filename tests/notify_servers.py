"""Local receivers for the notification tests: an HTTP webhook receiver and an SMTP
server (aiosmtpd) with STARTTLS or implicit TLS and AUTH, both on 127.0.0.1 only; and
misbehaving peers (RawServer): a receiver that trickles a byte at a time, answers
with something that is not HTTP, sends too many headers, or answers 200 and then keeps
the connection open; an SMTP greeting of endless `220-` lines."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.servers import free_port


class WebhookReceiver:
    """Records every POST (and any GET); answers with the next status of `statuses` (then
    the last one). A 3xx status comes with a Location on this same server."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[dict] = []
        self.statuses = list(statuses or [200])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "raw": raw.decode("utf-8", "replace")}
                )
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", "0")
                if 300 <= status < 400:
                    self.send_header("Location", "/moved-here")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self):  # noqa: N802 - a followed redirect would land here
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "raw": "", "method": "GET"})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRETPATH"

    @property
    def documents(self) -> list[dict]:
        return [json.loads(r["raw"]) for r in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost: (cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    host: str
    port: int
    cafile: Path
    messages: list = field(default_factory=list)  # email.message.Message
    logins: list = field(default_factory=list)  # (username, ok)
    controller: object = None

    def stop(self) -> None:
        self.controller.stop()


def start_smtp(
    directory: Path, *, username: str, password: str, implicit_tls: bool = False, refuse: tuple[str, ...] = ()
) -> SmtpServer:
    """`refuse`: recipients answered `550 5.1.1 no such user` at RCPT TO."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = make_certificate(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer("127.0.0.1", free_port(), cert)

    class Handler:
        async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):  # noqa: N802
            if address in refuse:
                return "550 5.1.1 <%s>: no such user \x1b[31mhere" % address
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, smtp, session, envelope):  # noqa: N802
            msg = message_from_bytes(envelope.original_content or envelope.content)
            msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            server.messages.append(msg)
            return "250 OK"

    def authenticator(smtp, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == username and auth_data.password.decode() == password
        server.logins.append((auth_data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)

    kwargs = dict(authenticator=authenticator, auth_required=True)
    if implicit_tls:
        kwargs["auth_require_tls"] = False  # the whole connection is TLS; aiosmtpd only knows STARTTLS
        controller = Controller(Handler(), hostname="127.0.0.1", port=server.port, ssl_context=context, **kwargs)
    else:
        controller = Controller(
            Handler(), hostname="127.0.0.1", port=server.port, tls_context=context, require_starttls=True, **kwargs
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "AUTH without requiring TLS": it is TLS from the start
        controller.start()
    server.controller = controller
    return server


class RawServer:
    """A TCP peer on 127.0.0.1 that plays `script(conn, stopped)` for each connection,
    after reading one HTTP request when `http` (counted in `requests`)."""

    def __init__(self, script, *, http: bool = True) -> None:
        self.script = script
        self.http = http
        self.requests: list[bytes] = []
        self.connections = 0
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/T000/SECRETPATH"
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.http:
                self.requests.append(_read_http_request(conn))
            self.script(conn, self.stopped)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _read_http_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def trickle(data: bytes, every: float = 0.2):
    """Send `data` one byte at a time, then a header line without end, byte by byte."""

    def script(conn: socket.socket, stopped: threading.Event) -> None:
        endless = iter(lambda: b"a", None)
        for byte in (bytes([b]) for b in data):
            if stopped.wait(every):
                return
            conn.sendall(byte)
        for byte in endless:
            if stopped.wait(every):
                return
            conn.sendall(byte)

    return script


def answer(data: bytes, *, then_wait: bool = False):
    """Send `data` at once; then close, or keep the connection open until stopped."""

    def script(conn: socket.socket, stopped: threading.Event) -> None:
        conn.sendall(data)
        if then_wait:
            stopped.wait(120)

    return script


NOT_HTTP = answer(b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n")
MANY_HEADERS = answer(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n")
# 200 with a body that never comes, on a connection that is never closed.
OK_THEN_SLOW_CLOSE = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\nok", then_wait=True)


def smtp_trickling_greeting(conn: socket.socket, stopped: threading.Event) -> None:
    """An SMTP greeting that never ends: a `220-` continuation line every 0.2 s."""
    while not stopped.wait(0.2):
        conn.sendall(b"220-still greeting you\r\n")

