"""The README and the CLI reference stay true to the code."""

import re
import subprocess
import sys
from pathlib import Path

import click

from tokenward.cli import LAZY_COMMANDS, SHORT_HELP, cli

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_fresh():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import cli_reference
    finally:
        sys.path.pop(0)
    expected = cli_reference.render()
    actual = (ROOT / "docs" / "cli.md").read_text()
    assert actual == expected, "docs/cli.md is stale: run `python scripts/cli_reference.py`"


def _commands():
    ctx = click.Context(cli, info_name="tokens")
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        yield name, command
        if isinstance(command, click.Group):
            sub_ctx = click.Context(command, info_name=name, parent=ctx)
            for sub in command.list_commands(sub_ctx):
                yield f"{name} {sub}", command.get_command(sub_ctx, sub)


def test_every_command_has_help_and_an_example():
    for name, command in _commands():
        assert command is not None, name
        assert command.help and "Example" in command.help, f"`tokens {name}` lacks help with an Example"


def test_short_help_lists_every_command():
    assert set(SHORT_HELP) == set(LAZY_COMMANDS)


def test_config_example_is_valid_and_documents_every_key():
    from tokenward.config import NOTIFY_KEYS, STORE_TYPES, load_config, store_keys

    path = ROOT / "config.example.toml"
    config = load_config(str(path))
    text = path.read_text()
    for store_type in STORE_TYPES:
        keys = store_keys(store_type)
        for key in keys:
            assert re.search(rf"^#?\s*{re.escape(key)}\s*=", text, re.M), f"config.example.toml lacks {store_type}.{key}"
    for channel, keys in NOTIFY_KEYS.items():
        for key in keys:
            assert re.search(rf"^#?\s*{re.escape(key)}\s*=", text, re.M), f"config.example.toml lacks notify.{channel}.{key}"
    assert config.default_stores


def test_readme_has_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "scripts/demo" in readme and "scripts/test" in readme
    result = subprocess.run(["sh", "-n", str(ROOT / "scripts" / "demo")], capture_output=True)
    assert result.returncode == 0


def readme_sh_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"^```sh\n(.*?)^```", readme, re.S | re.M)


def test_readme_examples_run_as_written(file_keyring, tmp_path):
    """Every ```sh block of the README, in order, in one shell: each must succeed."""
    import os

    blocks = readme_sh_blocks()
    assert len(blocks) >= 5
    script = "set -e\n" + "\n".join(blocks)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "user __token__, password ****" in result.stdout
    assert "something needs rotating" not in result.stdout  # gh-release was rotated, so nothing is overdue
