"""``jobqueue worker``: run a worker process for an application's queue."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

import click

from jobqueue.cli.loading import load_queue
from jobqueue.worker import Worker

if TYPE_CHECKING:
    from collections.abc import Callable


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's when it is installed (the ``server`` extra brings it), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve_worker(worker: Worker) -> None:
    """Run *worker* until SIGTERM or SIGINT; a second signal skips the grace period."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if worker.is_stopping:
            worker.shutdown_grace_seconds = 0
        worker.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    try:
        await worker.run()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await worker.queue.close()


@click.command()
@click.argument("app", metavar="MODULE:ATTR")
@click.option("--concurrency", "-c", default=10, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--store", metavar="URL", help="Store URL (overrides the application's).")
@click.option(
    "--lease-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1, 86400),
    help="How long a job stays claimed without a heartbeat.",
)
@click.option("--task", "tasks", multiple=True, metavar="NAME", help="Serve only these tasks.")
@click.option(
    "--grace-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="On SIGTERM, how long running jobs may finish before they are handed back.",
)
@click.option("--log-level", default="info", show_default=True)
def worker(
    app: str,
    concurrency: int,
    store: str | None,
    lease_seconds: float,
    tasks: tuple[str, ...],
    grace_seconds: float,
    log_level: str,
) -> None:
    """Run the tasks of the JobQueue named MODULE:ATTR until SIGTERM or SIGINT."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    queue = load_queue(app)
    if store:
        queue.use_store(store)
    runner = Worker(
        queue,
        concurrency=concurrency,
        lease_seconds=lease_seconds,
        tasks=list(tasks) or None,
        shutdown_grace_seconds=grace_seconds,
    )
    with asyncio.Runner(loop_factory=loop_factory()) as loop:
        loop.run(serve_worker(runner))
