"""The protocol every benchmark adapter shares: workloads, worker processes, markers, JSON.

Standard library only, because it runs inside each peer's own virtual environment. An
adapter says how its library enqueues, which command starts its worker, and how it waits
for one result; the workloads here do the rest identically for every library:

    python -m bench.peers <library> w1 --jobs 10000 [--concurrency 100]

prints one JSON object. Tasks record when they ran by appending a fixed-width line to a
per-process file (`mark`), so processing rates are measured from the first task's start
to the last task's end whatever the library reports, and worker start-up never counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

ROOT = Path(__file__).resolve().parents[2]
#: What every process of a case imports from: the bench package and the working tree's
#: jobqueue (not the one a venv installed, which in a worktree is another checkout's).
PYTHONPATH = os.pathsep.join([str(ROOT), str(ROOT / "src")])
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/jobqueue_bench"
)
#: How long each W3 job sleeps.
SLEEP_SECONDS = 0.05
#: Where tasks append their marks; set by the adapter for its worker processes.
MARKS_ENV = "BENCH_MARKS"
#: The worker's concurrency for adapters whose worker reads it from the environment.
CONCURRENCY_ENV = "BENCH_CONCURRENCY"
#: jobqueue's W8: the ``key_concurrency`` its worker's tasks declare (see `bench.app`).
KEY_CONCURRENCY_ENV = "BENCH_KEY_CONCURRENCY"

_LINE = b"%017.6f %017.6f\n"
_LINE_SIZE = 36
_HELD = "held"
_mark_file: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own


def mark(started: float) -> None:
    """Record that a task that started at *started* (``time.time()``) has ended now."""
    global _mark_file
    if _mark_file is None or _mark_file[0] != os.getpid():
        path = Path(os.environ[MARKS_ENV]) / f"{os.getpid()}.marks"
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        _mark_file = (os.getpid(), os.open(path, flags, 0o644))
    # One small O_APPEND write per line: atomic, so threads and processes may share it.
    os.write(_mark_file[1], _LINE % (started, time.time()))


def hold_attempt() -> bool:
    """For the recovery workload's task: mark the run; True only on the very first run.

    The first run must then hang (until its worker is killed); any later run returns.
    """
    mark(time.time())
    try:
        os.close(os.open(Path(os.environ[MARKS_ENV]) / _HELD, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def concurrency_setting() -> int | None:
    """The concurrency the adapter asked its worker for, or None for the library default."""
    value = os.environ.get(CONCURRENCY_ENV)
    return int(value) if value else None


class Marks:
    """Reads the marks the tasks of one workload run wrote."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _files(self) -> list[Path]:
        return list(self.directory.glob("*.marks"))

    def count(self) -> int:
        """How many task runs have ended."""
        return sum(path.stat().st_size for path in self._files()) // _LINE_SIZE

    def spans(self) -> list[tuple[float, float]]:
        """(start, end) of every task run, by start."""
        spans = []
        for path in self._files():
            for line in path.read_bytes().splitlines():
                start, end = line.split()
                spans.append((float(start), float(end)))
        return sorted(spans)

    def wait(self, count: int, timeout: float, worker: subprocess.Popen[bytes] | None) -> None:
        """Return once *count* runs have ended; `TimeoutError` or `RuntimeError` if not."""
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if worker is not None and worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.count()} of {count} jobs ran within {timeout:g}s")
            time.sleep(0.005)


class Adapter(Protocol):
    """What a library's benchmark module provides, as a class built from the arguments."""

    #: workload -> why this library cannot run it.
    unsupported: ClassVar[dict[str, str]]

    def __init__(self, args: argparse.Namespace) -> None: ...

    def close(self) -> None:
        """Release connections and remove what the run stored."""

    def enqueue(self, task: str, count: int) -> float:
        """Enqueue *count* jobs of *task* (noop, sleep or hold) one by one with the
        library's normal call; return the seconds the loop took (connecting excluded)."""

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        """The command that starts one worker process (None: the library's defaults)."""

    def latencies(self, samples: int, budget: float) -> list[float]:
        """Seconds from submit to result, one job at a time, with a worker running.

        Stops after *samples* measurements or when *budget* seconds have passed.
        """


@dataclass
class Run:
    """One workload run: its scratch folder, marks and worker processes."""

    adapter: Adapter
    args: argparse.Namespace
    directory: Path
    marks: Marks = field(init=False)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.marks = Marks(self.directory)

    def start_worker(self, concurrency: int | None, lease: float | None = None) -> Any:
        """Start a worker process in its own process group (a deployment's unit)."""
        env = {} if concurrency is None else {CONCURRENCY_ENV: str(concurrency)}
        return self.start(self.adapter.worker_command(concurrency, lease), env)

    def start(self, command: list[str], env: dict[str, str] | None = None) -> Any:
        """Start *command* from the repository's root in its own process group.

        Its output goes to a log file of the run; `stop_workers` stops it.
        """
        env = dict(os.environ, PYTHONPATH=PYTHONPATH, PYTHONUNBUFFERED="1", **(env or {}))
        log = (self.directory / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        """Stop every process `start` started."""
        for process in self.workers:
            _signal_group(process, signal.SIGTERM)
        for process in self.workers:
            stop(process)

    def worker_logs(self) -> str:
        """The tail of every worker's output, for error reports."""
        return "\n".join(
            path.read_text(errors="replace")[-2000:]
            for path in sorted(self.directory.glob("worker-*.log"))
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM *process*'s group, then SIGKILL what is left after a few seconds."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(3)  # the measurement is over: no need to wait for a graceful drain
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    # Stragglers of a group whose leader already exited (forked children).
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


# -- helpers for adapters ---------------------------------------------------------------

#: Round trips made before measuring: they also prove that the worker is up.
WARM_UP = 3
#: Pause between W2 samples, so the worker is idle again when the next job arrives.
PAUSE_SECONDS = 0.002


def repeat(call: Callable[[], object], count: int) -> float:
    """Seconds *count* calls of *call* take, one after another."""
    started = time.perf_counter()
    for _ in range(count):
        call()
    return time.perf_counter() - started


async def repeat_async(call: Callable[[], Awaitable[object]], count: int) -> float:
    """Seconds *count* awaited calls of *call* take, one after another."""
    started = time.perf_counter()
    for _ in range(count):
        await call()
    return time.perf_counter() - started


def sample(round_trip: Callable[[], object], samples: int, budget: float) -> list[float]:
    """Seconds each *round_trip* (submit and wait for the result) takes, after a warm-up."""
    repeat(round_trip, WARM_UP)
    deadline = time.monotonic() + budget
    latencies: list[float] = []
    while len(latencies) < samples and time.monotonic() < deadline:
        latencies.append(repeat(round_trip, 1))
        time.sleep(PAUSE_SECONDS)
    return latencies


async def sample_async(
    round_trip: Callable[[], Awaitable[object]], samples: int, budget: float
) -> list[float]:
    """`sample` for a coroutine function."""
    await repeat_async(round_trip, WARM_UP)
    deadline = time.monotonic() + budget
    latencies: list[float] = []
    while len(latencies) < samples and time.monotonic() < deadline:
        latencies.append(await repeat_async(round_trip, 1))
        await asyncio.sleep(PAUSE_SECONDS)
    return latencies


# -- workloads ------------------------------------------------------------------------


def w1_throughput(run: Run) -> dict[str, Any]:
    """N no-op jobs enqueued one by one, then drained by worker processes (one by default)."""
    jobs = run.args.jobs
    seconds = run.adapter.enqueue("noop", jobs)
    worker = run.start_worker(run.args.concurrency)
    for _ in range(run.args.workers - 1):
        run.start_worker(run.args.concurrency)
    run.marks.wait(1, timeout=60, worker=worker)
    result: dict[str, Any] = {"enqueue_per_s": jobs / seconds, "jobs": jobs}
    try:
        run.marks.wait(jobs, timeout=run.args.drain_budget, worker=worker)
    except TimeoutError:
        # A rate over the whole time limit from the jobs that ran in it (a stall counts).
        ended, count = time.time(), run.marks.count()
        first = run.marks.spans()[0][0]
        return result | {"drained_within_budget": count, "process_per_s": count / (ended - first)}
    spans = run.marks.spans()
    drained = max(end for _, end in spans) - spans[0][0]
    return result | {"process_per_s": jobs / drained}


def w2_latency(run: Run) -> dict[str, Any]:
    """Submit one job and wait for its result, with an idle worker, many times."""
    run.start_worker(None)
    # Let it start up and subscribe first: a job enqueued while a worker is still starting
    # may wait for that worker's next poll, which is not what W2 measures.
    time.sleep(run.args.settle)
    latencies = run.adapter.latencies(run.args.samples, run.args.budget)
    return latency_summary(latencies)


def latency_summary(latencies: list[float]) -> dict[str, Any]:
    """p50 and p99 in milliseconds of *latencies* (seconds)."""
    ms = sorted(seconds * 1000 for seconds in latencies)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return {"p50_ms": statistics.median(ms), "p99_ms": p99, "samples": len(ms)}


def w3_io_bound(run: Run) -> dict[str, Any]:
    """N jobs that each sleep 50 ms, run at a concurrency of 100 by one worker."""
    jobs = run.args.jobs
    run.adapter.enqueue("sleep", jobs)
    worker = run.start_worker(run.args.concurrency)
    run.marks.wait(jobs, timeout=max(120.0, jobs * SLEEP_SECONDS), worker=worker)
    spans = run.marks.spans()
    ideal = jobs / run.args.concurrency * SLEEP_SECONDS
    return {
        "seconds": max(end for _, end in spans) - spans[0][0],
        "ideal_seconds": ideal,
        "peak_running": peak_running(spans),
    }


def peak_running(spans: list[tuple[float, float]]) -> int:
    """The most task runs of *spans* (start, end) that were running at one moment."""
    # At a tie an end comes first (False < True): a run ending as another starts is no overlap.
    changes = sorted([(start, True) for start, _ in spans] + [(end, False) for _, end in spans])
    running = peak = 0
    for _, starts in changes:
        running += 1 if starts else -1
        peak = max(peak, running)
    return peak


def w6_recovery(run: Run) -> dict[str, Any]:
    """Seconds from SIGKILL of the worker running a job to that job running again.

    A second worker is already up when the first is killed, as in a deployment.
    """
    lease = run.args.lease
    run.adapter.enqueue("hold", 1)
    first = run.start_worker(None, lease)
    run.marks.wait(1, timeout=60, worker=first)
    run.start_worker(None, lease)
    time.sleep(run.args.settle)  # let the second worker finish starting
    killed_at = time.time()
    _signal_group(first, signal.SIGKILL)
    first.wait()
    try:
        run.marks.wait(2, timeout=run.args.give_up, worker=None)
    except TimeoutError:
        return {"seconds": None, "gave_up_after": run.args.give_up}
    return {"seconds": run.marks.spans()[-1][0] - killed_at}


WORKLOADS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "w1": w1_throughput,
    "w2": w2_latency,
    "w3": w3_io_bound,
    "w6": w6_recovery,
}


def parser(workloads: Iterable[str] = WORKLOADS) -> argparse.ArgumentParser:
    """The adapters' shared command line (the HTTP workloads reuse it with their own names)."""
    parser = argparse.ArgumentParser(prog="python -m bench.peers LIBRARY")
    parser.add_argument("workload", choices=sorted(workloads))
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="worker concurrency (default: library's)"
    )
    parser.add_argument(
        "--drain-budget", type=float, default=40.0, help="W1: rate from the jobs run by then"
    )
    parser.add_argument("--workers", type=int, default=1, help="W1: worker processes")
    parser.add_argument("--samples", type=int, default=200, help="W2 measurements")
    parser.add_argument("--budget", type=float, default=40.0, help="W2 time limit, seconds")
    parser.add_argument("--lease", type=float, default=None, help="W6 lease (jobqueue only)")
    parser.add_argument("--settle", type=float, default=2.0, help="W2, W6: worker start-up")
    parser.add_argument("--give-up", type=float, default=40.0, help="W6 time limit, seconds")
    parser.add_argument(
        "--store", default="redis", help="jobqueue's store: redis, postgres, sqlite"
    )
    parser.add_argument(
        "--keys", type=int, default=0, help="W8: concurrency keys, round-robin (jobqueue only)"
    )
    parser.add_argument(
        "--key-concurrency", type=int, default=None, help="W8: the tasks' limit per key"
    )
    return parser


def main(factory: type[Adapter], argv: list[str]) -> None:
    """Run one workload with the adapter *factory* builds; print its JSON result or error."""
    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        os.environ[MARKS_ENV] = tmp
        adapter = factory(args)
        if args.workload in adapter.unsupported:
            result: dict[str, Any] = {"unsupported": adapter.unsupported[args.workload]}
        else:
            run = Run(adapter, args, Path(tmp))
            try:
                result = WORKLOADS[args.workload](run)
            except (TimeoutError, RuntimeError) as exc:
                result = {"error": str(exc), "worker_log": run.worker_logs()}
            finally:
                run.stop_workers()
        adapter.close()
    print(json.dumps(result))
    sys.stdout.flush()
