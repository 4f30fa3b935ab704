"""The hot commands import only what they use (issue 13): `tokens exec --token` and
`tokens get` on the Secret Service read the value with secretstorage, without keyring
(whose import pulls in urllib.request, http.client, email and tarfile), and load no
store SDK or pypitoken that the run does not need. Checked on the real CLI in a fresh
process with Python's own import log (PYTHONPROFILEIMPORTTIME)."""

from __future__ import annotations

import uuid

import pypitoken
import pytest

from tokenward.stores.keyring_store import CACHE_FILE

pytestmark = pytest.mark.usefixtures("real_keyring")

NEVER_ON_A_READ = {"keyring", "hvac", "boto3", "botocore", "requests", "urllib.request", "http.client", "pypitoken", "jsonschema"}
# The plain forms of `get` and `exec` go through the click-free fast entry (fastpath.py):
# no click, no publisher module for a command no tool module knows, no TOML parser for
# an empty config file.
NOT_ON_THE_FAST_PATH = {"click", "tomllib", "tokenward.cli.group", "tokenward.cli.exec_cmd", "tokenward.cli.inventory_cmds"}
# What the plain forms used to load without using it (issue 13, step 2): `dataclasses`
# (with inspect, ast, dis, tokenize: the hot path's classes are plain ones, plain.py),
# `subprocess` and `shutil` (with locale, bz2, lzma: the child is started with
# os.posix_spawn), `secrets`, and the modules only a chosen token or a registry needs.
# (`urllib.parse` stays: Python 3.11's pathlib imports it.)
NOT_ON_A_PLAIN_READ = {
    "dataclasses", "inspect", "ast", "dis", "tokenize", "subprocess", "shutil", "locale", "bz2", "lzma", "secrets",
    "tokenward.selection", "tokenward.registries.base", "tokenward.registries.http",
}  # fmt: skip
TOOL_MODULES = {f"tokenward.publishers.{tool}" for tool in ("twine", "uv", "poetry", "hatch", "flit", "pdm", "npm", "cargo", "gh")}


def imported(tokens, *args: str, input: str | None = None, env: dict | None = None) -> set[str]:
    result = tokens(*args, input=input, env={"PYTHONPROFILEIMPORTTIME": "1", **(env or {})})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:") and "|" in line]
    names = {line.rsplit("|", 1)[1].strip() for line in lines}
    assert "tokenward.cli" in names  # the log is really there
    return names


@pytest.fixture
def generic(tokens, data_dir):
    name = f"hot-{uuid.uuid4().hex[:8]}"  # the test keyring is shared by the whole run
    assert tokens("add", name, "--kind", "generic", input="hot-path-value-0123\n").returncode == 0
    assert (data_dir / CACHE_FILE).exists()
    return name


def test_exec_with_a_named_token_imports_no_keyring_sdk_or_pypitoken(tokens, generic):
    names = imported(tokens, "exec", "--token", generic, "--", "true")
    assert "secretstorage" in names
    assert not names & NEVER_ON_A_READ, sorted(names & NEVER_ON_A_READ)
    # No [targets.*] nor [trusted_publishing] table: their parsers are not even loaded.
    assert not names & {"tokenward.config_targets", "tokenward.config_trusted"}


def test_get_imports_no_keyring_sdk_or_pypitoken(tokens, generic):
    names = imported(tokens, "get", generic)
    assert not names & NEVER_ON_A_READ, sorted(names & NEVER_ON_A_READ)


@pytest.mark.parametrize("form", [("get", "{name}"), ("get", "{name}", "--store", "keyring"), ("exec", "--token", "{name}", "--", "true")])
def test_the_plain_forms_import_no_click_no_tool_module_and_no_toml_parser(tokens, generic, tmp_path, form):
    empty = tmp_path / "config.toml"
    empty.write_text("\n")
    args = [arg.format(name=generic) for arg in form]
    names = imported(tokens, *args, env={"TOKENS_CONFIG": str(empty)})
    assert "tokenward.fastpath" in names
    assert not names & (NOT_ON_THE_FAST_PATH | TOOL_MODULES), sorted(names & (NOT_ON_THE_FAST_PATH | TOOL_MODULES))


def test_exec_for_a_known_tool_loads_that_tool_module_only(tokens, generic):
    names = imported(tokens, "exec", "--token", generic, "--", "twine", "--version")
    assert names & TOOL_MODULES == {"tokenward.publishers.twine"}, sorted(n for n in names if "tokenward" in n)


def test_other_forms_still_go_through_click(tokens, generic):
    """The control: a form the fast entry does not take is click's, and the log shows it."""
    names = imported(tokens, "get", generic, "--store=keyring", "--help")
    assert "click" in names


def test_a_pypi_token_not_narrowed_does_not_import_pypitoken(tokens):
    value = pypitoken.Token.create(domain="pypi.org", identifier="hot", key="k").dump()
    name = f"hot-pypi-{uuid.uuid4().hex[:8]}"
    assert tokens("add", name, input=value + "\n").returncode == 0
    names = imported(tokens, "exec", "--token", name, "--", "true")
    assert not names & NEVER_ON_A_READ, sorted(names & NEVER_ON_A_READ)


def test_a_write_still_goes_through_keyring(tokens):
    """The control: the import log does see keyring when a command uses it."""
    names = imported(tokens, "add", f"hot-w-{uuid.uuid4().hex[:8]}", "--kind", "generic", input="hot-path-write-4567\n")
    assert "keyring" in names


@pytest.mark.parametrize("form", [("get", "{name}"), ("exec", "--token", "{name}", "--", "true"), ("exec", "--token", "{name}", "--no-mask", "--", "true")])
def test_the_plain_forms_import_no_dataclasses_subprocess_or_shutil(tokens, generic, data_dir, tmp_path, form):
    # The data dir and config named by their variables, as the benchmarks run: without
    # them platformdirs (4.x imports tempfile, hence shutil and random) finds the defaults.
    empty = tmp_path / "config.toml"
    empty.write_text("")
    env = {"TOKENS_HOME": str(data_dir), "TOKENS_CONFIG": str(empty)}
    names = imported(tokens, *[arg.format(name=generic) for arg in form], env=env)
    assert "tokenward.fastpath" in names
    assert not names & NOT_ON_A_PLAIN_READ, sorted(names & NOT_ON_A_PLAIN_READ)
