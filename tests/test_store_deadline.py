"""A remote store that trickles its answer cannot hang tokenward: every Vault and AWS
request ends within a total deadline (stores/deadline.py).

The stand-in on 127.0.0.1 is not Vault or AWS: it answers any request with a 200
header and then one byte of body every half second, forever (the shape the
hostile try-out used). Nothing about Vault's or AWS's API is assumed beyond HTTP."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.remote_stores import aws_table, remote_env, vault_table


class Trickler:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
            while not self.stopped.is_set():
                time.sleep(0.5)
                conn.sendall(b" ")
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def trickler():
    server = Trickler()
    yield server
    server.stop()


@pytest.mark.parametrize("kind", ["vault", "aws"])
def test_a_trickling_store_ends_the_reminder_job_with_an_error(tokens, trickler, write_config, data_dir, monkeypatch, kind):
    env = remote_env(monkeypatch)
    env["VAULT_TOKEN"] = "s.trickle"
    table = vault_table if kind == "vault" else aws_table
    write_config(table(kind, trickler.url, "team/", timeout=2))
    # Without a total deadline this never ends: the subprocess guard (120 s) would fire.
    result = tokens("remind", "--store", kind, "--no-notify", env=env, timeout=120)
    assert result.returncode == 3, result
    assert result.stderr.startswith("Error: store ") and "within" in result.stderr, result
    assert "Traceback" not in result.stderr
