"""W10 webhooks: deliveries per second to a local receiver, against the same jobs without one.

    python -m bench.webhooks_bench --store redis [--jobs 2000] [--concurrency 50]

On a private store, ``--jobs`` no-op jobs are queued and one ``jobqueue worker`` process
(``--concurrency`` slots) runs them: first plain (the baseline: jobs/s from the worker's
start to the last job's end), then each with a webhook for ``completed`` pointing at a
receiver on 127.0.0.1 (a Starlette app under uvicorn in this process, answering 204), so
every job is followed by a delivery job that the same worker runs: deliveries/s from the
worker's start to the last delivery received. Every delivery's signature is verified with
`jobqueue.webhooks.verify`, and repeats (the same ``webhook-id`` twice) are counted. Prints
JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.app import queue as bench_queue
from bench.peers._common import MARKS_ENV, PYTHONPATH, ROOT, stop
from bench.run import prepare_services
from bench.watchers import store_url
from jobqueue import JobQueue
from jobqueue.webhooks import WebhookVerificationError, verify

SECRET = "whsec_" + base64.b64encode(b"jobqueue-webhook-benchmark-key!!").decode()
BUDGET_SECONDS = 120.0


class Receiver:
    """Counts the deliveries it is sent, verifying each."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.bad = 0
        self.last_at = 0.0

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        try:
            verify(body, dict(request.headers), SECRET)
        except WebhookVerificationError:
            self.bad += 1
        self.ids.append(request.headers["webhook-id"])
        self.last_at = time.monotonic()
        return Response(status_code=204)


def _worker(url: str, concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "jobqueue", "worker", "bench.app:queue", "--store", url]
    command += ["--concurrency", str(concurrency), "--tasks", "noop,jobqueue.webhook"]
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + BUDGET_SECONDS
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {BUDGET_SECONDS:g} s")
        await asyncio.sleep(0.05)


async def _phase(
    queue: JobQueue, args: argparse.Namespace, logs: Path, webhook: dict[str, Any] | None
) -> tuple[float, subprocess.Popen[bytes]]:
    """Queue the jobs (with *webhook*), then start a worker: when it started, and it."""
    for _ in range(args.jobs):
        await queue.submit("noop", {}, webhook=webhook)
    started = time.monotonic()
    return started, _worker(queue.store_url or "", args.concurrency, logs / "worker.log")


async def measure(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/", receiver.endpoint, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    queue = bench_queue
    queue.use_store(store_url(args.store, directory))
    try:
        async with queue:

            async def ended() -> int:
                counts = (await queue.stats()).tasks.get("noop", {})
                return sum(n for status, n in counts.items() if status.is_terminal)

            before = await ended()  # what an earlier run left in the store

            async def completed() -> bool:
                return bool(await ended() - before >= args.jobs)

            started, worker = await _phase(queue, args, directory, None)
            try:
                await _until(completed, "the plain jobs' end")
                plain_seconds = time.monotonic() - started
            finally:
                stop(worker)
            hook = {"url": f"http://127.0.0.1:{port}/", "events": ["completed"]}
            started, worker = await _phase(queue, args, directory, hook)

            async def delivered() -> bool:
                return bool(len(set(receiver.ids)) >= args.jobs)

            try:
                await _until(delivered, "every delivery")
                hooked_seconds = receiver.last_at - started
            finally:
                stop(worker)
    finally:
        server.should_exit = True
        await serving
    return {
        "jobs": args.jobs,
        "plain_jobs_per_s": args.jobs / plain_seconds,
        "deliveries_per_s": args.jobs / hooked_seconds,
        "repeats": len(receiver.ids) - len(set(receiver.ids)),
        "unverified": receiver.bad,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["redis", "postgres", "sqlite"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    os.environ["JOBQUEUE_WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
    os.environ["JOBQUEUE_WEBHOOK_SECRET"] = SECRET
    if args.store == "postgres":
        prepare_services()
    with tempfile.TemporaryDirectory(prefix="bench-w10-") as tmp:
        os.environ[MARKS_ENV] = tmp
        try:
            result = asyncio.run(measure(args, Path(tmp)))
        except RuntimeError as exc:
            result = {"error": str(exc)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
