"""Shell completion through click's own protocol (`_TOKENS_COMPLETE`, `COMP_WORDS`,
`COMP_CWORD`) run against the installed `tokens`, and through bash itself sourcing the
script `tokens completion bash` prints: token names from the inventory, store and
target names from the config, statuses; names only, no store SDK, never an error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import servers
from tests.conftest import CANARY
from tokenward import completion


def tokens_exe() -> str:
    exe = servers.find_tool("tokens")
    assert exe, "the `tokens` console script is not installed"
    return exe


MODULES_AT_EXIT = (
    "import atexit, sys; atexit.register(lambda: sys.stderr.write('modules: ' + ' '.join(sorted(sys.modules))));"
    " from tokenward.cli import main; main()"
)


def complete(line: str, shell: str = "bash", extra_env: dict | None = None, list_modules: bool = False) -> subprocess.CompletedProcess:
    """Ask `tokens` for completions of `line` (ending in a space: a new word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    if shell == "fish":  # fish's script passes the word being completed itself
        cword = "" if line.endswith(" ") else words[-1]
    env = {**os.environ, "COMP_WORDS": line, "COMP_CWORD": str(cword), "_TOKENS_COMPLETE": f"{shell}_complete"}
    env.update(extra_env or {})
    argv = [sys.executable, "-c", MODULES_AT_EXIT] if list_modules else [tokens_exe()]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def values(line: str, **kwargs) -> list[str]:
    proc = complete(line, **kwargs)
    assert proc.returncode == 0 and proc.stderr == "", proc
    return [entry.split(",", 1)[1] for entry in proc.stdout.splitlines() if entry]


@pytest.fixture
def inventory(tokens, file_keyring):
    entries = (("pypi-alpha", "pypi-notreallyamacaroon1"), ("pypi-beta", "pypi-notreallyamacaroon2"), ("gh-ci", CANARY))
    tokens.add_many([([name, *(["--kind", "pypi"] if name.startswith("pypi") else [])], value) for name, value in entries])


def test_token_names_complete_for_commands_that_take_one(inventory):
    assert values("tokens show ") == ["gh-ci", "pypi-alpha", "pypi-beta"]
    assert values("tokens rotate pypi-") == ["pypi-alpha", "pypi-beta"]
    assert values("tokens exec --token g") == ["gh-ci"]
    assert values("tokens sync pypi-alpha pypi-b") == ["pypi-beta"]
    assert values("tokens get gh") == ["gh-ci"]
    assert values("tokens add ") == []  # a new name: nothing to offer
    assert values("tokens sh") == ["show"]
    assert "calendar" in values("tokens ") and "completion" in values("tokens c")


def test_stores_targets_and_statuses(inventory, write_config):
    assert values("tokens get gh-ci --store ") == ["keyring"]  # no config: the OS keyring
    write_config(
        '[stores.keyring]\n[stores.team-vault]\ntype = "vault"\n[stores."bad name"]\ntype = "aws"\n'
        '[targets.release-pypi]\ntype = "github-actions"\n'
    )
    assert values("tokens add x --store ") == ["keyring", "team-vault"]  # "bad name" is not offered
    assert values("tokens sync --prefer t") == ["team-vault"]
    assert values("tokens remind --store ") == ["keyring", "team-vault"]
    assert {"expired", "overdue", "due-soon", "ok"} <= set(values("tokens list --status "))
    assert completion.target_names(None, None, "") == ["release-pypi"]
    assert completion.target_names(None, None, "x") == []


def test_completion_reads_names_only_and_never_fails_loudly(tmp_path, write_config, monkeypatch):
    home = tmp_path / "no-home-yet"
    monkeypatch.setenv("TOKENS_HOME", str(home))
    assert values("tokens show ") == []
    assert not home.exists()  # nothing created by completing
    home.mkdir()
    (home / "inventory.sqlite3").write_bytes(b"not a database at all")
    write_config("[stores\nthis is not toml")
    assert values("tokens show ") == []
    assert values("tokens get x --store ") == []


@pytest.mark.parametrize("line", ["tokens sync --prefer ", "tokens exec --token ", "tokens show ", "tokens calendar --store "])
def test_no_store_sdk_is_imported_while_completing(inventory, line):
    proc = complete(line, list_modules=True)
    assert proc.returncode == 0 and proc.stdout, proc
    imported = set(proc.stderr.split("modules: ", 1)[1].split())
    assert "tokenward.completion" in imported  # the check saw the completion run
    for module in ("hvac", "boto3", "botocore", "keyring", "icalendar", "secretstorage", "requests"):
        assert module not in imported, module


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_protocols_give_token_names(inventory, shell):
    out = complete("tokens show pypi-", shell=shell).stdout
    assert "pypi-alpha" in out and "pypi-beta" in out and "gh-ci" not in out


def test_bash_sources_the_printed_script_and_completes(inventory, tmp_path):
    bash = shutil.which("bash")
    if bash is None:
        servers.unavailable("bash is not installed")
    script = subprocess.run([tokens_exe(), "completion", "bash"], capture_output=True, text=True, check=True).stdout
    path = tmp_path / "tokens-completion.bash"
    path.write_text(script)
    driver = (
        f"source {path}\n"
        "complete -p tokens\n"
        "COMP_WORDS=(tokens rotate pypi-); COMP_CWORD=2; COMPREPLY=()\n"
        "_tokens_completion tokens\n"
        'printf "reply:%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{Path(tokens_exe()).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([bash, "--norc", "--noprofile", "-c", driver], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc
    assert "complete -o nosort -F _tokens_completion tokens" in proc.stdout
    assert [line for line in proc.stdout.splitlines() if line.startswith("reply:")] == ["reply:pypi-alpha", "reply:pypi-beta"]


@pytest.mark.parametrize("shell, marker", [("bash", "_TOKENS_COMPLETE=bash_complete"), ("zsh", "#compdef tokens"), ("fish", "complete --no-files --command tokens")])
def test_completion_command_prints_each_script(tokens, shell, marker):
    result = tokens("completion", shell)
    assert result.returncode == 0 and marker in result.stdout


def test_unknown_shell_is_one_line_exit_2(tokens):
    result = tokens("completion", "powershell")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
