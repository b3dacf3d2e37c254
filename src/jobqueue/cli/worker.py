"""``jobqueue worker``: run a worker process for an application's queue."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import click

from jobqueue.cli.loading import load_queue
from jobqueue.cli.options import (
    build_worker,
    configure_logging,
    log_level,
    store_override,
    worker_options,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobqueue.worker import Worker


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
@store_override
@worker_options
@click.option("--task", "tasks", multiple=True, metavar="NAME", help="Serve only these tasks.")
@log_level
def worker(
    app: str,
    store: str | None,
    concurrency: int,
    lease_seconds: float,
    grace_seconds: float,
    max_jobs_per_child: int | None,
    max_child_memory_mb: float | None,
    tasks: tuple[str, ...],
    log_level: str,
) -> None:
    """Run the tasks of the JobQueue named MODULE:ATTR until SIGTERM or SIGINT."""
    configure_logging(log_level)
    runner = build_worker(
        load_queue(app, store),
        concurrency=concurrency,
        lease_seconds=lease_seconds,
        grace_seconds=grace_seconds,
        tasks=tasks,
        max_jobs_per_child=max_jobs_per_child,
        max_child_memory_mb=max_child_memory_mb,
    )
    with asyncio.Runner(loop_factory=loop_factory()) as loop:
        loop.run(serve_worker(runner))
