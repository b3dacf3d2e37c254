"""Same-host wake-ups for the SQLite store: one datagram per commit to every watching process.

A process that follows changes polls the database for other processes' commits. It also
binds a Unix datagram socket in a folder beside the database file (``jobs.db-wakeups/``),
and every commit that changes a job sends one byte to each socket there: the watcher then
polls at once instead of at its next tick. Best effort throughout: where a socket cannot
be made (no ``AF_UNIX``, a path too long, no permission), polling alone carries changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from pathlib import Path

from jobqueue.asyncutil import wait_set

logger = logging.getLogger(__name__)

#: The longest socket path every platform binds (macOS allows 104 bytes, Linux 108).
_MAX_PATH_BYTES = 100
#: How long a sender trusts its listing of the folder while the folder's modification
#: time stays the same (a coarse clock on some file systems can hide a new socket).
_LISTING_SECONDS = 1.0


def wakeup_folder(database: str) -> Path:
    """The folder of the sockets of the processes that watch *database*."""
    return Path(f"{database}-wakeups")


class WakeupListener:
    """This process's socket: `wait` returns early when another process committed."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._socket: socket.socket | None = None
        self._path: Path | None = None
        self._woken = asyncio.Event()

    @property
    def path(self) -> Path | None:
        """The socket's path while it is bound."""
        return self._path

    def open(self) -> None:
        """Bind the socket; on any failure stay closed (polling still works)."""
        path = self._folder / f"{os.getpid()}-{secrets.token_hex(4)}"
        if not hasattr(socket, "AF_UNIX") or len(os.fsencode(path)) > _MAX_PATH_BYTES:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._folder.mkdir(exist_ok=True)
            sock.setblocking(False)
            sock.bind(os.fspath(path))
            asyncio.get_running_loop().add_reader(sock.fileno(), self._drain)
        except OSError as exc:
            logger.debug("No wake-up socket at %s (%s): polling only", path, exc)
            sock.close()
            with contextlib.suppress(OSError):
                path.unlink()
            return
        self._socket, self._path = sock, path

    def close(self) -> None:
        """Unbind and remove the socket."""
        sock, path, self._socket, self._path = self._socket, self._path, None, None
        if sock is None or path is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed first
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        with contextlib.suppress(OSError):
            path.unlink()

    async def wait(self, timeout: float) -> None:
        """Return after *timeout*, or sooner when woken (at once if woken meanwhile)."""
        await wait_set(self._woken, timeout)
        self._woken.clear()

    def _drain(self) -> None:
        assert self._socket is not None
        with contextlib.suppress(OSError):
            while self._socket.recv(16):
                pass
        self._woken.set()


class WakeupSender:
    """Wakes every other watcher of the database; called on the store's thread."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._socket: socket.socket | None = None
        self._targets: list[str] = []
        self._listed_at = float("-inf")
        self._listed_version: int | None = None  # the folder's mtime when listed

    def send(self, own: Path | None) -> None:
        """Send one byte to each watcher's socket but *own*, removing stale ones."""
        if not hasattr(socket, "AF_UNIX"):
            return
        version = self._folder_version()
        if version != self._listed_version or time.monotonic() - self._listed_at > _LISTING_SECONDS:
            self._list(version)
        if not self._targets:
            return
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        skip = None if own is None else os.fspath(own)
        for target in self._targets:
            if target == skip:
                continue
            try:
                self._socket.sendto(b"!", target)
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody binds it (its process died without cleaning up): forget it.
                with contextlib.suppress(OSError):
                    Path(target).unlink()
                self._listed_at = float("-inf")
            except OSError:
                pass  # a full queue: that watcher is awake already

    def close(self) -> None:
        """Release the sending socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _folder_version(self) -> int | None:
        """The folder's modification time: it moves when a socket comes or goes."""
        try:
            return self._folder.stat().st_mtime_ns
        except OSError:
            return None

    def _list(self, version: int | None) -> None:
        self._listed_at, self._listed_version = time.monotonic(), version
        try:
            self._targets = [entry.path for entry in os.scandir(self._folder)]
        except OSError:
            self._targets = []
