"""Throwaway PostgreSQL and Redis servers on spare ports, for tests that stop and restart a
store: the shared servers are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
import redis.asyncio as aioredis

from tests.conftest import IN_CI
from tests.stores.conformance.helpers import WAIT_SECONDS
from tests.support.processes import free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def _missing(reason: str) -> NoReturn:
    """Skip the test because a server program is missing (fail instead in CI)."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _server_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    initdb = str(found[-1]) if found else shutil.which("initdb")
    if initdb is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return Path(initdb).parent


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a spare port, run by the ``postgres`` user when
    we are root (initdb refuses root).
    """

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self._bin_dir = bin_dir
        self._data = root / "data"
        self._log = root / "server.log"
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [*self._as_owner, str(self._bin_dir / tool), *args]
        await asyncio.to_thread(subprocess.run, command, check=check, capture_output=True)

    async def create(self) -> None:
        await self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust")

    async def start(self) -> None:
        options = f"-p {self.port} -k {self._data} -c listen_addresses=127.0.0.1 -c fsync=off"
        await self._run(
            "pg_ctl", "start", "-w", "-D", str(self._data), "-l", str(self._log), "-o", options
        )

    async def stop(self) -> None:
        await self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self._data))

    async def discard(self) -> None:
        """Stop at once if running (the data is thrown away anyway)."""
        await self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self._data), check=False)


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    """A private PostgreSQL server, started; stopped and deleted afterwards."""
    bin_dir = _server_binaries()
    root = Path(tempfile.mkdtemp(prefix="jobqueue-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    private = PrivatePostgres(bin_dir, root)
    try:
        await private.create()
        await private.start()
        yield private
    finally:
        await private.discard()
        shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of the test's own on a spare port, persisting to an append-only file."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            _missing("redis-server is not installed")
        self._executable = executable
        self._directory = directory
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start the server and return once it answers."""
        self._process = subprocess.Popen(
            [
                self._executable,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "yes", "--dir", str(self._directory)),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url)
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while True:
                    try:
                        await client.ping()
                        return
                    except (ConnectionError, aioredis.ConnectionError):
                        await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def signal(self, signal_number: int) -> None:
        """Send the server a signal, such as SIGSTOP to freeze it and SIGCONT to thaw it."""
        assert self._process is not None
        self._process.send_signal(signal_number)

    def stop(self) -> None:
        """Shut the server down the graceful way (SIGTERM), which flushes the file."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(WAIT_SECONDS)
            self._process = None
