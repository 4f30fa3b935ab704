"""`tokens rotate` beyond the pipe: the guided walk-through on a terminal (driven
through a pty with pexpect), rotate_command per token or kind, `--due`, and the
`--leaked` response. Piped stdin keeps its exact old behaviour."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest
from pypitoken import Token

from tests.servers import find_tool

ROOT = Path(__file__).resolve().parent.parent
KEY = "a-test-key-that-only-this-test-knows"


def pypi_token(domain: str = "pypi.org", identifier: str = "id1", **restrict) -> str:
    token = Token.create(domain=domain, identifier=identifier, key=KEY)
    if restrict:
        token.restrict(**restrict)
    return token.dump()


OLD = pypi_token(project_names=["foo"])
NEW = pypi_token(identifier="id2", project_names=["foo"])
WIDER = pypi_token(identifier="id3")
TEST_PYPI = pypi_token(domain="test.pypi.org", identifier="id4", project_names=["foo"])


@pytest.fixture
def file_keyring(tmp_path, monkeypatch):
    path = tmp_path / "keyring.json"
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_backend.FileKeyring")
    monkeypatch.setenv("TOKENWARD_TEST_KEYRING", str(path))
    return path


def keyring_data(path: Path) -> dict:
    return json.loads(path.read_text())


def spawn(*args: str, timeout: float = 30) -> pexpect.spawn:
    child = pexpect.spawn(find_tool("tokens"), list(args), env=dict(os.environ), encoding="utf-8", timeout=timeout, dimensions=(40, 200))
    child.logfile_read = transcript = _Transcript()
    child.transcript = transcript  # type: ignore[attr-defined]
    return child


class _Transcript:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    def __str__(self) -> str:
        return "".join(self.parts)


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def add_foo(tokens) -> None:
    result = tokens("add", "pypi-foo", "--created", "2024-01-01", "--purpose", "publish foo from CI", input=OLD + "\n")
    assert result.returncode == 0, result


def test_guided_rotation_walks_through(tokens, file_keyring):
    add_foo(tokens)
    child = spawn("rotate", "pypi-foo")
    child.expect_exact("Rotating pypi-foo (pypi, scope project:foo): last rotated 2024-01-01, status overdue.")
    child.expect_exact("Purpose:   publish foo from CI")
    child.expect_exact("Stored in: keyring (keyring)")
    child.expect_exact("Last used: never through `tokens exec`")
    child.expect_exact("1. Create a new pypi token at https://pypi.org/manage/account/token/")
    child.expect_exact("Give it the same scope: project foo")
    child.expect_exact("2. Paste the new token for pypi-foo (input hidden): ")
    child.sendline(NEW)
    child.expect_exact("3. Written to keyring.")
    child.expect_exact("4. Now revoke the old token at https://pypi.org/manage/account/token/ (the one created on or about 2024-01-01)")
    assert finish(child) == 0
    assert NEW not in str(child.transcript) and OLD not in str(child.transcript)  # hidden input, no echo
    assert tokens("get", "pypi-foo").stdout.strip() == NEW


def test_wider_scope_is_flagged_and_needs_a_yes(tokens, file_keyring):
    add_foo(tokens)
    child = spawn("rotate", "pypi-foo")
    child.expect_exact("(input hidden): ")
    child.sendline(WIDER)
    child.expect_exact("Warning: the new token is user-wide (it can upload to all your projects); the old one was limited to foo")
    child.expect_exact("Use this token anyway? [y/N]: ")
    child.sendline("n")
    child.expect_exact("Error: rotation of pypi-foo cancelled; nothing changed")
    assert finish(child) == 2
    assert tokens("get", "pypi-foo").stdout.strip() == OLD

    child = spawn("rotate", "pypi-foo")
    child.expect_exact("(input hidden): ")
    child.sendline(WIDER)
    child.expect_exact("Use this token anyway? [y/N]: ")
    child.sendline("y")
    child.expect_exact("3. Written to keyring.")
    assert finish(child) == 0
    assert tokens("get", "pypi-foo").stdout.strip() == WIDER
    assert tokens("show", "pypi-foo", "--json").stdout.count('"scope": "user"') == 1


def test_wrong_registry_is_refused(tokens, file_keyring):
    add_foo(tokens)
    child = spawn("rotate", "pypi-foo")
    child.expect_exact("(input hidden): ")
    child.sendline(TEST_PYPI)
    child.expect_exact("Error: the new value is a TestPyPI (test.pypi.org) token; pypi-foo is for PyPI (pypi.org); nothing changed")
    assert finish(child) == 2
    assert TEST_PYPI not in str(child.transcript)
    assert tokens("get", "pypi-foo").stdout.strip() == OLD


def test_wrong_kind_is_refused(tokens, file_keyring):
    assert tokens("add", "gh-bot", input="ghp_abcdefabcdef0123456789\n").returncode == 0
    child = spawn("rotate", "gh-bot")
    child.expect_exact("1. Create a new github token at https://github.com/settings/tokens")
    child.expect_exact("(input hidden): ")
    child.sendline("npm_abcdefabcdef0123456789")
    child.expect_exact("Error: the new value looks like a npm token; gh-bot is a github token; nothing changed")
    assert finish(child) == 2


def test_interrupt_at_the_prompt_changes_nothing(tokens, file_keyring):
    add_foo(tokens)
    child = spawn("rotate", "pypi-foo")
    child.expect_exact("(input hidden): ")
    child.sendcontrol("c")
    child.expect_exact("Interrupted.")
    assert finish(child) == 130
    assert tokens("get", "pypi-foo").stdout.strip() == OLD


def test_piped_stdin_works_exactly_as_before(tokens, file_keyring):
    add_foo(tokens)
    result = tokens("rotate", "pypi-foo", input=NEW + "\n")
    assert result.returncode == 0, result
    assert result.stdout == ""
    assert result.stderr == "Rotated pypi-foo in keyring.\nNext: revoke the old pypi token at https://pypi.org/manage/account/token/.\n"
    # No prompt for scripts; a wider scope is refused unless --yes accepts it (issue 9 item 4).
    assert tokens("rotate", "pypi-foo", input=WIDER + "\n").returncode == 2
    assert tokens("rotate", "pypi-foo", "--yes", input=WIDER + "\n").returncode == 0


def test_guided_rotation_on_the_real_keyring(tokens, real_keyring, write_config):
    write_config('[stores.keyring]\nservice = "tokenward-guided-test"\n')
    add_foo(tokens)
    try:
        child = spawn("rotate", "pypi-foo")
        child.expect_exact("Stored in: keyring (keyring)")
        child.expect_exact("2. Paste the new token for pypi-foo (input hidden): ")
        child.sendline(NEW)
        child.expect_exact("3. Written to keyring.")
        child.expect_exact("4. Now revoke the old token at https://pypi.org/manage/account/token/")
        assert finish(child) == 0
        assert NEW not in str(child.transcript)
        import keyring

        assert keyring.get_password("tokenward-guided-test", "pypi-foo") == NEW
        assert tokens("get", "pypi-foo").stdout.strip() == NEW
    finally:
        tokens("remove", "pypi-foo", "--yes")


# -- rotate_command ------------------------------------------------------------------

MINT = """import os, sys
print(os.environ["TOKENS_NAME"], os.environ["TOKENS_KIND"], os.environ["TOKENS_SCOPE"], file=sys.stderr)
print("ghp_minted" + os.environ["TOKENS_NAME"].replace("-", "") + "0123456789")
"""


@pytest.fixture
def mint(tmp_path) -> Path:
    script = tmp_path / "mint.py"
    script.write_text(MINT)
    return script


def test_rotate_command_per_kind_and_token(tokens, file_keyring, write_config, mint):
    write_config(
        "[rotate]\ntimeout = 20\n"
        f"[rotate.kind]\ngithub = [{json.dumps(sys.executable)}, {json.dumps(str(mint))}]\n"
        '[rotate.token]\ngh-special = "sh -c \'echo ghp_special0123456789abc\'"\n'
    )
    assert tokens("add", "gh-bot", input="ghp_abcdefabcdef0123456789\n").returncode == 0
    assert tokens("add", "gh-special", input="ghp_zyxwvu0123456789\n").returncode == 0

    result = tokens("rotate", "gh-bot")
    assert result.returncode == 0, result
    assert "Getting a new value for gh-bot from its rotate_command" in result.stderr
    assert "gh-bot github" in result.stderr  # the command's own stderr, with TOKENS_* set
    assert "ghp_mintedghbot" not in result.stdout + result.stderr
    assert tokens("get", "gh-bot").stdout.strip() == "ghp_mintedghbot0123456789"

    assert tokens("rotate", "gh-special").returncode == 0
    assert tokens("get", "gh-special").stdout.strip() == "ghp_special0123456789abc"

    # --no-command: the pipe again.
    assert tokens("rotate", "gh-bot", "--no-command", input="ghp_piped0123456789\n").returncode == 0
    assert tokens("get", "gh-bot").stdout.strip() == "ghp_piped0123456789"


@pytest.mark.parametrize(
    "command, status, message",
    [
        ('"false"', 3, "rotate_command for gh-bot (false) exited with status 1; nothing changed"),
        ('"/nonexistent/mint"', 3, "command not found; nothing changed"),
        ('"true"', 3, "printed no usable value (the value is empty); nothing changed"),
        ("\"sh -c 'echo npm_abcdef0123456789'\"", 2, "looks like a npm token; gh-bot is a github token; nothing changed"),
    ],
)
def test_failing_rotate_command_changes_nothing(tokens, file_keyring, write_config, command, status, message):
    write_config(f"[rotate.token]\ngh-bot = {command}\n")
    assert tokens("add", "gh-bot", input="ghp_abcdefabcdef0123456789\n").returncode == 0
    result = tokens("rotate", "gh-bot")
    assert result.returncode == status, result
    assert result.stderr.splitlines()[-1].startswith("Error: ") and message in result.stderr
    assert tokens("get", "gh-bot").stdout.strip() == "ghp_abcdefabcdef0123456789"


@pytest.mark.parametrize(
    "config, message",
    [
        ('[rotate.kind]\nnosuchkind = "x"\n', "rotate.kind.nosuchkind: unknown kind"),
        ('[rotate.token]\n"Bad Name" = "x"\n', "not a valid token name"),
        ("[rotate.token]\nx = []\n", "rotate.token.x is empty"),
        ('[rotate]\ncommand = "x"\n', "rotate.command is not a known key"),
    ],
)
def test_bad_rotate_config(tokens, write_config, config, message):
    write_config(config)
    result = tokens("rotate", "--due")
    assert result.returncode == 2
    assert message in result.stderr


def test_rotate_due(tokens, file_keyring, write_config, mint):
    write_config(f"[rotate.kind]\ngithub = [{json.dumps(sys.executable)}, {json.dumps(str(mint))}]\n")
    for name, value in (("gh-old", "ghp_abcdefabcdef0123456789"), ("gl-old", "glpat-abcdef0123456789")):
        assert tokens("add", name, "--created", "2024-01-01", input=value + "\n").returncode == 0
    assert tokens("add", "gh-fresh", input="ghp_fresh0123456789abcdef\n").returncode == 0

    result = tokens("rotate", "--due")
    assert result.returncode == 1, result  # gl-old is still overdue
    assert "Rotated gh-old in keyring. Next: revoke the old token at https://github.com/settings/tokens" in result.stderr
    assert "gh-fresh" not in result.stdout + result.stderr
    assert result.stdout == (
        "Overdue without a rotate_command (1), rotate by hand:\n"
        "  gl-old (gitlab, overdue): tokens rotate gl-old (or --api) (new token: https://gitlab.com/-/user_settings/personal_access_tokens)\n"
    )
    assert tokens("get", "gh-old").stdout.strip() == "ghp_mintedghold0123456789"
    assert tokens("get", "gh-fresh").stdout.strip() == "ghp_fresh0123456789abcdef"

    assert tokens("rotate", "--due", "gh-old").returncode == 2


# -- --leaked ------------------------------------------------------------------------


def test_leaked_lists_copies_rotates_everywhere_then_revoke(tokens, file_keyring, tmp_path, monkeypatch):
    home = tmp_path / "userhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / ".pypirc").write_text(f"[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = {OLD}\n")
    monkeypatch.setenv("TWINE_PASSWORD", OLD)
    add_foo(tokens)
    # twine's own keyring entry for PyPI holds it too.
    data = keyring_data(file_keyring)
    data["https://upload.pypi.org/legacy/\x00__token__"] = OLD
    file_keyring.write_text(json.dumps(data))

    result = tokens("rotate", "--leaked", "pypi-foo", input=NEW + "\n")
    assert result.returncode == 0, result
    err = result.stderr
    assert "1. Copies of the leaked value:" in err
    assert "   - store keyring (keyring)\n" in err
    assert "   - keyring entry 'https://upload.pypi.org/legacy/' / __token__ (read by twine)" in err
    assert f"   - {home / '.pypirc'} [pypi] password, in plaintext" in err
    assert "   - $TWINE_PASSWORD in this shell's environment" in err
    assert "Rotated pypi-foo in keyring." in err
    assert "Replaced twine's keyring entry too." in err
    assert f"Warning: {home / '.pypirc'} [pypi] still holds the leaked value in plaintext" in err
    assert "Warning: $TWINE_PASSWORD still holds the leaked value in this shell: unset TWINE_PASSWORD" in err
    assert err.rstrip().endswith(
        "NOW: revoke the leaked token at https://pypi.org/manage/account/token/. Until you do, it works for whoever has it."
    )
    for value in (OLD, NEW):
        assert value not in result.stdout + err
    data = keyring_data(file_keyring)
    assert data["tokenward\x00pypi-foo"] == NEW
    assert data["https://upload.pypi.org/legacy/\x00__token__"] == NEW
    history = (Path(os.environ["TOKENS_HOME"]) / "audit.log").read_text()
    assert '"event": "leak"' in history and OLD not in history and NEW not in history


def test_leaked_guided_on_a_terminal(tokens, file_keyring):
    add_foo(tokens)
    child = spawn("rotate", "--leaked", "pypi-foo")
    child.expect_exact("Leak response for pypi-foo (pypi).")
    child.expect_exact("- store keyring (keyring)")
    child.expect_exact("2. Create a new pypi token at https://pypi.org/manage/account/token/")
    child.expect_exact("3. Paste the new token for pypi-foo (input hidden): ")
    child.sendline(NEW)
    child.expect_exact("Rotated pypi-foo in keyring.")
    child.expect_exact("NOW: revoke the leaked token at https://pypi.org/manage/account/token/")
    assert finish(child) == 0
    assert tokens("get", "pypi-foo").stdout.strip() == NEW


# -- the fit checks, as plain functions ---------------------------------------------


def _record(kind: str, scope: str = "", name: str = "t"):
    from datetime import datetime, timezone

    from tokenward.inventory import TokenRecord

    moment = datetime(2025, 1, 1, tzinfo=timezone.utc)
    return TokenRecord(name=name, kind=kind, created_at=moment, rotated_at=moment, stores=("keyring",), fingerprint="0" * 16, scope=scope)


def test_fit_checks():
    from datetime import datetime, timezone

    from tokenward.rotation import check_new_value

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    foo = _record("pypi", "project:foo")
    assert check_new_value(foo, NEW, now).errors == [] and check_new_value(foo, NEW, now).warnings == []
    both = pypi_token(identifier="id5", project_names=["foo", "bar"])
    assert check_new_value(foo, both, now).warnings == ["the new token also covers bar, which the old one did not"]
    narrower = check_new_value(_record("pypi", "project:foo,bar"), NEW, now)
    assert narrower.warnings == ["the new token does not cover bar; uploads of those will fail"]
    assert "not a PyPI token" in check_new_value(foo, "ghp_abc0123456789", now).errors[0]
    expired = pypi_token(identifier="id6", project_names=["foo"], not_before=1000, not_after=2000)
    assert "already expired on 1970-01-01" in check_new_value(foo, expired, now).errors[0]
    assert check_new_value(_record("github"), "plainvalue0123", now).warnings == [
        "the new value does not look like a github token (its usual prefix is missing)"
    ]
    assert check_new_value(_record("generic"), "ghp_abc0123456789", now).errors == []
