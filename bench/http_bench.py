"""HTTP benchmark: the job API's request rate against a bare endpoint, and SSE fan-out delay.

    python -m bench.http_bench [--seconds 5] [--concurrency 32] [--load-processes 2]
                               [--subscribers 1000] [--store memory://]

It starts one uvicorn process (uvloop, httptools) at a time serving the app, and drives
it with asyncio httpx clients in other processes:

1. measures requests/s of ``GET /bench/constant`` (a bare FastAPI endpoint returning a
   constant), ``POST /api/jobs`` and ``GET /api/jobs/{id}``, and reports the latter two
   as ratios to the first (the constant endpoint is measured before and after, and
   averaged);
2. opens ``--subscribers`` event streams on one job, lets the job report progress
   ``--ticks`` times (each report carries the time of its ``ctx.progress`` call), and
   reports the delay from the call to the event's arrival at each subscriber: median,
   p99 and max, over every (tick, subscriber) pair.

The rates are measured on a server without a worker (the submitted jobs are never
run), so they measure the API alone; the fan-out runs on a second server with a worker.
Client and server share the machine: the figures are relative, not absolute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from pydantic import BaseModel

from jobqueue import JobContext, JobQueue
from jobqueue.api import ApiSettings, create_app
from jobqueue.worker import Worker

TERMINAL = {"completed", "failed", "cancelled"}


class Ticks(BaseModel):
    """How often the ticker reports progress."""

    ticks: int
    interval: float


def build_app(store: str, *, with_worker: bool) -> FastAPI:
    """The benchmarked app: the job API, a constant endpoint, and maybe a worker for ``ticker``.

    The request rates are measured without the worker: it would wake at every submit.
    """
    queue = JobQueue(store)

    @queue.task(default=True)
    async def noop(payload: Any) -> Any:
        return payload

    @queue.task
    async def ticker(spec: Ticks, ctx: JobContext) -> int:
        for tick in range(1, spec.ticks + 1):
            await ctx.progress(tick, spec.ticks, repr(time.time()))
            await asyncio.sleep(spec.interval)
        return spec.ticks

    worker = Worker(queue, concurrency=2, tasks=["ticker"])

    @contextlib.asynccontextmanager
    async def run_worker(app: FastAPI) -> AsyncIterator[None]:
        running = asyncio.create_task(worker.run())
        yield
        worker.stop()
        await running

    app = create_app(queue, ApiSettings(), lifespan=run_worker if with_worker else None)

    @app.get("/bench/constant")
    async def constant() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(port: int, store: str, with_worker: bool) -> None:
    """Run the benchmarked app (the server process)."""
    import uvicorn

    uvicorn.run(
        build_app(store, with_worker=with_worker),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def server_process(store: str, *, with_worker: bool) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "bench.http_bench", "serve", "--port", str(port)]
    command += ["--store", store] + (["--worker"] if with_worker else [])
    process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)


Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def rate(send: Send, clients: list[httpx.AsyncClient], seconds: float) -> float:
    """Requests/s that one loop of *send* per client completes in *seconds*."""
    loop = asyncio.get_running_loop()
    done = 0
    stop = loop.time() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal done
        while loop.time() < stop:
            response = await send(client, done)
            if response.status_code >= 300:
                raise SystemExit(f"unexpected {response.status_code}: {response.text}")
            done += 1

    started = loop.time()
    await asyncio.gather(*(client_loop(client) for client in clients))
    return done / (loop.time() - started)


async def load_phases(url: str, seconds: float, concurrency: int, barrier: Any) -> dict[str, float]:
    """One load process: requests/s of each phase, phases started in step with the others."""
    # One connection per client: httpcore's pool scans all its connections for every
    # request, which with dozens of them costs more than the request itself.
    tls = ssl.create_default_context()  # unused on http://, but built once, not per client
    limits = httpx.Limits(max_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, limits=limits, timeout=30, verify=tls)
            )
            for _ in range(concurrency)
        ]
        body = orjson.dumps({"payload": {"n": 1}})
        headers = {"Content-Type": "application/json"}
        ids = [
            (await clients[0].post("/api/jobs", content=body, headers=headers)).json()["jobId"]
            for _ in range(100)
        ]

        def constant(client: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
            return client.get("/bench/constant")

        def submit(client: httpx.AsyncClient, _: int) -> Awaitable[httpx.Response]:
            return client.post("/api/jobs", content=body, headers=headers)

        def status(client: httpx.AsyncClient, n: int) -> Awaitable[httpx.Response]:
            return client.get(f"/api/jobs/{ids[n % len(ids)]}")

        phases: list[tuple[str, Send, float]] = [
            ("warm-up", constant, 1.0),
            ("constant", constant, seconds),
            ("submit", submit, seconds),
            ("status", status, seconds),
            ("constant again", constant, seconds),
        ]
        rates = {}
        for name, send, duration in phases:
            barrier.wait()  # between phases nothing is in flight: blocking is harmless
            rates[name] = await rate(send, clients, duration)
    return rates


def load_process(url: str, seconds: float, concurrency: int, barrier: Any, results: Any) -> None:
    """The entry point of a load process."""
    # httpcore tries `import sniffio` on every request; where it is not installed each
    # failed import walks sys.path, which makes the client, not the server, the bottleneck.
    # A None entry makes the import fail at once.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    results.put(asyncio.run(load_phases(url, seconds, concurrency, barrier)))


def request_rates(url: str, seconds: float, concurrency: int, processes: int) -> dict[str, float]:
    """Total requests/s of each endpoint over *processes* load processes, and the ratios."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    share = max(1, concurrency // processes)
    loaders = [
        context.Process(target=load_process, args=(url, seconds, share, barrier, results))
        for _ in range(processes)
    ]
    for loader in loaders:
        loader.start()
    totals: dict[str, float] = {}
    for _ in loaders:
        for name, value in results.get(timeout=10 * seconds + 60).items():
            totals[name] = totals.get(name, 0.0) + value
    for loader in loaders:
        loader.join()
    baseline = (totals["constant"] + totals["constant again"]) / 2
    return {
        "constant": baseline,
        "submit": totals["submit"],
        "status": totals["status"],
        "submit_ratio": totals["submit"] / baseline,
        "status_ratio": totals["status"] / baseline,
    }


async def fan_out_delays(url: str, subscribers: int, ticks: int, interval: float) -> list[float]:
    """Seconds from each progress call to its arrival, for every subscriber and tick."""
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # see load_process
    limits = httpx.Limits(max_connections=subscribers + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(60, pool=60)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        # Delayed, so every subscriber is connected before the first tick.
        lead = max(5.0, subscribers / 100)
        submitted = await client.post(
            "/api/jobs",
            json={
                "task": "ticker",
                "payload": {"ticks": ticks, "interval": interval},
                "delaySeconds": lead,
            },
        )
        job_id = submitted.json()["jobId"]
        delays: list[float] = []
        connected = asyncio.Event()
        pending = subscribers

        async def subscribe() -> None:
            nonlocal pending
            async with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    arrived = time.time()
                    job = orjson.loads(line[5:])
                    if job["progress"] is None:
                        pending -= 1
                        if pending == 0:
                            connected.set()
                    elif job["status"] == "processing":
                        delays.append(arrived - float(job["progress"]["message"]))
                    if job["status"] in TERMINAL:
                        return

        followers = [asyncio.create_task(subscribe()) for _ in range(subscribers)]
        await asyncio.wait_for(connected.wait(), lead)
        await asyncio.gather(*followers)
    return delays


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--worker", action="store_true", help="(serve) run a worker too")
    parser.add_argument("--store", default="memory://")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32, help="connections in all")
    # One asyncio httpx process is slower than the server it loads: two keep it busy.
    parser.add_argument("--load-processes", type=int, default=2)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, args.store, args.worker)
        return
    with server_process(args.store, with_worker=False) as url:
        rates = request_rates(url, args.seconds, args.concurrency, args.load_processes)
    with server_process(args.store, with_worker=True) as url:
        delays = asyncio.run(fan_out_delays(url, args.subscribers, args.ticks, args.interval))
    print(
        f"store {args.store}, {args.concurrency} connections from {args.load_processes} "
        f"load process(es), {args.seconds:g}s a phase"
    )
    print(f"  {'GET /bench/constant':20} {rates['constant']:8.0f} req/s  (baseline)")
    for label, key in [("POST /api/jobs", "submit"), ("GET /api/jobs/{id}", "status")]:
        print(f"  {label:20} {rates[key]:8.0f} req/s  ratio {rates[key + '_ratio']:.2f}")
    expected = args.subscribers * args.ticks
    print(f"progress -> {args.subscribers} SSE subscribers, {args.ticks} reports")
    print(f"  events received {len(delays)} of {expected}")
    print(
        f"  delay median {statistics.median(delays) * 1000:.1f} ms, "
        f"p99 {percentile(delays, 0.99) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
