"""Following a job on the terminal: a progress bar on stderr (or JSON lines) until it ends.

Shared by ``submit --wait`` and ``watch``, with the exit code a job's outcome gives.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from jobqueue.errors import ClientError
from jobqueue.models import JobStatus
from jobqueue.wire import job_to_wire

if TYPE_CHECKING:
    from rich.progress import TaskID

    from jobqueue.client import Client
    from jobqueue.models import Job, JSONValue

#: Exit codes of ``submit --wait`` and ``watch``: the job's outcome.
EXIT_FAILED = 1
EXIT_CANCELLED = 3

_STATUS_STYLES = {
    JobStatus.QUEUED: "cyan",
    JobStatus.PROCESSING: "yellow",
    JobStatus.COMPLETED: "green",
    JobStatus.FAILED: "red",
    JobStatus.CANCELLED: "magenta",
}


def print_json(value: JSONValue) -> None:
    """*value* as indented JSON on stdout (what ``--json`` prints)."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def styled_status(job: Job) -> str:
    """*job*'s status in its colour, as rich markup."""
    return f"[{_STATUS_STYLES[job.status]}]{job.status.value}[/]"


def print_job(job: Job) -> None:
    """*job*'s representation, as the API writes it, indented."""
    print_json(job_to_wire(job))


class ProgressView:
    """A rich progress bar on stderr that follows a job's states until it is terminal."""

    def __init__(self, job_id: str) -> None:
        self._job_id = job_id
        self._progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[message]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._bar: TaskID = self._progress.add_task("", total=None, message="")

    def show(self, job: Job) -> None:
        """Draw *job*'s status, progress and message."""
        task = self._progress.tasks[0]
        progress = job.progress
        if progress is not None and progress.total:
            task.total = progress.total
        message = progress.message if progress and progress.message else ""
        completed = progress.current if progress else 0
        if job.status is JobStatus.COMPLETED:
            task.total = task.total or 1  # a full bar, even when the task gave no total
            completed = task.total
        elif job.status is JobStatus.QUEUED and job.error:
            message = f"retrying after: {job.error}"
        self._progress.update(
            self._bar,
            completed=completed,
            description=f"{escape(job.task)} {styled_status(job)}",
            message=escape(message),
        )
        if job.is_terminal:
            self._progress.stop_task(self._bar)

    def __enter__(self) -> ProgressView:
        self._progress.console.print(f"[dim]Job {self._job_id}[/]")
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()


def follow(client: Client, job_id: str, *, as_json_lines: bool = False) -> Job:
    """Show the job's states from its event stream until it is terminal; return that state.

    With *as_json_lines*, each state is printed as one line of JSON instead of a bar.
    """
    job = None
    view = None if as_json_lines else ProgressView(job_id)
    try:
        with view or contextlib.nullcontext():
            for job in client.stream(job_id):
                if view is None:
                    click.echo(orjson.dumps(job_to_wire(job)).decode())
                else:
                    view.show(job)
    except KeyboardInterrupt:
        click.echo(f"Stopped following; the job goes on (jobqueue watch {job_id}).", err=True)
        click.get_current_context().exit(130)
    if job is None:
        raise ClientError(f"The event stream of job {job_id} ended without a state")
    return job


def exit_with_outcome(job: Job, *, print_result: bool) -> None:
    """End the command with a terminal job's outcome: its result (when *print_result*)
    and exit code 0 when it completed, else its error on stderr and a non-zero code.
    """
    if job.status is JobStatus.COMPLETED:
        if print_result:
            print_json(job.result)
    else:
        click.echo(
            f"Job {job.job_id} {job.status.value}: {job.error or 'no reason given'}", err=True
        )
        code = EXIT_CANCELLED if job.status is JobStatus.CANCELLED else EXIT_FAILED
        click.get_current_context().exit(code)
