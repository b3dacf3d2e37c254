"""jobqueue over HTTP: W2 through the API with SSE, and W4 requests/s against bare FastAPI.

    python -m bench.api_bench w2http --store redis [--samples 200]
    python -m bench.api_bench w4 --store redis [--seconds 5]

Both start ``jobqueue serve`` (one uvicorn process) on a private store. W2 adds a worker
and times, per job, ``POST /api/jobs`` until the job's event stream
(``GET /api/jobs/{id}/events``) delivers its terminal state. W4 loads ``POST /api/jobs``
and ``GET /api/jobs/{id}`` with ``wrk`` (Debian's package) when installed, else with
`bench.load`, and the same generator loads a bare FastAPI endpoint returning a constant
(`bench.bare_app`) served by uvicorn with the same settings. Prints JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.peers._common import MARKS_ENV, Run, latency_summary, parser, sample_async, stop
from bench.peers.jobqueue_bench import Adapter

TERMINAL = {"completed", "failed", "cancelled"}
SUBMIT_BODY = json.dumps({"task": "noop", "payload": {}})
CONNECTIONS = 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(run: Run, command: list[str], ready_path: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start an HTTP server on a free port; return it and its base URL once it answers."""
    port = _free_port()
    process = run.start([*command, "--port", str(port), "--log-level", "warning"])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base + ready_path).status_code == 200:
                return process, base
        time.sleep(0.1)
    raise RuntimeError(f"{base}{ready_path} did not answer 200 within 30 s")


def _jobqueue_server(run: Run, url: str) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "jobqueue", "serve", "bench.app:queue", "--store", url]
    return _serve(run, command, "/healthz")


# -- W2 over HTTP ------------------------------------------------------------------------


async def _round_trip(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/jobs", content=SUBMIT_BODY, headers=_JSON)
    response.raise_for_status()
    job_id = response.json()["jobId"]
    async with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:") and json.loads(line[5:])["status"] in TERMINAL:
                return
    raise RuntimeError(f"the event stream of {job_id} ended before the job did")


_JSON = {"content-type": "application/json"}


def w2_http(run: Run, adapter: Adapter) -> dict[str, Any]:
    """Submit over HTTP and follow the job's SSE stream until it is terminal, many times."""
    _, base = _jobqueue_server(run, adapter.url)
    run.start_worker(None)

    async def measure() -> list[float]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await sample_async(
                lambda: _round_trip(client), run.args.samples, run.args.budget
            )

    return latency_summary(adapter.runner.run(measure()))


# -- W4 ----------------------------------------------------------------------------------


def _load(run: Run, url: str, seconds: float, body: str | None = None) -> dict[str, Any]:
    """Requests per second on *url* (POST with *body* when given) and the failures."""
    if shutil.which("wrk") is None:
        command = [sys.executable, "-m", "bench.load", url, "--seconds", str(seconds)]
        command += ["--connections", str(CONNECTIONS)]
        if body is not None:
            command += ["--method", "POST", "--body", body]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return dict(json.loads(output), generator=f"bench.load (httpx), {CONNECTIONS} connections")
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s"]  # whole seconds
    if body is not None:
        script = run.directory / "post.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    failures = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output: {output}")
    return {
        "requests_per_s": float(rate.group(1)),
        "not_2xx": int(failures.group(1)) if failures else 0,
        "generator": f"wrk, 1 thread, {CONNECTIONS} connections",
    }


def w4_http(run: Run, adapter: Adapter) -> dict[str, Any]:
    """Submit and status requests/s of ``jobqueue serve``, and as ratios to bare FastAPI."""
    seconds = run.args.seconds
    bare_server, base = _serve(
        run, [sys.executable, "-m", "uvicorn", "bench.bare_app:app"], "/constant"
    )
    bare = _load(run, base + "/constant", seconds)
    stop(bare_server)
    _, base = _jobqueue_server(run, adapter.url)
    submit = _load(run, base + "/api/jobs", seconds, SUBMIT_BODY)
    job_id = httpx.post(base + "/api/jobs", content=SUBMIT_BODY, headers=_JSON).json()["jobId"]
    status = _load(run, f"{base}/api/jobs/{job_id}", seconds)
    return {
        "bare_rps": bare["requests_per_s"],
        "submit_rps": submit["requests_per_s"],
        "status_rps": status["requests_per_s"],
        "submit_ratio": submit["requests_per_s"] / bare["requests_per_s"],
        "status_ratio": status["requests_per_s"] / bare["requests_per_s"],
        "not_2xx": bare["not_2xx"] + submit["not_2xx"] + status["not_2xx"],
        "generator": bare["generator"],
    }


WORKLOADS = {"w2http": w2_http, "w4": w4_http}


def main() -> None:
    """Run one workload on a private store; print JSON."""
    arguments = parser(WORKLOADS)
    arguments.add_argument("--seconds", type=float, default=5.0, help="W4 load per endpoint")
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        os.environ[MARKS_ENV] = tmp
        adapter = Adapter(args)
        run = Run(adapter, args, Path(tmp))
        try:
            result = WORKLOADS[args.workload](run, adapter)
        except (RuntimeError, subprocess.CalledProcessError, httpx.HTTPError) as exc:
            result = {"error": str(exc), "worker_log": run.worker_logs()}
        finally:
            run.stop_workers()
            adapter.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
