"""``make bench``: every workload on jobqueue and on each peer, one after another, in one run.

    python -m bench.run [--smoke] [--runs 3] [--only jobqueue,huey] [--no-install]

Installs (or upgrades) each peer into its own venv under ``bench/.peers/``, then runs
each case as a subprocess (`bench.peers`, `bench.api_bench`, `bench.scale`), each printing
JSON. Redis database 15 is flushed before every case (only that database); PostgreSQL
work happens in the ``jobqueue_bench`` database, created when missing. Writes the raw
results to ``bench/results/latest.json`` and the tables to ``docs/benchmarks.md``.

``--smoke`` runs every jobqueue workload at 1 % size, once, plus the peers whose venv is
already installed at the same size, installing nothing: the harness's own test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from bench.peers._common import POSTGRES_URL, PYTHONPATH, REDIS_URL
from bench.report import keyed_variant, render
from bench.venvs import PEERS, ROOT, Peer

STORES = ("redis", "postgres", "sqlite")
RESULTS = ROOT / "bench" / "results" / "latest.json"
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Sizes:
    """How big each workload is; `SMOKE` is 1 % of `FULL`."""

    jobs: int = 10_000  # W1
    tuned: int = 100  # W1's tuned concurrency, and W3's
    samples: int = 200  # W2
    budget: float = 20.0  # W2 and W1 drain: seconds at most
    io_jobs: int = 2_000  # W3
    http_seconds: float = 5.0  # W4, per endpoint
    small: int = 10_000  # W5
    large: int = 1_000_000
    cycles: int = 300
    cycle_budget: float = 15.0
    settle: float = 2.0  # W2 and W6: seconds a worker is given to start
    short_lease: float = 2.0  # W6
    default_lease: bool = True  # W6 with the default lease (30 s) too
    give_up: float = 35.0
    pool_jobs: int = 200  # W7
    pool_startup: float = 2.0  # W7: seconds a process task's start-up hook takes
    keys: int = 100  # W8: concurrency keys, given to the jobs round-robin
    key_limit: int = 2  # W8: their key_concurrency; keys * limit >= tuned: room for every slot
    saturated_keys: int = 10  # W8: keys at key_concurrency 1, far fewer than W3's slots
    watchers: tuple[int, ...] = (1_000, 5_000, 10_000)  # W9: SSE watchers of one server
    watcher_ticks: int = 10  # W9: changes sent to them
    webhook_jobs: int = 2_000  # W10: jobs whose completion is delivered to a local receiver
    #: The peers' cases run: all, or (smoke) those that exercise each adapter's calls.
    peer_cases: tuple[str, ...] = ("w1 default", "w1 tuned", "w2", "w3", "w6")


FULL = Sizes()
SMOKE = Sizes(
    jobs=100,
    samples=5,
    budget=5.0,
    io_jobs=20,
    http_seconds=0.5,
    small=100,
    large=10_000,
    cycles=10,
    cycle_budget=2.0,
    settle=1.0,
    short_lease=1.0,
    default_lease=False,
    give_up=5.0,
    pool_jobs=4,
    pool_startup=0.2,
    peer_cases=("w1 default", "w2"),
    watchers=(20,),
    watcher_ticks=2,
    webhook_jobs=20,
)
#: W7's variants: the warm pool, and its baseline (a fresh child per attempt).
POOL_VARIANTS = {"warm pool": "warm", "fresh child per attempt": "fresh"}


@dataclass
class Case:
    """One line of the tables: a library on a backend running one workload variant."""

    library: str
    backend: str
    workload: str  # w1 .. w10
    variant: str  # default, tuned, lease 2 s, ...
    command: list[str]
    runs: list[dict[str, Any]] = field(default_factory=list)


def _adapter(python: str, library: str, *args: str) -> list[str]:
    return [python, "-m", "bench.peers", library, *args]


def jobqueue_cases(sizes: Sizes) -> list[Case]:
    """Every workload on each of jobqueue's shared stores."""
    py = sys.executable
    cases = []
    for store in STORES:
        jq = ["--store", store]
        w1 = ["w1", "--jobs", str(sizes.jobs), "--drain-budget", str(sizes.budget), *jq]
        settle = ["--settle", str(sizes.settle)]
        w2 = ["--samples", str(sizes.samples), "--budget", str(sizes.budget), *settle, *jq]
        w3 = ["w3", "--jobs", str(sizes.io_jobs), "--concurrency", str(sizes.tuned), *jq]
        w6 = ["w6", "--give-up", str(sizes.give_up), *settle, *jq]
        scale = ["--small", str(sizes.small), "--large", str(sizes.large)]
        scale += ["--cycles", str(sizes.cycles), "--budget", str(sizes.cycle_budget)]
        tuned = ["--concurrency", str(sizes.tuned)]
        w1_tuned = Case("jobqueue", store, "w1", "tuned", _adapter(py, "jobqueue", *w1, *tuned))
        w3_plain = Case("jobqueue", store, "w3", "default", _adapter(py, "jobqueue", *w3))
        cases += [
            Case("jobqueue", store, "w1", "default", _adapter(py, "jobqueue", *w1)),
            w1_tuned,
            keyed(w1_tuned, sizes.keys, sizes.key_limit),
            Case("jobqueue", store, "w2", "Python API", _adapter(py, "jobqueue", "w2", *w2)),
            Case(
                "jobqueue", store, "w2", "HTTP + SSE", [py, "-m", "bench.api_bench", "w2http", *w2]
            ),
            w3_plain,
            keyed(w3_plain, sizes.keys, sizes.key_limit),
            keyed(w3_plain, sizes.saturated_keys, 1),
            Case(
                "jobqueue",
                store,
                "w4",
                "default",
                [py, "-m", "bench.api_bench", "w4", "--seconds", str(sizes.http_seconds), *jq],
            ),
            Case("jobqueue", store, "w5", "default", [py, "-m", "bench.scale", *scale, *jq]),
            Case(
                "jobqueue",
                store,
                "w6",
                f"lease {sizes.short_lease:g} s",
                _adapter(py, "jobqueue", *w6, "--lease", str(sizes.short_lease)),
            ),
        ]
        if sizes.default_lease:
            cases.append(Case("jobqueue", store, "w6", "default", _adapter(py, "jobqueue", *w6)))
        cases += watcher_cases(store, sizes)
        w10 = ["--store", store, "--jobs", str(sizes.webhook_jobs)]
        cases.append(
            Case("jobqueue", store, "w10", "default", [py, "-m", "bench.webhooks_bench", *w10])
        )
    return cases + pool_cases(sizes)


def watcher_cases(store: str, sizes: Sizes) -> list[Case]:
    """W9: each count of SSE watchers on one server process of *store*."""
    command = [sys.executable, "-m", "bench.watchers", "--store", store]
    command += ["--ticks", str(sizes.watcher_ticks)]
    return [
        Case("jobqueue", store, "w9", f"{count:,} watchers", [*command, "--watchers", str(count)])
        for count in sizes.watchers
    ]


def keyed(plain: Case, keys: int, limit: int) -> Case:
    """W8: the W1 or W3 case *plain* with each job given one of *keys* concurrency keys in
    turn and its task declaring ``key_concurrency=limit``; run right after *plain*, its
    baseline."""
    command = [*plain.command, "--keys", str(keys), "--key-concurrency", str(limit)]
    variant = keyed_variant(plain.workload, keys, limit)
    return Case(plain.library, plain.backend, "w8", variant, command)


def pool_cases(sizes: Sizes) -> list[Case]:
    """W7, the warm process pool, against a fresh child per attempt (on SQLite: the store
    plays no part in it)."""
    w7 = ["--jobs", str(sizes.pool_jobs), "--startup-seconds", str(sizes.pool_startup)]
    return [
        Case(
            "jobqueue",
            "sqlite",
            "w7",
            variant,
            [sys.executable, "-m", "bench.pool_bench", "--variant", name, *w7],
        )
        for variant, name in POOL_VARIANTS.items()
    ]


def peer_cases(peer: Peer, sizes: Sizes) -> list[Case]:
    """W1, W2, W3 and W6 (with its defaults) for one peer, as far as *sizes* asks."""
    py, name = str(peer.python), peer.name
    w1 = ["w1", "--jobs", str(sizes.jobs), "--drain-budget", str(sizes.budget)]
    w2 = ["w2", "--samples", str(sizes.samples), "--budget", str(sizes.budget)]
    w3 = ["w3", "--jobs", str(sizes.io_jobs), "--concurrency", str(sizes.tuned)]
    w6 = ["w6", "--give-up", str(sizes.give_up)]
    settle = ["--settle", str(sizes.settle)]
    variants = {
        "w1 default": w1,
        "w1 tuned": [*w1, "--concurrency", str(sizes.tuned)],
        "w2": [*w2, *settle],
        "w3": w3,
        "w6": [*w6, *settle],
    }
    return [
        Case(name, peer.backend, key[:2], key[3:] or "default", _adapter(py, name, *args))
        for key, args in variants.items()
        if key in sizes.peer_cases
    ]


def prepare_services() -> None:
    """Create the PostgreSQL benchmark database when it is missing."""
    import psycopg

    base, _, database = POSTGRES_URL.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists is None:
            conn.execute(f'CREATE DATABASE "{database}"')


def flush_redis() -> None:
    """Empty the benchmark's Redis database (only that one).

    ASYNC frees the keys in the background: a million jobs left by W5 would otherwise
    block the shared server for seconds.
    """
    with Redis.from_url(REDIS_URL, socket_timeout=60) as redis:
        redis.flushdb(asynchronous=True)


def run_case(case: Case, timeout: float) -> dict[str, Any]:
    """Run *case* once; its JSON, or an error."""
    try:
        flush_redis()
    except RedisError as exc:
        return {"error": f"could not flush the Redis database: {exc}"}
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    try:
        done = subprocess.run(
            case.command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-1500:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _repeats(case: Case, runs: int) -> int:
    # W5 repeats inside one process (filling a million jobs once is enough). Recovery with
    # a default lease takes about that lease, the same every time: one run says it. So does
    # a fresh child per W7 job: its start-up's sleep decides the figure.
    once = {("w6", "default"), ("w7", "fresh child per attempt")}
    return 1 if case.workload == "w5" or (case.workload, case.variant) in once else runs


def _merged(saved: dict[str, Any], cases: list[Case]) -> list[Case]:
    """The cases of the *saved* results, with those of *cases* replaced or added."""
    fresh = {(c.library, c.backend, c.workload, c.variant): c for c in cases}
    merged = []
    for old in saved["cases"]:
        key = (old["library"], old["backend"], old["workload"], old["variant"])
        merged.append(fresh.pop(key) if key in fresh else Case(**old))
    return merged + list(fresh.values())


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = next(
        (
            line.partition(":")[2].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    head = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return {
        "commit": head.stdout.strip() or "unknown",
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_before": os.getloadavg(),
    }


def main() -> None:
    """Parse the arguments, install the peers, run every case, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1 %% sizes, one run, no installs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated libraries")
    parser.add_argument("--workloads", default="", help="comma-separated workloads (w1..w10)")
    parser.add_argument("--no-install", action="store_true", help="use the venvs as they are")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC, help="the Markdown page to write")
    parser.add_argument(
        "--merge", action="store_true", help="replace only the cases run in the saved results"
    )
    args = parser.parse_args()
    sizes, runs = (SMOKE, 1) if args.smoke else (FULL, args.runs)
    host = machine()
    only = set(filter(None, args.only.split(",")))
    peers = [peer for peer in PEERS if not only or peer.name in only]
    if not (args.smoke or args.no_install):
        for peer in peers:
            print(f"installing {peer.name} ...", flush=True)
            peer.install()
    peers = [peer for peer in peers if peer.is_installed]
    prepare_services()
    cases = jobqueue_cases(sizes) if not only or "jobqueue" in only else []
    for peer in peers:
        cases += peer_cases(peer, sizes)
    if args.workloads:
        cases = [case for case in cases if case.workload in args.workloads.split(",")]
    started = time.monotonic()
    timeout = 120 if args.smoke else 900
    versions = {"jobqueue": metadata.version("jobqueue")}
    versions |= {peer.name: peer.version() for peer in peers}
    args.results.parent.mkdir(parents=True, exist_ok=True)

    def save(done: list[Case]) -> dict[str, Any]:
        results = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "smoke": args.smoke,
            "runs": runs,
            "seconds": time.monotonic() - started,
            "machine": host | {"load_after": os.getloadavg()},
            "sizes": asdict(sizes),
            "versions": versions,
            "cases": [asdict(case) for case in done],
        }
        args.results.write_text(json.dumps(results, indent=1) + "\n")
        return results

    kept: dict[str, Any] | None = json.loads(args.results.read_text()) if args.merge else None
    for number, case in enumerate(cases, 1):
        for _ in range(_repeats(case, runs)):
            case.runs.append(run_case(case, timeout))
        label = f"{case.library}/{case.backend} {case.workload} {case.variant}"
        print(f"[{number}/{len(cases)} {time.monotonic() - started:5.0f}s] {label}: {case.runs}")
        if kept is None:
            save(cases[:number])  # an interrupted run keeps what it measured
    flush_redis()
    if kept is None:
        results = save(cases)
    else:
        rerun = kept.get("rerun", [])
        rerun += [f"{c.library}/{c.backend} {c.workload} {c.variant}" for c in cases]
        merged = [asdict(case) for case in _merged(kept, cases)]
        rerun_at = datetime.now(UTC).isoformat(timespec="seconds")
        sizes_now = asdict(sizes) | kept["sizes"]  # what a workload added since has its size
        results = kept | {"cases": merged, "rerun": rerun, "rerun_at": rerun_at}
        results["sizes"] = sizes_now
        args.results.write_text(json.dumps(results, indent=1) + "\n")
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(render(results))
    failed = [c for c in cases if any("error" in run for run in c.runs)]
    print(f"wrote {args.results} and {args.doc}; {len(failed)} of {len(cases)} cases failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
