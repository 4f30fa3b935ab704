"""Notifications of `tokens remind` against real local receivers: an HTTP server and an
SMTP server (aiosmtpd, STARTTLS/TLS + AUTH) on 127.0.0.1. What arrives, that a second
run does not resend, that one failing channel does not stop another, and that no value
appears anywhere."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import CANARY
from tests.notify_servers import WebhookReceiver, start_smtp
from tokenward import notify
from tokenward.config import parse_config
from tokenward.inventory import TokenRecord
from tokenward.policy import parse_period
from tokenward.remind import build
from tokenward.tokens import fingerprint

ROOT = Path(__file__).resolve().parent.parent
SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-pass-CANARY-7f3a9c"
NPM_VALUE = "npm_CANARYnpmVALUE0123456789"


@pytest.fixture
def file_keyring(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.FileKeyring")
    monkeypatch.setenv("TOKENWARD_TEST_KEYRING", str(tmp_path / "keyring.json"))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp(tmp_path):
    server = start_smtp(tmp_path, username=SMTP_USER, password=SMTP_PASSWORD)
    yield server
    server.stop()


def days_ago(n: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%S")


def add_tokens(tokens) -> None:
    entries = [
        (["gh-release", "--created", "2024-01-01", "--purpose", "release bot"], CANARY),
        (["npm-soon", "--created", days_ago(80)], NPM_VALUE),
        (["fine-token", "--kind", "generic"], "fine-CANARY-value-123"),
        (["smtp-pass", "--kind", "generic", "--rotate-every", "1y"], SMTP_PASSWORD),
    ]
    tokens.add_many(entries)


def config_text(webhook_url: str | None = None, smtp=None, *, webhook_retries: int = 1, extra: str = "") -> str:
    channels = []
    text = ""
    if webhook_url:
        channels.append('"webhook"')
        text += f'[notify.webhook]\nurl = "{webhook_url}"\nretries = {webhook_retries}\ntimeout = 5\n'
    if smtp:
        channels.append('"email"')
        text += (
            f'[notify.email]\nhost = "127.0.0.1"\nport = {smtp.port}\nstarttls = true\n'
            f'from = "tokenward@example.test"\nto = ["ops@example.test", "dev@example.test"]\n'
            f'username = "{SMTP_USER}"\npassword_token = "smtp-pass"\ncafile = "{smtp.cafile}"\n'
            f"retries = 1\ntimeout = 5\n"
        )
    return f"[defaults]\nnotify = [{', '.join(channels)}]\n{extra}\n{text}"


def assert_no_values(*texts: str, fingerprints: bool = True) -> None:
    """No value (nor, in messages, even a fingerprint) in any of the texts."""
    for text in texts:
        for value in (CANARY, SMTP_PASSWORD, NPM_VALUE, "fine-CANARY-value-123"):
            assert value not in text
        assert "CANARY" not in text
        if fingerprints:
            assert fingerprint(CANARY) not in text


def test_webhook_and_email_arrive_once(tokens, write_config, file_keyring, webhook, smtp, data_dir):
    add_tokens(tokens)
    write_config(config_text(webhook.url, smtp))

    first = tokens("remind")
    assert first.returncode == 1, first  # gh-release is overdue
    assert "Notified by webhook: gh-release, npm-soon." in first.stderr
    assert "Notified by email: gh-release, npm-soon." in first.stderr

    # The webhook: one POST, Slack-compatible text plus the structured list.
    assert len(webhook.requests) == 1
    request = webhook.requests[0]
    assert request["path"] == "/hooks/T000/SECRETPATH"
    assert request["headers"]["Content-Type"] == "application/json"
    doc = webhook.documents[0]
    assert "gh-release" in doc["text"] and "npm-soon" in doc["text"]
    assert "tokens rotate gh-release" in doc["text"]
    assert [t["name"] for t in doc["tokens"]] == ["gh-release", "npm-soon"]
    assert [t["status"] for t in doc["tokens"]] == ["overdue", "due-soon"]
    assert doc["tokens"][0]["action"].startswith("tokens rotate gh-release")
    assert doc["tokens"][0]["purpose"] == "release bot"
    assert doc["summary"] == {"revoked": 0, "invalid": 0, "expired": 0, "overdue": 1, "due-soon": 1}
    assert "fingerprint" not in doc["tokens"][0]

    # The email: over STARTTLS, logged in with the password read from the keyring.
    assert smtp.logins == [(SMTP_USER, True)]
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["Subject"] == "tokenward: 1 overdue, 1 due soon"
    assert mail["From"] == "tokenward@example.test"
    assert mail["X-Envelope-To"] == "ops@example.test, dev@example.test"
    mail_text = mail.as_string()
    assert "gh-release (github) overdue" in mail_text
    assert "https://github.com/settings/tokens" in mail_text

    # No value anywhere: messages, output, the state file.
    state = (data_dir / notify.STATE_FILE).read_text()
    assert oct((data_dir / notify.STATE_FILE).stat().st_mode & 0o777) == "0o600"
    assert_no_values(request["raw"], mail_text, first.stdout, first.stderr, state)

    # A second run sends nothing new.
    second = tokens("remind")
    assert second.returncode == 1
    assert len(webhook.requests) == 1
    assert len(smtp.messages) == 1
    assert len(smtp.logins) == 1  # no store read, no SMTP connection
    assert "Nothing new for webhook: gh-release, npm-soon already notified." in second.stderr
    assert "Nothing new for email" in second.stderr


def test_failing_webhook_does_not_stop_email(tokens, write_config, file_keyring, smtp):
    add_tokens(tokens)
    receiver = WebhookReceiver([500])
    try:
        write_config(config_text(receiver.url, smtp, webhook_retries=1))
        result = tokens("remind", "--json")
        assert result.returncode == 3, result
        assert len(receiver.requests) == 2  # one retry for a 500
        assert len(smtp.messages) == 1
        report = json.loads(result.stdout)
        by_channel = {d["channel"]: d for d in report["notifications"]}
        assert by_channel["email"]["sent"] == ["gh-release", "npm-soon"]
        assert by_channel["webhook"]["sent"] == []
        assert "HTTP 500" in by_channel["webhook"]["error"]
        assert "SECRETPATH" not in result.stderr  # the webhook's path can be its secret
        assert "Warning: notification by webhook failed: http://127.0.0.1:" in result.stderr
        assert "Traceback" not in result.stderr

        # The webhook is tried again next run; the email is not repeated.
        receiver.statuses = [200]
        again = tokens("remind")
        assert again.returncode == 1, again
        assert len(receiver.requests) == 3
        assert len(smtp.messages) == 1
        assert_no_values(again.stdout, again.stderr, result.stderr, *(r["raw"] for r in receiver.requests))
        assert_no_values(result.stdout, fingerprints=False)  # `--json` lists fingerprints, never values
    finally:
        receiver.stop()


def test_transient_webhook_error_is_retried(tokens, write_config, file_keyring):
    add_tokens(tokens)
    receiver = WebhookReceiver([503, 429, 200])
    try:
        write_config(config_text(receiver.url, webhook_retries=3))
        result = tokens("remind", "--json")
        assert result.returncode == 1, result
        delivery = json.loads(result.stdout)["notifications"][0]
        assert delivery == {"channel": "webhook", "sent": ["gh-release", "npm-soon"], "held": [], "error": None, "attempts": 3, "refused": {}}
        assert len(receiver.requests) == 3
    finally:
        receiver.stop()


def test_unreachable_webhook_is_reported_not_raised(tokens, write_config, file_keyring):
    from tests.servers import free_port

    add_tokens(tokens)
    write_config(config_text(f"http://127.0.0.1:{free_port()}/x", webhook_retries=0))
    result = tokens("remind")
    assert result.returncode == 3
    assert "notification by webhook failed: cannot reach http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_repeat_and_worsening_resend(tokens, write_config, file_keyring, webhook, data_dir):
    add_tokens(tokens)
    write_config(config_text(webhook.url))
    assert tokens("remind").returncode == 1
    assert len(webhook.requests) == 1

    # A day later (minus the slack a daily timer needs) the reminder repeats.
    path = data_dir / notify.STATE_FILE
    state = json.loads(path.read_text())
    entry = state["channels"]["webhook"]["local:gh-release"]
    entry["sent_at"] = days_ago(1) + "+00:00"
    path.write_text(json.dumps(state))
    assert tokens("remind").returncode == 1
    assert len(webhook.requests) == 2
    assert [t["name"] for t in webhook.documents[1]["tokens"]] == ["gh-release"]

    # Rotating a token ends its reminders; nothing is sent for fine tokens.
    result = tokens("rotate", "gh-release", input="ghp_NEWvalue0123456789abcdefghij\n")
    assert result.returncode == 0, result
    assert tokens("remind").returncode == 0
    assert len(webhook.requests) == 2
    assert "local:gh-release" not in json.loads(path.read_text())["channels"]["webhook"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_email(tokens, write_config, file_keyring, tmp_path):
    server = start_smtp(tmp_path, username=SMTP_USER, password=SMTP_PASSWORD, implicit_tls=True)
    try:
        add_tokens(tokens)
        write_config(
            f'[notify.email]\nhost = "localhost"\nport = {server.port}\nssl = true\n'
            f'from = "t@example.test"\nto = "ops@example.test"\nusername = "{SMTP_USER}"\n'
            f'password_token = "smtp-pass"\ncafile = "{server.cafile}"\n'
        )
        result = tokens("remind", "--notify", "email")
        assert result.returncode == 1, result
        assert len(server.messages) == 1
        assert_no_values(server.messages[0].as_string(), result.stderr)
    finally:
        server.stop()


def test_wrong_smtp_password_is_reported_without_it(tokens, write_config, file_keyring, tmp_path, webhook):
    server = start_smtp(tmp_path, username=SMTP_USER, password="another-password")
    try:
        add_tokens(tokens)
        write_config(config_text(webhook.url, server))
        result = tokens("remind")
        assert result.returncode == 3
        assert "notification by email failed: SMTP 127.0.0.1:" in result.stderr
        assert "refused the login for mailer (535)" in result.stderr
        assert len(webhook.requests) == 1  # the other channel went out
        assert_no_values(result.stdout, result.stderr)
    finally:
        server.stop()


def test_untrusted_certificate_fails_cleanly(tokens, write_config, file_keyring, smtp, tmp_path):
    add_tokens(tokens)
    text = config_text(None, smtp).replace(f'cafile = "{smtp.cafile}"\n', "")
    write_config(text)
    result = tokens("remind")
    assert result.returncode == 3
    assert "TLS failed" in result.stderr
    assert smtp.messages == []


def test_desktop_uses_notify_send(tokens, write_config, file_keyring, tmp_path, monkeypatch):
    add_tokens(tokens)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "notify-send.log"
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n--\\n" "$a"; done >> "{log}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = tokens("remind", "--notify", "desktop")
    assert result.returncode == 1, result
    args = log.read_text().split("\n--\n")
    assert "--urgency=critical" in args
    assert "tokenward: 1 overdue, 1 due soon" in args
    assert any("gh-release (github) overdue" in a for a in args)
    assert_no_values(log.read_text())


def test_missing_notify_send_does_not_stop_webhook(tokens, write_config, file_keyring, webhook, tmp_path, monkeypatch):
    add_tokens(tokens)
    write_config(config_text(webhook.url))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = tokens("remind", "--notify", "desktop", "--notify", "webhook")
    assert result.returncode == 3, result
    assert "notification by desktop failed: notify-send not found" in result.stderr
    assert len(webhook.requests) == 1


@pytest.mark.parametrize(
    "config, message",
    [
        ('[notify.webhook]\nurl = "ftp://x"\n', "notify.webhook.url must be an http(s) URL"),
        ('[notify.email]\nhost = "h"\nfrom = "a@b"\n', "notify.email.to is required"),
        ('[notify.email]\nhost = "h"\nfrom = "a@b"\nto = "c@d"\nssl = true\nstarttls = true\n', "not both"),
        ('[notify.webhook]\nurl = "http://127.0.0.1:9/"\nrepeat = "often"\n', "notify.webhook.repeat"),
        (
            '[notify.email]\nhost = "h"\nfrom = "a@b"\nto = "c@d"\npassword_token = "nope"\n',
            "password_token names 'nope', which is not in the inventory",
        ),
    ],
)
def test_bad_channel_config_is_exit_2_and_sends_nothing(tokens, write_config, file_keyring, data_dir, config, message):
    channel = "webhook" if "webhook" in config else "email"
    write_config(config)
    result = tokens("remind", "--notify", channel)
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (data_dir / notify.STATE_FILE).exists()


def test_unconfigured_channel_is_exit_2(tokens):
    result = tokens("remind", "--notify", "webhook")
    assert result.returncode == 2
    assert "no [notify.webhook] table" in result.stderr


def test_no_notify_skips_default_channels(tokens, write_config, file_keyring, webhook):
    add_tokens(tokens)
    write_config(config_text(webhook.url))
    result = tokens("remind", "--no-notify")
    assert result.returncode == 1
    assert webhook.requests == []


# -- units: the no-nagging rule, retries, refusing cleartext passwords -----------------

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)


def record(name: str, rotated_days_ago: int, rotate_every: str = "90d", expires: datetime | None = None) -> TokenRecord:
    rotated = NOW - timedelta(days=rotated_days_ago)
    return TokenRecord(name=name, kind="pypi", created_at=rotated, rotated_at=rotated, stores=("keyring",), fingerprint="0" * 16, rotate_every=rotate_every, expires_at=expires)


def reminders(*records):
    groups = build(list(records), NOW, parse_period("14d"))
    return [r for status in ("expired", "overdue", "due-soon") for r in groups[status]]


def test_select_sends_new_worse_and_repeated_only():
    day = parse_period("1d")
    seen: dict = {}
    first = reminders(record("a", 80), record("b", 100))
    send, hold = notify.select(first, seen, "local", NOW, day)
    assert [r.view.record.name for r in send] == ["b", "a"] and hold == []
    notify.remember(seen, "local", first, send, NOW)

    # Same statuses, 23 hours later (inside the timer's slack, so: resent) vs 20 hours later.
    later = NOW + timedelta(hours=20)
    send, hold = notify.select(first, seen, "local", later, day)
    assert send == [] and len(hold) == 2
    send, _ = notify.select(first, seen, "local", NOW + timedelta(hours=23, minutes=30), day)
    assert len(send) == 2

    # a worsens from due-soon to overdue: sent at once; b is held.
    worse = reminders(record("a", 95), record("b", 100))
    send, hold = notify.select(worse, seen, "local", later, day)
    assert [r.view.record.name for r in send] == ["a"]
    assert [r.view.record.name for r in hold] == ["b"]

    # b gets rotated (new rotated_at): news even though its status is the same later on.
    rotated = reminders(record("b", 91))
    send, _ = notify.select(rotated, seen, "local", later, day)
    assert [r.view.record.name for r in send] == ["b"]

    # Tokens that are fine again are forgotten.
    notify.remember(seen, "local", [], [], later)
    assert seen == {}


def test_select_keeps_sources_apart():
    day = parse_period("1d")
    seen: dict = {}
    items = reminders(record("a", 100))
    notify.remember(seen, "local", items, items, NOW)
    send, _ = notify.select(items, seen, "store:vault", NOW, day)
    assert len(send) == 1
    notify.remember(seen, "store:vault", [], [], NOW)
    assert "local:a" in seen


def test_retries_back_off_then_give_up():
    delays: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        raise notify.TransientError("http://h answered HTTP 503")

    with pytest.raises(notify.ChannelError, match=r"gave up after 4 attempts"):
        notify.with_retries(flaky, 3, sleep=delays.append)
    assert delays == [1.0, 2.0, 4.0]
    assert len(calls) == 4


def test_permanent_errors_are_not_retried():
    delays: list[float] = []

    def refused():
        raise notify.ChannelError("http://h refused the notification (HTTP 404)")

    with pytest.raises(notify.ChannelError, match="404"):
        notify.with_retries(refused, 3, sleep=delays.append)
    assert delays == []


def test_password_never_goes_out_in_cleartext():
    options = {"host": "mail.example.invalid", "from": "a@b", "to": "c@d", "starttls": False}
    with pytest.raises(notify.ChannelError, match="refusing to send the SMTP password unencrypted") as info:
        notify.send_email(options, "s", "t", SMTP_PASSWORD)
    assert SMTP_PASSWORD not in str(info.value)


def test_channel_options_defaults():
    config = parse_config({"notify": {"email": {"host": "h", "from": "a@b", "to": ["c@d"]}}}, Path("c.toml"))
    assert notify.channel_options(config, "email")["host"] == "h"
    assert notify.channel_options(config, "desktop") == {}


# -- issue 15: redirects, deadlines, broken peers, odd state, partial email, Basic auth ------

from tests.notify_servers import (  # noqa: E402
    MANY_HEADERS,
    NOT_HTTP,
    OK_THEN_SLOW_CLOSE,
    RawServer,
    smtp_trickling_greeting,
    trickle,
)


def webhook_table(url: str, *, retries: int = 1, timeout: float = 5) -> str:
    return f'[notify.webhook]\nurl = "{url}"\nretries = {retries}\ntimeout = {timeout}\n'


def email_table(smtp, *, port: int | None = None, timeout: float = 5, retries: int = 1, to=("ops@example.test", "dev@example.test")) -> str:
    recipients = ", ".join(f'"{a}"' for a in to)
    return (
        f'[notify.email]\nhost = "127.0.0.1"\nport = {port or smtp.port}\nstarttls = true\n'
        f'from = "tokenward@example.test"\nto = [{recipients}]\nusername = "{SMTP_USER}"\n'
        f'password_token = "smtp-pass"\ncafile = "{smtp.cafile}"\nretries = {retries}\ntimeout = {timeout}\n'
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_not_a_delivery(tokens, write_config, file_keyring, status):
    add_tokens(tokens)
    receiver = WebhookReceiver([status])
    try:
        write_config(webhook_table(receiver.url, retries=2))
        result = tokens("remind", "--notify", "webhook", "--json")
        assert result.returncode == 3, result
        delivery = json.loads(result.stdout)["notifications"][0]
        assert delivery["sent"] == [] and f"HTTP {status}, a redirect" in delivery["error"]
        assert [r.get("method", "POST") for r in receiver.requests] == ["POST"]  # not followed, not retried
        assert "moved-here" not in result.stderr and "SECRETPATH" not in result.stderr
        # Not recorded as sent: the next run tries again.
        assert tokens("remind", "--notify", "webhook").returncode == 3
        assert len(receiver.requests) == 2
    finally:
        receiver.stop()


def test_a_trickling_webhook_is_cut_at_the_deadline_and_email_still_goes(tokens, write_config, file_keyring, smtp):
    add_tokens(tokens)
    slow = RawServer(trickle(b"HTTP/1.1 200 OK\r\n"))
    try:
        write_config(webhook_table(slow.url, retries=0, timeout=1) + email_table(smtp))
        result = tokens("remind", "--notify", "webhook", "--notify", "email", timeout=50)
        assert result.returncode == 3, result
        assert "notification by webhook failed: http://127.0.0.1:" in result.stderr
        assert "did not answer within 1s" in result.stderr
        assert "Notified by email: gh-release, npm-soon." in result.stderr
        assert len(smtp.messages) == 1 and slow.connections == 1
    finally:
        slow.stop()


def test_a_trickling_smtp_greeting_is_cut_at_the_deadline(tokens, write_config, file_keyring, smtp, webhook):
    add_tokens(tokens)
    slow = RawServer(smtp_trickling_greeting, http=False)
    try:
        write_config(email_table(smtp, port=slow.port, retries=0, timeout=1) + webhook_table(webhook.url))
        result = tokens("remind", "--notify", "email", "--notify", "webhook", timeout=50)
        assert result.returncode == 3, result
        assert f"notification by email failed: SMTP 127.0.0.1:{slow.port} did not finish within 1s" in result.stderr
        assert len(webhook.requests) == 1
        assert_no_values(result.stdout, result.stderr)
    finally:
        slow.stop()


def test_waiting_for_the_notify_state_lock_is_bounded(tokens, write_config, file_keyring, webhook, data_dir):
    import fcntl

    add_tokens(tokens)
    write_config(webhook_table(webhook.url, retries=0, timeout=1))
    lock = data_dir / notify.STATE_LOCK
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another `tokens remind` stuck in a send
        result = tokens("remind", "--notify", "webhook", timeout=50)
    finally:
        os.close(fd)
    assert result.returncode == 3, result
    lines = result.stderr.splitlines()
    assert "Waiting for another `tokens remind` to finish sending notifications (at most 11s)..." in lines  # says so first
    assert lines[-1].startswith("Error: another `tokens remind` is still sending notifications: ")
    assert f"{lock} stayed locked for 11s; try again later" in lines[-1]
    assert webhook.requests == []


@pytest.mark.parametrize("script", [NOT_HTTP, MANY_HEADERS], ids=["ssh-banner", "150-headers"])
def test_a_peer_that_does_not_speak_http_fails_only_its_channel(tokens, write_config, file_keyring, smtp, script):
    add_tokens(tokens)
    peer = RawServer(script)
    try:
        write_config(webhook_table(peer.url, retries=2) + email_table(smtp))
        result = tokens("remind", "--notify", "webhook", "--notify", "email")
        assert result.returncode == 3, result
        assert "Overdue for rotation (1):" in result.stdout  # the report is printed
        assert f"notification by webhook failed: http://127.0.0.1:{peer.port} did not answer with valid HTTP" in result.stderr
        assert "Notified by email: gh-release, npm-soon." in result.stderr and len(smtp.messages) == 1
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        assert peer.connections == 1  # not retried: it will not start speaking HTTP
    finally:
        peer.stop()


def test_a_2xx_is_delivery_even_when_the_connection_then_hangs(tokens, write_config, file_keyring):
    add_tokens(tokens)
    peer = RawServer(OK_THEN_SLOW_CLOSE)
    try:
        write_config(webhook_table(peer.url, retries=2, timeout=2))
        result = tokens("remind", "--notify", "webhook", timeout=50)
        assert result.returncode == 1, result
        assert "Notified by webhook: gh-release, npm-soon." in result.stderr
        assert len(peer.requests) == 1  # POSTed once
        again = tokens("remind", "--notify", "webhook", timeout=50)
        assert again.returncode == 1, again
        assert "Nothing new for webhook" in again.stderr and len(peer.requests) == 1
    finally:
        peer.stop()


BAD_STATES = [
    {"channels": {"webhook": []}},
    {"channels": {"webhook": {"local:gh-release": {"status": "overdue", "rotated_at": "ROTATED"}}}},
    {"channels": {"webhook": {"local:gh-release": {"status": "overdue", "rotated_at": "ROTATED", "sent_at": 12}}}},
    {"channels": {"webhook": {"local:gh-release": {"status": "overdue", "rotated_at": "ROTATED", "sent_at": "yesterday"}}}},
    {"channels": {"webhook": {"local:gh-release": {"status": "overdue", "rotated_at": "ROTATED", "sent_at": "2026-01-01T00:00:00"}}}},
    {"channels": {"webhook": {"local:gh-release": {"status": "overdue", "rotated_at": "ROTATED", "sent_at": "9999-12-31T00:00:00+00:00"}}}},
    {"channels": {"webhook": {"local:gh-release": {"status": ["overdue"], "rotated_at": 1, "sent_at": None}}}},
    {"channels": {"webhook": {"local:gh-release": "sent"}}},
    {"channels": []},
    ["channels"],
    "not an object",
]


@pytest.mark.parametrize("state", BAD_STATES, ids=[f"state{i}" for i in range(len(BAD_STATES))])
def test_a_notify_state_of_the_wrong_shape_counts_as_absent(tokens, write_config, file_keyring, webhook, data_dir, state):
    add_tokens(tokens)
    write_config(webhook_table(webhook.url))
    rotated = next(t["rotated_at"] for t in json.loads(tokens("list", "--json").stdout) if t["name"] == "gh-release")
    data_dir.mkdir(exist_ok=True)
    (data_dir / notify.STATE_FILE).write_text(json.dumps(state).replace("ROTATED", rotated))
    result = tokens("remind", "--notify", "webhook")
    assert result.returncode == 1, result
    assert "Notified by webhook: gh-release, npm-soon." in result.stderr
    saved = json.loads((data_dir / notify.STATE_FILE).read_text())
    assert set(saved["channels"]["webhook"]) == {"local:gh-release", "local:npm-soon"}
    assert tokens("remind", "--notify", "webhook").returncode == 1
    assert len(webhook.requests) == 1  # and the repaired state holds the next run back


def test_partial_email_delivery_is_reported(tokens, write_config, file_keyring, tmp_path):
    server = start_smtp(tmp_path, username=SMTP_USER, password=SMTP_PASSWORD, refuse=("dev@example.test",))
    try:
        add_tokens(tokens)
        write_config(email_table(server))
        result = tokens("remind", "--notify", "email", "--json")
        assert result.returncode == 3, result
        assert len(server.messages) == 1 and server.messages[0]["X-Envelope-To"] == "ops@example.test"
        delivery = json.loads(result.stdout)["notifications"][0]
        assert delivery["sent"] == ["gh-release", "npm-soon"]
        assert list(delivery["refused"]) == ["dev@example.test"]
        assert delivery["refused"]["dev@example.test"].startswith("550 5.1.1 <dev@example.test>: no such user")
        assert "Warning: notification by email did not reach every recipient; refused: dev@example.test (550 " in result.stderr
        assert "\x1b" not in result.stderr + result.stdout  # the server's words are cleaned
        assert_no_values(result.stderr)
    finally:
        server.stop()


def test_every_recipient_refused_is_a_failure(tokens, write_config, file_keyring, tmp_path):
    server = start_smtp(tmp_path, username=SMTP_USER, password=SMTP_PASSWORD, refuse=("ops@example.test", "dev@example.test"))
    try:
        add_tokens(tokens)
        write_config(email_table(server))
        result = tokens("remind", "--notify", "email")
        assert result.returncode == 3, result
        assert "refused every recipient: dev@example.test (550 5.1.1" in result.stderr
        assert "\x1b" not in result.stderr and server.messages == []
    finally:
        server.stop()


def test_webhook_basic_auth_from_the_url(tokens, write_config, file_keyring):
    import base64

    add_tokens(tokens)
    receiver = WebhookReceiver([500, 200])
    try:
        url = receiver.url.replace("http://", "http://hook-user:pA%40ss%3Aw0rd@")
        write_config(webhook_table(url, retries=0))
        failed = tokens("remind", "--notify", "webhook")
        assert failed.returncode == 3, failed
        result = tokens("remind", "--notify", "webhook")
        assert result.returncode == 1, result
        expected = "Basic " + base64.b64encode(b"hook-user:pA@ss:w0rd").decode()
        assert [r["headers"].get("Authorization") for r in receiver.requests] == [expected, expected]
        for text in (failed.stdout, failed.stderr, result.stdout, result.stderr):
            assert "pA" not in text and "w0rd" not in text and "hook-user" not in text
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://hook-user:s3cretPW@hooks.example.test/x", "over plain http; use https"),
        ("http://hook-user:s3cretPW@127.0.0.1:99999/x", "notify.webhook.url must be an http(s) URL with a host (Port out of range"),
        ("https://hook-user:s3cretPW@hooks.example.test/a b", "notify.webhook.url must be an http(s) URL with a host (it contains spaces"),
    ],
)
def test_webhook_urls_refused_at_config_load(tokens, write_config, file_keyring, url, message):
    write_config(webhook_table(url))
    result = tokens("remind", "--notify", "webhook")
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "s3cretPW" not in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "what, message",
    [(notify.STATE_FILE, "cannot record what was notified in"), (notify.STATE_LOCK, "cannot open the lock file")],
)
def test_a_state_or_lock_path_that_is_a_directory_is_one_error_line(tokens, write_config, file_keyring, webhook, data_dir, what, message):
    add_tokens(tokens)
    write_config(webhook_table(webhook.url))
    (data_dir / what).mkdir()
    result = tokens("remind", "--notify", "webhook")
    assert result.returncode == 3, result
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: ") and message in last and str(data_dir / what) in last
    assert "internal error" not in result.stderr


# -- issue 15 follow-up, item 3: markup in a teammate's text stays text --------------------

HOSTILE = "<!channel> urgent: <https://evil.example/rotate|tokens rotate gh-ci> *now* <a href=x>&amp;<img src=y>"


def test_webhook_text_escapes_slack_markup(tokens, write_config, file_keyring, webhook):
    result = tokens("add", "gh-ci", "--created", days_ago(200), "--purpose", HOSTILE, input=CANARY + "\n")
    assert result.returncode == 0, result
    write_config(config_text(webhook.url))
    assert tokens("remind").returncode == 1
    text = webhook.documents[0]["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; urgent: &lt;https://evil.example/rotate|tokens rotate gh-ci&gt;" in text
    assert "&amp;amp;" in text
    # The structured list keeps the purpose as written: it is data, not markup.
    assert webhook.documents[0]["tokens"][0]["purpose"] == HOSTILE


def test_desktop_body_escapes_markup(tokens, write_config, file_keyring, tmp_path, monkeypatch):
    result = tokens("add", "gh-ci", "--created", days_ago(200), "--purpose", HOSTILE, input=CANARY + "\n")
    assert result.returncode == 0, result
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "notify-send.log"
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n--\\n" "$a"; done >> "{log}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert tokens("remind", "--notify", "desktop").returncode == 1
    body = [a for a in log.read_text().split("\n--\n") if "gh-ci" in a][0]
    assert "<a href" not in body and "<img" not in body and "<!channel>" not in body
    assert "&lt;a href=x&gt;&amp;amp;&lt;img src=y&gt;" in body


# -- issue 15 follow-up, item 5: state files guarded like the inventory -------------------


def _sent_just_now(rotated: str) -> str:
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    entry = {"status": "overdue", "rotated_at": rotated, "sent_at": now}
    return json.dumps({"version": 1, "channels": {"webhook": {"local:gh-release": entry}}})


@pytest.mark.parametrize("shape", ["zero-link", "fifo", "deep", "others-writable", "foreign"])
def test_a_notify_state_that_is_not_ours_to_trust_counts_as_absent(tokens, write_config, file_keyring, webhook, data_dir, shape):
    add_tokens(tokens)
    write_config(webhook_table(webhook.url))
    rotated = next(t["rotated_at"] for t in json.loads(tokens("list", "--json").stdout) if t["name"] == "gh-release")
    state = data_dir / notify.STATE_FILE
    if shape == "zero-link":
        state.symlink_to("/dev/zero")
    elif shape == "fifo":
        os.mkfifo(state, 0o600)
    elif shape == "deep":
        state.write_text("[" * 100000)
        state.chmod(0o600)
    else:
        state.write_text(_sent_just_now(rotated))  # would hold gh-release back, were it believed
        state.chmod(0o666 if shape == "others-writable" else 0o600)
        if shape == "foreign":
            if os.geteuid() != 0:
                pytest.skip("needs root to give the file to another user")
            os.chown(state, 65534, 65534)
    result = tokens("remind", "--notify", "webhook", timeout=60)
    assert result.returncode == 1, result
    assert "internal error" not in result.stderr
    assert "Warning: " in result.stderr and "it is ignored (treated as absent)" in result.stderr
    assert "Notified by webhook: gh-release, npm-soon." in result.stderr


@pytest.mark.parametrize("shape", ["zero-link", "fifo", "deep"])
def test_a_calendar_state_that_is_not_ours_to_trust_counts_as_absent(tokens, file_keyring, data_dir, tmp_path, shape):
    from tokenward import calendar_feed

    add_tokens(tokens)
    state = data_dir / calendar_feed.STATE_FILE
    if shape == "zero-link":
        state.symlink_to("/dev/zero")
    elif shape == "fifo":
        os.mkfifo(state, 0o600)
    else:
        state.write_text("[" * 100000)
        state.chmod(0o600)
    result = tokens("calendar", "-o", str(tmp_path / "feed.ics"), timeout=60)
    assert result.returncode == 0, result
    assert "internal error" not in result.stderr and "it is ignored (treated as absent)" in result.stderr
    assert "BEGIN:VEVENT" in (tmp_path / "feed.ics").read_text()


def test_doctor_names_a_state_file_that_is_a_link_or_a_fifo(tokens, file_keyring, data_dir):
    add_tokens(tokens)
    (data_dir / notify.STATE_FILE).symlink_to("/dev/zero")
    os.mkfifo(data_dir / "calendar-state.json", 0o600)
    result = tokens("doctor", timeout=60)
    assert result.returncode == 2, result
    assert "notify-state.json is a symbolic link" in result.stdout + result.stderr
    assert "calendar-state.json is not a regular file" in result.stdout + result.stderr


# -- issue 15 follow-up, item 6: a channel's whole delivery has one documented bound ------


class FakeClock:
    """Time that moves only when an attempt "takes" its timeout or a wait is slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_trickling_receiver_is_given_up_within_timeout_times_attempts():
    clock = FakeClock()

    def trickled_out():  # each attempt uses its whole timeout of 3 s
        clock.now += 3
        raise notify.TransientError("http://h did not answer within 3s")

    with pytest.raises(notify.ChannelError, match=r"within the channel's 15s"):
        notify.with_retries(trickled_out, 4, sleep=clock.sleep, budget=15, clock=lambda: clock.now)
    assert clock.now <= 15


def test_a_long_retry_after_is_not_waited_for_beyond_the_budget():
    clock = FakeClock()

    def unavailable():
        clock.now += 0.1
        raise notify.TransientError("http://h answered HTTP 503", retry_after=3600)

    with pytest.raises(notify.ChannelError, match="gave up after 1 attempts"):
        notify.with_retries(unavailable, 3, sleep=clock.sleep, budget=12, clock=lambda: clock.now)
    assert clock.slept == [] and clock.now <= 12


def test_a_certificate_error_is_not_retried(tmp_path):
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.notify_servers import make_certificate

    cert, key = make_certificate(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(notify.ChannelError, match="not retried"):
            notify.send_webhook({"url": f"https://127.0.0.1:{server.server_address[1]}/hook", "timeout": 5}, {"text": "x"})
    finally:
        server.shutdown()
        server.server_close()


def test_a_notify_send_timeout_kills_its_children_too(tokens, write_config, file_keyring, tmp_path, monkeypatch):
    add_tokens(tokens)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pidfile = tmp_path / "child.pid"
    fake = bin_dir / "notify-send"
    fake.write_text(f"#!/bin/sh\nsleep 300 >/dev/null 2>&1 &\necho $! > {pidfile}\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = tokens("remind", "--notify", "desktop", timeout=60)  # notify-send's timeout: 10 s
    assert pidfile.exists(), result
    pid = int(pidfile.read_text())
    try:
        assert "notify-send did not finish in time" in result.stderr, result
        state = Path(f"/proc/{pid}/stat")
        assert not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


# -- issue 15 follow-up, item 9: cosmetics ----------------------------------------------


def test_ipv6_origins_keep_their_brackets_and_schemes_are_case_insensitive(tokens, write_config, file_keyring, webhook):
    assert notify.origin("http://[::1]:18301/hooks/SECRET") == "http://[::1]:18301"
    add_tokens(tokens)
    write_config(webhook_table(webhook.url.replace("http://", "HTTP://")))
    result = tokens("remind", "--notify", "webhook")
    assert result.returncode == 1, result
    assert "Notified by webhook: gh-release, npm-soon." in result.stderr


@pytest.mark.parametrize("shape", ["symlink", "fifo"])
def test_a_lock_that_is_not_a_file_is_one_class_of_error(tokens, write_config, file_keyring, webhook, data_dir, tmp_path, shape):
    add_tokens(tokens)
    write_config(webhook_table(webhook.url))
    lock = data_dir / notify.STATE_LOCK
    if shape == "symlink":
        lock.symlink_to(tmp_path / "elsewhere")
    else:
        os.mkfifo(lock, 0o600)
    result = tokens("remind", "--notify", "webhook", timeout=60)
    assert result.returncode == 2, result
    assert "is not a regular file" in result.stderr
