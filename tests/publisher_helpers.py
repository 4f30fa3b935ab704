"""Shared by the tests/test_publisher_<tool>.py files: a parsing context in a temporary
project, and an exec harness that runs a real publish tool through `tokens exec`
against recording servers (tests/recording_server.py) and reports who received what."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures_pypiserver import mint, write_wheel
from tests.recording_server import RecordingServer, recording_servers  # noqa: F401 - fixture
from tokenward.publishers import Context, parse_command

PRIVATE = "https://pypi.example.com/legacy/"


@pytest.fixture
def ctx(tmp_path) -> Context:
    work = tmp_path / "work"
    (work / "dist").mkdir(parents=True)
    for name in ("Foo_Bar-1.0-py3-none-any.whl", "foo_bar-1.0.tar.gz", "foo_bar-1.0.tar.gz.asc"):
        (work / "dist" / name).write_text("x")
    home = tmp_path / "home"
    home.mkdir()
    return Context(env={"XDG_CONFIG_DIRS": str(tmp_path / "no-system-config")}, cwd=work, home=home)


def parse(line: str | list[str], ctx: Context, **env):
    argv = line.split() if isinstance(line, str) else line
    if env:
        ctx = Context({**ctx.env, **env}, ctx.cwd, ctx.home)
    return parse_command(argv, ctx)


def refused(target, *words: str) -> bool:
    """A publishing target exec must refuse: no repository, a problem naming `words`."""
    return target.publishes and target.repository is None and all(w in target.problem for w in words)


# -- the real tool through `tokens exec` -------------------------------------------------

RIGHT = "tw-right-SECRET-0123456789abcdef"  # recorded for server A
WRONG = "tw-wrong-SECRET-fedcba9876543210"  # recorded for server B


@dataclass
class Harness:
    """Two recording servers: A (where a source says the tool uploads) and B (a decoy);
    an inventory with a token for each and a user-wide PyPI token; a project with a wheel."""

    a: RecordingServer
    b: RecordingServer
    pypi_value: str
    work: Path
    home: Path
    env: dict
    tokens: object
    data_dir: Path

    def sub(self, text: str) -> str:
        return text.replace("{A}", self.a.upload_url()).replace("{B}", self.b.upload_url())

    def write(self, relative: str, text: str) -> Path:
        path = self.work / relative if not relative.startswith("~/") else self.home / relative[2:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.sub(text))
        return path

    def run(self, *argv: str, env: dict | None = None, token: str | None = None):
        extra = {k: self.sub(v) for k, v in (env or {}).items()}
        args = ["exec", *(["--token", token] if token else []), "--", *[self.sub(a) for a in argv]]
        old = os.getcwd()
        os.chdir(self.work)
        try:
            return self.tokens(*args, env={**self.env, **extra})
        finally:
            os.chdir(old)

    def received(self) -> dict[str, list[str]]:
        """Every credential each server received (A, B), as "user:password"."""
        return {"A": self.a.secrets(), "B": self.b.secrets()}

    def assert_only_a_got_its_token(self, result) -> None:
        assert result.returncode == 0, result
        assert self.a.uploads(), "nothing was uploaded to A"
        assert set(self.a.secrets()) == {f"__token__:{RIGHT}"}, self.received()
        assert self.b.secrets() == [], self.received()  # (uv may ask an index URL on B for existing files, without credentials)
        assert not any(self.pypi_value in s for s in self.a.secrets() + self.b.secrets())
        entry = self.last_exec()
        assert entry["token"] == "for-a" and entry["repository"] == self.a.upload_url()

    def assert_refused(self, result, *words: str, execs_before: int = 0) -> None:
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and "--token" in lines[0], result
        for word in words:
            assert self.sub(word) in lines[0], result
        assert self.a.requests == [] and self.b.requests == [], self.received()
        assert len(self.execs()) == execs_before  # the command did not run

    def execs(self) -> list[dict]:
        log = self.data_dir / "audit.log"
        entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [e for e in entries if e["event"] == "exec"]

    def last_exec(self) -> dict | None:
        execs = self.execs()
        return execs[-1] if execs else None


@pytest.fixture
def harness(tokens, file_keyring, recording_servers, tmp_path, data_dir, monkeypatch) -> Harness:  # noqa: F811
    a, b = recording_servers(), recording_servers()
    work = tmp_path / "project"
    (work / "dist").mkdir(parents=True)
    write_wheel(work / "dist", "tw-right", "1.0")
    home = tmp_path / "user-home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CONFIG_DIRS": str(tmp_path / "system-config"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "TWINE_NON_INTERACTIVE": "1",
    }
    for var in ("TWINE_REPOSITORY", "TWINE_REPOSITORY_URL", "UV_PUBLISH_URL", "UV_PUBLISH_INDEX", "UV_CONFIG_FILE",
                "UV_NO_CONFIG", "UV_PROJECT", "UV_WORKING_DIR"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    pypi_value = mint(identifier="user-wide-pypi")
    entries = (("for-a", RIGHT, a.upload_url()), ("for-b", WRONG, b.upload_url()), ("pypi-main", pypi_value, ""))
    tokens.add_many(
        [([name, *(["--repository", repository, "--kind", "generic"] if repository else [])], value) for name, value, repository in entries],
        env=env,
    )  # fmt: skip
    return Harness(a, b, pypi_value, work, home, env, tokens, data_dir)
