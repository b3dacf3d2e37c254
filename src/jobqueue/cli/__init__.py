"""The ``jobqueue`` command line: one click group; each module adds its commands."""

from __future__ import annotations

import click

from jobqueue import __version__
from jobqueue.errors import JobQueueError


class _Failure(click.ClickException):
    """A `JobQueueError` as click reports it."""

    def __init__(self, error: JobQueueError) -> None:
        super().__init__(error.message)
        self.exit_code = error.exit_code  # type: ignore[misc]  # click declares a class default


class _Group(click.Group):
    """Turns any `JobQueueError` into a one-line message and the error's exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except JobQueueError as exc:
            raise _Failure(exc) from exc


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "JOBQUEUE"},
)
@click.version_option(__version__, prog_name="jobqueue")
def cli() -> None:
    """Reliable long-running jobs behind a web page."""


def main() -> None:
    """Entry point of the ``jobqueue`` script."""
    cli()


def _register() -> None:
    # Imported here so that each module can import `cli` from this package.
    from jobqueue.cli import admin, remote, server, worker

    cli.add_command(worker.worker)
    cli.add_command(admin.migrate)
    cli.add_command(admin.purge)
    for command in (server.serve, server.dev, server.demo):
        cli.add_command(command)
    for command in remote.COMMANDS:
        cli.add_command(command)


_register()
