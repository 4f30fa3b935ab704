"""The `--scrub` promise as a matrix: for each source format (.pypirc, .env, JSON lines) and
each way the file can be laid out or set up, either the value is gone from the file as a
tool reads it (through every link, links kept, everything else kept, a 0600 backup next to
the path named) — or one `Error:` line, nothing imported, the file byte for byte as it was,
and nothing left behind. Never success with the value still there.

The figures for the README's Guarantees row "import and scrub" come from this file and
tests/test_scrub.py."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.fixtures_pypiserver import mint

TOKEN = mint(["foo"], identifier="scrub-matrix")
GH = "ghp_MATRIXmatrix0123456789abcdefSECRET"
NOBODY = 65534

FORMATS = {
    # format: (file name, text, the value, a line that must survive)
    "pypirc": (
        "pypirc",
        f"[pypi]\n  username = __token__\n  password = {TOKEN}\n  # keep\n[other]\nrepository = https://x.example/\n",
        TOKEN,
        "repository = https://x.example/",
    ),
    "dotenv": ("app.env", f"# settings\nexport GH_TOKEN={GH}\nKEEP=1\n", GH, "KEEP=1"),
    "json": ("tokens.jsonl", json.dumps({"name": "j", "value": GH, "purpose": "keep me"}) + "\n", GH, "keep me"),
}


@pytest.fixture
def kr(file_keyring):
    return file_keyring


def imported(tokens) -> list[str]:
    result = tokens("list", "--json")
    assert result.returncode == 0, result
    return sorted(r["name"] for r in json.loads(result.stdout))


def tokenward_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if "tokenward" in p.name)


# -- layouts: the scrub must succeed, through the links -------------------------------------------


def plain(root: Path, name: str, text: str) -> Path:
    (root / "home").mkdir()
    path = root / "home" / name
    path.write_text(text)
    return path


def link(root: Path, name: str, text: str) -> Path:
    (root / "home").mkdir()
    (root / "dotfiles").mkdir()
    (root / "dotfiles" / name).write_text(text)
    (root / "home" / name).symlink_to(root / "dotfiles" / name)
    return root / "home" / name


def chain(root: Path, name: str, text: str) -> Path:
    path = link(root, name, text)
    (root / "home" / "middle").symlink_to(os.readlink(path))
    path.unlink()
    path.symlink_to("middle")
    return path


def linked_directory(root: Path, name: str, text: str) -> Path:
    (root / "real").mkdir()
    (root / "real" / name).write_text(text)
    (root / "home").mkdir()
    (root / "home" / "config").symlink_to(root / "real")
    return root / "home" / "config" / name


def relative(root: Path, name: str, text: str) -> Path:
    link(root, name, text)
    target = root / "home" / name
    target.unlink()
    target.symlink_to(Path("..") / "dotfiles" / name)
    return target


LAYOUTS = {"plain": plain, "link": link, "chain-of-links": chain, "linked-directory": linked_directory, "relative-link": relative}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_scrub_succeeds_through_links(tokens, kr, tmp_path, fmt, layout):
    name, text, value, kept = FORMATS[fmt]
    root = tmp_path / "t"
    root.mkdir()
    path = LAYOUTS[layout](root, name, text)
    links = {p: os.readlink(p) for p in root.rglob("*") if p.is_symlink()}
    result = tokens("import", str(path), "--scrub")
    assert result.returncode == 0, result
    assert {p: os.readlink(p) for p in root.rglob("*") if p.is_symlink()} == links
    now = path.read_text()
    assert value not in now and kept in now
    (backup,) = tokenward_files(root)
    assert backup.parent.resolve() == path.parent.resolve() and stat.S_IMODE(backup.lstat().st_mode) == 0o600
    assert backup.read_text() == text
    assert len(imported(tokens)) == 1 and value not in result.stdout + result.stderr


def test_planted_temp_and_backup_names_are_not_followed(tokens, kr, tmp_path):
    """Links planted at the old fixed temp name and at this second's backup name."""
    name, text, value, _kept = FORMATS["pypirc"]
    path = plain(tmp_path, name, text)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    for planted in (f".{name}.tokenward-tmp", *(f"{name}.tokenward-{s}.bak" for s in _stamps())):
        (path.parent / planted).symlink_to(victim)
    result = tokens("import", str(path), "--scrub")
    assert result.returncode == 0, result
    assert victim.read_text() == "precious\n" and value not in path.read_text()


def _stamps() -> list[str]:
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    return [(now + timedelta(seconds=s)).strftime("%Y%m%dT%H%M%S") for s in range(-1, 30)]


# -- set-ups that must be refused before anything is imported -------------------------------------


def other_users_file(root: Path, path: Path) -> None:
    os.chown(path, NOBODY, NOBODY)


def other_users_directory(root: Path, path: Path) -> None:
    os.chown(path.parent, NOBODY, NOBODY)


def hard_link(root: Path, path: Path) -> None:
    os.link(path, root / "second-name")


def world_writable_directory(root: Path, path: Path) -> None:
    path.parent.chmod(0o777)


def link_into_world_writable_directory(root: Path, path: Path) -> None:
    shared = root / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    os.replace(path, shared / path.name)
    path.symlink_to(shared / path.name)


def value_also_elsewhere(root: Path, path: Path) -> None:
    value = next(v for _n, t, v, _k in FORMATS.values() if v in path.read_text())
    with open(path, "a") as handle:
        handle.write(f"# old: {value}\n" if not path.name.endswith(".jsonl") else json.dumps({"name": "k", "value": "ghp_otherOTHER0123456789abcdefSECRET", "purpose": f"was {value}"}) + "\n")


def fifo(root: Path, path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


REFUSALS = {
    "other-users-file": (other_users_file, "belongs to another user"),
    "other-users-directory": (other_users_directory, "belongs to another user"),
    "hard-link": (hard_link, "hard links"),
    "world-writable-directory": (world_writable_directory, "writable by everyone"),
    "link-into-world-writable-directory": (link_into_world_writable_directory, "writable by everyone"),
    "value-also-elsewhere": (value_also_elsewhere, "still holds an imported value"),
    "fifo": (fifo, "not a regular file"),
}
ROOT_ONLY = {"other-users-file", "other-users-directory"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("setup", REFUSALS)
def test_unsafe_scrub_is_refused_and_changes_nothing(tokens, kr, tmp_path, fmt, setup):
    if setup in ROOT_ONLY and os.geteuid() != 0:
        pytest.skip("giving a file or directory to another user needs root")
    name, text, value, _kept = FORMATS[fmt]
    root = tmp_path / "t"
    root.mkdir()
    path = plain(root, name, text)
    arrange, message = REFUSALS[setup]
    arrange(root, path)
    before = path.read_bytes() if setup != "fifo" else None
    result = tokens("import", str(path), "--scrub", timeout=30)
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result
    assert message in result.stderr and value not in result.stderr
    assert imported(tokens) == []
    if before is not None:
        assert path.read_bytes() == before
    assert tokenward_files(root) == []
