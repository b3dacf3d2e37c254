"""The PostgreSQL store through a real outage: a private server of its own is stopped and
started again, as a restart or a failover would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jobqueue.errors import StoreUnavailable
from jobqueue.models import JobStatus
from jobqueue.stores.postgres import PostgresStore
from tests.conftest import IN_CI
from tests.stores.conformance.helpers import (
    TASK,
    WAIT_SECONDS,
    Watcher,
    claim_one,
    new_job,
    submit,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from jobqueue.clock import FakeClock

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _server_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    initdb = str(found[-1]) if found else shutil.which("initdb")
    if initdb is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(initdb).parent


def _spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateServer:
    """A throwaway PostgreSQL cluster on a spare port, run by the ``postgres`` user when
    we are root (initdb refuses root).
    """

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self._bin_dir = bin_dir
        self._data = root / "data"
        self._log = root / "server.log"
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.port = _spare_port()
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


@pytest.fixture
async def server() -> AsyncIterator[PrivateServer]:
    """A private server, started; stopped and deleted afterwards."""
    bin_dir = _server_binaries()
    root = Path(tempfile.mkdtemp(prefix="jobqueue-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    private = PrivateServer(bin_dir, root)
    try:
        await private.create()
        await private.start()
        yield private
    finally:
        await private.discard()
        shutil.rmtree(root, ignore_errors=True)


async def _unavailable(operation: Callable[[], Awaitable[object]]) -> None:
    """*operation* must fail with StoreUnavailable, and soon (a hang fails the wait)."""
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(operation(), WAIT_SECONDS)


async def _answers_again(store: PostgresStore) -> None:
    async with asyncio.timeout(WAIT_SECONDS * 4):
        while True:
            try:
                await store.ping()
            except StoreUnavailable:
                await asyncio.sleep(0.2)
            else:
                return


async def test_the_store_fails_fast_during_an_outage_and_recovers(
    server: PrivateServer, clock: FakeClock
) -> None:
    store = PostgresStore(server.url, timeout=1.0)
    await store.open()
    try:
        queued = [await submit(store, clock) for _ in range(3)]
        running = await claim_one(store, clock)
        async with Watcher(store) as watcher:
            await watcher.prime(lambda: submit(store, clock, task="priming"))

            await server.stop()
            await _unavailable(store.ping)
            await _unavailable(lambda: store.get(queued[1].job_id, clock.now()))
            await _unavailable(lambda: store.create(new_job(), clock.now()))
            await _unavailable(lambda: store.claim("worker-2", [TASK], 5, 30.0, clock.now()))
            await _unavailable(lambda: store.complete(running.lease, "ok", clock.now()))

            await server.start()
            await _answers_again(store)

            for job in queued[1:]:
                assert await store.get(job.job_id, clock.now()) == job
            done = await store.complete(running.lease, "ok", clock.now())
            assert done.status is JobStatus.COMPLETED
            claims = await store.claim("worker-2", [TASK], 5, 30.0, clock.now())
            assert {claim.job.job_id for claim in claims} == {job.job_id for job in queued[1:]}
            # The change feed reconnected on its own.
            await watcher.prime(lambda: submit(store, clock, task="priming"))
    finally:
        await store.close()
