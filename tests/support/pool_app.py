"""Process tasks and a start-up hook for the warm process pool's tests.

The hook appends ``startup <pid>`` and each attempt ``start <job_id> <pid>`` to the file
named by JOBQUEUE_TEST_LOG (appends of one short line are atomic), so a test can tell
which child ran which job and how many times the hook ran. Everything here is importable
by name, as the pool's spawned children need. ``queue`` serves `work` for tests that
start ``jobqueue worker`` processes; in-process tests register the functions on queues
of their own.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jobqueue import JobContext, JobQueue
from jobqueue.worker.child import resident_bytes

MEBIBYTE = 1024 * 1024
#: How long a task waits for something a test is to do before giving up (a safety net).
PATIENCE_SECONDS = 30.0

queue = JobQueue()


def _log(line: str) -> None:
    with Path(os.environ["JOBQUEUE_TEST_LOG"]).open("a") as log:
        log.write(f"{line}\n")


def lines(path: Path) -> list[list[str]]:
    """The complete lines of the log at *path*, split into words."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
    return [line.split() for line in complete]


def _await(predicate: Any) -> bool:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@queue.on_startup
def load(state: SimpleNamespace) -> None:
    """Stands in for loading a model: log it, remember who loaded it, count jobs from 0."""
    _log(f"startup {os.getpid()}")
    state.loaded_by = os.getpid()
    state.jobs = 0


def fail_in_children(state: SimpleNamespace) -> None:
    """A start-up hook that works in the worker but fails in each pool child."""
    if multiprocessing.parent_process() is not None:
        raise RuntimeError("no GPU here")


@queue.task(process=True)
def work(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Log the start, then do what *payload* asks; say which child ran it and what it saw.

    ``allocate_mb``: keep that much memory in ``ctx.state``; ``crash``: exit at once;
    ``rendezvous``: wait until that many jobs have started; ``progress_until``: report
    progress, then wait until that file exists; ``sleep``: seconds to sleep.
    """
    _log(f"start {ctx.job_id} {os.getpid()}")
    ctx.state.jobs += 1
    if megabytes := payload.get("allocate_mb"):
        ctx.state.ballast = b"\x01" * (megabytes * MEBIBYTE)  # written: resident
    if payload.get("crash"):
        os._exit(3)
    met = True
    if company := payload.get("rendezvous"):
        log = Path(os.environ["JOBQUEUE_TEST_LOG"])
        met = _await(lambda: sum(words[0] == "start" for words in lines(log)) >= company)
    if flag := payload.get("progress_until"):
        ctx.progress(1, 2, "half way")
        met = _await(Path(flag).exists)
    time.sleep(float(payload.get("sleep", 0)))
    return {
        "pid": os.getpid(),
        "jobs": ctx.state.jobs,
        "loaded_by": ctx.state.loaded_by,
        "resident_mb": resident_bytes() / MEBIBYTE,
        "met": met,
    }
