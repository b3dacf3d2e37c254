"""The options that several commands share, declared once: where the store is, how the
process logs, how its worker runs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobqueue.queue import JobQueue
    from jobqueue.worker import Worker

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

store_override = click.option(
    "--store", metavar="URL", help="Store URL (overrides the application's)."
)
log_level = click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="The least severe messages logged.",
)


#: Each option as (names, default, type, help); all show their default.
OptionSpec = tuple[tuple[str, ...], object, "click.ParamType[Any]", str]

WORKER_OPTIONS: tuple[OptionSpec, ...] = (
    (("--concurrency", "-c"), 10, click.IntRange(1, 10_000), "Jobs run at once."),
    (
        ("--lease-seconds",),
        30.0,
        click.FloatRange(0.1, 86400),
        "How long a job stays claimed without a heartbeat.",
    ),
    (
        ("--grace-seconds",),
        10.0,
        click.FloatRange(0),
        "On shutdown, how long running jobs may finish before they are handed back.",
    ),
    (
        ("--max-jobs-per-child",),
        None,
        click.IntRange(1),
        "Replace a process task's child process after this many jobs (default: never).",
    ),
    (
        ("--max-child-memory-mb",),
        None,
        click.FloatRange(0, min_open=True),
        "Replace a process task's child process whose memory after a job is above this"
        " many MiB (default: never).",
    ),
)
SERVER_OPTIONS: tuple[OptionSpec, ...] = (
    (("--host",), "127.0.0.1", click.STRING, "Address to bind."),
    (("--port",), 8000, click.IntRange(0, 65535), "Port to bind (0: any free one)."),
)


def with_options(
    *specs: OptionSpec,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A decorator adding the options *specs* describe, in that order, to a command."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        for names, default, kind, text in reversed(specs):
            option = click.option(*names, default=default, show_default=True, type=kind, help=text)
            command = option(command)
        return command

    return decorate


worker_options = with_options(*WORKER_OPTIONS)
"""``--concurrency``, ``--lease-seconds``, ``--grace-seconds`` and the process pool's
``--max-jobs-per-child`` and ``--max-child-memory-mb``."""


def configure_logging(level: str) -> None:
    """Log to stderr from *level* up, with times and logger names."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def build_worker(
    queue: JobQueue,
    *,
    concurrency: int,
    lease_seconds: float,
    grace_seconds: float,
    tasks: tuple[str, ...] = (),
    max_jobs_per_child: int | None = None,
    max_child_memory_mb: float | None = None,
) -> Worker:
    """The worker that `worker_options` describe, for *queue*."""
    from jobqueue.worker import Worker

    return Worker(
        queue,
        concurrency=concurrency,
        lease_seconds=lease_seconds,
        tasks=list(tasks) or None,
        shutdown_grace_seconds=grace_seconds,
        max_jobs_per_child=max_jobs_per_child,
        max_child_memory_mb=max_child_memory_mb,
    )
