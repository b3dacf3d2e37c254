"""For tests that start jobqueue processes: spare ports, waiting until a server is healthy,
stopping processes, and the run log that `tests.support.recording_app` writes.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
"""The repository, where the processes start (so ``tests.…`` modules import)."""
RECORDING_APP = "tests.support.recording_app:queue"
STARTUP_SECONDS = 30.0
"""How long a server may take to answer its first request (a safety net, not a measurement)."""
STOP_SECONDS = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], output: Path) -> None:
    """Return once ``{url}/healthz`` answers 200; raise with *output* when *process* exits
    or stays unhealthy for `STARTUP_SECONDS`.
    """
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{output.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server did not become healthy:\n{output.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM *process*, then SIGKILL it when it outlives `STOP_SECONDS`."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True, slots=True)
class Run:
    """One line of the run log: an attempt starting or ending."""

    event: str  # start | done
    job_id: str
    attempt: int
    pid: int


class RunLog:
    """The lines the recording task appended: which attempts of which jobs ran, and where."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def runs(self) -> list[Run]:
        if not self.path.exists():
            return []
        # The last line may be half-written while we read: keep complete lines only.
        text = self.path.read_text()
        lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]
        rows = (line.split() for line in lines)
        return [Run(event, job_id, int(attempt), int(pid)) for event, job_id, attempt, pid in rows]

    def count(self, event: str) -> collections.Counter[str]:
        """How many times each job logged *event*."""
        return collections.Counter(run.job_id for run in self.runs() if run.event == event)
