"""The commands that talk to a running server through `jobqueue.Client`.

``submit``, ``status``, ``watch``, ``cancel``, ``retry``, ``list`` and ``stats`` render
rich tables and progress bars for people and, with ``--json``, the API's JSON for
programs. The progress bar goes to stderr, so stdout holds only the result.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
import orjson
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobqueue.cli.follow import exit_with_outcome, follow, print_job, print_json, styled_status
from jobqueue.client import Client
from jobqueue.client._calls import DEFAULT_SERVER
from jobqueue.errors import JobQueueError
from jobqueue.models import JobStatus
from jobqueue.wire import job_to_wire, stats_to_wire, timestamp

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Unpack

    from jobqueue.models import Job, JSONValue, SubmitOptions

P = ParamSpec("P")
R = TypeVar("R")


def remote_command(name: str) -> Callable[[Callable[P, R]], click.Command]:
    """Make a function the command *name*, with ``--server``, ``--api-key`` and ``--json``.

    The function receives ``client`` (a `Client`) and ``as_json``; a `JobQueueError`
    it raises ends the command with the error's message on stderr and its ``exit_code``.
    """
    return functools.partial(_remote_command, name=name)


def _remote_command(function: Callable[P, R], name: str) -> click.Command:

    @click.option(
        "--server",
        envvar="JOBQUEUE_SERVER",
        default=DEFAULT_SERVER,
        show_default=True,
        metavar="URL",
        help="The jobqueue server [env: JOBQUEUE_SERVER].",
    )
    @click.option(
        "--api-key",
        envvar="JOBQUEUE_API_KEY",
        metavar="KEY",
        help="Sent as a bearer token [env: JOBQUEUE_API_KEY].",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
    @functools.wraps(function)
    def command(*args: Any, server: str, api_key: str | None, **kwargs: Any) -> R:
        try:
            with Client(server, api_key=api_key) as client:
                return function(*args, client=client, **kwargs)  # type: ignore[arg-type]
        except JobQueueError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            click.get_current_context().exit(exc.exit_code)

    return click.command(name)(command)


JOB_ID = click.argument("job_id", metavar="ID")
"""The job a command acts on."""


def _abridged(value: JSONValue, limit: int = 500) -> str:
    """*value* as JSON, cut short for a table (``--json`` prints it whole)."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= limit else f"{text[:limit]}… (--json shows all)"


def _detail(job: Job) -> str:
    """What a listing says about a job besides its status: its error, else its progress,
    else when a queued job may start."""
    return job.error or _progress_text(job) or _start_text(job)


def _start_text(job: Job) -> str:
    """``starts in 42 s`` for a queued job whose run time (a delay or a retry's backoff)
    is still ahead; else nothing."""
    if job.status is not JobStatus.QUEUED:
        return ""
    wait = (job.run_at - datetime.now(UTC)).total_seconds()
    return f"starts in {math.ceil(wait)} s" if wait > 0 else ""


def _progress_text(job: Job) -> str:
    progress = job.progress
    if progress is None:
        return ""
    amount = (
        f"{progress.current:g}"
        if progress.total is None
        else (f"{progress.current:g}/{progress.total:g}")
    )
    return f"{amount} {progress.message or ''}".strip()


def _payload(_ctx: click.Context, _param: click.Parameter, value: str) -> JSONValue:
    try:
        payload: JSONValue = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})") from None
    return payload


@remote_command("submit")
@click.argument("task")
@click.argument("payload", metavar="PAYLOAD_JSON", callback=_payload)
@click.option("--wait", is_flag=True, help="Show progress until the job ends; print its result.")
@click.option("--priority", type=int, help="Higher runs first (default 0).")
@click.option(
    "--delay",
    "delay_seconds",
    type=click.FloatRange(0),
    metavar="S",
    help="Start no sooner than this.",
)
@click.option(
    "--timeout",
    "timeout_seconds",
    type=click.FloatRange(0, min_open=True),
    metavar="S",
    help="Stop an attempt running longer.",
)
@click.option("--max-attempts", type=click.IntRange(1), metavar="N", help="Attempts allowed.")
@click.option(
    "--ttl",
    "ttl_seconds",
    type=click.FloatRange(0, min_open=True),
    metavar="S",
    help="Keep the finished job this long.",
)
@click.option("--idempotency-key", metavar="KEY", help="Submitting the same key again is a no-op.")
@click.option(
    "--concurrency-key",
    metavar="KEY",
    help="Jobs with the same key share the task's key_concurrency limit.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="TAG",
    help="Label the job (repeatable; list --tag finds it).",
)
def submit(
    client: Client,
    as_json: bool,
    task: str,
    payload: JSONValue,
    wait: bool,
    **options: Unpack[SubmitOptions],
) -> None:
    """Submit a job running TASK with PAYLOAD_JSON.

    Prints the job's id (or its JSON). With --wait, shows a progress bar until the
    job ends, then prints its result as JSON and exits 0 when it completed, 1 when
    it failed and 3 when it was cancelled, with the error on stderr.
    """
    job = client.submit(task, payload, **options)
    if not wait:
        if as_json:
            print_job(job)
        else:
            click.echo(job.job_id)
        return
    job = follow(client, job.job_id)
    if as_json:
        print_job(job)
    exit_with_outcome(job, print_result=not as_json)


@remote_command("status")
@JOB_ID
def status(client: Client, as_json: bool, job_id: str) -> None:
    """Show a job: status, progress, attempts, times, result or error."""
    job = client.get(job_id)
    if as_json:
        print_job(job)
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = {
        "Job": job.job_id,
        "Task": escape(job.task),
        "Status": styled_status(job) + (" (cancel requested)" if job.is_cancel_requested else ""),
        "Progress": escape(_progress_text(job)),
        "Attempts": f"{job.attempts}/{job.max_attempts}",
        "Starts": f"{timestamp(job.run_at)} ({text})" if (text := _start_text(job)) else "",
        "In queue": _position_text(job.queue_position),
        "Tags": escape(", ".join(job.tags)),
        "Created": timestamp(job.created_at),
        "Started": timestamp(job.started_at),
        "Completed": timestamp(job.completed_at),
        "Expires": timestamp(job.expires_at),
        "Error": escape(job.error or ""),
        "Result": escape(_abridged(job.result)) if job.result is not None else "",
    }
    for name, value in rows.items():
        if value:
            table.add_row(name, value)
    Console().print(table)


def _position_text(position: int | None) -> str:
    if position is None:
        return ""
    return "next" if position == 0 else f"{position} ahead"


@remote_command("watch")
@JOB_ID
def watch(client: Client, as_json: bool, job_id: str) -> None:
    """Follow a job's progress until it ends.

    Prints the result and exits as submit --wait does. With --json, prints every state
    as one line of JSON instead.
    """
    job = follow(client, job_id, as_json_lines=as_json)
    exit_with_outcome(job, print_result=not as_json)


@remote_command("cancel")
@JOB_ID
def cancel(client: Client, as_json: bool, job_id: str) -> None:
    """Cancel a job; a running one is asked to stop."""
    job = client.cancel(job_id)
    if as_json:
        print_job(job)
    elif job.is_terminal:
        click.echo(f"Job {job.job_id} cancelled.")
    else:
        click.echo(f"Job {job.job_id} is {job.status.value}; asked it to stop.")


@remote_command("retry")
@JOB_ID
def retry(client: Client, as_json: bool, job_id: str) -> None:
    """Run a failed or cancelled job again, with a fresh attempt budget."""
    job = client.retry(job_id)
    if as_json:
        print_job(job)
    else:
        click.echo(f"Job {job.job_id} is {job.status.value} again.")


@remote_command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs in this status.",
)
@click.option("--task", "tasks", multiple=True, metavar="NAME", help="Only jobs of this task.")
@click.option("--tag", metavar="TAG", help="Only jobs carrying this tag.")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1), help="Show at most this many."
)
def list_jobs(
    client: Client,
    as_json: bool,
    statuses: tuple[str, ...],
    tasks: tuple[str, ...],
    tag: str | None,
    limit: int,
) -> None:
    """List jobs, newest first (--status and --task may repeat)."""
    jobs = client.list(statuses=statuses, tasks=tasks, tag=tag, limit=limit)
    if as_json:
        print_json([job_to_wire(job) for job in jobs])
        return
    console = Console()
    # A job id is 36 characters and is copied from here, so it is never cut; on a
    # narrow terminal the creation time gives way instead.
    is_wide = console.width >= 100
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Job", no_wrap=True)
    table.add_column("Task", min_width=6)
    table.add_column("Status", no_wrap=True)
    if is_wide:
        table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Progress or error", ratio=1)
    for job in jobs:
        created = [f"{job.created_at:%m-%d %H:%M:%S}"] if is_wide else []
        table.add_row(
            job.job_id, escape(job.task), styled_status(job), *created, escape(_detail(job))
        )
    console.print(table)


@remote_command("stats")
def stats(client: Client, as_json: bool) -> None:
    """Count jobs per task and status; show the workers seen lately."""
    result = client.stats()
    if as_json:
        print_json(stats_to_wire(result))
        return
    table = Table("Task", *(s.value for s in JobStatus), title="Jobs")
    for task, counts in sorted(result.tasks.items()):
        table.add_row(escape(task), *(str(counts.get(s, 0)) for s in JobStatus))
    table.add_section()
    table.add_row("total", *(str(n) for n in result.totals.values()), style="bold")
    console = Console()
    console.print(table)
    workers = Table("Worker", "Host", "PID", "Running", "Tasks", "Last seen", title="Workers")
    for worker in result.workers:
        workers.add_row(
            worker.worker_id,
            escape(worker.host),
            str(worker.pid),
            str(worker.running),
            escape(", ".join(worker.tasks)),
            timestamp(worker.last_seen_at),
        )
    console.print(workers)
    if result.running_keys:
        keys = Table("Task", "Concurrency key", "Running", title="Busiest concurrency keys")
        for task, running in sorted(result.running_keys.items()):
            for key, n in sorted(running.items(), key=lambda item: -item[1]):
                keys.add_row(escape(task), escape(key), str(n))
        console.print(keys)


COMMANDS = (submit, status, watch, cancel, retry, list_jobs, stats)
