"""Real `jobqueue serve` and `jobqueue worker` processes on one store, running
`tests.support.recording_app`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.processes import (
    RECORDING_APP,
    ROOT,
    STARTUP_SECONDS,
    RunLog,
    free_port,
    stop,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


async def until(predicate: Callable[[], bool], timeout: float) -> None:
    """Return once *predicate* holds; `TimeoutError` after *timeout* (a safety net)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


class Service:
    """One `jobqueue serve` process and the address it answers on."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"


class Processes:
    """Starts servers and workers on *store_url*, each writing its output to *directory*;
    `stop_all` ends every one of them (SIGTERM, then SIGKILL when it does not exit).
    """

    def __init__(self, store_url: str, directory: Path) -> None:
        self.store_url = store_url
        self.directory = directory
        self.log = RunLog(directory / "runs.log")
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _spawn(
        self, name: str, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        label = f"{name}-{len(self._started)}"
        output = self.directory / f"{label}.log"
        env = {**os.environ, "JOBQUEUE_TEST_LOG": str(self.log.path), **(env or {})}
        command = [sys.executable, "-m", "jobqueue", name, RECORDING_APP]
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [*command, "--store", self.store_url, *args],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self._started.append((label, process))
        return process

    async def serve(self, **env: str) -> Service:
        """A server on a spare port (*env* added to its environment), returned once its
        ``/healthz`` answers 200."""
        port = free_port()
        process = self._spawn("serve", "--port", str(port), "--log-level", "warning", env=env)
        service = Service(process, port)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=5) as client:
            async with asyncio.timeout(STARTUP_SECONDS):
                while True:
                    if service.process.poll() is not None:
                        raise AssertionError(f"the server exited; see {self.directory}")
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            return service
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)

    def worker(self, *options: str) -> subprocess.Popen[bytes]:
        """A worker process with *options* (``--concurrency``, ``--lease-seconds``, ...)."""
        return self._spawn("worker", "--log-level", "warning", *options)

    def status(self) -> str:
        """Each process's output file, pid and exit status, for a failing test's report."""
        lines = [f"process output in {self.directory}:"]
        for label, process in self._started:
            code = process.poll()
            state = "running" if code is None else f"exited with {code}"
            lines.append(f"  {label}.log  pid {process.pid}  {state}")
        return "\n".join(lines)

    def stop_all(self) -> None:
        """SIGTERM every process still running, then SIGKILL those that outlive the wait."""
        for _, process in self._started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self._started:
            stop(process)
