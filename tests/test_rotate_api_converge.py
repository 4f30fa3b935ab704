"""`tokens rotate --api` that must converge (issue 11 try-out items 3, 5, 6, 9, 12): a stale
machine is refused before any registry call; a created value lost in flight is found and
revoked (npm, on the real verdaccio behind a proxy that loses the answer); a journal whose
old value is nowhere ends with one message and is closed; a created value of the wrong
kind or already expired; the messages after a GitLab rotation; sync's summary last.

GitLab and the npm-with-a-wrong-answer cases use the stand-ins of tests/registry_standins.py
(built from REFERENCE.md only)."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests import servers
from tests.registry_standins import StandIn
from tests.remote_stores import remote_env, unique, vault_table
from tests.test_rotate_api import _journal, _token_keys, _whoami

GL = "glpat-" + "c0nv" * 5
ROOT = str(Path(__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def gitlab():
    s = StandIn("gitlab").start()
    yield s
    s.stop()


@pytest.fixture
def gl(tokens, file_keyring, gitlab):
    gitlab.reset()
    gitlab.tokens[GL] = {"scopes": ["api"]}
    added = tokens("add", "gl", "--kind", "gitlab", "--repository", gitlab.url, "--rotate-every", "90d", input=GL)
    assert added.returncode == 0, added
    return gitlab


# -- item 3: a stale machine is refused before the registry is asked anything ---------------------


def test_a_stale_machine_is_refused_before_any_registry_call(tokens, tmp_path, openbao, gitlab, monkeypatch):
    env = remote_env(monkeypatch, openbao)
    config = tmp_path / "team.toml"
    config.write_text('[defaults]\nstores = ["keyring", "vault"]\n[stores.keyring]\nservice = "tokenward"\n'
                      + vault_table("vault", openbao.url, unique("conv/") + "/", timeout=5))  # fmt: skip
    env.update(TOKENS_CONFIG=str(config), PYTHON_KEYRING_BACKEND="tests.keyring_backend.FileKeyring",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))  # fmt: skip

    def machine(label):
        own = dict(env, TOKENS_HOME=str(tmp_path / f"home-{label}"), TOKENWARD_TEST_KEYRING=str(tmp_path / f"kr-{label}.json"))
        return lambda *args, input=None: tokens(*args, input=input, env=own)

    a, b = machine("a"), machine("b")
    gitlab.reset()
    gitlab.tokens[GL] = {"scopes": ["api"]}
    assert a("add", "gl", "--kind", "gitlab", "--repository", gitlab.url, input=GL).returncode == 0
    assert b("sync", "--discover").returncode == 0
    pasted = "glpat-" + "p4st" * 5
    gitlab.tokens[pasted] = {"scopes": ["api"]}
    assert a("rotate", "gl", input=pasted).returncode == 0  # A rotates; B has not synced
    gitlab.seen.clear()
    stale = b("rotate", "gl", "--api")
    assert stale.returncode == 3, stale
    assert "changed since your last sync" in stale.stderr and "run `tokens sync` first" in stale.stderr
    assert stale.stderr.count("\n") == 1 and "Traceback" not in stale.stderr
    assert gitlab.seen == []  # GitLab was asked nothing: no self-rotate of a value rotated elsewhere
    assert GL not in gitlab.revoked and not (tmp_path / "home-b").joinpath("api-rotations", "gl.json").exists()


def test_an_unreachable_shared_store_is_refused_before_any_registry_call(tokens, file_keyring, openbao, gitlab, monkeypatch, tmp_path):
    """Whether the machine is stale cannot be known: nothing is created (a GitLab rotation of a
    value rotated elsewhere would revoke the whole family)."""
    remote_env(monkeypatch, openbao)
    table = vault_table("vault", openbao.url, unique("conv/") + "/", timeout=2)
    config = tmp_path / "team.toml"
    config.write_text('[defaults]\nstores = ["keyring", "vault"]\n[stores.keyring]\nservice = "tokenward"\n' + table)
    monkeypatch.setenv("TOKENS_CONFIG", str(config))
    gitlab.reset()
    gitlab.tokens[GL] = {"scopes": ["api"]}
    assert tokens("add", "gl", "--kind", "gitlab", "--repository", gitlab.url, input=GL).returncode == 0
    config.write_text(config.read_text().replace(openbao.url, "http://127.0.0.1:9"))  # nothing listens there
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    assert "cannot check that it holds the version of gl this machine last saw" in result.stderr
    assert "nothing was created" in result.stderr and result.stderr.count("\n") == 1
    assert gitlab.seen == [] and tokens("get", "gl").stdout.strip() == GL


# -- item 3: the discard of a value no store took; a journal always converges ------------------------


def test_a_discard_answered_200_is_done(tokens, gl, file_keyring, data_dir):
    gl.gl_delete_status = 200  # 204 is documented; 200 is a success too
    lock = file_keyring.parent / (file_keyring.name + ".lock")
    lock.unlink()
    lock.mkdir()  # every keyring write now fails
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    [new] = [v for v in gl.tokens if v != GL]
    assert new in gl.revoked and "it was revoked at GitLab" in result.stderr
    assert "could not be revoked" not in result.stderr
    assert _journal(data_dir) == []  # nothing left for the next run


def _plant(data_dir, name: str, kind: str, step: str, **fields) -> None:
    from tokenward.rotation import api_journal

    entry = api_journal.Entry(name=name, kind=kind, step=step, started_at=fields.pop("started_at", "2026-01-01T00:00:00Z"),
                              old_fingerprint=fields.pop("old_fingerprint", "f" * 16), **fields)  # fmt: skip
    api_journal.save(data_dir, entry)


@pytest.mark.parametrize("step", ["created", "creating"])
def test_a_journal_whose_old_value_is_nowhere_ends_with_one_message(tokens, gl, data_dir, step):
    """The old value was replaced here (a teammate's rotation, synced): nothing can revoke the
    lost value or check for one by API. One final message, the journal closed; no loop."""
    _plant(data_dir, "gl", "gitlab", step, new_fingerprint="e" * 16 if step == "created" else "")
    first = tokens("sync")
    assert first.returncode == 3, first
    assert "this rotation is closed" in first.stderr and "/-/user_settings/personal_access_tokens" in first.stderr
    assert "`tokens sync gl` first" not in first.stderr
    assert _journal(data_dir) == []
    again = tokens("sync")
    assert again.returncode == 0, again
    assert tokens("get", "gl").stdout.strip() == GL and GL not in gl.revoked


# -- item 6: a created value is checked like a piped one -------------------------------------------


def test_a_gitlab_answer_of_another_kind_is_stored_but_told(tokens, gl, data_dir):
    """GitLab revoked the old value when it answered: the new one is all there is, so it is
    stored even when it does not fit -- with one Error line and exit 3."""
    wrong = "ghp_" + "W" * 36
    gl.created_value = wrong
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    assert tokens("get", "gl").stdout.strip() == wrong
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "looks like a github token" in errors[0] and "stored anyway" in errors[0]
    assert wrong not in result.stderr and _journal(data_dir) == []


def test_a_gitlab_answer_already_expired_is_stored_but_told(tokens, gl, data_dir):
    gl.created_extra = {"expires_at": "2020-01-01"}
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    [new] = [v for v in gl.tokens if v != GL]
    assert tokens("get", "gl").stdout.strip() == new
    assert "says the new value expired on 2020-01-01" in result.stderr and "stored anyway" in result.stderr


NPM_OLD = "npm_" + "0ldConv" * 5


@pytest.fixture(scope="module")
def npm_standin():
    s = StandIn("npm").start()
    yield s
    s.stop()


def test_an_npm_answer_of_another_kind_is_revoked_and_the_old_value_stays(tokens, file_keyring, npm_standin, write_config, data_dir):
    s = npm_standin
    s.reset()
    s.tokens[NPM_OLD] = {"user": "dev", "key": "k0ldconv"}
    s.npm_password = "pw"
    s.created_value = "glpat-" + "X" * 20
    write_config('[rotate.npm]\nlogin = "npm-pw"\n')
    assert tokens("add", "npm-pw", "--kind", "generic", input="pw").returncode == 0
    assert tokens("add", "npm-x", "--kind", "npm", "--repository", s.url, input=NPM_OLD).returncode == 0
    result = tokens("rotate", "npm-x", "--api")
    assert result.returncode == 3, result
    assert "looks like a gitlab token" in result.stderr and "the old value of npm-x stays in use" in result.stderr
    assert s.created_value in s.revoked and NPM_OLD not in s.revoked
    assert tokens("get", "npm-x").stdout.strip() == NPM_OLD and _journal(data_dir) == []


# -- item 9: after a GitLab rotation the old value is dead, and the messages say so -----------------


def test_a_failing_target_after_gitlab_rotation_says_the_old_value_is_dead(tokens, gl, write_config):
    maint = "glpat-" + "m41nC" * 4
    gl.tokens[maint] = {}
    gl.ci.add_project("g/n")
    gl.ci.grants[maint] = set()  # 403 for the project
    write_config(f'[targets.lab]\ntype = "gitlab-ci"\ntoken = "gl"\nauth = "gl-maint"\nproject = "g/n"\n'
                 f'variable = "GL_TOKEN"\napi_url = "{gl.url}"\n')  # fmt: skip
    assert tokens("add", "gl-maint", "--kind", "gitlab", "--repository", gl.url, input=maint).returncode == 0
    result = tokens("rotate", "gl", "--api")
    assert result.returncode == 3, result
    assert "is kept" not in result.stderr
    assert "revoked the old value of gl when it rotated" in result.stderr
    assert "hold a dead token until `tokens push`" in result.stderr


# -- item 12: sync's summary comes last and counts the API rotations it could not finish --------------


def test_sync_summary_counts_an_unfinished_api_rotation(tokens, gl, data_dir):
    _plant(data_dir, "gl", "gitlab", "creating", old_fingerprint=json.loads(tokens("show", "gl", "--json").stdout)["fingerprint"])
    gl.fault = "5xx"
    result = tokens("sync")
    assert result.returncode == 3, result
    summary = [line for line in result.stdout.splitlines() if line.startswith("Synced ")]
    assert summary and summary[-1].endswith("1 failed."), result.stdout
    assert _journal(data_dir) == ["gl.json"]  # not settled: the next run asks again


# -- item 5: an npm token created while its answer was lost (real verdaccio) --------------------------


class LosingProxy:
    """A reverse proxy in front of verdaccio that passes everything, except that the answer
    to `POST /-/npm/v1/tokens` is lost: the request reaches verdaccio (the token is created),
    then the connection is closed without an answer ("drop"), or held until the test is done
    ("hold", so the test can kill -9 the client mid-request); "drop-twice" sends it twice (another
    tool created a token in the same window)."""

    def __init__(self, upstream: str, mode: str) -> None:
        self.upstream = urlsplit(upstream)
        self.mode = mode
        self.posted = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                connection = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                if proxy.mode == "drop-twice" and self.command == "POST" and self.path.startswith("/-/npm/v1/tokens"):
                    connection.request(self.command, self.path, body=body, headers=headers)
                    connection.getresponse().read()
                if self.command == "POST" and self.path.startswith("/-/npm/v1/tokens"):
                    proxy.posted.set()
                    if proxy.mode == "hold":
                        proxy.release.wait(60)
                    self.close_connection = True
                    return  # the answer is lost
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def lost_npm(tokens, file_keyring, verdaccio, write_config, request):
    user = "lost" + secrets.token_hex(3)
    password = "pw-" + secrets.token_hex(8)
    login = servers.npm_user(verdaccio.url, user, password)
    value, key = servers.npm_token(verdaccio.url, login, password)
    proxy = LosingProxy(verdaccio.url, request.param)
    write_config('[rotate.npm]\nlogin = "npm-pw"\n')
    assert tokens("add", "npm-pw", "--kind", "generic", input=password).returncode == 0
    assert tokens("add", "npm-pub", "--kind", "npm", "--repository", proxy.url, input=value).returncode == 0
    yield {"url": verdaccio.url, "login": login, "old": value, "proxy": proxy, "keys": _token_keys(verdaccio.url, login)}
    proxy.stop()


@pytest.mark.parametrize("lost_npm", ["drop"], indirect=True)
def test_an_npm_answer_lost_in_flight_is_revoked_at_once(tokens, lost_npm, data_dir):
    result = tokens("rotate", "npm-pub", "--api")
    assert result.returncode == 3, result
    assert "the token it created (key " in result.stderr and "was revoked at npm" in result.stderr
    assert _token_keys(lost_npm["url"], lost_npm["login"]) == lost_npm["keys"]  # nothing left live
    assert tokens("get", "npm-pub").stdout.strip() == lost_npm["old"] and _journal(data_dir) == []


@pytest.mark.parametrize("lost_npm", ["drop-twice"], indirect=True)
def test_two_unknown_tokens_in_the_window_are_named_not_revoked(tokens, lost_npm, data_dir):
    """One of them may be another tool's: tokenward names both and deletes neither."""
    result = tokens("rotate", "npm-pub", "--api")
    assert result.returncode == 3, result
    now = _token_keys(lost_npm["url"], lost_npm["login"])
    created = [k for k in now if k not in lost_npm["keys"]]
    assert len(created) == 2 and all(f"key {k}" in result.stderr for k in created)
    assert "none was revoked" in result.stderr and "this rotation is closed" in result.stderr
    assert _journal(data_dir) == [] and tokens("get", "npm-pub").stdout.strip() == lost_npm["old"]


@pytest.mark.parametrize("lost_npm", ["hold"], indirect=True)
def test_killed_mid_post_the_next_sync_revokes_the_created_token(tokens, lost_npm, data_dir, tmp_path):
    proc = subprocess.Popen([servers.find_tool("tokens"), "rotate", "npm-pub", "--api"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert lost_npm["proxy"].posted.wait(60), "the POST never reached the registry"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(_token_keys(lost_npm["url"], lost_npm["login"])) == len(lost_npm["keys"]) + 1  # created, unknown here
    assert _journal(data_dir) == ["npm-pub.json"]
    synced = tokens("sync")
    assert synced.returncode == 0, synced
    assert "the token it created (key " in synced.stderr and "was revoked at npm" in synced.stderr
    assert _token_keys(lost_npm["url"], lost_npm["login"]) == lost_npm["keys"]
    assert _whoami(lost_npm["url"], lost_npm["old"]) is not None and _journal(data_dir) == []
    assert tokens("sync").returncode == 0
