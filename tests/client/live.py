"""A real server for the client and CLI tests, and a loopback proxy that misbehaves on cue.

`running_server` starts ``jobqueue dev tests.client.app:queue`` (uvicorn and a worker
in one process) on a free port. `Proxy` forwards TCP to it, and can answer the next
connections itself with ``503`` + ``Retry-After`` or cut every open connection, so
tests see real network failures, not simulated ones.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.processes import ROOT, free_port, stop, wait_healthy

if TYPE_CHECKING:
    from collections.abc import Iterator

APP = "tests.client.app:queue"


@contextlib.contextmanager
def running_server(workdir: Path, **env: str) -> Iterator[str]:
    """The URL of a ``jobqueue dev`` server (SQLite store in *workdir*) until the block ends.

    *env* adds environment variables (``JOBQUEUE_API_KEYS=...``) to the server's.
    """
    port = free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobqueue",
                "dev",
                APP,
                "--port",
                str(port),
                "--store",
                f"sqlite:///{workdir / 'jobs.db'}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log_path)
        yield url
    finally:
        stop(process)


def _problem_503(retry_after: int) -> bytes:
    body = b'{"error": "Store unavailable", "status": 503, "title": "Service Unavailable"}'
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Retry-After: {retry_after}\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class Proxy:
    """Forwards connections on a loopback port to *upstream* (``host:port``).

    ``refuse(n)`` makes it answer the next *n* connections with ``503`` itself;
    ``cut()`` drops every open connection mid-transfer. ``sent`` holds the bytes each
    forwarded connection carried from the client.
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host.removeprefix("http://"), int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.sent: list[bytearray] = []
        self.refused = 0
        self._to_refuse = 0
        self._retry_after = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def refuse(self, count: int, retry_after: int = 0) -> None:
        """Answer the next *count* connections with 503 and ``Retry-After: retry_after``."""
        with self._lock:
            self._to_refuse, self._retry_after = count, retry_after

    def cut(self) -> None:
        """Drop every connection now open, both ways."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop accepting and drop everything."""
        # Shut down first: that wakes the blocked accept(), which close() alone may not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self._to_refuse > 0
                if refuse:
                    self._to_refuse -= 1
                    self.refused += 1
            if refuse:
                threading.Thread(target=self._refuse, args=(client,), daemon=True).start()
                continue
            upstream = socket.create_connection(self._upstream)
            sent = bytearray()
            with self._lock:
                self._open |= {client, upstream}
                self.sent.append(sent)
            threading.Thread(target=self._serve, args=(client, upstream, sent), daemon=True).start()

    def _refuse(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head and (chunk := client.recv(65536)):
                head += chunk
            client.sendall(_problem_503(self._retry_after))

    def _serve(self, client: socket.socket, upstream: socket.socket, sent: bytearray) -> None:
        back = threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True)
        back.start()
        self._pump(client, upstream, sent)
        back.join()
        with self._lock:
            self._open -= {client, upstream}
        client.close()
        upstream.close()

    def _pump(self, source: socket.socket, target: socket.socket, record: bytearray | None) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if record is not None:
                    record += chunk
                target.sendall(chunk)
        # One side ended: end the other, so neither waits on a half-dead pair.
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
