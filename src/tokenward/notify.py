"""Notification channels for `tokens remind`: webhook, email, desktop.

What goes out is the reminder's metadata (names, kinds, status, days, the action to
take), never a value and never a fingerprint. Each channel remembers what it last
sent per token (a 0600 JSON file in the data dir) and sends again only when a
token's status worsens, the token was rotated, or the channel's `repeat` period
(default 1d) has passed. A failing channel is reported and the others still run;
transient HTTP/SMTP errors are retried with exponential backoff.
"""

from __future__ import annotations

import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

from tokenward.config import Config
from tokenward.errors import ConfigError, UsageError
from tokenward.paths import ensure_private_dir
from tokenward.policy import AT_REGISTRY, NEEDS_ACTION, REMINDED, SEVERITY, Period, Status, from_iso, parse_period, stored_moment, to_iso
from tokenward.remind import Reminder
from tokenward.sanitize import safe
from tokenward.senders import (  # noqa: F401 - the channels' senders, re-exported
    DEFAULT_TIMEOUT,
    ChannelError,
    TransientError,
    clean,
    is_loopback,
    origin,
    send_desktop,
    send_email,
    send_webhook,
    split_credentials,
)

CHANNELS = ("webhook", "email", "desktop")
DEFAULT_REPEAT = "1d"
DEFAULT_RETRIES = 3
BACKOFF = 1.0  # seconds before the first retry; doubles each time
MAX_RETRY_AFTER = 30.0
# A daily timer fires a little early or late: a reminder sent at 09:00:05 must be
# due again at 09:00:01 the next day, so `repeat` is measured with this much slack.
REPEAT_SLACK = timedelta(hours=1)
STATE_FILE = "notify-state.json"
STATE_LOCK = "notify-state.lock"
# What a run may spend besides its channels' sends (reading the SMTP password token).
LOCK_SLACK = 10.0


@dataclass
class Delivery:
    channel: str
    sent: list[str] = field(default_factory=list)  # token names delivered this run
    held: list[str] = field(default_factory=list)  # already sent, not repeated yet
    error: str | None = None
    attempts: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # email: recipients refused while others got it

    def as_json(self) -> dict:
        return {
            "channel": self.channel,
            "sent": self.sent,
            "held": self.held,
            "error": self.error,
            "attempts": self.attempts,
            "refused": self.refused,
        }


# -- channel options ----------------------------------------------------------------


def channel_options(config: Config, channel: str) -> dict[str, Any]:
    """The checked options of one channel; bad or missing settings are a ConfigError."""
    if channel not in CHANNELS:
        raise UsageError(f"unknown notification channel {channel!r} (known: {', '.join(CHANNELS)})")
    if channel not in config.notify and channel != "desktop":
        if config.path is None:
            from tokenward.paths import config_path

            raise ConfigError(
                f"no config file, so no [notify.{channel}] table; create {config_path(None)[0]} with one to notify by {channel}"
            )
        raise ConfigError(f"{config.where}: no [notify.{channel}] table; add one to notify by {channel}")
    options = dict(config.notify.get(channel, {}))
    where = f"{config.where}: notify.{channel}"
    try:
        parse_period(options.get("repeat", DEFAULT_REPEAT), what=f"notify.{channel}.repeat")
    except UsageError as exc:
        raise ConfigError(f"{config.where}: {exc}") from None
    if options.get("retries", DEFAULT_RETRIES) < 0:
        raise ConfigError(f"{where}.retries must be 0 or more")
    if options.get("timeout", DEFAULT_TIMEOUT) <= 0:
        raise ConfigError(f"{where}.timeout must be more than 0 seconds")
    if channel == "webhook":
        _check_webhook_url(options.get("url", ""), where)
    elif channel == "email":
        for key in ("host", "from", "to"):
            if not options.get(key):
                raise ConfigError(f"{where}.{key} is required")
        if options.get("ssl") and options.get("starttls"):
            raise ConfigError(f"{where}: set ssl (implicit TLS, port 465) or starttls (port 587), not both")
        port = options.get("port")
        if port is not None and not 0 < port < 65536:
            raise ConfigError(f"{where}.port must be 1-65535")
        to = options["to"]
        if isinstance(to, list) and not all(isinstance(a, str) and a for a in to):
            raise ConfigError(f"{where}.to must be an address or an array of addresses")
        if options.get("cafile") and not Path(options["cafile"]).expanduser().is_file():
            raise ConfigError(f"{where}.cafile: {options['cafile']} is not a file")
    return options


def _check_webhook_url(url: str, where: str) -> None:
    """A URL urllib can POST to; its user:password@ (Basic auth) only over TLS or to this
    machine. Messages never repeat the URL: its path and credentials are secrets."""
    from urllib.parse import urlsplit

    if not url.lower().startswith(("https://", "http://")):  # schemes are case-insensitive (RFC 3986)
        raise ConfigError(f"{where}.url must be an http(s) URL")
    if any(not c.isprintable() or c.isspace() for c in url):
        raise ConfigError(f"{where}.url contains a space or control character")
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"{where}.url has an invalid port") from None
    if not parts.hostname:
        raise ConfigError(f"{where}.url has no host")
    _, credentials = split_credentials(url)
    if credentials is not None and parts.scheme.lower() == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{where}.url carries a user:password for {parts.hostname} over plain http; use https (Basic auth is sent as is)"
        )


# -- what was sent (no nagging) -------------------------------------------------


def lock_wait(options: dict[str, dict[str, Any]]) -> float:
    """How long another run with these channels can hold the state lock, at most."""
    return LOCK_SLACK + sum(channel_budget(channel, opts) for channel, opts in options.items())


@contextmanager
def state_lock(data_dir: Path, wait: float | None = None) -> Iterator[None]:
    """One reminder run notifies at a time: two cron jobs never both send. A run waits
    at most `wait` seconds for another one, then says so."""
    from tokenward.locks import file_lock

    def waiting() -> None:
        sys.stderr.write(
            f"Waiting for another `tokens remind` to finish sending notifications (at most {wait:g}s)...\n"
            if wait is not None else "Waiting for another `tokens remind` to finish sending notifications...\n"
        )
        sys.stderr.flush()

    with file_lock(
        ensure_private_dir(data_dir) / STATE_LOCK,
        timeout=wait,
        busy="another `tokens remind` is still sending notifications",
        on_wait=waiting,
    ):
        yield


def _usable(entry: Any) -> bool:
    """A state entry select() can use; anything else counts as never sent."""
    if not isinstance(entry, dict):
        return False
    status = entry.get("status")
    if not isinstance(status, str) or status not in SEVERITY or not isinstance(entry.get("rotated_at"), str):
        return False
    sent_at = entry.get("sent_at")
    try:
        return isinstance(sent_at, str) and from_iso(sent_at).tzinfo is not None and stored_moment(sent_at) is not None
    except (TypeError, ValueError):
        return False


def load_state(data_dir: Path) -> dict[str, dict[str, dict[str, str]]]:
    """What each channel last sent. A file of the wrong shape, or entries of it, count as
    absent: the worst outcome is one reminder sent again."""
    from tokenward.statefile import read_json_state

    data, warning = read_json_state(data_dir / STATE_FILE)
    if warning:
        sys.stderr.write(f"Warning: {safe(warning)}\n")
    channels = data.get("channels") if isinstance(data, dict) else None
    if not isinstance(channels, dict):
        return {}
    return {
        channel: {key: entry for key, entry in seen.items() if _usable(entry)}
        for channel, seen in channels.items()
        if isinstance(seen, dict)
    }


def save_state(data_dir: Path, channels: dict) -> None:
    from tokenward.errors import LocalDataError
    from tokenward.statefile import write_json_state

    path = data_dir / STATE_FILE
    try:
        write_json_state(path, {"version": 1, "channels": channels}, indent=1, sort_keys=True)
    except OSError as exc:
        raise LocalDataError(
            f"cannot record what was notified in {path} ({exc.strerror or type(exc).__name__}); the next run sends it again"
        ) from None


def state_key(source: str, name: str) -> str:
    return f"{source}:{name}"


def select(
    reminders: list[Reminder], seen: dict[str, dict[str, str]], source: str, now: datetime, repeat: Period
) -> tuple[list[Reminder], list[Reminder]]:
    """(to send, to hold back) for one channel."""
    send: list[Reminder] = []
    hold: list[Reminder] = []
    for r in reminders:
        last = seen.get(state_key(source, r.view.record.name))
        if (
            last is None
            or last.get("rotated_at") != to_iso(r.view.record.rotated_at)
            or SEVERITY[r.view.status] > SEVERITY.get(last.get("status", "ok"), 0)
            or _repeat_due(last["sent_at"], repeat, now)
        ):
            send.append(r)
        else:
            hold.append(r)
    return send, hold


def _repeat_due(sent_at: str, repeat: Period, now: datetime) -> bool:
    try:
        return repeat.after(from_iso(sent_at)) - REPEAT_SLACK <= now
    except (OverflowError, ValueError, TypeError):  # a date no calendar can add to: send again
        return True


def remember(
    seen: dict[str, dict[str, str]], source: str, reminders: list[Reminder], sent: list[Reminder], now: datetime
) -> None:
    """Record what was sent; forget tokens that are fine again so their next reminder goes out."""
    current = {state_key(source, r.view.record.name): r for r in reminders}
    for key in [k for k in seen if k.startswith(f"{source}:") and k not in current]:
        del seen[key]
    for r in sent:
        seen[state_key(source, r.view.record.name)] = {
            "status": r.view.status,
            "rotated_at": to_iso(r.view.record.rotated_at),
            "sent_at": to_iso(now),
        }
    for key, r in current.items():
        last = seen.get(key)
        if last is not None and SEVERITY[r.view.status] < SEVERITY.get(last.get("status", "ok"), 0):
            last["status"] = r.view.status  # better now: a later worsening is news again


# -- the message ------------------------------------------------------------------


def _item(r: Reminder, source: str) -> dict:
    data = r.as_json()
    data.pop("fingerprint", None)  # not a value, but nothing a reader needs either
    data["source"] = source
    return data


def _line(r: Reminder) -> str:
    status = r.view.status
    when = f"in {r.days}d" if status == Status.DUE_SOON else f"{r.days}d ago"
    if status in AT_REGISTRY:
        when = "at the registry"
    record = r.view.record
    purpose = f" - {safe(record.purpose)}" if record.purpose else ""
    return f"{safe(record.name)} ({safe(record.kind)}) {status} {when}{purpose}: {safe(r.action)}"


def title(reminders: list[Reminder]) -> str:
    counts = {s: sum(1 for r in reminders if r.view.status == s) for s in REMINDED}
    parts = [f"{n} {s.words}" for s, n in counts.items() if n]
    return "tokenward: " + ", ".join(parts)


def body(reminders: list[Reminder], source: str) -> str:
    where = f" (inventory: {source})" if source != "local" else ""
    lines = [f"Tokens that need rotation on {socket.gethostname()}{where}:", ""]
    lines += [f"- {_line(r)}" for r in reminders]
    lines += ["", "Sent by `tokens remind`; values are never included."]
    return "\n".join(lines)


def slack_escape(text: str) -> str:
    """`&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;` (api.slack.com: formatting, escaping text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_document(reminders: list[Reminder], summary: dict[str, int], source: str, now: datetime) -> dict:
    """Slack-compatible (`text`) plus the structured list for anything else."""
    # Slack reads `<...>` as a mention or a link and `&` as an entity: escape the three
    # characters its documentation lists, in everything a teammate could have written.
    text = "*" + title(reminders) + "*\n" + "\n".join(f"• {slack_escape(_line(r))}" for r in reminders)
    return {
        "text": text,
        "generated_at": to_iso(now),
        "host": socket.gethostname(),
        "source": source,
        "summary": summary,
        "tokens": [_item(r, source) for r in reminders],
    }


# -- channels ---------------------------------------------------------------------


def with_retries(
    func: Callable[[], None], retries: int, sleep: Callable[[float], None] = time.sleep,
    budget: float | None = None, clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run func, retrying transient failures with exponential backoff (or the server's
    Retry-After, at most MAX_RETRY_AFTER). Returns attempts. With `budget` (the
    channel's `timeout` x (retries + 1)), the attempts and the waits between them all
    fit in it: a retry is made only while a whole attempt still fits after the wait."""
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            func()
            return attempt
        except TransientError as exc:
            if attempt > retries:
                raise ChannelError(f"{exc} (gave up after {attempt} attempts)") from None
            delay = exc.retry_after if exc.retry_after is not None else BACKOFF * 2 ** (attempt - 1)
            delay = min(max(delay, 0.0), MAX_RETRY_AFTER)
            if budget is not None:
                per_attempt = budget / (retries + 1)
                if clock() - start + delay + per_attempt > budget:
                    raise ChannelError(
                        f"{exc} (gave up after {attempt} attempts: another one would not end within the channel's "
                        f"{budget:g}s, its timeout x (retries + 1))"
                    ) from None
            sleep(delay)


def channel_budget(channel: str, opts: dict[str, Any]) -> float:
    """The most one channel's delivery takes, waits between attempts included."""
    retries = 0 if channel == "desktop" else opts.get("retries", DEFAULT_RETRIES)
    return opts.get("timeout", DEFAULT_TIMEOUT) * (retries + 1)


# -- one run ----------------------------------------------------------------------


def deliver(
    groups: dict[str, list[Reminder]],
    channels: list[str],
    *,
    config: Config,
    data_dir: Path,
    now: datetime,
    source: str = "local",
    smtp_password: Callable[[str], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send what is news on each channel. Options are checked for all channels first,
    so a config mistake sends nothing. `smtp_password(token_name)` is called only when
    an email is actually about to go out."""
    options = {channel: channel_options(config, channel) for channel in channels}
    reminders = [r for status in REMINDED for r in groups[status]]
    summary = {status: len(groups[status]) for status in REMINDED}
    deliveries: list[Delivery] = []
    with state_lock(data_dir, lock_wait(options)):
        state = load_state(data_dir)
        for channel in channels:
            opts = options[channel]
            seen = state.setdefault(channel, {})
            repeat = parse_period(opts.get("repeat", DEFAULT_REPEAT))
            send, hold = select(reminders, seen, source, now, repeat)
            delivery = Delivery(channel, held=[r.view.record.name for r in hold])
            if send:
                try:
                    delivery.attempts, delivery.refused = _send(channel, opts, send, summary, source, now, smtp_password, sleep)
                except ChannelError as exc:
                    delivery.error = str(exc)
                    send = []
                except Exception as exc:  # noqa: BLE001 - one channel's surprise must not stop the others
                    delivery.error = f"unexpected error ({type(exc).__name__})"
                    send = []
                else:
                    delivery.sent = [r.view.record.name for r in send]
            remember(seen, source, reminders, send, now)
            deliveries.append(delivery)
        save_state(data_dir, state)
    return deliveries


def _send(channel, opts, send, summary, source, now, smtp_password, sleep) -> tuple[int, dict[str, str]]:
    """(attempts, recipients refused while others got it)."""
    retries = opts.get("retries", DEFAULT_RETRIES)
    subject = title(send)
    if channel == "webhook":
        document = webhook_document(send, summary, source, now)
        return with_retries(lambda: send_webhook(opts, document), retries, sleep, channel_budget(channel, opts)), {}
    if channel == "email":
        password = None
        token = opts.get("password_token")
        if token:
            if smtp_password is None:
                raise ChannelError(f"cannot read the SMTP password token {token!r} here")
            try:
                password = smtp_password(token)
            except Exception as exc:  # noqa: BLE001 - store errors carry names only, never values
                raise ChannelError(f"cannot read the SMTP password token {token!r}: {exc}") from None
        text = body(send, source)
        refused: dict[str, str] = {}

        def once() -> None:
            refused.update(send_email(opts, subject, text, password))

        return with_retries(once, retries, sleep, channel_budget(channel, opts)), refused
    urgent = any(r.view.status in NEEDS_ACTION for r in send)
    send_desktop(opts, subject, body(send, source), urgent)
    return 1, {}
