"""What only the SQLite store has: URLs, the file (durability, schema, locking) and other
processes sharing it.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from jobqueue.clock import FakeClock
from jobqueue.errors import ConfigError, StoreError, StoreUnavailable
from jobqueue.models import JobStatus, Webhook
from jobqueue.stores import open_store
from jobqueue.stores.sqlite import SCHEMA_VERSION, SQLiteStore, _wakeups, parse_url
from jobqueue.stores.sqlite._wakeups import wakeup_folder
from jobqueue.stores.statements import read_statements
from tests.stores.conformance.helpers import WAIT_SECONDS, Watcher, submit

pytestmark = pytest.mark.sqlite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "jobs.db")


@pytest.fixture
async def sqlite_store(path: str) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(path)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.stores.sqlite_process",
        *args,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _finish(process: asyncio.subprocess.Process, stdin: bytes = b"") -> str:
    out, err = await process.communicate(stdin)
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///jobs.db", "jobs.db"),
        ("sqlite:///data/jobs.db", "data/jobs.db"),
        ("sqlite:////var/lib/jobs.db", "/var/lib/jobs.db"),
        ("sqlite:///my%20jobs.db", "my jobs.db"),
        ("SQLite:///jobs.db", "jobs.db"),
    ],
)
def test_urls_name_a_relative_or_absolute_file(url: str, expected: str) -> None:
    assert parse_url(url) == expected
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == expected


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://jobs.db",
        "sqlite://host/jobs.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///jobs.db?timeout=3",
        "postgresql:///jobs.db",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        SQLiteStore.from_url(url)


async def test_a_closed_store_can_be_opened_again(path: str, clock: FakeClock) -> None:
    store = SQLiteStore(path)
    async with store:
        job = await submit(store, clock)
    with pytest.raises(StoreError, match="not open"):
        await store.get(job.job_id, clock.now())
    async with store:
        assert await store.get(job.job_id, clock.now()) == job


async def test_a_new_file_gets_the_schema_in_wal_mode(sqlite_store: SQLiteStore, path: str) -> None:
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_newer_schema_is_refused(path: str) -> None:
    with closing(sqlite3.connect(path)) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        await SQLiteStore(path).open()


async def test_a_store_that_is_not_open_says_so(path: str, clock: FakeClock) -> None:
    with pytest.raises(StoreError, match="not open"):
        await SQLiteStore(path).get("x", clock.now())


async def test_a_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "missing-directory" / "jobs.db"))
    with pytest.raises(StoreUnavailable) as caught:
        await store.open()
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


async def test_a_lock_held_past_the_busy_timeout_is_unavailable(
    path: str, clock: FakeClock
) -> None:
    async with SQLiteStore(path, busy_timeout_seconds=0.01) as store:
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailable) as caught:
                await submit(store, clock)
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            assert await store.get("x", clock.now()) is None  # readers are not blocked
        finally:
            raw.execute("ROLLBACK")
            raw.close()
        await submit(store, clock)  # and the store works again


async def test_processes_claiming_from_one_file_take_each_job_once(
    sqlite_store: SQLiteStore, path: str, clock: FakeClock
) -> None:
    job_ids = {(await submit(sqlite_store, clock)).job_id for _ in range(300)}
    processes = [
        await _start("claim", path, f"worker-{i}", clock.now().isoformat()) for i in range(3)
    ]
    for process in processes:  # every one has opened the store: start them together
        assert process.stdout is not None
        assert await process.stdout.readline() == b"ready\n"

    outputs = await asyncio.gather(*(_finish(process, b"go\n") for process in processes))

    claimed = [job_id for out in outputs for job_id in orjson.loads(out)]
    assert len(claimed) == len(job_ids)
    assert set(claimed) == job_ids


# With a poll once a minute, only the committing process's wake-up is in time.
@pytest.mark.parametrize("poll_seconds", [0.02, 60.0], ids=["polled", "woken"])
async def test_a_change_made_by_another_process_arrives(
    path: str, clock: FakeClock, poll_seconds: float
) -> None:
    watched = SQLiteStore(path, poll_interval_seconds=poll_seconds)
    async with watched, SQLiteStore(path) as other, Watcher(watched) as watcher:
        await watcher.prime(lambda: submit(other, clock, task="priming"))

        job_id = "made-elsewhere"
        await _finish(await _start("create", path, job_id, clock.now().isoformat()))

        job = await watched.get(job_id, clock.now())
        assert job is not None
        assert (await watcher.change_of(job)).status is JobStatus.QUEUED


async def test_a_watcher_that_comes_later_is_woken_by_the_next_write(
    path: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A writer keeps its listing of the sockets until the folder changes. With the listing's
    # lifetime out of the way and a poll once a minute, only that check delivers the change.
    monkeypatch.setattr(_wakeups, "_LISTING_SECONDS", 3600.0)
    folder = wakeup_folder(path)
    folder.mkdir()
    async with SQLiteStore(path) as writer:
        await submit(writer, clock)  # lists the folder while it is empty
        await asyncio.sleep(0.05)  # past the file system's timestamp granularity
        watched = SQLiteStore(path, poll_interval_seconds=60.0)
        async with watched, Watcher(watched) as watcher:
            async with asyncio.timeout(WAIT_SECONDS):
                while not any(folder.iterdir()):  # the watcher's socket is bound
                    await asyncio.sleep(0.01)
            job = await submit(writer, clock)
            assert (await watcher.change_of(job)).status is JobStatus.QUEUED


def _log_restarts(path: str) -> int:
    """The checkpoint sequence number in the WAL's header: the log restarts, and this grows,
    at the first write after a checkpoint has copied the whole log into the database."""
    return int.from_bytes(Path(f"{path}-wal").read_bytes()[12:16], "big")


async def test_the_log_is_checkpointed_soon_after_writes(path: str, clock: FakeClock) -> None:
    async with SQLiteStore(path) as store:
        await submit(store, clock)
        first = _log_restarts(path)
        # A few jobs write far fewer pages than the 1,000 at which SQLite checkpoints inside
        # a commit: only the store's background checkpoint lets the log restart. It restarts
        # at the first write that begins after a checkpoint has ended; growing pauses keep
        # the writes from always landing while one runs.
        for pause in (0.1, 0.2, 0.4, 0.8, 1.6):
            await asyncio.sleep(pause)
            await submit(store, clock)
            if _log_restarts(path) != first:
                break
        assert _log_restarts(path) != first


async def test_a_socket_left_by_a_dead_process_is_removed(path: str, clock: FakeClock) -> None:
    folder = wakeup_folder(path)
    folder.mkdir()
    stale = folder / "4242-dead"
    with closing(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)) as dead:
        dead.bind(str(stale))  # and closed without removing its file, as by kill -9
    async with SQLiteStore(path) as store:
        await submit(store, clock)
    assert not stale.exists()


async def test_a_path_too_long_for_a_socket_still_gets_changes_by_polling(
    tmp_path: Path, clock: FakeClock
) -> None:
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    path = str(deep / "jobs.db")
    async with SQLiteStore(path) as watched, SQLiteStore(path) as other:
        async with Watcher(watched) as watcher:
            await watcher.prime(lambda: submit(other, clock, task="priming"))
        assert not wakeup_folder(path).exists()


async def test_claims_walk_the_ready_index_without_sorting(sqlite_store: SQLiteStore, path: str):
    # Left to the planner, the run_at range picks another index and sorts every ready job:
    # a claim then costs time in proportion to the queue (40x at 300k jobs).
    statement = read_statements("jobqueue.stores.sqlite", "queries.sql")["ready_jobs"]
    with closing(sqlite3.connect(path)) as conn:
        plan = " ".join(
            str(row[3])
            for row in conn.execute(
                f"EXPLAIN QUERY PLAN {statement}", {"task": "t", "now": 0, "limit": 10}
            )
        )
    assert "jobs_ready" in plan
    assert "TEMP B-TREE" not in plan


async def test_a_version_1_file_gains_what_versions_2_to_4_added(
    path: str, clock: FakeClock
) -> None:
    store = SQLiteStore(path)
    await store.open()
    job = await submit(store, clock)
    await store.close()
    with closing(sqlite3.connect(path)) as db:  # back to what version 1 wrote
        db.executescript(
            "DROP TABLE rate_hits; DROP INDEX jobs_running_keys;"
            "ALTER TABLE jobs DROP COLUMN concurrency_key; ALTER TABLE workers DROP COLUMN tasks;"
            "ALTER TABLE jobs DROP COLUMN tags; ALTER TABLE jobs DROP COLUMN webhook;"
            "PRAGMA user_version = 1;"
        )

    store = SQLiteStore(path)
    await store.open()
    try:
        kept = await store.get(job.job_id, clock.now())
        assert kept is not None
        assert (kept.concurrency_key, kept.tags, kept.webhook) == (None, (), None)
        hook = Webhook("https://receiver.example/")
        keyed = await submit(store, clock, concurrency_key="customer-7", tags=("a",), webhook=hook)
        assert (keyed.concurrency_key, keyed.tags, keyed.webhook) == ("customer-7", ("a",), hook)
        assert await store.count_hit("k", clock.now() + timedelta(seconds=1), clock.now()) == 1
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_ended_rate_windows_are_purged(
    sqlite_store: SQLiteStore, path: str, clock: FakeClock
) -> None:
    await sqlite_store.count_hit("ended", clock.now() + timedelta(seconds=1), clock.now())
    await sqlite_store.count_hit("live", clock.now() + timedelta(seconds=10), clock.now())

    clock.advance(2)
    await sqlite_store.purge_expired(clock.now())

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT key FROM rate_hits").fetchall() == [("live",)]
