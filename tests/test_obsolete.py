"""`tokens audit`: the three findings (trusted publishing made a token obsolete, unused,
user-wide but used for few projects), their retire steps, exit codes and --json, against a
stand-in PyPI index (tests/pypi_index_standin.py) with one project published by a trusted
publisher and one by a token, plus hostile answers. Audit reads no value: the stores it
could read from fail on any call."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pypitoken import Token

from tests.pypi_index_standin import GITHUB, IndexStandIn
from tokenward.app import App
from tokenward.config import load_config, parse_config
from tokenward.inventory import Inventory, TokenRecord
from tokenward.obsolete import offline_count, run_audit
from tokenward.policy import parse_period, to_iso
from tokenward.registries.http import HttpClient
from tokenward.registries.pypi_index import IndexReader

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
PAGE = "https://pypi.org/manage/account/token/"
TEST_PAGE = "https://test.pypi.org/manage/account/token/"


def issued(url: str) -> str:
    """The retire step of a token of an index whose token page is not known (the stand-in)."""
    return f"revoke it where it was issued ({url.split('//', 1)[1].split('/', 1)[0]})"
TP = "tp-project"  # every file of its latest release carries a GitHub publisher
TOK = "token-project"  # its latest release was uploaded with a token


@pytest.fixture(scope="module")
def index():
    server = IndexStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def pypi(index):
    index.reset()
    index.add("TP_Project", "2.0", {"tp_project-2.0-py3-none-any.whl": GITHUB, "tp_project-2.0.tar.gz": GITHUB})
    index.add(TOK, "1.1", {"token_project-1.1.tar.gz": None})
    return index


def record(name, kind="pypi", *, scope="", repository="", age=10, used=None, **extra) -> TokenRecord:
    created = NOW - timedelta(days=age)
    return TokenRecord(
        name=name, kind=kind, created_at=created, rotated_at=created, stores=("keyring",), fingerprint="0" * 16,
        scope=scope, repository=repository, last_used_at=None if used is None else NOW - timedelta(days=used), **extra,
    )  # fmt: skip


def write_uses(data_dir: Path, *uses: tuple[str, int, list[str]]) -> None:
    """Audit log `exec` entries as lifecycle.record_use writes them: (token, days ago, projects)."""
    from tokenward.paths import ensure_private_dir

    with open(os.open(ensure_private_dir(data_dir) / "audit.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as log:
        for token, days, projects in uses:
            entry = {"time": to_iso(NOW - timedelta(days=days)), "event": "exec", "token": token, "command": "twine",
                     "tool": "twine", "projects": projects, "narrowed": False, "exit_status": 0}  # fmt: skip
            log.write(json.dumps(entry, sort_keys=True) + "\n")


class NoStores(App):
    def store(self, name):  # audit never reads a value: any store access fails the test
        raise AssertionError(f"audit opened store {name!r}")


def audit_of(data_dir: Path, *records: TokenRecord, unused_after: str = "180d", config: dict | None = None):
    inventory = Inventory.open(data_dir)
    inventory.insert_many(list(records))
    inventory.close()
    config = parse_config({"defaults": {"unused_after": unused_after}, **(config or {})}, data_dir / "config.toml")
    app = NoStores(config=config, data_dir=data_dir, now=NOW)
    try:  # 5xx retries without their backoff waits: the tests stay fast
        run = run_audit(app, reader=IndexReader(HttpClient(sleep=lambda seconds: None)))
        # remind's count (its own, faster path) agrees with the findings it counts
        assert offline_count(app) == sum(f.finding in ("unused", "user-wide") for f in run.findings)
        return run
    finally:
        app.close()


def found(run) -> dict[tuple[str, str], str]:
    return {(f.name, f.finding): f.retire for f in run.findings}


def test_trusted_publishing_finds_the_token_whose_projects_all_publish_through_a_publisher(data_dir, pypi):
    repo = pypi.url + "/legacy/"
    run = audit_of(
        data_dir,
        record("pypi-tp", scope=f"project:{TP}", repository=repo),
        record("pypi-tok", scope=f"project:{TOK}", repository=repo),
        record("pypi-both", scope=f"project:{TOK},{TP}", repository=repo),
        record("pypi-new", scope="project:not-yet-on-the-index", repository=repo),
        # revoked at PyPI and recorded with `tokens revoke --yes`: retired, not reported again
        record("pypi-done", scope=f"project:{TP}", repository=repo, verified_at=NOW, verify_result="revoked"),
    )
    assert found(run) == {("pypi-tp", "trusted-publishing"): issued(pypi.url)}
    detail = run.findings[0].detail
    assert "tp-project 2.0" in detail and "GitHub acme/tp-project release.yml, environment pypi" in detail
    assert run.exit_status == 1 and not run.unchecked
    # Each project asked once, though three tokens name tp-project; PyPI's 301 to the
    # project's own spelling (same host) is followed; the provenance with its media type.
    assert pypi.seen.count(f"/pypi/{TP}/json") == 1 and pypi.seen.count("/pypi/TP_Project/json") == 1
    assert sum(p.startswith(f"/integrity/{TP}/2.0/") for p in pypi.seen) == 2
    assert "application/vnd.pypi.integrity.v1+json" in pypi.accept
    assert pypi.credentials == []  # public APIs: no token, no cookie, no netrc credentials


def test_a_user_wide_token_is_judged_by_the_projects_its_uses_uploaded(data_dir, pypi):
    repo = pypi.url + "/legacy/"
    write_uses(data_dir, ("pypi-user", 5, [TP]), ("pypi-user", 3, [TP]), ("pypi-user", 2, []), ("pypi-wide", 4, [TP, TOK]))
    write_uses(data_dir, ("pypi-user", 400, [TOK]))  # a token of the same name, removed before this one was added
    run = audit_of(
        data_dir,
        record("pypi-user", scope="user", repository=repo, age=30),
        record("pypi-wide", scope="user", repository=repo, age=30),
        record("pypi-quiet", scope="user", repository=repo, age=30),  # no use: nothing to judge by
    )
    assert found(run) == {
        ("pypi-user", "trusted-publishing"): issued(pypi.url),
        ("pypi-user", "user-wide"): issued(pypi.url),
        ("pypi-wide", "user-wide"): issued(pypi.url),
    }
    user_wide = {f.name: f.detail for f in run.findings if f.finding == "user-wide"}
    assert "2 recorded uses uploaded only 1 project: tp-project (1 other use named no project)" in user_wide["pypi-user"]
    assert "uploaded only 2 projects: token-project, tp-project" in user_wide["pypi-wide"]
    assert "project-scoped" in user_wide["pypi-wide"]


def test_unused_tokens_by_last_use_or_creation_with_unused_after_from_the_config(data_dir):
    write_uses(data_dir, ("gl-logged", 200, []), ("gl-recent-log", 20, []))
    run = audit_of(
        data_dir,
        record("gl-old", "gitlab", age=400, used=200),
        record("gl-fresh", "gitlab", age=400, used=10),
        record("gl-logged", "gitlab", age=400),
        record("gl-recent-log", "gitlab", age=400, used=300),  # the log knows a later use
        record("gh-never", "github", age=300),
        record("gh-new", "github", age=30),
        record("gh-revoked", "github", age=300, verified_at=NOW - timedelta(days=1), verify_result="revoked"),
        record("slack-old", "slack", age=400, used=365),
        record("generic-old", "generic", age=400, used=365),
    )
    assert found(run) == {
        ("slack-old", "unused"): "https://api.slack.com/apps",  # no registry API: its page
        ("generic-old", "unused"): "tokens remove generic-old",  # not even a page
        ("gh-never", "unused"): "https://github.com/settings/tokens",  # no revoke API: the token page
        ("gl-logged", "unused"): "tokens revoke gl-logged",  # GitLab revokes by API
        ("gl-old", "unused"): "tokens revoke gl-old",
    }
    details = {f.name: f.detail for f in run.findings}
    assert details["gl-old"].startswith("last used 2025-11-13 (200 days ago), more than 180d")
    assert details["gh-never"].startswith("no use recorded since it was added 2025-08-05 (300 days ago")
    shorter = audit_of(data_dir / "other", record("gh-new", "github", age=30), unused_after="4w")
    assert found(shorter) == {("gh-new", "unused"): "https://github.com/settings/tokens"}


def test_the_retire_step_names_the_token_page_of_the_tokens_own_index_only(data_dir):
    """pypi.org's page for pypi.org's tokens, test.pypi.org's for its own; a token of another
    index is revoked where it was issued (that host), never at pypi.org; an upload URL that
    [trusted_publishing.index] maps to an index is that index's (mapping another upload URL
    to pypi.org itself is refused at load: pypi.org mints only for upload.pypi.org)."""
    mirror = "https://upload.mirror.example/legacy/"
    config = {"trusted_publishing": {"index": {mirror: "https://pypi.mirror.example"}}}
    run = audit_of(
        data_dir,
        record("pypi-default", scope="user", age=400),
        record("pypi-upload", scope="user", repository="https://upload.pypi.org/legacy/", age=400),
        record("pypi-test", "testpypi", scope="user", repository="https://test.pypi.org/legacy/", age=400),
        record("pypi-private", scope="user", repository="https://pypi.corp.example:8443/legacy/", age=400),
        record("pypi-mirror", scope="user", repository=mirror, age=400),
        record("pypi-odd", scope="user", repository="ftp://files.example/up", age=400),
        config=config,
    )
    assert found(run) == {
        ("pypi-default", "unused"): PAGE,
        ("pypi-upload", "unused"): PAGE,
        ("pypi-test", "unused"): TEST_PAGE,
        ("pypi-private", "unused"): "revoke it where it was issued (pypi.corp.example:8443)",
        ("pypi-mirror", "unused"): "revoke it where it was issued (pypi.mirror.example)",
        ("pypi-odd", "unused"): "revoke it where it was issued (files.example)",
    }


@pytest.mark.parametrize(
    "kind, repository, where",
    [
        ("pypi", "https://pypi.corp.example:8443/legacy/", "where it was issued (pypi.corp.example:8443)"),
        ("generic", "https://files.corp.example/upload", "where it was issued (files.corp.example)"),
        ("generic", "", "where it was issued"),
    ],
)
def test_revoke_names_the_same_place_as_the_audits_retire_step(tokens, data_dir, kind, repository, where):
    """TRYOUT14b item 3: never pypi.org's page (nor "at generic") for another index's token."""
    with Inventory.open(data_dir) as inventory:
        inventory.insert(record("old", kind, repository=repository, age=400))
    audited = json.loads(tokens("audit", "--json").stdout)
    result = tokens("revoke", "old", "--yes")
    assert result.returncode == 0, result
    assert f"open the site {where}" in result.stderr and f"recorded as revoked {where}." in result.stderr, result
    assert "pypi.org" not in result.stderr and "at generic" not in result.stderr
    if kind == "pypi":
        assert audited[0]["retire"] == f"revoke it {where}", audited


def test_tokens_used_outside_exec_are_never_unused(data_dir):
    """A CI secret a target holds, the token that writes it, the SMTP password, the npm
    account password: their uses are not recorded, so calling them unused would be a guess."""
    target = {"type": "github-actions", "token": "pypi-ci", "auth": "gh-admin", "repo": "acme/app", "secret": "PYPI_TOKEN"}
    email = {"host": "smtp.example.com", "from": "a@example.com", "to": "b@example.com", "password_token": "smtp-pass"}
    config = {"targets": {"release": target}, "notify": {"email": email}, "rotate": {"npm": {"login": "npm-password"}}}
    old = [record(n, "github", age=400) for n in ("pypi-ci", "gh-admin", "smtp-pass", "npm-password", "gh-forgotten")]
    assert found(audit_of(data_dir, *old, config=config)) == {("gh-forgotten", "unused"): "https://github.com/settings/tokens"}


@pytest.mark.parametrize(
    "fault, says",
    [
        ("5xx", "HTTP 503 (server error)"),
        ("provenance-5xx", "HTTP 503 (server error)"),
        ("forbidden", "HTTP 403 for the provenance"),
        ("wrong-types", "the project's JSON is not as PyPI documents it"),
        ("provenance-wrong-types", "the provenance is not as PyPI documents it"),
        ("huge", "answer larger than 1024 KiB"),
        ("not-json", "a body that is not JSON"),
        ("deep-json", ""),
        ("redirect-elsewhere", "redirected to localhost"),
        ("bad-filename", "a file name of the latest release is not as PyPI documents it"),
        ("many-files", "lists 600 files, more than the 500 checked"),
        ("other-project", "the project's name in its JSON (another project's answer)"),
        ("foreign-file", "a file name of the latest release (not this project's at this version)"),
        ("other-version", "a file name of the latest release (not this project's at this version)"),
        ("control-name", "a text field of the answer (a control character)"),
        ("control-chars", "a text field of the answer (a control character)"),
    ],
)
def test_an_index_that_cannot_tell_is_named_and_exits_3(data_dir, pypi, fault, says):
    pypi.add("odd", "1.0", {"odd-1.0.tar.gz": GITHUB}, fault=fault)
    run = audit_of(data_dir, record("pypi-odd", scope="project:odd", repository=pypi.url), record("gh-never", "github", age=300))
    assert run.exit_status == 3
    assert [f.name for f in run.findings] == ["gh-never"]  # the other findings are still reported
    (line,) = run.unchecked
    assert line.startswith(f"pypi-odd: cannot check trusted publishing of odd: registry 127.0.0.1:{pypi.url.rsplit(':', 1)[1]}")
    assert says in line
    assert "\n" not in line and "\x1b" not in line


def test_a_run_has_a_deadline_after_which_nothing_is_asked_or_waited_for(data_dir, pypi):
    """TRYOUT14b item 5: an index that holds every answer costs the run its deadline, not
    (projects x request deadline); the tokens not decided are named, exit 3."""
    import threading

    app_records = [record(f"pypi-{n}", scope=f"project:{TP}", repository=pypi.url) for n in ("a", "b")]
    inventory = Inventory.open(data_dir)
    inventory.insert_many(app_records)
    inventory.close()
    app = NoStores(config=parse_config({}, data_dir / "config.toml"), data_dir=data_dir, now=NOW)
    pypi.hold = threading.Event()
    try:
        run = run_audit(app, reader=IndexReader(HttpClient(sleep=lambda seconds: None), deadline=0.5))
    finally:
        pypi.hold.set()  # only now does the index answer: the run did not wait for it
        app.close()
    assert run.exit_status == 3 and run.findings == []
    assert len(run.unchecked) == 2 and all("this run's deadline of 0.5 s for the index passed" in line for line in run.unchecked)
    nothing = IndexReader(deadline=0).check_all([(pypi.url, TP)])
    assert "deadline of 0 s" in nothing[(pypi.url, TP)].reason


def test_the_index_trusted_publishing_mints_at_is_the_one_asked(data_dir, pypi):
    """[trusted_publishing.index] maps an upload URL to its index (exec mints there): audit
    asks that index about the token's projects."""
    upload = "http://127.0.0.1:9/legacy/"  # nothing listens there
    config = {"trusted_publishing": {"index": {upload: pypi.url}}}
    run = audit_of(data_dir, record("pypi-private", scope=f"project:{TP}", repository=upload), config=config)
    assert found(run) == {("pypi-private", "trusted-publishing"): issued(pypi.url)}
    alone = audit_of(data_dir / "alone", record("pypi-private", scope=f"project:{TP}", repository=upload))
    assert alone.exit_status == 3 and "cannot connect" in alone.unchecked[0]


def test_a_project_still_uploaded_with_a_token_decides_without_the_unreachable_one(data_dir, pypi):
    pypi.add("down", "1.0", {"down-1.0.tar.gz": GITHUB}, fault="5xx")
    run = audit_of(data_dir, record("pypi-two", scope=f"project:down,{TOK}", repository=pypi.url))
    assert run.findings == [] and run.unchecked == [] and run.exit_status == 0


def test_an_unreachable_index_is_exit_3(data_dir):
    run = audit_of(data_dir, record("pypi-x", scope=f"project:{TP}", repository="http://127.0.0.1:9/legacy/"))
    assert run.exit_status == 3 and "cannot connect" in run.unchecked[0]


def test_requests_run_in_a_pool_of_at_most_8(data_dir, pypi):
    pypi.delay = 0.05
    names = [f"proj-{i}" for i in range(20)]
    for name in names:
        pypi.add(name, "1.0", {f"{name}-1.0.tar.gz": GITHUB})
    run = audit_of(data_dir, *(record(f"pypi-{n}", scope=f"project:{n}", repository=pypi.url) for n in names))
    assert len(run.findings) == 20 and run.requests == 40
    assert 1 < pypi.max_in_flight <= 8


def test_unused_after_is_validated_when_the_config_loads(write_config, tokens):
    write_config('[defaults]\nunused_after = "6m"\n')
    bad = tokens("audit")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: ") and "defaults.unused_after" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert load_config(str(write_config('[defaults]\nunused_after = "26w"\n'))).unused_after == parse_period("26w")


@pytest.mark.parametrize("text", ["99999d", "100000w", "12345678901234d", "9999y"])
def test_a_period_too_long_says_at_most_100_years(text):
    """TRYOUT14b item 8: five digits or more are too long, not "use a number and a unit"."""
    from tokenward.errors import UsageError

    with pytest.raises(UsageError, match="at most 100 years"):
        parse_period(text)


def _pypi_value(project: str | None = None) -> str:
    token = Token.create(domain="pypi.org", identifier="audit", key="k" * 32)
    if project:
        token.restrict(project_names=[project])
    return token.dump()


def test_the_command_reports_retire_steps_json_and_reads_no_value(tokens, file_keyring, data_dir, pypi, monkeypatch):
    """End to end: values really stored, then every store call fails: audit still works,
    prints no value, and names each finding with its retire step."""
    values = {"pypi-tp": _pypi_value(TP), "pypi-tok": _pypi_value(TOK), "pypi-user": _pypi_value()}
    for name, value in values.items():
        assert tokens("add", name, "--repository", pypi.url + "/legacy/", input=value).returncode == 0
    assert tokens("add", "gh-old", "--kind", "github", "--created", "2020-01-01", input="ghp_" + "a1" * 18).returncode == 0
    assert tokens("add", "db-old", "--kind", "generic", "--created", "2020-01-01", input="generic-secret-0123").returncode == 0
    values["db-old"] = "generic-secret-0123"
    with open(data_dir / "audit.log", "a") as log:  # `tokens add` wrote it, 0600
        entry = {"time": to_iso(datetime.now(timezone.utc)), "event": "exec", "token": "pypi-user", "projects": [TP]}
        log.write(json.dumps(entry, sort_keys=True) + "\n")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.BrokenKeyring")  # any read fails
    netrc = data_dir.parent / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))  # requests would send these unless told not to

    text = tokens("audit")
    assert text.returncode == 1, text
    assert "Made obsolete by trusted publishing (2):" in text.stdout
    assert "  pypi-tp (pypi): every file of tp-project 2.0, the latest release of the project it is scoped to, was" in text.stdout
    assert f"    -> {issued(pypi.url)}, then `tokens revoke pypi-tp --yes` records it" in text.stdout
    assert "Unused (2):" in text.stdout and "gh-old (github): no use recorded since it was added 2020-01-01" in text.stdout
    assert "    -> revoke it where it was issued, then `tokens remove db-old`" in text.stdout
    assert "User-wide, but used for few projects (1):" in text.stdout
    assert text.stderr == ""
    assert pypi.credentials == []

    as_json = tokens("audit", "--json")
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert all(set(item) == {"name", "finding", "detail", "retire"} for item in data)
    assert {(i["name"], i["finding"], i["retire"]) for i in data} == {
        ("pypi-tp", "trusted-publishing", issued(pypi.url)),
        ("pypi-user", "trusted-publishing", issued(pypi.url)),
        ("pypi-user", "user-wide", issued(pypi.url)),
        ("gh-old", "unused", "https://github.com/settings/tokens"),
        ("db-old", "unused", "tokens remove db-old"),
    }
    for out in (text, as_json):
        for value in values.values():
            assert value not in out.stdout + out.stderr and value[5:40] not in out.stdout + out.stderr

    # A publisher with an escape sequence and a newline: the answer is refused (exit 3),
    # in the text and in --json alike: no control character from the index is printed.
    pypi.add(TP, "2.1", {"tp_project-2.1.tar.gz": GITHUB}, fault="control-chars")
    for hostile in (tokens("audit"), tokens("audit", "--json")):
        assert hostile.returncode == 3
        assert "a control character" in hostile.stderr and "FORGED" not in hostile.stdout + hostile.stderr
        assert "\x1b" not in hostile.stdout + hostile.stderr and "\\u001b" not in hostile.stdout

    pypi.projects[TP].fault = "redirect-elsewhere"
    down = tokens("audit", "--json")
    assert down.returncode == 3
    assert "Error: pypi-tp: cannot check trusted publishing of tp-project: registry 127.0.0.1" in down.stderr
    assert "Traceback" not in down.stderr
    assert {i["name"] for i in json.loads(down.stdout)} == {"gh-old", "db-old", "pypi-user"}


def test_remind_counts_the_offline_findings_and_points_at_audit_without_the_network(tokens, file_keyring, data_dir, pypi):
    import sqlite3

    assert tokens("add", "pypi-tp", "--repository", pypi.url + "/legacy/", "--rotate-every", "10y", input=_pypi_value(TP)).returncode == 0
    assert tokens("add", "gh-old", "--kind", "github", "--rotate-every", "10y", input="ghp_" + "b2" * 18).returncode == 0
    assert tokens("add", "gh-older", "--kind", "github", "--rotate-every", "10y", input="ghp_" + "c3" * 18).returncode == 0
    quiet = tokens("remind")
    assert quiet.returncode == 0 and "tokens audit" not in quiet.stdout
    with sqlite3.connect(data_dir / "inventory.sqlite3") as db:
        db.execute("UPDATE tokens SET created_at = '2020-01-01T00:00:00+00:00' WHERE name LIKE 'gh-old%'")
    remind = tokens("remind")
    assert remind.returncode == 0  # obsolete tokens do not change remind's exit status
    assert remind.stdout.rstrip().endswith(
        "2 audit findings (unused tokens, user-wide tokens used for few projects): see `tokens audit`."
    )
    assert json.loads(tokens("remind", "--json").stdout)["audit_findings"] == 2
    assert pypi.seen == []  # the trusted-publishing finding needs the network: remind never asks


def test_project_names_no_index_could_have_are_never_asked_for(data_dir, pypi):
    """Names from a teammate's metadata or a damaged audit log reach no URL: a slash, `..`,
    a control character."""
    write_uses(data_dir, ("pypi-user", 2, [TP, "../../admin", "x\x1b[2Jy"]))
    run = audit_of(
        data_dir,
        record("pypi-user", scope="user", repository=pypi.url, age=30),
        record("pypi-meta", scope="project:a/b", repository=pypi.url, age=30),
    )
    assert [(f.name, f.finding) for f in run.findings] == [("pypi-user", "user-wide")]
    assert run.exit_status == 1
    assert all(".." not in path and "%" not in path for path in pypi.seen)
    assert pypi.seen == [f"/pypi/{TP}/json", "/pypi/TP_Project/json"] + [
        p for p in pypi.seen if p.startswith("/integrity/")
    ]


def test_an_audit_log_that_cannot_be_trusted_stops_audit_but_not_the_reminder(tokens, data_dir, tmp_path):
    with Inventory.open(data_dir) as inventory:
        inventory.insert(record("gh-old", "github", age=400))
    (tmp_path / "elsewhere.log").write_text("")
    (data_dir / "audit.log").symlink_to(tmp_path / "elsewhere.log")
    remind = tokens("remind")
    assert remind.returncode == 0 and "audit.log is a symlink" in remind.stderr and "Traceback" not in remind.stderr
    refused = tokens("audit")
    assert refused.returncode == 2 and refused.stderr.startswith("Error: ") and "audit.log is a symlink" in refused.stderr
    assert refused.stdout == ""


def test_a_fifo_as_audit_log_is_refused_not_waited_on(tokens, data_dir):
    """TRYOUT14b item 6: opening a FIFO would wait for a writer forever (the timeout is only
    a safety net for the failure: it is never reached when the FIFO is refused)."""
    with Inventory.open(data_dir) as inventory:
        inventory.insert(record("gh-old", "github", age=400))
    os.mkfifo(data_dir / "audit.log", 0o600)
    remind = tokens("remind", timeout=30)
    assert remind.returncode == 0 and "audit.log is not a regular file" in remind.stderr, remind
    refused = tokens("audit", timeout=30)
    assert refused.returncode == 2 and refused.stderr.startswith("Error: ") and "audit.log is not a regular file" in refused.stderr
    assert refused.stdout == ""


def test_the_documented_answers_parse_as_documented():
    """PyPI's own examples (docs.pypi.org JSON API, trimmed; PEP 740 Appendix 1's publisher),
    extra keys and all, read the way docs/audit.md says."""
    from tokenward.registries.pypi_index import Publisher, parse_provenance, parse_release

    def file(name):
        return {"comment_text": "", "core-metadata": {"sha256": "a1d0"}, "digests": {"md5": "d385", "sha256": "c23e"},
                "downloads": -1, "filename": name, "has_sig": False, "packagetype": "bdist_wheel", "python_version": "py3",
                "requires_python": ">=3.9", "size": 4661, "upload_time": "2024-11-06T22:37:09", "yanked": False,
                "upload_time_iso_8601": "2024-11-06T22:37:09.220617Z", "url": f"https://files.pythonhosted.org/{name}",
                "yanked_reason": None}  # fmt: skip

    files = [file("sampleproject-4.0.0-py3-none-any.whl"), file("sampleproject-4.0.0.tar.gz")]
    project = {
        "info": {"name": "sampleproject", "version": "4.0.0", "yanked": False, "downloads": {"last_day": -1}},
        "last_serial": 25862117, "releases": {"1.0": [], "4.0.0": files}, "urls": files, "vulnerabilities": [],
        "ownership": {"roles": [{"role": "Owner", "user": "theacodes"}], "organization": "pypa"},
    }  # fmt: skip
    assert parse_release(project, "https://pypi.org/pypi/sampleproject/json", "SampleProject") == (
        "4.0.0", ("sampleproject-4.0.0-py3-none-any.whl", "sampleproject-4.0.0.tar.gz")
    )  # fmt: skip
    # legacy formats PyPI still serves for old releases, by their name-version prefix
    legacy = {"info": {"name": "Old.Proj", "version": "1.0"}, "urls": [file("old_proj-1.0-py2.7.egg"), file("Old.Proj-1.0.tar.bz2"), file("old-proj-1.0.zip")]}
    assert parse_release(legacy, "https://pypi.org/pypi/old-proj/json", "old-proj")[1] == (
        "old_proj-1.0-py2.7.egg", "Old.Proj-1.0.tar.bz2", "old-proj-1.0.zip"
    )  # fmt: skip
    pep740 = {
        "kind": "GitHub", "claims": {"ref": "refs/tags/v1.0.0", "sha": "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        "repository_name": "HolyGrail", "repository_owner": "octocat", "repository_owner_id": "1",
        "workflow_filename": "publish.yml", "environment": None,
    }  # fmt: skip
    gitlab = {"kind": "GitLab", "repository": "group/app", "workflow_filepath": ".gitlab-ci.yml", "environment": "release", "claims": {}}
    provenance = {"version": 1, "attestation_bundles": [{"publisher": pep740, "attestations": []}, {"publisher": gitlab, "attestations": []}]}
    assert parse_provenance(provenance, "https://pypi.org/integrity/x") == (
        Publisher("GitHub", "octocat/HolyGrail", "publish.yml", ""),
        Publisher("GitLab", "group/app", ".gitlab-ci.yml", "release"),
    )


def test_a_token_is_decided_by_its_first_kept_project_and_nothing_more_is_asked(data_dir, pypi):
    """A crafted audit log gives a user-wide token 2,000 projects none of which is on the
    index, a token's caveats 200: the first 404 decides each is kept; the requests already in
    flight (at most 8) are all that is sent."""
    write_uses(data_dir, ("pypi-user", 2, [f"gone-{i}" for i in range(2000)]))
    run = audit_of(data_dir, record("pypi-user", scope="user", repository=pypi.url, age=30))
    assert run.findings == [] and run.unchecked == [] and run.exit_status == 0
    assert 1 <= len(pypi.seen) <= 8
    pypi.seen.clear()
    many = ",".join(f"gone-{i}" for i in range(200))
    run = audit_of(data_dir / "scoped", record("pypi-many", scope=f"project:{many}", repository=pypi.url, age=30))
    assert run.exit_status == 0 and 1 <= len(pypi.seen) <= 8


def test_one_file_without_provenance_decides_its_project(data_dir, pypi):
    """A release of 40 files uploaded with a token: the first provenance 404 keeps the token;
    the rest of the files are not asked about (at most the 8 in flight)."""
    pypi.add("big", "1.0", {f"big-1.0-py3-none-manylinux_{i}_x86_64.whl": None for i in range(40)})
    run = audit_of(data_dir, record("pypi-big", scope="project:big", repository=pypi.url))
    assert run.findings == [] and run.exit_status == 0
    asked = [p for p in pypi.seen if p.startswith("/integrity/")]
    assert 1 <= len(asked) <= 8


def test_the_projects_considered_per_token_are_capped_and_the_detail_says_so(data_dir, pypi):
    """A user-wide token's 50 most recent distinct projects (the older ones are not asked),
    a scoped token's first 50 caveats (in name order); the finding says what was left out."""
    for i in range(60):
        pypi.add(f"pj-{i}", "1.0", {f"pj_{i}-1.0.tar.gz": GITHUB})
    write_uses(data_dir, *(("pypi-user", 100 - i, [f"pj-{i}"]) for i in range(60)))  # pj-59 the most recent
    run = audit_of(data_dir, record("pypi-user", scope="user", repository=pypi.url, age=200))
    (finding,) = [f for f in run.findings if f.finding == "trusted-publishing"]
    assert finding.detail.endswith("(only the 50 most recent of the more than 50 projects it uploaded were checked)")
    asked = {p.split("/")[2] for p in pypi.seen if p.startswith("/pypi/")}
    assert asked == {f"pj-{i}" for i in range(10, 60)}
    assert not [f for f in run.findings if f.finding == "user-wide"]  # 60 projects are not "a few"

    pypi.seen.clear()
    scoped = ",".join(f"pj-{i}" for i in range(60))
    run = audit_of(data_dir / "scoped", record("pypi-scoped", scope=f"project:{scoped}", repository=pypi.url))
    assert run.findings[0].detail.endswith("(only the first 50 of the 60 projects it is scoped to were checked)")
    assert {p.split("/")[2] for p in pypi.seen if p.startswith("/pypi/")} == set(sorted(f"pj-{i}" for i in range(60))[:50])


def test_a_run_starts_at_most_its_request_limit_and_says_so(data_dir, pypi):
    names = [f"lim-{i}" for i in range(10)]
    for name in names:
        pypi.add(name, "1.0", {f"{name.replace('-', '_')}-1.0.tar.gz": GITHUB})
    config = parse_config({}, data_dir / "config.toml")
    inventory = Inventory.open(data_dir)
    inventory.insert_many([record(f"pypi-{n}", scope=f"project:{n}", repository=pypi.url) for n in names])
    inventory.close()
    app = NoStores(config=config, data_dir=data_dir, now=NOW)
    try:
        run = run_audit(app, reader=IndexReader(HttpClient(sleep=lambda seconds: None), max_requests=5))
    finally:
        app.close()
    assert len(pypi.seen) == 5 and run.exit_status == 3
    assert len(run.findings) + len(run.unchecked) == 10 and run.unchecked
    assert all("not asked: this run's limit of 5 requests to the index is spent" in line for line in run.unchecked)


def test_an_overlong_audit_log_line_is_skipped_unread(data_dir, pypi):
    """Our own lines are a few hundred bytes; a crafted one over 64 KiB is skipped (counted
    as unreadable), never parsed: its 7,000 projects are not asked about."""
    write_uses(data_dir, ("pypi-user", 3, [f"crafted-project-{i}" for i in range(7000)]), ("pypi-user", 2, [TP]))
    run = audit_of(data_dir, record("pypi-user", scope="user", repository=pypi.url, age=30))
    assert run.warnings == ["1 unreadable line of the audit log skipped"]
    assert {f.finding for f in run.findings} == {"trusted-publishing", "user-wide"}
    assert not [p for p in pypi.seen if "crafted" in p]


def test_remind_counts_from_the_last_mib_of_the_audit_log(data_dir):
    """remind's count reads a bounded tail of the log, whatever its size; audit reads it all.
    A user-wide token whose early use (before the last MiB) uploaded 4 projects: audit says
    it is not used for few projects; remind's count sees the last use (1 project)."""
    from tokenward.obsolete import REMIND_WINDOW

    write_uses(data_dir, ("pypi-user", 20, ["a", "b", "c", "d"]))
    filler = [("gh-other", 10, [f"x{i}"]) for i in range(REMIND_WINDOW // 150)]
    write_uses(data_dir, *filler, ("pypi-user", 1, ["a"]))
    assert (data_dir / "audit.log").stat().st_size > REMIND_WINDOW
    inventory = Inventory.open(data_dir)
    inventory.insert_many([record("pypi-user", scope="user", age=30)])
    inventory.close()
    app = NoStores(config=parse_config({}, data_dir / "config.toml"), data_dir=data_dir, now=NOW)
    try:
        assert offline_count(app) == 1
        assert [f.finding for f in run_audit(app).findings] == []
    finally:
        app.close()
