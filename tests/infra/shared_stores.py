"""The shared stores a rate budget can live in, each of the test's own and stoppable: a
redis-server on a free port; a PostgreSQL database reached through a TCP relay on a free port
(stopping the relay makes the server unreachable for the budget, as a network cut would); a
SQLite file (one host). `env` is what a worker process needs to use it, as in production."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import sqlalchemy as sa


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start on port {port}")


class OwnRedis:
    """A redis-server on a free port, stoppable and restartable on the same port."""

    mode = "redis"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.env = {"REDIS_URL": self.url}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed (apt-get install redis-server)"
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port, "redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class TcpRelay:
    """Forwards a free local port to `target`; `stop` closes the port and cuts every connection
    through it (the far side sees nothing), `start` opens the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass  # cut by `stop`, or the other side went away: close both ends
        finally:
            for s in (source, sink):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        with contextlib.suppress(OSError):  # already closed by the other side
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def stop(self) -> None:
        if self._listener is not None:
            # shutdown first: close alone leaves a blocked accept() holding the port.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            cut = list(self._open)
        for s in cut:
            self._close(s)


class OwnPostgres:
    """A database of the test server, reached through a relay that the test can cut."""

    mode = "database"

    def __init__(self, url: str) -> None:
        parsed = sa.make_url(url)
        self.relay = TcpRelay((parsed.host or "127.0.0.1", parsed.port or 5432))
        self.url = parsed.set(port=self.relay.port).render_as_string(hide_password=False)
        self.env = {"REVOPS_DATABASE_URL": self.url}

    def start(self) -> None:
        self.relay.start()
        wait_listening(self.relay.port, "the relay")

    def stop(self) -> None:
        self.relay.stop()


class OwnSqlite:
    """A SQLite store file: the budget of the processes of one host."""

    mode = "database"

    def __init__(self, folder: Path) -> None:
        self.url = f"sqlite:///{folder / 'revops.db'}"
        self.env = {"REVOPS_DATABASE_URL": self.url}

    def start(self) -> None:
        """Nothing to start: the first process that uses the file creates and migrates it."""


SharedStore = OwnRedis | OwnPostgres | OwnSqlite
StoppableStore = OwnRedis | OwnPostgres
