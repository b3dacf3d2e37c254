"""The benchmark harness at 1 % size (``make bench-smoke``), so that it cannot rot.

Runs `bench.run --smoke` as `make bench-smoke` does, for jobqueue's workloads on every
shared store (peers are left to `make bench-smoke` itself: their venvs are installed only
by `make bench`). Asserts that every case produced figures and the page renders; never a
time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.peers._common import POSTGRES_URL, REDIS_URL

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.timeout(420)
def test_every_jobqueue_workload_runs_at_one_percent(tmp_path: Path) -> None:
    require_service(REDIS_URL, "Redis")
    require_service(POSTGRES_URL, "PostgreSQL")
    results, doc = tmp_path / "results.json", tmp_path / "benchmarks.md"
    command = [sys.executable, "-m", "bench.run", "--smoke", "--only", "jobqueue"]
    command += ["--results", str(results), "--doc", str(doc)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    cases = json.loads(results.read_text())["cases"]
    seen = {(case["workload"], case["backend"]) for case in cases}
    workloads = {"w1", "w2", "w3", "w4", "w5", "w6", "w8", "w9", "w10"}
    every_store = {(w, s) for w in workloads for s in ("redis", "postgres", "sqlite")}
    assert seen == every_store | {("w7", "sqlite")}  # the process pool: one store suffices
    for case in cases:
        assert case["runs"], case
        assert all("error" not in run for run in case["runs"]), case
    page = doc.read_text()
    for heading in ("## Targets", *(f"## W{n} " for n in range(1, 11))):
        assert heading in page
