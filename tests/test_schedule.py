"""`tokens schedule install/remove/print` against a temporary home: the systemd user
units (checked with `systemd-analyze verify` where available) and an idempotent
crontab edit (through a fake `crontab` command on PATH, standing in for that binary
only)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tokenward import schedule

FAKE_CRONTAB = """#!/bin/sh
# A stand-in for crontab(1): the table lives in $FAKE_CRONTAB_FILE; calls are logged.
echo "$*" >> "$FAKE_CRONTAB_FILE.calls"
if [ -n "${FAKE_CRONTAB_FAIL:-}" ]; then echo "crontab: $FAKE_CRONTAB_FAIL" >&2; exit 1; fi
case "$1" in
  -l) if [ -f "$FAKE_CRONTAB_FILE" ]; then cat "$FAKE_CRONTAB_FILE"; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -) cat > "$FAKE_CRONTAB_FILE" ;;
  *) echo "usage" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "userhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)  # no user manager: nothing is enabled for real
    return home


@pytest.fixture
def crontab(tmp_path, monkeypatch):
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    exe = bin_dir / "crontab"
    exe.write_text(FAKE_CRONTAB)
    exe.chmod(0o755)
    table = tmp_path / "crontab.txt"
    monkeypatch.setenv("FAKE_CRONTAB_FILE", str(table))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return table


def units(home: Path) -> Path:
    return home / ".config" / "systemd" / "user"


def test_systemd_install_is_idempotent_and_verifies(tokens, home, tmp_path):
    first = tokens("schedule", "install", "--systemd", "--at", "08:30")
    assert first.returncode == 0, first
    assert "Installed the reminder (systemd user timer tokenward-remind.timer, daily at 08:30)" in first.stderr
    assert "systemctl --user daemon-reload && systemctl --user enable --now tokenward-remind.timer" in first.stderr
    service = units(home) / "tokenward-remind.service"
    timer = units(home) / "tokenward-remind.timer"
    timer_text = timer.read_text()
    assert "Persistent=true" in timer_text
    assert "OnCalendar=*-*-* 08:30:00" in timer_text
    assert "WantedBy=timers.target" in timer_text
    service_text = service.read_text()
    assert "Type=oneshot" in service_text and "SuccessExitStatus=1" in service_text
    exec_line = next(line for line in service_text.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_line[len("ExecStart=") :])
    assert Path(argv[0]).is_absolute() and argv[1:] == ["remind"]
    assert f"Environment=TOKENS_HOME={os.environ['TOKENS_HOME']}" in service_text

    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (service, timer)}
    again = tokens("schedule", "install", "--systemd", "--at", "08:30")
    assert again.returncode == 0
    assert "already installed" in again.stderr and "nothing changed" in again.stderr
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (service, timer)} == before

    # The command the service runs works as written.
    run = subprocess.run(argv, env={"TOKENS_HOME": os.environ["TOKENS_HOME"], "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert run.returncode == 0, run
    assert "All tokens are within their rotation period." in run.stdout

    if shutil.which("systemd-analyze"):
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700)
        verify = subprocess.run(
            ["systemd-analyze", "--user", "verify", str(timer), str(service)],
            capture_output=True, text=True, env=dict(os.environ, XDG_RUNTIME_DIR=str(runtime)),
        )  # fmt: skip
        assert verify.returncode == 0, verify
        assert verify.stdout.strip() == "" and verify.stderr.strip() == "", verify  # not even a warning

    removed = tokens("schedule", "remove", "--systemd")
    assert removed.returncode == 0
    assert not service.exists() and not timer.exists()
    assert "nothing changed" in tokens("schedule", "remove").stderr


def test_changed_options_rewrite_the_units(tokens, home, write_config):
    write_config('[notify.webhook]\nurl = "http://127.0.0.1:9/hook"\n')
    assert tokens("schedule", "install", "--systemd").returncode == 0
    result = tokens("schedule", "install", "--systemd", "--notify", "webhook")
    assert "Installed the reminder" in result.stderr
    service_text = (units(home) / "tokenward-remind.service").read_text()
    assert "remind --notify webhook" in service_text
    assert f"Environment=TOKENS_CONFIG={os.environ['TOKENS_CONFIG']}" in service_text


def test_cron_install_is_idempotent_and_keeps_other_lines(tokens, home, crontab):
    crontab.write_text("MAILTO=me@example.test\n30 2 * * * /usr/bin/backup --all\n")
    first = tokens("schedule", "install", "--cron")
    assert first.returncode == 0, first
    lines = crontab.read_text().splitlines()
    assert lines[:2] == ["MAILTO=me@example.test", "30 2 * * * /usr/bin/backup --all"]
    assert len(lines) == 3
    ours = lines[2]
    assert ours.startswith("0 9 * * * TOKENS_HOME=")
    assert " remind --quiet " in ours and ours.endswith(schedule.CRON_MARKER)

    calls_before = Path(f"{crontab}.calls").read_text().splitlines()
    content_before = crontab.read_bytes()
    again = tokens("schedule", "install", "--cron")
    assert again.returncode == 0
    assert "nothing changed" in again.stderr
    assert crontab.read_bytes() == content_before
    calls = Path(f"{crontab}.calls").read_text().splitlines()
    assert calls[len(calls_before) :] == ["-l"]  # read, never rewritten

    # Another time replaces our line instead of adding a second one.
    assert tokens("schedule", "install", "--cron", "--at", "7:05").returncode == 0
    lines = crontab.read_text().splitlines()
    assert len(lines) == 3 and lines[2].startswith("5 7 * * * ")

    # The line runs under sh as cron would run it.
    command = lines[2].split(" ", 5)[5]
    run = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run
    assert run.stdout == ""  # --quiet: cron mails nothing on a good day

    assert tokens("schedule", "remove", "--cron").returncode == 0
    assert crontab.read_text().splitlines() == ["MAILTO=me@example.test", "30 2 * * * /usr/bin/backup --all"]


def test_install_without_a_flag_uses_cron_when_no_user_manager(tokens, home, crontab):
    result = tokens("schedule", "install")
    assert result.returncode == 0, result
    assert "crontab line, daily at 09:00" in result.stderr
    assert schedule.CRON_MARKER in crontab.read_text()
    assert not units(home).exists()


def test_empty_crontab_is_fine_and_remove_clears_it(tokens, home, crontab):
    assert tokens("schedule", "install", "--cron").returncode == 0
    assert tokens("schedule", "remove").returncode == 0
    assert crontab.read_text() == ""


def test_failing_crontab_is_one_error_line(tokens, home, crontab, monkeypatch):
    monkeypatch.setenv("FAKE_CRONTAB_FAIL", "you are not allowed to use this program")
    result = tokens("schedule", "install", "--cron")
    assert result.returncode == 3
    assert result.stderr == "Error: crontab -l failed: crontab: you are not allowed to use this program\n"


def test_cron_line_escapes_percent_and_quotes():
    job = schedule.Job(argv=("/opt/my tools/tokens", "remind"), env={"TOKENS_CONFIG": "/cfg/100%.toml"}, hour=6, minute=0)
    line = schedule.cron_line(job)
    assert line.startswith("0 6 * * * TOKENS_CONFIG=/cfg/100\\%.toml '/opt/my tools/tokens' remind ")


def test_systemd_quoting():
    job = schedule.Job(argv=("/opt/my tools/tokens", "remind"), env={"TOKENS_CONFIG": "/c/50%.toml"})
    service = schedule.systemd_units(job)["tokenward-remind.service"]
    assert 'ExecStart="/opt/my tools/tokens" remind' in service
    assert "Environment=TOKENS_CONFIG=/c/50%%.toml" in service


def test_print_kinds(tokens, home, write_config):
    write_config('[stores.keyring]\n[stores.team]\ntype = "aws"\nregion = "eu-west-1"\n[notify.webhook]\nurl = "https://hooks.example.test/x"\n')
    systemd = tokens("schedule", "print")
    assert systemd.returncode == 0
    assert "# " + str(units(home) / "tokenward-remind.timer") in systemd.stdout
    assert "Persistent=true" in systemd.stdout
    cron = tokens("schedule", "print", "--cron", "--at", "10:15")
    assert cron.stdout.startswith("15 10 * * * ") and cron.stdout.strip().endswith(schedule.CRON_MARKER)
    workflow = tokens("schedule", "print", "--github-actions", "--store", "team", "--notify", "webhook", "--install", "tokenward==0.1.0")
    assert workflow.returncode == 0, workflow
    import yaml

    parsed = yaml.safe_load(workflow.stdout)
    assert parsed["on"]["schedule"] == [{"cron": "0 9 * * *"}]
    run = parsed["jobs"]["remind"]["steps"][-1]
    assert run["run"] == "tokens remind --store team --notify webhook"
    assert run["env"]["AWS_ACCESS_KEY_ID"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert run["env"]["TOKENS_CONFIG"] == ".github/tokenward.toml"
    assert not units(home).exists()  # print writes nothing


@pytest.mark.parametrize(
    "args, message",
    [
        (["install", "--systemd", "--at", "25:00"], "invalid --at '25:00'"),
        (["install", "--systemd", "--store", "keyring"], "--store needs a vault or aws store"),
        (["install", "--systemd", "--store", "nope"], "unknown store 'nope'"),
        (["install", "--systemd", "--notify", "webhook"], "no [notify.webhook] table"),
    ],
)
def test_bad_input_writes_nothing(tokens, home, crontab, args, message):
    result = tokens("schedule", *args)
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert not units(home).exists()
    assert not crontab.exists()


# -- issue 15: the job's environment, hostile paths, other crontab lines, quoting ------------


def run_cron_command(line: str, home: Path) -> subprocess.CompletedProcess:
    """Run our crontab line's command the way cron does: sh, a minimal environment."""
    command = line.split(" ", 5)[5]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "SHELL": "/bin/sh"}
    return subprocess.run(["/bin/sh", "-c", command.replace("\\%", "%")], capture_output=True, text=True, env=env)


def test_job_keeps_the_data_dir_from_xdg_data_home(tokens, home, crontab, tmp_path, monkeypatch):
    monkeypatch.delenv("TOKENS_HOME")
    xdg_data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg_data))
    added = tokens("add", "old-token", "--kind", "generic", "--created", "2020-01-01", input="generic-value-123\n")
    assert added.returncode == 0, added
    assert (xdg_data / "tokenward").is_dir()

    assert tokens("schedule", "install", "--cron").returncode == 0
    line = crontab.read_text().splitlines()[-1]
    assert f"TOKENS_HOME={xdg_data / 'tokenward'} " in line
    # Under cron (no XDG_DATA_HOME) the job reads the same inventory, not an empty one.
    run = run_cron_command(line, home)
    assert run.returncode == 1, run
    assert "old-token" in run.stdout
    assert not (home / ".local" / "share" / "tokenward").exists()

    assert tokens("schedule", "install", "--systemd").returncode == 0
    service = (units(home) / "tokenward-remind.service").read_text()
    assert f"Environment=TOKENS_HOME={xdg_data / 'tokenward'}\n" in service


HOSTILE_PATH_PARTS = ["x\n* * * * * touch PWNED\n", "x\nExecStartPre=touch PWNED", "x\r", "x\x85y", "x\u2028y", "x\x1by"]


@pytest.mark.parametrize("part", HOSTILE_PATH_PARTS)
@pytest.mark.parametrize("where", ["TOKENS_HOME", "TOKENS_CONFIG"])
@pytest.mark.parametrize("kind", ["--cron", "--systemd"])
def test_control_characters_in_paths_are_refused(tokens, home, crontab, tmp_path, monkeypatch, part, where, kind):
    before = b"MAILTO=me@example.test\n30 2 * * * /usr/bin/backup --all\n"
    crontab.write_bytes(before)
    path = tmp_path / f"dir{part}end"
    if where == "TOKENS_CONFIG":
        path.write_text("[defaults]\n")
    monkeypatch.setenv(where, str(path))
    for args in (["install", kind], ["print", kind]):
        result = tokens("schedule", *args)
        assert result.returncode == 2, result
        assert result.stderr.startswith("Error: ") and "control character" in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert result.stdout == ""
    assert crontab.read_bytes() == before
    assert not units(home).exists()
    assert not (tmp_path / "PWNED").exists()
    assert tokens("schedule", "remove").returncode == 0
    assert crontab.read_bytes() == before  # no fragment of anything


def test_control_characters_in_a_store_name_are_refused(tokens, home, crontab, write_config):
    # The config refuses such a store name already; the job refuses any argument with one.
    write_config('[stores."team\\n* * * * * touch PWNED"]\ntype = "aws"\nregion = "eu-west-1"\n')
    for kind in (["--cron"], ["--systemd"], ["--github-actions", "--install", "tokenward==0.1.0"]):
        result = tokens("schedule", "print", *kind, "--store", "team\n* * * * * touch PWNED")
        assert result.returncode == 2, result
        assert result.stderr.startswith("Error: ") and result.stdout == ""
    assert not crontab.exists()
    with pytest.raises(schedule.UsageError, match="control character"):
        schedule.Job(argv=("/usr/bin/tokens", "remind", "--store", "team\n* * * * * touch PWNED"))


def test_cron_install_keeps_other_lines_byte_for_byte(tokens, home, crontab):
    others = (
        b"MAILTO=me@example.test\n"
        b"# form feed\x0c and separators \x1c\x1d\x1e here\n"
        b"30 2 * * * /usr/bin/backup --all # NEL \xc2\x85 and LS \xe2\x80\xa8 inside\n"
        b"  5   4 * * *   echo  hi   # odd   spacing\r\n"
        b"FOO = bar baz\n"
        b"*/5 * * * * printf 'a\\%b' # escaped percent\n"
        b"\n"
        b"@reboot /opt/latin1-\xff-path"
    )
    crontab.write_bytes(others)
    assert tokens("schedule", "install", "--cron").returncode == 0
    table = crontab.read_bytes()
    assert table.startswith(others + b"\n")
    added = table[len(others) + 1 :]
    assert added.count(b"\n") == 1 and added.endswith(schedule.CRON_MARKER.encode() + b"\n")
    again = tokens("schedule", "install", "--cron", "--at", "06:00")
    assert again.returncode == 0, again
    assert crontab.read_bytes().startswith(others + b"\n0 6 * * * ")
    assert tokens("schedule", "remove", "--cron").returncode == 0
    assert crontab.read_bytes() == others + b"\n"


def test_dollar_and_percent_in_the_data_dir_reach_systemd_intact(tokens, home, tmp_path, monkeypatch):
    data = tmp_path / "a$HOME b%i"
    monkeypatch.setenv("TOKENS_HOME", str(data))
    assert tokens("schedule", "install", "--systemd").returncode == 0
    service = (units(home) / "tokenward-remind.service").read_text()
    # systemd.exec(5): Environment= expands %-specifiers but never `$`; ExecStart= expands both.
    expected = str(data).replace("%", "%%")
    assert f'Environment="TOKENS_HOME={expected}"\n' in service
    job = schedule.Job(argv=("/opt/t$x/tokens", "remind"), env={})
    assert 'ExecStart=/opt/t$$x/tokens remind\n' in schedule.systemd_units(job)["tokenward-remind.service"]


STORE_NAMES = ["team #1", "team: vault", "it's \"quoted\"", "a: b #c 'd' \"e\"", "- dash", "@at", "*star", "{x}", "on", "null"]


@pytest.mark.parametrize("name", STORE_NAMES)
def test_github_workflow_parses_back_for_awkward_store_names(name):
    import yaml

    job = schedule.Job(argv=("/usr/bin/tokens", *schedule.remind_args(store=name, channels=("webhook",))), hour=7, minute=30)
    workflow = yaml.safe_load(schedule.github_workflow(job, store=name, store_type="aws", install="tokenward==0.1.0"))
    assert workflow["on"]["schedule"] == [{"cron": "30 7 * * *"}]
    run = workflow["jobs"]["remind"]["steps"][-1]
    assert shlex.split(run["run"]) == ["tokens", "remind", "--store", name, "--notify", "webhook"]
    assert run["env"]["AWS_ACCESS_KEY_ID"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"
    assert run["env"]["TOKENS_CONFIG"] == ".github/tokenward.toml"


def test_github_workflow_refuses_an_expression_in_a_store_name():
    name = "x${{ secrets.VAULT_TOKEN }}"
    job = schedule.Job(argv=("/usr/bin/tokens", *schedule.remind_args(store=name)))
    with pytest.raises(schedule.UsageError, match="GitHub Actions would evaluate"):
        schedule.github_workflow(job, store=name, store_type="vault", install="tokenward==0.1.0")


# -- issue 15 follow-up, item 4: the workflow never installs an unpinned name ------------


@pytest.mark.parametrize(
    "spec",
    ["tokenward==0.1.0", "git+https://github.com/example/tokenward@" + "a" * 40, "./vendor/tokenward-0.1.0-py3-none-any.whl"],
)
def test_workflow_installs_only_a_pinned_spec(tokens, home, write_config, spec):
    import yaml

    write_config('[stores.keyring]\n[stores.team]\ntype = "vault"\nurl = "https://vault.example.test"\n')
    result = tokens("schedule", "print", "--github-actions", "--store", "team", "--install", spec)
    assert result.returncode == 0, result
    steps = yaml.safe_load(result.stdout)["jobs"]["remind"]["steps"]
    assert steps[2]["run"] == f"pip install {spec}"
    assert "pip install tokenward\n" not in result.stdout


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--github-actions needs --install SPEC"),
        (["--install", "tokenward"], "is not pinned"),
        (["--install", "tokenward>=0.1"], "is not pinned"),
        (["--install", "git+https://github.com/example/tokenward@main"], "is not pinned"),
        (["--install", "tokenward==0.1.0 --index-url https://evil.example"], "is not pinned"),
        (["--install", "--index-url=https://evil.example"], "is not pinned"),
        (["--install", "tokenward==0.1.0", "--notify", "desktop"], "no desktop on a GitHub Actions runner"),
    ],
)
def test_workflow_refuses_unpinned_installs_and_desktop(tokens, home, write_config, extra, message):
    write_config('[stores.keyring]\n[stores.team]\ntype = "vault"\nurl = "https://vault.example.test"\n')
    result = tokens("schedule", "print", "--github-actions", "--store", "team", *extra)
    assert result.returncode == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr and result.stdout == ""


def test_systemd_units_are_written_without_following_planted_links(tokens, home, tmp_path):
    """The unit files choose what runs: written as calendar feeds are (duedates.write_output),
    never through a temporary-file link someone planted, never into a dir others may write."""
    directory = units(home)
    directory.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    planted = directory / ".tokenward-remind.service.tmp"
    planted.symlink_to(victim)
    result = tokens("schedule", "install", "--systemd")
    assert result.returncode == 0, result
    assert victim.read_text() == "keep me"
    service = directory / "tokenward-remind.service"
    assert not service.is_symlink() and "ExecStart=" in service.read_text()
    assert (service.stat().st_mode & 0o022) == 0
    (directory / "tokenward-remind.service").unlink()
    directory.chmod(0o777)
    result = tokens("schedule", "install", "--systemd")
    assert result.returncode == 2, result
    assert "is writable by other users" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (directory / "tokenward-remind.service").exists()


# -- issue 15 follow-up, item 7: only our own units are touched ----------------------------


HAND_WRITTEN = "[Unit]\nDescription=my own reminder\n[Service]\nExecStart=/usr/local/bin/mine\n"


def test_a_hand_written_unit_is_neither_overwritten_nor_deleted(tokens, home):
    units(home).mkdir(parents=True, mode=0o700)
    service = units(home) / "tokenward-remind.service"
    service.write_text(HAND_WRITTEN)
    result = tokens("schedule", "install", "--systemd")
    assert result.returncode == 2, result
    assert "not written by tokenward" in result.stderr and service.read_text() == HAND_WRITTEN
    assert not (units(home) / "tokenward-remind.timer").exists()
    result = tokens("schedule", "remove", "--systemd")
    assert result.returncode == 2, result
    assert service.read_text() == HAND_WRITTEN


# Exactly what the release before the marker line wrote (tokens schedule install --systemd).
UNMARKED_SERVICE = (
    "[Unit]\nDescription=tokenward: remind about API tokens due for rotation\n\n[Service]\nType=oneshot\n"
    "ExecStart=/usr/bin/tokens remind --quiet\nSuccessExitStatus=1\n"
)
UNMARKED_TIMER = (
    "[Unit]\nDescription=tokenward: daily rotation reminder\n\n[Timer]\nOnCalendar=*-*-* 09:00:00\n"
    "Persistent=true\n\n[Install]\nWantedBy=timers.target\n"
)


def test_units_of_the_release_before_the_marker_are_still_ours(tokens, home):
    """An upgrade must be able to reinstall and remove the units the previous release wrote."""
    units(home).mkdir(parents=True, mode=0o700)
    service, timer = units(home) / "tokenward-remind.service", units(home) / "tokenward-remind.timer"
    service.write_text(UNMARKED_SERVICE)
    timer.write_text(UNMARKED_TIMER)
    result = tokens("schedule", "install", "--systemd")
    assert result.returncode == 0, result
    assert "# Written by `tokens schedule install`" in service.read_text()
    service.write_text(UNMARKED_SERVICE)
    timer.write_text(UNMARKED_TIMER)
    result = tokens("schedule", "remove", "--systemd")
    assert result.returncode == 0, result
    assert not service.exists() and not timer.exists()


def test_a_symlinked_unit_is_refused(tokens, home, tmp_path):
    assert tokens("schedule", "install", "--systemd").returncode == 0
    timer = units(home) / "tokenward-remind.timer"
    target = tmp_path / "elsewhere.timer"
    target.write_text(timer.read_text())
    timer.unlink()
    timer.symlink_to(target)
    result = tokens("schedule", "install", "--systemd", "--at", "07:00")
    assert result.returncode == 2, result
    assert "a symbolic link" in result.stderr and timer.is_symlink()


def test_units_are_ours_and_removed_again(tokens, home):
    assert tokens("schedule", "install", "--systemd").returncode == 0
    assert (units(home) / "tokenward-remind.service").read_text().startswith(schedule.UNIT_MARKER)
    assert tokens("schedule", "remove", "--systemd").returncode == 0
    assert not (units(home) / "tokenward-remind.service").exists()


def test_cron_then_systemd_warns_that_both_run(tokens, home, crontab):
    assert tokens("schedule", "install", "--cron").returncode == 0
    result = tokens("schedule", "install", "--systemd")
    assert result.returncode == 0, result
    assert "Warning: a crontab reminder is installed too; both will run" in result.stderr


@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_a_unit_dir_others_may_write_is_refused(tokens, home, mode):
    units(home).mkdir(parents=True)
    units(home).chmod(mode)
    result = tokens("schedule", "install", "--systemd")
    assert result.returncode == 2, result
    assert "writable by other users" in result.stderr
    assert list(units(home).iterdir()) == []


def test_a_relative_xdg_config_home_is_ignored(tokens, home, tmp_path):
    result = tokens("schedule", "print", env={"XDG_CONFIG_HOME": "rel"})
    assert result.returncode == 0, result
    assert f"# {home / '.config' / 'systemd' / 'user' / 'tokenward-remind.timer'}" in result.stdout


def test_a_control_character_argument_is_named_once(tokens, home, tmp_path):
    result = tokens("schedule", "print", "--calendar", str(tmp_path / "x\ny.ics"))
    assert result.returncode == 2, result
    assert result.stderr.count("x\\ny.ics") == 1, result.stderr
