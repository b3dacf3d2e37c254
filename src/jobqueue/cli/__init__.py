"""The ``jobqueue`` command line: one click group; each module adds its commands."""

from __future__ import annotations

import click

from jobqueue import __version__


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "JOBQUEUE"}
)
@click.version_option(__version__, prog_name="jobqueue")
def cli() -> None:
    """Reliable long-running jobs behind a web page."""


def main() -> None:
    """Entry point of the ``jobqueue`` script."""
    cli()


def _register() -> None:
    # Imported here so that each module can import `cli` from this package.
    from jobqueue.cli import remote, server, worker

    cli.add_command(worker.worker)
    for command in (server.serve, server.dev, server.demo):
        cli.add_command(command)
    for command in remote.COMMANDS:
        cli.add_command(command)


_register()
