"""A separate process using a SQLite store file, for tests/stores/test_sqlite.py.

``python -m tests.stores.sqlite_process claim PATH WORKER NOW`` opens the store, prints
``ready``, waits for a line on stdin (so that several processes start claiming together),
then claims every ready job and prints the claimed ids as a JSON list.
``... create PATH JOB_ID NOW`` creates one job.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import orjson

from jobqueue.models import Claimant, NewJob
from jobqueue.stores.sqlite import SQLiteStore

TASK = "work"


async def _claim_all(store: SQLiteStore, worker_id: str, now: datetime) -> list[str]:
    claimed: list[str] = []
    while batch := await store.claim(Claimant(worker_id, frozenset({TASK}), 30.0), 2, now):
        claimed += [claim.job.job_id for claim in batch]
    return claimed


async def main(command: str, path: str, name: str, now_text: str) -> None:
    now = datetime.fromisoformat(now_text)
    store = SQLiteStore(path)
    async with store:
        if command == "claim":
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            print(orjson.dumps(await _claim_all(store, name, now)).decode())
        else:
            await store.create(NewJob(name, TASK, None, 3, 3600.0), now)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
