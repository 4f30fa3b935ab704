"""`tokens report --html`: the page opened in a real headless Chromium (Debian's
`chromium`), read back through the browser (`--dump-dom`) and photographed
(`--screenshot`): counts, statuses, names, the timeline; hostile metadata shows as text
and runs nothing; and the browser fetches nothing for the page (a request-recording
server on 127.0.0.1 that a control page proves the browser would reach, plus Chromium's
own net log: every connection it attempted went to the dead proxy on 127.0.0.1)."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import CANARY
from tests.test_calendar import fake_team_store  # noqa: F401 - fixture
from tests.test_remind import remote, run_cli
from tokenward import report_html
from tokenward.inventory import TokenRecord
from tokenward.policy import parse_period

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def stamp(offset: int) -> str:
    return (NOW + timedelta(days=offset)).strftime("%Y-%m-%dT%H:%M:%S")


# -- a real browser -------------------------------------------------------------------


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        servers.unavailable("chromium is not installed (scripts/bootstrap test installs Debian's chromium)")
    return exe


def browse(page: Path, tmp_path: Path, *mode: str) -> tuple[str, list[str]]:
    """Run headless Chromium on `page`; its stdout and the addresses of every TCP
    connection it attempted (from its net log). A proxy on a dead loopback port and a
    resolver that resolves nothing keep its own background requests on this machine."""
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    netlog = profile.with_suffix(".netlog.json")
    argv = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
        "--disable-default-apps", "--no-pings", f"--user-data-dir={profile}",
        "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--log-net-log={netlog}", "--window-size=1200,900", "--virtual-time-budget=3000",
        *mode, page.as_uri(),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}  # not the test keyring's bus
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = json.loads(netlog.read_text())
    types = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    attempts = [
        event["params"]["address"]
        for event in log["events"]
        if types[event["type"]] == "TCP_CONNECT_ATTEMPT" and "address" in event.get("params", {})
    ]
    return proc.stdout, attempts


class Recorder:
    """An HTTP server on 127.0.0.1 that records every path asked of it."""

    def __init__(self) -> None:
        paths = self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.stop()


class Elements(HTMLParser):
    """Tags and attributes of a DOM as the browser serialized it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def named(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


def hostile(url: str) -> tuple[str, ...]:
    """Markup that runs script or fetches from `url` if it is ever not escaped, in parts:
    `tokens add` takes at most 200 characters of purpose."""
    return (
        "<script>document.body.setAttribute('data-pwned','script')</script>",
        f"<img src=\"{url}/img.png\" onerror=\"document.body.setAttribute('data-pwned','img')\">",
        f"</style><style>body{{background:url({url}/css.png)}}</style></td></tr></table>",
        f"<link rel=stylesheet href=\"{url}/link.css\"><iframe src=\"{url}/frame\"></iframe> & 'quotes' \"double\"",
    )


@pytest.fixture
def inventory(tokens, file_keyring, recorder):
    tokens.add_many([
        (["gh-expired", "--created", stamp(-10), "--expires", stamp(-2), "--purpose", hostile(recorder.url)[0]], CANARY),
        (["npm-old", "--created", stamp(-200), "--purpose", hostile(recorder.url)[1]], "npm_abcdef0123456789"),
        (["gl-soon", "--created", stamp(-85), "--purpose", hostile(recorder.url)[2]], "glpat-abcdef0123456789"),
        (["fine-1", "--kind", "generic", "--purpose", hostile(recorder.url)[3]], "fine-value-0123"),
        (["fine-2", "--kind", "generic", "--rotate-every", "1y"], "fine-value-4567"),
    ])


def test_page_in_chromium_shows_counts_statuses_names_and_timeline(tokens, inventory, tmp_path, recorder):
    page = tmp_path / "report.html"
    result = tokens("report", "--html", str(page))
    assert result.returncode == 0, result
    assert re.fullmatch(rf"Wrote {re.escape(str(page))} \(5 tokens, [\d,]+ bytes\)\.\n", result.stderr)
    raw = page.read_text()
    assert CANARY not in raw

    dom, connections = browse(page, tmp_path, "--dump-dom")
    elements = Elements(dom)
    text = " ".join(" ".join(elements.text).split())
    # Counts per status, as the browser shows them.
    counts = {li["data-status"]: None for li in elements.named("li")}
    assert set(counts) == {"expired", "overdue", "due-soon", "ok"}
    for label, number in (("expired", 1), ("overdue", 1), ("due soon", 1), ("ok", 2)):
        assert re.search(rf"\b{number} \S {label}\b", text), (label, text[:400])
    assert "Status of 5 tokens" in text
    # Every token in the table, with its status label next to its colour.
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td><span class=\"badge b-(\w+)\">\S ([^<]+)</span>", dom)
    assert sorted(rows) == sorted([
        ("gh-expired", "github", "bad", "expired"),
        ("npm-old", "npm", "late", "overdue"),
        ("gl-soon", "gitlab", "soon", "due soon"),
        ("fine-1", "generic", "ok", "ok"),
        ("fine-2", "generic", "ok", "ok"),
    ])  # fmt: skip
    assert [r[0] for r in rows][:3] == ["gh-expired", "npm-old", "gl-soon"]  # worst first
    # The timeline: an SVG with one labelled row per token, drawn from the data.
    (svg,) = elements.named("svg")
    assert svg["role"] == "img"
    assert "The 5 earliest deadlines of 5 tokens" in text and "today" in text
    assert len(elements.named("g")) == 5
    assert "Generated " in text and NOW.strftime("%Y-%m-%d") in text

    # The hostile purpose is text, shown whole; none of it became an element or ran.
    assert "<script>document.body.setAttribute('data-pwned','script')</script>" in text
    assert f'<img src="{recorder.url}/img.png"' in text and "</style><style>" in text
    assert "&" in text and "'quotes'" in text and '"double"' in text
    for tag in ("script", "img", "iframe", "link"):
        assert elements.named(tag) == [], tag
    assert len(elements.named("style")) == 1 and len(elements.named("table")) == 1
    assert "data-pwned" not in elements.named("body")[0]

    # Nothing was fetched: the recorder saw no request, the browser connected to nothing
    # but its dead proxy, and the page carries the CSP and no URL in any attribute.
    assert recorder.paths == []
    assert set(connections) <= {"127.0.0.1:9"}
    (csp,) = [m for m in elements.named("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert not re.search(r"""\s(?:src|href|xmlns|action|srcset|poster|data)\s*=\s*["']?[a-z]+:""", raw, re.I)


def test_the_browser_would_have_fetched_an_unescaped_page(tmp_path, recorder):
    """The control for the test above: the same markup unescaped, without a CSP, does
    reach the recorder, so an empty recorder there means the page fetched nothing."""
    page = tmp_path / "control.html"
    page.write_text(f"<!DOCTYPE html><html><body><p>{''.join(hostile(recorder.url))}</p></body></html>")
    dom, connections = browse(page, tmp_path, "--dump-dom")
    assert {"/img.png", "/link.css"} <= set(recorder.paths), recorder.paths
    assert 'data-pwned="' in dom
    assert any(address.endswith(recorder.url.rsplit(":", 1)[1]) for address in connections)


def test_screenshot_of_the_page(tokens, inventory, tmp_path):
    page = tmp_path / "report.html"
    assert tokens("report", "--html", str(page), "--quiet").returncode == 0
    shot = tmp_path / "report.png"
    browse(page, tmp_path, f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 900)
    assert len(data) > 20_000  # a rendered page, not a blank one


def test_team_mode_and_stdout(fake_team_store, capsys, data_dir):
    fake_team_store.entries = {
        "pypi-team": remote("pypi-team", rotated_days_ago=120, purpose="team <b>lib</b>\x00\ud800\x1b[31m\x07"),
        "gh-team": remote("gh-team", rotated_days_ago=80, kind="github"),
    }
    code, out, err = run_cli(capsys, "report", "--html", "-", "--store", "team")
    assert code == 0, err
    assert "from store &#x27;team&#x27;" in out
    assert "team &lt;b&gt;lib&lt;/b&gt;\ufffd\ufffd\ufffd[31m\ufffd" in out and "<b>lib" not in out
    assert "<td>pypi-team</td>" in out and "<td>gh-team</td>" in out
    assert not (data_dir / "inventory.sqlite3").exists()


def test_empty_inventory_and_unknown_statuses_render():
    page = report_html.render([], now=NOW, warn_before=parse_period("14d"), source="local")
    assert "No tokens." in page and "No token has a deadline." in page and "Status of 0 tokens" in page
    created = NOW - timedelta(days=1)
    record = TokenRecord(name="r", kind="github", created_at=created, rotated_at=created, stores=("keyring",), fingerprint="0")
    rows = [report_html.Row(record, "revoked", None), report_html.Row(record, "<new>", None)]
    assert report_html._counts(rows).count("<li") == 6
    assert "&lt;new&gt;" in report_html._badge("<new>")


@pytest.mark.parametrize(
    "args, message",
    [
        (["report"], "Missing option '--html'"),
        (["report", "--html", "x.html", "--store", "nowhere"], "unknown store 'nowhere'"),
        (["report", "--html", "/nonexistent-dir/x.html"], "cannot write /nonexistent-dir/x.html"),
    ],
)
def test_bad_input_is_one_line_exit_2(tokens, file_keyring, args, message):
    result = tokens(*args)
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bidi_and_format_characters_are_neutralised_in_html_and_ics():
    from datetime import datetime, timezone

    from tokenward import calendar_feed, report_html
    from tokenward.duedates import clean
    from tokenward.inventory import TokenRecord
    from tokenward.policy import parse_period

    purpose = "pay \u202egnp.exe\u202c now\u2066x\u2069\u200b\ufeff"
    assert clean(purpose) == "pay \ufffdgnp.exe\ufffd now\ufffdx\ufffd\ufffd\ufffd"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    record = TokenRecord(
        name="bidi", kind="generic", created_at=now, rotated_at=now, stores=("keyring",), fingerprint="ab" * 8,
        rotate_every="30d", purpose=purpose,
    )  # fmt: skip
    items = calendar_feed.contents([record], parse_period("14d"))
    ics = calendar_feed.render(items, calendar_feed.revisions(items, {}, now), name="t").decode()
    assert "gnp.exe" in ics
    for ch in "\u202e\u202c\u2066\u2069\u200b\ufeff":
        assert ch not in ics
    page = report_html.render([record], now=now, warn_before=parse_period("14d"), source="local")
    assert "gnp.exe" in page
    for ch in "\u202e\u202c\u2066\u2069\u200b\ufeff":
        assert ch not in page


def test_html_output_never_replaces_another_users_file_nor_keeps_write_bits_for_others(tokens, file_keyring, tmp_path):
    """The try-out's nobody-owned 0666 `shared/r.html` became root's and stayed 0666."""
    page = tmp_path / "r.html"
    page.write_text("old")
    os.chmod(page, 0o666)
    if os.geteuid() == 0:
        os.chown(page, 65534, 65534)
        result = tokens("report", "--html", str(page))
        assert result.returncode == 2, result
        assert result.stderr == f"Error: cannot write {page}: {page} belongs to nobody; refusing to replace another user's file\n"
        assert page.read_text() == "old" and os.stat(page).st_uid == 65534
        os.chown(page, 0, 0)
    assert tokens("report", "--html", str(page)).returncode == 0
    assert (os.stat(page).st_mode & 0o777) == 0o644 and "<html" in page.read_text()
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    result = tokens("report", "--html", str(shared / "r.html"))
    assert result.returncode == 2 and "is writable by other users" in result.stderr, result
    assert list(shared.iterdir()) == []
