"""``jobqueue worker``: run a worker process for an application's queue."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Any

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
    from collections.abc import Callable, Sequence

    from jobqueue.queue import JobQueue
    from jobqueue.worker import Worker


def _names(listed: str | None) -> list[str]:
    return [name.strip() for name in (listed or "").split(",") if name.strip()]


def served_tasks(
    queue: JobQueue, included: Sequence[str], excluded: Sequence[str]
) -> tuple[str, ...]:
    """The tasks a worker serves: *included* (default: every registered task) less
    *excluded*; a usage error names any task the queue does not have."""
    known = queue.tasks.served
    unknown = sorted({*included, *excluded} - set(known))
    if unknown:
        raise click.BadParameter(
            f"no such task: {', '.join(unknown)} (the tasks are: {', '.join(known)})",
            param_hint="'--tasks' / '--exclude-tasks'",
        )
    served = tuple(name for name in included or known if name not in excluded)
    if not served:
        raise click.BadParameter("that leaves no task to serve", param_hint="'--exclude-tasks'")
    return served


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
@click.option(
    "--tasks",
    "included",
    metavar="A,B",
    help="Serve only these tasks (comma-separated; default: every task).",
)
@click.option(
    "--task",
    "also_included",
    multiple=True,
    metavar="NAME",
    help="Serve this task (repeatable; the same as --tasks).",
)
@click.option("--exclude-tasks", "excluded", metavar="A,B", help="Serve every task but these.")
@log_level
def worker(
    app: str,
    store: str | None,
    included: str | None,
    also_included: tuple[str, ...],
    excluded: str | None,
    log_level: str,
    **options: Any,
) -> None:
    """Run the tasks of the JobQueue named MODULE:ATTR until SIGTERM or SIGINT."""
    configure_logging(log_level)
    queue = load_queue(app, store)
    tasks = served_tasks(queue, [*_names(included), *also_included], _names(excluded))
    runner = build_worker(queue, tasks=tasks, **options)
    with asyncio.Runner(loop_factory=loop_factory()) as loop:
        loop.run(serve_worker(runner))
