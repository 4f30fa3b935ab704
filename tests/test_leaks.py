"""A canary value goes through every command; it must surface only where asked
(`tokens get`, an unmasked child) and never in any other output or data file."""

import json
import sys

import pytest

from tests.conftest import CANARY

ROTATED = CANARY.replace("CANARY", "ROTATED")


def assert_clean(text: str, where: str) -> None:
    for secret in (CANARY, ROTATED):
        assert secret not in text, f"value leaked into {where}"
        # Also no large piece of it (e.g. a truncated repr).
        assert secret[4:24] not in text, f"part of the value leaked into {where}"


def test_canary_appears_only_where_asked(tokens, file_keyring, data_dir, tmp_path):
    argv_dump = tmp_path / "argv.txt"
    child = (
        "import os,sys;"
        f"open({str(argv_dump)!r},'w').write(open('/proc/self/cmdline').read()+open('/proc/%d/cmdline' % os.getppid()).read());"
        "print('child saw', os.environ['GH_TOKEN']); print(os.environ['GH_TOKEN'][:10], file=sys.stderr)"
    )
    runs = [
        ("add", ["add", "leak", "--purpose", "canary", "--created", "2020-01-01"], CANARY + "\n"),
        ("list", ["list"], None),
        ("list --json", ["list", "--json"], None),
        ("show", ["show", "leak"], None),
        ("show --json", ["show", "leak", "--json"], None),
        ("remind", ["remind"], None),
        ("remind --json", ["remind", "--json"], None),
        ("doctor", ["doctor"], None),
        ("doctor --json", ["doctor", "--json"], None),
        ("exec masked", ["exec", "--token", "leak", "--", sys.executable, "-c", child], None),
        ("exec --debug", ["--debug", "exec", "--token", "leak", "--", sys.executable, "-c", "raise SystemExit(3)"], None),
        ("add duplicate", ["add", "leak"], CANARY + "\n"),
        ("add bad value", ["add", "leak2"], CANARY + "\n\n"),
        ("add malformed pypi", ["add", "leak3"], "pypi-" + CANARY + "\n"),
        ("rotate same", ["rotate", "leak"], CANARY + "\n"),
        ("rotate", ["rotate", "leak"], ROTATED + "\n"),
        ("rotate --debug broken store", ["--debug", "rotate", "leak"], CANARY + "x\n"),
        ("remove", ["remove", "leak", "--yes"], None),
    ]
    for label, args, stdin in runs:
        env = None
        if label == "rotate --debug broken store":
            env = {"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.BrokenKeyring"}
        result = tokens(*args, input=stdin, env=env)
        assert "Traceback" not in result.stderr, (label, result.stderr)
        assert_clean(result.stdout, f"stdout of {label}")
        assert_clean(result.stderr, f"stderr of {label}")
        if label == "exec masked":
            assert result.stdout.strip() == "child saw ****"
            assert_clean(argv_dump.read_text(), "argv of tokens or its child")
    # `get` is the one command that prints it, and only on stdout.
    tokens("add", "leak", input=CANARY)
    got = tokens("get", "leak")
    assert got.stdout == CANARY
    assert_clean(got.stderr, "stderr of get")

    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"inventory.sqlite3", "audit.log"}
    for path in files:
        assert_clean(path.read_bytes().decode("latin-1"), f"file {path.name}")
    audit = [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]
    assert {"add", "exec", "rotate", "remove"} <= {e["event"] for e in audit}


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_internal_error_shows_no_value(tokens, file_keyring, debug, monkeypatch):
    """Even an unexpected failure mid-command prints no value, with or without --debug."""
    # A keyring backend that raises with the value in its message: we must not relay it.
    result = tokens(*debug, "add", "leak", input=CANARY, env={"PYTHON_KEYRING_BACKEND": "tests.keyring_backend.LeakyKeyring"})
    assert result.returncode == 3
    assert "keyring write failed (RuntimeError)" in result.stderr
    assert_clean(result.stderr, "stderr")


# -- every process we start, and OpenBao's audit log -----------------------------------
class ArgvWatcher:
    """Reads every process's /proc/PID/cmdline, again and again, while commands run:
    a value passed to any process (ours, a child, a rotate_command, notify-send, a
    helper of a store SDK) would be seen."""

    def __init__(self, secrets: set[str]) -> None:
        import threading

        self.secrets = secrets
        self.seen: list[str] = []
        self.scans = 0
        self.commands: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import os

        while not self._stop.is_set():
            self.scans += 1
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        argv = handle.read().decode("utf-8", "replace")
                except OSError:
                    continue
                self.commands.add(argv.split("\0", 1)[0].rsplit("/", 1)[-1])
                for secret in list(self.secrets):
                    if secret in argv or secret[4:24] in argv:
                        self.seen.append(argv.split("\0", 1)[0])
            self._stop.wait(0.002)

    def __enter__(self) -> "ArgvWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def audited_openbao(tmp_path_factory):
    from tests.fault_servers import OwnOpenBao

    server = OwnOpenBao(tmp_path_factory.mktemp("leak-openbao"))
    yield server
    server.stop()


def test_canaries_in_no_argv_and_not_in_openbao_audit_log(tokens, file_keyring, data_dir, tmp_path, audited_openbao, moto, monkeypatch):
    import os
    import textwrap

    from tests.invariants import record_figure
    from tests.remote_stores import aws_table, remote_env, unique, vault_table

    env = remote_env(monkeypatch, audited_openbao)
    prefix = unique("leak/") + "/"
    values = {CANARY, ROTATED, CANARY.replace("CANARY", "COMMAND"), CANARY.replace("CANARY", "IMPORTD")}
    by_command = CANARY.replace("CANARY", "COMMAND")
    imported = CANARY.replace("CANARY", "IMPORTD")
    argv_dump = tmp_path / "argv.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dump = f"import os,sys; open({str(argv_dump)!r},'a').write(repr(sys.argv) + open('/proc/%d/cmdline' % os.getppid()).read() + '\\n')"
    notify_send = bin_dir / "notify-send"
    notify_send.write_text(f"#!{sys.executable}\n{dump}\n")
    notify_send.chmod(0o755)
    mint = tmp_path / "mint.py"
    mint.write_text(f"{dump}\nprint({by_command!r})\n")
    config = tmp_path / "config.toml"
    config.write_text(
        '[defaults]\nstores = ["keyring", "vault", "aws"]\n[stores.keyring]\nservice = "leaks"\n'
        + vault_table("vault", audited_openbao.url, prefix)
        + aws_table("aws", moto.url, prefix)
        + "[notify.desktop]\n"
        + f'[rotate.token]\nminted = [{json.dumps(sys.executable)}, {json.dumps(str(mint))}]\n'
    )
    dotenv = tmp_path / "tokens.env"
    dotenv.write_text(f"GH_TOKEN={imported}\n")
    dotenv.chmod(0o600)
    child = textwrap.dedent(
        f"""
        import os
        {dump}
        print('child saw', os.environ['GH_TOKEN'])
        """
    )
    run_env = dict(env, TOKENS_CONFIG=str(config), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    runs = [
        (["add", "leak", "--created", "2020-01-01", "--rotate-every", "30d"], CANARY),
        (["add", "minted", "--store", "vault"], CANARY.replace("CANARY", "MINTED")),
        (["add", "stale", "--created", "2020-01-01", "--rotate-every", "30d", "--store", "keyring"], CANARY.replace("CANARY", "STALE0")),
        (["list"], None), (["show", "leak", "--json"], None), (["get", "leak"], None),
        (["exec", "--token", "leak", "--", sys.executable, "-c", child], None),
        (["exec", "--no-mask", "--token", "leak", "--", sys.executable, "-c", child], None),
        (["rotate", "leak"], ROTATED),
        (["rotate", "minted"], None),  # rotate_command
        (["sync", "--verify"], None),
        (["sync", "--discover", "--json"], None),
        (["rollback", "leak"], None),
        (["remind", "--notify", "desktop"], None),
        (["history", "leak"], None),
        (["doctor"], None),
        (["import", str(dotenv), "--name", "imported"], None),
        (["remove", "imported", "--yes"], None),
    ]  # fmt: skip
    values |= {CANARY.replace("CANARY", "MINTED"), CANARY.replace("CANARY", "STALE0")}
    with ArgvWatcher(values) as watcher:
        for args, stdin in runs:
            result = tokens("--debug", *args, input=stdin, env=run_env)
            assert result.returncode in (0, 1), (args, result)  # remind: 1 = overdue
            assert "Traceback" not in result.stderr, (args, result.stderr)
            for value in values:
                assert value not in result.stderr, f"value in stderr of {args}"
                if args[0] not in ("get",) and "--no-mask" not in args:
                    assert value not in result.stdout, f"value in stdout of {args}"
    assert watcher.seen == [], f"a value was in the argv of {sorted(set(watcher.seen))}"
    assert watcher.scans > 100
    dumped = argv_dump.read_text()
    # The processes we start wrote their own argv and their parent's: both exec
    # children, the rotate_command and notify-send all ran.
    assert dumped.count("'-c']") == 2 and "mint.py'" in dumped and "bin/notify-send'" in dumped, dumped
    for value in values:
        assert value not in dumped

    # OpenBao's audit log: every request and response, values HMAC'd.
    log = audited_openbao.audit_log.read_text()
    writes = [json.loads(line) for line in log.splitlines() if '"create"' in line or '"update"' in line]
    assert writes, "the audit device logged nothing"
    for value in values:
        assert value not in log, "a value appears in clear in OpenBao's audit log"
        assert value[4:24] not in log
    for path in data_dir.rglob("*"):
        if path.is_file():
            for value in values:
                assert value not in path.read_bytes().decode("latin-1"), path
    record_figure("leaks", commands=len(runs), argv_scans=watcher.scans, audit_entries=len(log.splitlines()))
