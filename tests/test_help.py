"""`tokens` and a command group without a subcommand show their normal help, as
click does (issue 9 item 13), not the help folded into one `Error:` line."""

import pytest


@pytest.mark.parametrize("args, usage", [((), "Usage: tokens [OPTIONS] COMMAND"), (("schedule",), "Usage: tokens schedule [OPTIONS] COMMAND")])
def test_group_alone_prints_the_normal_help(tokens, args, usage):
    result = tokens(*args)
    assert result.returncode == 2  # click's status for a group run without a command
    assert result.stderr.startswith(usage)
    assert "Error:" not in result.stderr
    assert "\nCommands:\n" in result.stderr
    assert len(result.stderr.splitlines()) > 10  # laid out, not folded into one line
