"""Local receivers for the notification tests: an HTTP webhook receiver and an SMTP
server (aiosmtpd) with STARTTLS or implicit TLS and AUTH, both on 127.0.0.1 only."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.servers import free_port


class WebhookReceiver:
    """Records every POST; answers with the next status of `statuses` (then the last one)."""

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


def start_smtp(directory: Path, *, username: str, password: str, implicit_tls: bool = False) -> SmtpServer:
    from email import message_from_bytes

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = make_certificate(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer("127.0.0.1", free_port(), cert)

    class Handler:
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
