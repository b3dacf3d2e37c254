"""Store administration: ``jobqueue migrate`` and ``jobqueue purge``."""

from __future__ import annotations

import asyncio

import click

from jobqueue.queue import JobQueue
from jobqueue.stores import DEFAULT_STORE_URL

_STORE = click.option(
    "--store",
    metavar="URL",
    envvar="JOBQUEUE_STORE",
    default=DEFAULT_STORE_URL,
    show_default=True,
    help="Store URL.",
)


@click.command()
@_STORE
def migrate(store: str) -> None:
    """Create or upgrade the store's schema (opening a store does it too)."""

    async def run() -> None:
        async with JobQueue(store):
            pass

    asyncio.run(run())
    click.echo(f"Schema of {store.partition('://')[0]} store is up to date.")


@click.command()
@_STORE
def purge(store: str) -> None:
    """Recover jobs whose worker was lost and delete expired jobs, now."""

    async def run() -> tuple[int, int]:
        async with JobQueue(store) as queue:
            return await queue.maintain_once()

    reaped, purged = asyncio.run(run())
    click.echo(f"Recovered {reaped} jobs, purged {purged} expired jobs.")
