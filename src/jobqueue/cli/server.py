"""``jobqueue serve``, ``dev`` and ``demo``: the HTTP service, alone or with a worker beside it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import click

from jobqueue.cli.loading import load_queue
from jobqueue.cli.options import (
    SERVER_OPTIONS,
    build_worker,
    configure_logging,
    log_level,
    store_override,
    with_options,
    worker_options,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from contextlib import AbstractAsyncContextManager
    from types import FrameType

    import uvicorn
    from fastapi import FastAPI

    from jobqueue.api import JobsRouter
    from jobqueue.queue import JobQueue
    from jobqueue.worker import Worker

logger = logging.getLogger(__name__)


def _server_options(command: Callable[..., None]) -> Callable[..., None]:
    return with_options(*SERVER_OPTIONS)(store_override(log_level(command)))


def _run_worker(
    worker: Worker, on_crash: Callable[[], None]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan running *worker* while the app serves; it drains before the queue closes."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(worker.run(), name="jobqueue-worker")

        def crashed(done: asyncio.Task[None]) -> None:
            if not done.cancelled() and done.exception() is not None:
                logger.error("The worker stopped", exc_info=done.exception())
                on_crash()

        task.add_done_callback(crashed)
        try:
            yield
        finally:
            worker.stop()
            with contextlib.suppress(Exception):  # already logged by `crashed`
                await task

    return lifespan


def _server(config: uvicorn.Config, router: JobsRouter) -> uvicorn.Server:
    """A uvicorn server that ends open event streams as soon as it is told to stop.

    Otherwise they would hold the shutdown up until they end by themselves.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            # A signal handler: hand the work to the loop, and wake it.
            asyncio.get_running_loop().call_soon_threadsafe(router.close_streams)

    return Server(config)


def run_server(
    queue: JobQueue,
    *,
    host: str,
    port: int,
    log_level: str,
    worker: Worker | None = None,
    demo: bool = False,
) -> None:
    """Serve *queue*'s API with uvicorn until SIGINT/SIGTERM, running *worker* beside it."""
    import uvicorn

    from jobqueue.api import ApiSettings, create_app

    configure_logging(log_level)
    server: uvicorn.Server | None = None

    def stop_server() -> None:
        if server is not None:
            server.should_exit = True
            app.state.jobqueue.close_streams()

    lifespan = None if worker is None else _run_worker(worker, stop_server)
    app = create_app(queue, ApiSettings.from_env(), demo=demo, lifespan=lifespan)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower())
    server = _server(config, app.state.jobqueue)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()  # on uvloop when installed, like the uvicorn command


@click.command()
@click.argument("app", metavar="MODULE:ATTR")
@_server_options
def serve(app: str, host: str, port: int, store: str | None, log_level: str) -> None:
    """Serve the HTTP API of the JobQueue named MODULE:ATTR (run workers separately)."""
    run_server(load_queue(app, store), host=host, port=port, log_level=log_level)


@click.command()
@click.argument("app", metavar="MODULE:ATTR")
@_server_options
@worker_options
def dev(
    app: str,
    host: str,
    port: int,
    store: str | None,
    log_level: str,
    concurrency: int,
    lease_seconds: float,
    grace_seconds: float,
) -> None:
    """Serve the HTTP API of MODULE:ATTR with a worker in the same process (for development)."""
    queue = load_queue(app, store)
    worker = build_worker(
        queue, concurrency=concurrency, lease_seconds=lease_seconds, grace_seconds=grace_seconds
    )
    run_server(queue, host=host, port=port, log_level=log_level, worker=worker)


@click.command()
@_server_options
@worker_options
def demo(
    host: str,
    port: int,
    store: str | None,
    log_level: str,
    concurrency: int,
    lease_seconds: float,
    grace_seconds: float,
) -> None:
    """Run the demo image generator: its page at /, the API, and a worker, in one process."""
    from jobqueue.demo import demo_queue

    if store:
        demo_queue.use_store(store)
    click.echo(f"jobqueue demo: open http://{host}:{port}/ (dashboard at /dashboard)")
    worker = build_worker(
        demo_queue,
        concurrency=concurrency,
        lease_seconds=lease_seconds,
        grace_seconds=grace_seconds,
    )
    run_server(demo_queue, host=host, port=port, log_level=log_level, worker=worker, demo=True)
