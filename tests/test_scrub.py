"""`tokens import --scrub`: the plaintext is gone from the file the tools read (checked by
reading it back the way twine does), or nothing is imported and nothing changed; never
a claim of success with the value still there. Links are kept, only the user's own files
are rewritten, temp files cannot be redirected, and edits made meanwhile are not lost."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests import servers
from tests.fixtures_pypiserver import mint, upload_server, write_wheel  # noqa: F401 - fixture
from tokenward.scrub import ini_options, physical_lines, scrub_pypirc

TOKEN = mint(["foo"], identifier="scrub-test")
OTHER = mint(["bar"], identifier="scrub-test-2")
NOBODY = 65534


@pytest.fixture
def kr(file_keyring):
    return file_keyring


def listing(tokens) -> dict[str, dict]:
    result = tokens("list", "--json")
    assert result.returncode == 0, result
    return {r["name"]: r for r in json.loads(result.stdout)}


def twine_reads(path: Path) -> configparser.RawConfigParser:
    """The file as twine reads it (twine.utils.get_config: RawConfigParser, DEFAULT applies)."""
    parser = configparser.RawConfigParser()
    parser.read(path)
    return parser


def passwords(path: Path) -> list[str]:
    parser = twine_reads(path)
    found = [parser.defaults()["password"]] if "password" in parser.defaults() else []
    return found + [parser.get(s, "password") for s in parser.sections() if parser.has_option(s, "password")]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if "tokenward" in p.name)


def one_error(result) -> None:
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result
    assert "Traceback" not in result.stderr


# -- links ---------------------------------------------------------------------------------


def test_symlinked_pypirc_is_rewritten_through_its_link(tokens, kr, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    (dotfiles / ".git").mkdir(parents=True)
    target = dotfiles / "pypirc"
    target.write_text(f"[pypi]\nusername = __token__\npassword = {TOKEN}\n")
    target.chmod(0o640)
    link = tmp_path / ".pypirc"
    link.symlink_to("dotfiles/pypirc")
    result = tokens("import", str(link), "--scrub")
    assert result.returncode == 0, result
    assert link.is_symlink() and os.readlink(link) == "dotfiles/pypirc"
    assert TOKEN not in target.read_text() and passwords(link) == []
    assert twine_reads(link).get("pypi", "username") == "__token__"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    # The plaintext backup stays next to the link, out of the dotfiles repository.
    backups = list(tmp_path.glob(".pypirc.tokenward-*.bak"))
    assert len(backups) == 1 and stat.S_IMODE(backups[0].stat().st_mode) == 0o600
    assert leftovers(dotfiles) == []
    assert "dotfiles/pypirc" in result.stderr and TOKEN not in result.stderr
    assert f"{target} is in the git work tree {dotfiles}: its history may still hold" in result.stderr
    assert tokens("get", "pypi").stdout.strip() == TOKEN


def test_hard_linked_file_is_refused(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    os.link(rc, tmp_path / "pypirc-copy")
    result = tokens("import", str(rc), "--scrub")
    one_error(result)
    assert "hard links" in result.stderr and "nothing was imported" in result.stderr
    assert TOKEN in rc.read_text() and listing(tokens) == {} and leftovers(tmp_path) == []


# -- what twine reads afterwards -------------------------------------------------------------


def test_indented_options_survive_and_twine_still_uploads(tokens, kr, tmp_path, upload_server):
    rc = tmp_path / "indented.pypirc"
    rc.write_text(
        "[distutils]\n"
        "  index-servers =\n"
        "      local\n"
        "[local]\n"
        "  username = __token__\n"
        f"  password = {upload_server.token}\n"
        "  # the private index\n"
        f"  repository = {upload_server.url}\n"
    )
    result = tokens("import", str(rc), "--scrub")
    assert result.returncode == 0, result
    assert upload_server.token not in rc.read_text()
    from twine.utils import get_repository_from_config

    config = get_repository_from_config(str(rc), "local")
    assert config["repository"] == upload_server.url and config["username"] == "__token__"
    assert config["password"] is None
    # And twine, given the password the way `tokens exec` gives it, uploads with this file.
    dist = tmp_path / "dist"
    dist.mkdir()
    wheel = write_wheel(dist, "scrub-indented", "1.0")
    twine = servers.find_tool("twine")
    upload = subprocess.run(
        [twine, "upload", "--non-interactive", "--config-file", str(rc), "-r", "local", str(wheel)],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path), "TWINE_PASSWORD": upload_server.token},
    )  # fmt: skip
    assert upload.returncode == 0, upload.stderr + upload.stdout
    assert upload_server.has(wheel.name)


def test_continuation_lines_go_with_the_password_only():
    text = "[s]\n  username = u\npassword = secret\n  more\n\n  # note\n   still\nrepository = r\n[t]\n x = 1\n"
    scrubbed = scrub_pypirc(text, {"secret\nmore\n\nstill"})
    parser = configparser.RawConfigParser()
    parser.read_string(scrubbed)
    assert not parser.has_option("s", "password")
    assert parser.get("s", "username") == "u" and parser.get("s", "repository") == "r"
    assert parser.get("t", "x") == "1"
    assert "# note" in scrubbed and "more" not in scrubbed and "still" not in scrubbed


def test_options_found_as_configparser_finds_them():
    text = "[a]\nk = 1\n  2\n\n# c\n   3\nm: v\n[DEFAULT]\npassword = p\n[ b ]\nPassword=q\r\nz = \f1\n"
    options = {(o.section, o.name): o.value for o in ini_options(physical_lines(text))}
    parser = configparser.RawConfigParser(default_section="none")
    parser.read_string(text.replace("\r\n", "\n"))
    assert options == {(s, k): v for s in parser.sections() for k, v in parser.items(s)}


def test_default_section_password_is_removed_and_named_twice(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(
        "[distutils]\nindex-servers =\n  pypi\n  private\n\n"
        f"[DEFAULT]\nusername = __token__\npassword = {TOKEN}\n\n"
        "[pypi]\n\n[private]\nrepository = https://pypi.example.com/legacy/\n"
    )
    result = tokens("import", str(rc), "--scrub")
    assert result.returncode == 0, result
    assert TOKEN not in rc.read_text() and passwords(rc) == []
    assert "[pypi] and [private] hold the same value" in result.stderr and "2 names (pypi, private)" in result.stderr
    assert twine_reads(rc).get("private", "repository") == "https://pypi.example.com/legacy/"


def test_old_mac_line_endings_are_read_as_twine_reads_them(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_bytes(f"[pypi]\rusername = __token__\rpassword = {TOKEN}\r[other]\rrepository = https://x.example/\r".encode())
    result = tokens("import", str(rc), "--scrub")
    assert result.returncode == 0, result
    assert rc.read_bytes() == b"[pypi]\rusername = __token__\r[other]\rrepository = https://x.example/\r"
    assert passwords(rc) == [] and "pypi" in listing(tokens)


def test_section_header_with_spaces(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(f"[ corp ]\nrepository = https://corp.example/legacy/\nusername = __token__\npassword = {TOKEN}\n")
    result = tokens("import", str(rc), "--scrub")
    assert result.returncode == 0, result
    assert TOKEN not in rc.read_text() and passwords(rc) == []
    assert twine_reads(rc).get(" corp ", "repository") == "https://corp.example/legacy/"
    assert "corp" in listing(tokens)


def test_a_copy_the_scrub_would_not_remove_refuses_everything(tokens, kr, tmp_path):
    text = f"[pypi]\nusername = __token__\npassword = {TOKEN}\n# old: {TOKEN}\n"
    rc = tmp_path / ".pypirc"
    rc.write_text(text)
    result = tokens("import", str(rc), "--scrub")
    one_error(result)
    assert "line 4 still holds an imported value" in result.stderr and "nothing was imported" in result.stderr
    assert TOKEN not in result.stderr
    assert rc.read_text() == text and listing(tokens) == {} and leftovers(tmp_path) == []


def test_dotenv_and_json_are_proven_clean(tokens, kr, tmp_path):
    env = tmp_path / ".env"
    env.write_text(f"GH_TOKEN=ghp_SCRUBscrub0123456789abcdefSECRET\nKEEP=1\f2\nAPI_KEY='k-{'x' * 20}'\n")
    result = tokens("import", str(env), "--scrub")
    assert result.returncode == 0, result
    assert env.read_text() == "KEEP=1\f2\n"
    records = tmp_path / "export.json"
    records.write_text(json.dumps([{"name": "j", "value": "ghp_JSONjson0123456789abcdefSECRET", "purpose": "p"}], indent=1))
    result = tokens("import", str(records), "--scrub")
    assert result.returncode == 0, result
    assert json.loads(records.read_text()) == [{"name": "j", "purpose": "p"}]


# -- whose files, which directory --------------------------------------------------------------


@pytest.fixture
def unprivileged(tmp_path):
    """Run `tokens` as a user who cannot write everywhere: ourselves, or nobody when we are
    root (root writes into a 0500 directory regardless). Returns (run, home directory)."""
    if os.geteuid() == 0:
        home = Path(tempfile.mkdtemp(prefix="tokenward-scrub-"))
        os.chmod(home, 0o755)
        os.chown(home, NOBODY, NOBODY)
        prefix = [shutil.which("setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    else:
        home = tmp_path / "unprivileged"
        home.mkdir()
        prefix = []
    root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ, "HOME": str(home), "TOKENS_HOME": str(home / "data"), "PYTHONPATH": root,
        "PYTHON_KEYRING_BACKEND": "tests.keyring_backend.FileKeyring", "TOKENWARD_TEST_KEYRING": str(home / "keyring.json"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }  # fmt: skip
    env.pop("TOKENS_CONFIG", None)

    def run(*args):
        proc = subprocess.run([*prefix, servers.find_tool("tokens"), *args], capture_output=True, text=True, env=env, timeout=60)
        return proc

    yield run, home
    if os.geteuid() == 0:
        shutil.rmtree(home, ignore_errors=True)


def test_non_writable_directory_imports_nothing(unprivileged):
    run, home = unprivileged
    folder = home / "ro"
    folder.mkdir()
    rc = folder / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    if os.geteuid() == 0:
        os.chown(folder, NOBODY, NOBODY)
        os.chown(rc, NOBODY, NOBODY)
    folder.chmod(0o500)
    try:
        result = run("import", str(rc), "--scrub")
        listed = run("list", "--json")
    finally:
        folder.chmod(0o700)
    one_error(result)
    assert "cannot write in" in result.stderr and "nothing was imported" in result.stderr
    assert json.loads(listed.stdout) == []
    assert rc.read_text() == f"[pypi]\npassword = {TOKEN}\n" and leftovers(folder) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file owned by another user needs root")
def test_file_of_another_user_is_refused(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    os.chown(rc, NOBODY, NOBODY)
    result = tokens("import", str(rc), "--scrub")
    one_error(result)
    assert "belongs to another user (uid 65534)" in result.stderr
    assert rc.stat().st_uid == NOBODY and TOKEN in rc.read_text()
    assert listing(tokens) == {} and leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file another group needs root or membership")
def test_group_is_kept(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    os.chown(rc, -1, NOBODY)
    assert tokens("import", str(rc), "--scrub").returncode == 0
    assert rc.stat().st_gid == NOBODY and rc.stat().st_uid == os.geteuid() and TOKEN not in rc.read_text()


def test_world_writable_directory_is_refused(tokens, kr, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    rc = folder / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    folder.chmod(0o777)
    result = tokens("import", str(rc), "--scrub")
    one_error(result)
    assert "writable by everyone" in result.stderr and listing(tokens) == {}


def test_planted_temp_link_does_not_redirect_the_write(tokens, kr, tmp_path):
    rc = tmp_path / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "..pypirc.tokenward-tmp").symlink_to(victim)
    result = subprocess.run(
        ["sh", "-c", 'umask 000; exec "$0" "$@"', servers.find_tool("tokens"), "import", str(rc), "--scrub"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious\n" and TOKEN not in rc.read_text()
    (backup,) = tmp_path.glob(".pypirc.tokenward-*.bak")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == sorted([backup.name, "..pypirc.tokenward-tmp"])


# -- edits made while the import runs ------------------------------------------------------------


def test_edit_during_import_is_kept_and_scrub_refused(tokens, kr, tmp_path, monkeypatch):
    rc = tmp_path / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.scrub_keyring.EditingKeyring")
    result = tokens("import", str(rc), "--scrub", env={"TOKENWARD_TEST_EDIT": str(rc)})
    assert result.returncode == 2, result
    assert "changed while the tokens were being imported" in result.stderr and "--scrub` again" in result.stderr
    assert rc.read_text() == f"[pypi]\npassword = {TOKEN}\n# added by the user while the import ran\n"
    assert leftovers(tmp_path) == [] and "pypi" in listing(tokens)
    again = tokens("import", str(rc), "--scrub")
    assert again.returncode == 0, again
    assert rc.read_text() == "[pypi]\n# added by the user while the import ran\n"


# -- twine's keyring slot ---------------------------------------------------------------------


def test_keyring_slot_that_stays_is_reported(tokens, kr, monkeypatch):
    from tests.keyring_backend import FileKeyring

    FileKeyring().set_password("https://upload.pypi.org/legacy/", "__token__", TOKEN)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.scrub_keyring.UndeletableKeyring")
    result = tokens("import", "--from-keyring", "--name", "from-twine", "--scrub")
    assert result.returncode == 3, result
    assert result.stderr.splitlines()[-1].startswith("Error: ") and "still holds a value" in result.stderr
    assert "Removed" not in result.stderr and TOKEN not in result.stderr
    assert "from-twine" in listing(tokens)


# -- issue 15 follow-up items 5, 6, 8 ------------------------------------------------------


@pytest.mark.parametrize("reference", ["${GH_TOKEN}", "$GH_TOKEN", '"${GH_TOKEN}"', "prefix-${GH_TOKEN}"])
def test_dotenv_variable_reference_is_skipped_and_kept(tokens, kr, tmp_path, reference):
    """Before: `GH_TOKEN2=${GH_TOKEN}` became token gh-token2 with the literal value, and
    scrub removed the line."""
    path = tmp_path / ".env"
    text = f"GH_TOKEN=ghp_DOTENVdotenv0123456789abcdefSECRET\nGH_TOKEN2={reference}\n"
    path.write_text(text)
    result = tokens("import", str(path), "--scrub")
    assert result.returncode == 0, result
    assert set(listing(tokens)) == {"gh-token"}
    assert "GH_TOKEN2 (line 2) refers to another variable" in result.stdout + result.stderr
    assert path.read_text() == f"GH_TOKEN2={reference}\n"


def test_dotenv_single_quoted_dollar_is_a_value(tokens, kr, tmp_path):
    path = tmp_path / ".env"
    path.write_text("API_TOKEN='ghp_DOLLARdollar0123456789abc$defSECRET'\n")
    assert tokens("import", str(path)).returncode == 0
    assert set(listing(tokens)) == {"api-token"}


@pytest.mark.parametrize("shape", ["lines", "array"])
def test_json_record_with_a_key_twice_is_refused(tokens, kr, tmp_path, shape):
    """Before: the second value was imported, the scrub removed the first from the file."""
    record = f'{{"name": "dup", "value": "{TOKEN}", "value": "{OTHER}"}}'
    path = tmp_path / "export.json"
    text = record + "\n" if shape == "lines" else f"[\n{record}\n]\n"
    path.write_text(text)
    result = tokens("import", str(path), "--scrub")
    one_error(result)
    assert "'value' twice" in result.stderr and TOKEN not in result.stderr and OTHER not in result.stderr
    assert listing(tokens) == {} and path.read_text() == text


def test_default_only_password_is_refused_not_nothing_to_import(tokens, kr, tmp_path):
    """Before: "Nothing to import.", exit 0, under --scrub, the plaintext left in place."""
    rc = tmp_path / ".pypirc"
    text = f"[DEFAULT]\npassword = {TOKEN}\n"
    rc.write_text(text)
    for args in ((), ("--scrub",)):
        result = tokens("import", str(rc), *args)
        one_error(result)
        assert "[DEFAULT] holds a password" in result.stderr and TOKEN not in result.stderr
    assert listing(tokens) == {} and rc.read_text() == text


# -- issue 15 follow-up item 7: the data dir's trust rule for the whole chain ----------------


@pytest.fixture
def attacker_dir(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    folder = tmp_path / "attacker"
    folder.mkdir(mode=0o755)
    os.chown(folder, NOBODY, NOBODY)
    return folder


def _scrub_refused(tokens, rc: Path, *words: str) -> None:
    result = tokens("import", str(rc), "--scrub")
    one_error(result)
    for word in words:
        assert word in result.stderr, result
    assert listing(tokens) == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory another group needs root")
def test_setgid_dir_writable_by_another_group_is_refused(tokens, kr, tmp_path):
    folder = tmp_path / "shared-group"
    folder.mkdir()
    os.chown(folder, -1, NOBODY)
    folder.chmod(0o2770)
    rc = folder / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    _scrub_refused(tokens, rc, str(folder), "writable by other users")
    assert TOKEN in rc.read_text()


def test_own_dir_inside_another_users_dir_is_refused(tokens, kr, attacker_dir):
    mine = attacker_dir / "mine"
    mine.mkdir(mode=0o700)
    rc = mine / ".pypirc"
    rc.write_text(f"[pypi]\npassword = {TOKEN}\n")
    _scrub_refused(tokens, rc, str(attacker_dir), "belongs to nobody")
    assert TOKEN in rc.read_text()


def test_link_in_another_users_dir_is_refused(tokens, kr, tmp_path, attacker_dir):
    """~/.pypirc -> attacker/d/.pypirc, where attacker/d -> a directory of mine: the file and
    the backup's directory are mine, but the owner of attacker/ decides where d points."""
    real = tmp_path / "mine" / "real"
    real.mkdir(parents=True, mode=0o700)
    (real / ".pypirc").write_text(f"[pypi]\npassword = {TOKEN}\n")
    link = attacker_dir / "d"
    link.symlink_to(real)
    os.chown(link, NOBODY, NOBODY, follow_symlinks=False)
    home = tmp_path / "home-dir"
    home.mkdir(mode=0o700)
    (home / ".pypirc").symlink_to(link / ".pypirc")
    _scrub_refused(tokens, home / ".pypirc", str(attacker_dir))
    assert TOKEN in (real / ".pypirc").read_text()
