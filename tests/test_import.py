"""`tokens import`: .pypirc, .env, JSON and twine's keyring slot; --scrub with a 0600 backup;
malformed input is one line, exit 2, nothing changed."""

from __future__ import annotations

import json
import stat
import uuid

import pytest

from tests.fixtures_pypiserver import mint
from tokenward.importers import parse_dotenv, parse_pypirc, scrub_json
from tokenward.scrub import scrub_lines, scrub_pypirc

PYPI_TOKEN = mint(["foo"], identifier="import-test")
TEST_TOKEN = "pypi-AgENdGVzdC5weXBpLm9yZw" + "not-parsed"  # not read: kind comes from the section
GH = "ghp_IMPORTimport0123456789abcdefSECRET"

PYPIRC = f"""\
# my uploads
[distutils]
index-servers =
    pypi
    private
    nopass

[pypi]
username = __token__
password = {PYPI_TOKEN}

[private]
repository = https://pypi.example.com/legacy/
username = alice
password = hunter2-private-pass

[nopass]
repository = https://nopass.example/
"""


@pytest.fixture
def kr(real_keyring, write_config):
    write_config(f'[stores.keyring]\nservice = "tokenward-test-{uuid.uuid4().hex[:8]}"\n')


def listing(tokens) -> dict[str, dict]:
    result = tokens("list", "--json")
    assert result.returncode == 0, result
    return {r["name"]: r for r in json.loads(result.stdout)}


# -- pure parsing ------------------------------------------------------------------------


def test_parse_pypirc():
    source = parse_pypirc(PYPIRC, "~/.pypirc")
    by_name = {f.name: f for f in source.found}
    assert set(by_name) == {"pypi", "private"}
    assert by_name["pypi"].kind is None and by_name["pypi"].repository == "https://upload.pypi.org/legacy/"
    assert by_name["private"].kind == "generic"
    assert by_name["private"].env == {"TWINE_USERNAME": "alice", "TWINE_PASSWORD": "{value}"}
    assert any("nopass" in note for note in source.skipped)
    assert PYPI_TOKEN not in repr(source.found)


def test_scrub_pypirc_keeps_everything_else():
    text = PYPIRC.replace("password = hunter2-private-pass", "password = hunter2\n    continued")
    scrubbed = scrub_pypirc(text, {PYPI_TOKEN, "hunter2\ncontinued"})
    assert "password" not in scrubbed and "continued" not in scrubbed
    assert "# my uploads" in scrubbed and "username = alice" in scrubbed and "repository = https://pypi.example.com/legacy/" in scrubbed


def test_parse_dotenv():
    text = f'# comment\nexport GH_TOKEN="{GH}"\nDEBUG=1\nAPI_KEY=\'abc def\'\nNPM=npm_{"A" * 36} # inline\n\n'
    source = parse_dotenv(text, ".env")
    assert [(f.name, f.value) for f in source.found] == [("gh-token", GH), ("api-key", "abc def"), ("npm", "npm_" + "A" * 36)]
    assert any("DEBUG" in s for s in source.skipped)
    assert scrub_lines(text, {2}) == text.replace(f'export GH_TOKEN="{GH}"\n', "")


def test_scrub_json_lines_and_array():
    lines = '{"name": "a", "value": "x"}\n{"name": "b", "value": "y"}\n'
    assert scrub_json(lines, {0}) == '{"name": "a"}\n{"name": "b", "value": "y"}\n'
    array = json.dumps([{"name": "a", "value": "x"}])
    assert json.loads(scrub_json(array, {0})) == [{"name": "a"}]


# -- through the CLI ------------------------------------------------------------------------


def test_import_pypirc_and_scrub(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(PYPIRC)
    rc.chmod(0o644)
    result = tokens("import", str(rc), "--scrub")
    assert result.returncode == 0, result
    inventory = listing(tokens)
    assert inventory["pypi"]["kind"] == "pypi" and inventory["pypi"]["scope"] == "project:foo"
    assert inventory["private"]["repository"] == "https://pypi.example.com/legacy/"
    assert tokens("get", "pypi").stdout.strip() == PYPI_TOKEN
    text = rc.read_text()
    assert PYPI_TOKEN not in text and "hunter2" not in text and "username = alice" in text
    assert stat.S_IMODE(rc.stat().st_mode) == 0o644
    backups = list(tmp_path.glob(".pypirc.tokenward-*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == PYPIRC
    assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600
    for secret in (PYPI_TOKEN, "hunter2-private-pass"):
        assert secret not in result.stdout + result.stderr
    # Importing again finds nothing new (the values are gone) and changes nothing.
    again = tokens("import", str(rc))
    assert again.returncode == 0 and "Nothing to import" in again.stderr


def test_import_twice_reports_present_tokens(tokens, kr, tmp_path):
    env = tmp_path / "tokens.env"
    env.write_text(f"GH_TOKEN={GH}\n")
    assert tokens("import", str(env)).returncode == 0
    again = tokens("import", str(env), "--format", "dotenv")
    assert again.returncode == 0 and "already in the inventory as gh-token" in again.stderr


def test_import_json_lines(tokens, kr, tmp_path):
    path = tmp_path / "export.jsonl"
    records = [
        {"name": "ci-gh", "value": GH, "purpose": "CI releases", "rotate_every": "30d", "scope": "project:owner/repo"},
        {"name": "ci-npm", "value": "npm_" + "B" * 36, "env": {"NPM_TOKEN": "{value}"}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = tokens("import", str(path), "--scrub")
    assert result.returncode == 0, result
    inventory = listing(tokens)
    assert inventory["ci-gh"]["purpose"] == "CI releases" and inventory["ci-gh"]["rotate_every"] == "30d"
    assert inventory["ci-npm"]["kind"] == "npm"
    assert GH not in path.read_text() and "ci-gh" in path.read_text()


@pytest.mark.parametrize(
    "fmt, text, message",
    [
        ("pypirc", "[pypi\npassword = pypi-SECRETSECRET\n", "not a valid .pypirc"),
        ("dotenv", "GOOD_TOKEN=ghp_aaaaaaaaaaaaaaaaaaaa\nthis is not a line SECRETSECRET\n", ":2: not a KEY=VALUE line"),
        ("dotenv", 'A_TOKEN="unterminated SECRETSECRET\n', "unterminated quote"),
        ("json", '{"name": "a", "value": "SECRETSECRET"}\n{broken\n', ":2: not a JSON object"),
        ("json", '[{"name": "a"}]', "needs a string 'value'"),
        ("json", '[{"name": "Bad Name", "value": "SECRETSECRET"}]', "invalid token name"),
        ("json", '[{"name": "a", "value": "SECRETSECRET", "rotate_every": "soon"}]', "rotate_every"),
        ("json", '[{"name": "a", "value": "SECRETSECRET"}, {"name": "a", "value": "SECRETSECRET2"}]', "also used by"),
        ("json", '[{"name": "a", "value": "pypi-SECRETSECRET"}]', "not a valid PyPI token"),
    ],
)
def test_malformed_input_changes_nothing(tokens, kr, tmp_path, fmt, text, message):
    path = tmp_path / "source"
    path.write_text(text)
    result = tokens("import", str(path), "--format", fmt, "--scrub")
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "SECRETSECRET" not in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == text and not list(tmp_path.glob("source.*"))
    assert listing(tokens) == {}


def test_usage_errors(tokens, kr, tmp_path):
    assert tokens("import").returncode == 2
    assert "no such file" in tokens("import", str(tmp_path / "missing")).stderr
    both = tokens("import", str(tmp_path), "--from-keyring")
    assert both.returncode == 2


def test_import_from_twines_keyring_slot(tokens, kr):
    import keyring

    keyring.set_password("https://upload.pypi.org/legacy/", "__token__", PYPI_TOKEN)
    try:
        result = tokens("import", "--from-keyring", "--name", "pypi-from-twine", "--scrub")
        assert result.returncode == 0, result
        assert listing(tokens)["pypi-from-twine"]["scope"] == "project:foo"
        assert tokens("get", "pypi-from-twine").stdout.strip() == PYPI_TOKEN
        assert keyring.get_password("https://upload.pypi.org/legacy/", "__token__") is None
        assert PYPI_TOKEN not in result.stdout + result.stderr
    finally:
        try:
            keyring.delete_password("https://upload.pypi.org/legacy/", "__token__")
        except Exception:  # noqa: BLE001
            pass


# -- JSON keys and .env names (issue 9 item 18) -----------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"name": "a", "value": "ghp_aaaaaaaaaaaaaaaaaaaaSECRET"}\n{"name": "b", "value": "ghp_bbbbbbbbbbbbbbbbbbbbSECRET", "rotate-every": "30d"}\n',
         ":2: unknown key 'rotate-every' (did you mean 'rotate_every'?)"),
        ('[\n  {\n    "name": "a",\n    "value": "ghp_aaaaaaaaaaaaaaaaaaaaSECRET",\n    "expire": "2030-01-01"\n  }\n]\n',
         ":5: unknown key 'expire' (did you mean 'expires'?)"),
        ('[{"name": "a", "value": "ghp_aaaaaaaaaaaaaaaaaaaaSECRET"},\n {"name": "b", "value": "x", "\\u001b[31m": 1}]',
         ":2: unknown key '\\x1b[31m'; known keys: "),
    ],
)  # fmt: skip
def test_json_unknown_keys_are_refused(tokens, kr, tmp_path, text, message):
    path = tmp_path / "export.json"
    path.write_text(text)
    result = tokens("import", str(path), "--scrub")
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and message in result.stderr
    assert "\x1b" not in result.stderr and "SECRET" not in result.stderr
    assert path.read_text() == text and listing(tokens) == {}


def test_dotenv_keeps_the_variable_name(tokens, kr, tmp_path):
    env = tmp_path / "app.env"
    env.write_text(f"API_KEY=k-{'x' * 24}\nGITHUB_PAT={GH}\nGH_TOKEN=ghp_OTHERother0123456789abcdefSECRET\n")
    assert tokens("import", str(env)).returncode == 0
    assert set(listing(tokens)) == {"api-key", "github-pat", "gh-token"}

    def exported(name: str) -> list[str]:
        result = tokens("exec", "--token", name, "--", "sh", "-c", "env | grep -E '^(API_KEY|TOKEN|GITHUB_PAT|GH_TOKEN|GITHUB_TOKEN)=' | cut -d= -f1 | sort")
        assert result.returncode == 0, result
        return result.stdout.split()

    assert exported("api-key") == ["API_KEY"]  # not TOKEN
    assert exported("github-pat") == ["GH_TOKEN", "GITHUB_PAT", "GITHUB_TOKEN"]
    assert exported("gh-token") == ["GH_TOKEN", "GITHUB_TOKEN"]


def test_control_characters_in_names_from_a_file_are_escaped(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(f"[\x1b[2Jclear]\nusername = __token__\n\n[red\x1b[31m]\nrepository = https://x.example/\nusername = __token__\npassword = {PYPI_TOKEN}\n")
    result = tokens("import", str(rc))
    assert result.returncode == 0, result
    assert "\x1b" not in result.stderr and "\\x1b[2Jclear] has no password" in result.stderr
    assert all("\x1b" not in r["purpose"] for r in listing(tokens).values())


@pytest.mark.parametrize("scrub", [[], ["--scrub"]])
def test_huge_file_is_refused_unread(tokens, kr, tmp_path, scrub):
    path = tmp_path / "huge.env"
    with open(path, "wb") as handle:
        handle.truncate(17 << 20)
    result = tokens("import", str(path), *scrub)
    assert result.returncode == 2 and "larger than 16 MiB" in result.stderr, result
