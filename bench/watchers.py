"""W9 watchers: how many SSE watchers one server process holds, and how fast a change reaches them.

    python -m bench.watchers --store redis [--watchers 1000] [--ticks 10] [--interval 0.5]
                             [--load-processes 2]

One ``jobqueue serve`` process (uvicorn, one event loop) on a private store. A ``ticker``
job is submitted with no worker running; ``--watchers`` clients open its event stream at
once (``GET /api/jobs/{id}/events``, split over the load processes, each a plain asyncio
socket client, so the load generator stays cheaper than the server); once every watcher
holds the job's first state, the server's resident memory is read again and
a worker starts the job, which reports progress ``--ticks`` times, each report stamped
with the time it was made. Reported: connect errors (any answer but a stream, or a
refused or reset connection), seconds until the last watcher had its first state, the
delay from each report to its arrival at each watcher (p50, p99, max over every pair), and
the server's memory per watcher. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.api_bench import _free_port
from bench.peers._common import POSTGRES_URL, PYTHONPATH, REDIS_URL, ROOT, stop
from bench.run import prepare_services

TERMINAL = {"completed", "failed", "cancelled"}
CONNECT_SECONDS = 120.0


def _raise_file_limit() -> None:
    """Let this process hold as many sockets as the system allows it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


# -- the load processes ------------------------------------------------------------------


async def _watch(
    port: int, path: str, first: Callable[[], None], connected: list[float], delays: list[float]
) -> str | None:
    """Follow one stream to the job's end; None, or why the watcher got no stream.

    *first* is called once: when the job's first state arrives, or when the watcher fails.
    """
    started = time.monotonic()
    waiting = True
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        first()
        return type(exc).__name__
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        writer.write(request.encode())
        status = await reader.readline()
        if b" 200 " not in status:
            return status.decode(errors="replace").strip() or "closed"
        # Chunk-size lines and headers are skipped with everything that is not data.
        while line := await reader.readline():
            if not line.startswith(b"data:"):
                continue
            arrived = time.time()
            job = orjson.loads(line[5:])
            if waiting:
                connected.append(time.monotonic() - started)
                waiting = False
                first()
            elif job["status"] == "processing" and job["progress"] is not None:
                delays.append(arrived - float(job["progress"]["message"]))
            if job["status"] in TERMINAL:
                return None
        return "the stream ended before the job did"
    except OSError as exc:
        return type(exc).__name__
    finally:
        if waiting:
            first()
        writer.close()


def _load_process(
    port: int,
    path: str,
    count: int,
    ready: multiprocessing.synchronize.Semaphore,
    results: multiprocessing.Queue[dict[str, Any]],
) -> None:
    """Open *count* streams at once; release *ready* once per watcher that holds its first
    state (or failed), then follow them all to the end and put the figures on *results*."""
    _raise_file_limit()

    async def run() -> dict[str, Any]:
        connected: list[float] = []
        delays: list[float] = []
        errors = await asyncio.gather(
            *(_watch(port, path, ready.release, connected, delays) for _ in range(count))
        )
        return {"connected": connected, "delays": delays, "errors": [e for e in errors if e]}

    results.put(asyncio.run(run()))


# -- the run -----------------------------------------------------------------------------


def _delays_ms(delays: list[float]) -> dict[str, float | None]:
    if not delays:
        return {"delay_p50_ms": None, "delay_p99_ms": None, "delay_max_ms": None}
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "delay_p50_ms": statistics.median(ordered) * 1000,
        "delay_p99_ms": p99 * 1000,
        "delay_max_ms": ordered[-1] * 1000,
    }


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=_raise_file_limit,
        start_new_session=True,  # `stop` signals the process group
    )


def measure(
    url: str, port: int, server_pid: int, watchers: int, args: argparse.Namespace, logs: Path
) -> dict[str, Any]:
    """One count of watchers against the running server."""
    base = f"http://127.0.0.1:{port}"
    spec = {"ticks": args.ticks, "interval": args.interval}
    job = httpx.post(f"{base}/api/jobs", json={"task": "ticker", "payload": spec}).json()
    path = f"/api/jobs/{job['jobId']}/events"
    before = _rss_kib(server_pid)
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    results: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    shares = [watchers // args.load_processes] * args.load_processes
    shares[0] += watchers - sum(shares)
    loads = [
        context.Process(target=_load_process, args=(port, path, share, ready, results))
        for share in shares
        if share
    ]
    for load in loads:
        load.start()
    deadline = time.monotonic() + CONNECT_SECONDS
    for _ in range(watchers):
        if not ready.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"the watchers did not all connect within {CONNECT_SECONDS:g} s")
    held = _rss_kib(server_pid)
    worker = _start(
        [sys.executable, "-m", "jobqueue", "worker", "bench.app:queue", "--store", url],
        logs / f"worker-{watchers}.log",
    )
    try:
        figures = [results.get(timeout=CONNECT_SECONDS) for _ in loads]
    finally:
        stop(worker)
        for load in loads:
            load.join(10)
    connected = [seconds for each in figures for seconds in each["connected"]]
    delays = [delay for each in figures for delay in each["delays"]]
    errors = [error for each in figures for error in each["errors"]]
    return {
        "watchers": watchers,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "all_connected_s": max(connected, default=None),
        **_delays_ms(delays),
        "deliveries": len(delays),
        "expected_deliveries": (watchers - len(errors)) * args.ticks,
        "server_rss_mib": held / 1024,
        "kib_per_watcher": (held - before) / watchers,
    }


def store_url(store: str, directory: Path) -> str:
    """The benchmark's store of each kind (Redis database 15, the bench PostgreSQL database)."""
    urls = {"redis": REDIS_URL, "postgres": POSTGRES_URL, "sqlite": f"sqlite:///{directory}/w9.db"}
    return urls[store]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["redis", "postgres", "sqlite"], default="sqlite")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--load-processes", type=int, default=2)
    args = parser.parse_args()
    _raise_file_limit()
    if args.store == "postgres":
        prepare_services()
    with tempfile.TemporaryDirectory(prefix="bench-w9-") as tmp:
        logs = Path(tmp)
        url = store_url(args.store, logs)
        port = _free_port()
        command = [sys.executable, "-m", "jobqueue", "serve", "bench.app:queue"]
        command += ["--store", url, "--port", str(port), "--log-level", "warning"]
        server = _start(command, logs / "server.log")
        try:
            _until_healthy(f"http://127.0.0.1:{port}", server)
            result = measure(url, port, server.pid, args.watchers, args, logs)
        except (RuntimeError, httpx.HTTPError) as exc:
            result = {"error": str(exc), "server_log": (logs / "server.log").read_text()[-2000:]}
        finally:
            stop(server)
    print(json.dumps(result))


def _until_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not answer /healthz within 30 s")


if __name__ == "__main__":
    main()
