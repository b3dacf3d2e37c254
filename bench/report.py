"""Renders ``docs/benchmarks.md`` from the results `bench.run` collected.

Every figure is the median of the runs with min–max beside it, and a ratio to the best
peer on the comparable backend: Redis peers for jobqueue on Redis, Procrastinate for
jobqueue on PostgreSQL, every peer for jobqueue on SQLite. Ratios read "× the best
peer" and are turned so that above 1 is always better (faster, or less time).
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Case = dict[str, Any]
HIGHER, LOWER = "higher", "lower"
BACKEND_NAMES = {"redis": "Redis", "postgres": "PostgreSQL", "sqlite": "SQLite"}


@dataclass(frozen=True)
class Stat:
    """The median and range of one figure over the runs."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Stat | None:
        return cls(statistics.median(values), min(values), max(values)) if values else None


def stat(case: Case, key: str) -> Stat | None:
    """*key* over *case*'s runs that have it."""
    return Stat.of([run[key] for run in case["runs"] if run.get(key) is not None])


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def cell(value: Stat | None, case: Case | None = None) -> str:
    """ "median (min–max)", or why there is no figure."""
    if value is None:
        return _why(case)
    failed = sum("error" in run for run in case["runs"]) if case else 0
    note = f" ({failed} of {len(case['runs'])} runs failed)" if case and failed else ""
    if value.low == value.high:
        return _number(value.median) + note
    return f"{_number(value.median)} ({_number(value.low)}–{_number(value.high)}){note}"


def _why(case: Case | None) -> str:
    runs = case["runs"] if case else []
    for run in runs:
        if "unsupported" in run:
            return f"n/a: {run['unsupported']}"
        if "gave_up_after" in run:
            return f"not within {run['gave_up_after']:g} s"
        if "error" in run:
            return "error (see results JSON)"
    return "–"


class Table:
    """The cases of one workload, and the best peer figure per backend for each metric."""

    def __init__(self, cases: list[Case], workload: str) -> None:
        self.cases = [case for case in cases if case["workload"] == workload]

    def peers(self, backend: str, variant: str) -> list[Case]:
        return [
            case
            for case in self.cases
            if case["library"] != "jobqueue"
            and (backend == "sqlite" or case["backend"] == backend)
            and case["variant"] == variant
        ]

    def ratio(self, case: Case, key: str, better: str, peer_variant: str) -> str:
        """*case*'s *key* against the best peer's on the comparable backend, as "1.23×"."""
        own = stat(case, key)
        figures = [
            s.median for c in self.peers(case["backend"], peer_variant) if (s := stat(c, key))
        ]
        if own is None or not figures or own.median == 0:
            return "–"
        best = max(figures) if better == HIGHER else min(figures)
        return f"{(own.median / best if better == HIGHER else best / own.median):.2f}×"


def _library(case: Case) -> str:
    name = f"**{case['library']}**" if case["library"] == "jobqueue" else case["library"]
    return f"{name} | {BACKEND_NAMES[case['backend']]}"


def w1_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w1")
    lines = [
        f"## W1 throughput: {sizes['jobs']:,} no-op jobs",
        "",
        "Enqueued one by one by one client with the library's normal call, then drained by one"
        " worker process started afterwards (rate from the first job's start to the last job's"
        f" end). Tuned: {sizes['tuned']} concurrent slots (threads for thread-based libraries).",
        "",
        "| library | backend | worker | enqueue jobs/s | × best | processing jobs/s | × best |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in table.cases:
        variant = case["variant"]
        lines.append(
            f"| {_library(case)} | {variant} | {cell(stat(case, 'enqueue_per_s'), case)} | "
            f"{table.ratio(case, 'enqueue_per_s', HIGHER, variant)} | "
            f"{cell(stat(case, 'process_per_s'), case)}{_partial(case)} | "
            f"{table.ratio(case, 'process_per_s', HIGHER, variant)} |"
        )
    return lines


def _partial(case: Case) -> str:
    counts = [
        run["drained_within_budget"] for run in case["runs"] if "drained_within_budget" in run
    ]
    return f" ¹ ({min(counts):,} jobs)" if counts else ""


def w2_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w2")
    lines = [
        "## W2 latency: submit one job and wait for its result",
        "",
        f"{sizes['samples']} samples per run (fewer when a run reaches {sizes['budget']:g} s),"
        " one at a time, with an idle worker at its default concurrency, each through the"
        " library's own result mechanism (see the notes).",
        "",
        "| library | backend | via | p50 ms | × best | p99 ms | × best | samples |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in table.cases:
        samples = stat(case, "samples")
        lines.append(
            f"| {_library(case)} | {case['variant']} | {cell(stat(case, 'p50_ms'), case)} | "
            f"{table.ratio(case, 'p50_ms', LOWER, 'default')} | "
            f"{cell(stat(case, 'p99_ms'), case)} | "
            f"{table.ratio(case, 'p99_ms', LOWER, 'default')} | "
            f"{'' if samples is None else f'{samples.low:.0f}'} |"
        )
    return lines


def w3_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w3")
    ideal = sizes["io_jobs"] / sizes["tuned"] * 0.05
    lines = [
        f"## W3 I/O-bound: {sizes['io_jobs']:,} jobs of a 50 ms sleep at concurrency"
        f" {sizes['tuned']} (ideal {ideal:.2f} s)",
        "",
        "Async sleep where the library runs coroutines; `time.sleep` in as many threads where it"
        " does not (Celery, Huey). From the first job's start to the last job's end.",
        "",
        "| library | backend | seconds | × best |",
        "| --- | --- | --- | --- |",
    ]
    for case in table.cases:
        lines.append(
            f"| {_library(case)} | {cell(stat(case, 'seconds'), case)} | "
            f"{table.ratio(case, 'seconds', LOWER, 'default')} |"
        )
    return lines


def w4_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w4")
    generator = next(
        (run["generator"] for case in table.cases for run in case["runs"] if "generator" in run),
        "–",
    )
    lines = [
        "## W4 HTTP: requests/s of one `jobqueue serve` process",
        "",
        f"`POST /api/jobs` (submit) and `GET /api/jobs/{{id}}` (status of a queued job), each"
        f" loaded for {sizes['http_seconds']:g} s, against a bare FastAPI endpoint returning a"
        f" constant served by uvicorn with the same settings. Load generator: {generator}, on"
        " the same machine.",
        "",
        "| store | bare req/s | submit req/s | submit ÷ bare | status req/s | status ÷ bare |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in table.cases:
        lines.append(
            f"| {BACKEND_NAMES[case['backend']]} | {cell(stat(case, 'bare_rps'), case)} | "
            f"{cell(stat(case, 'submit_rps'), case)} | {cell(stat(case, 'submit_ratio'), case)} | "
            f"{cell(stat(case, 'status_rps'), case)} | {cell(stat(case, 'status_ratio'), case)} |"
        )
    return lines


def w5_figures(case: Case) -> tuple[Stat | None, Stat | None]:
    """Microseconds per claim+complete with the small and the large number waiting."""
    run = next((run for run in case["runs"] if "small_us" in run), None)
    if run is None:
        return None, None
    return Stat.of(run["small_us"]), Stat.of(run["large_us"])


def w5_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    lines = [
        f"## W5 scale: claim cost with {sizes['large']:,} jobs waiting versus {sizes['small']:,}",
        "",
        "Queued jobs are bulk-inserted straight into the store's tables (Redis: a script made"
        " of the store's own Lua helpers); then one job at a time is claimed and completed"
        f" through the `Store` interface, up to {sizes['cycles']} times per run (fewer when a"
        f" run reaches {sizes['cycle_budget']:g} s). Median microseconds per claim+complete.",
        "",
        f"| store | {sizes['small']:,} waiting, µs | {sizes['large']:,} waiting, µs | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for case in cases:
        if case["workload"] != "w5":
            continue
        small, large = w5_figures(case)
        ratio = f"{large.median / small.median:.2f}" if small and large else "–"
        lines.append(
            f"| {BACKEND_NAMES[case['backend']]} | {cell(small, case)} | {cell(large, case)} |"
            f" {ratio} |"
        )
    return lines


def w6_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w6")
    lines = [
        "## W6 recovery: SIGKILL of a worker holding a job, until the job runs again",
        "",
        "A second worker is already running when the first one's process group is killed."
        " jobqueue's default lease is 30 s; peers run with their defaults. With a default"
        " lease there is one run (the lease decides the figure); a run that does not see the"
        f" job again within {sizes['give_up']:g} s stops there.",
        "",
        "| library | backend | lease | seconds | × best |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case in table.cases:
        lines.append(
            f"| {_library(case)} | {case['variant']} | {cell(stat(case, 'seconds'), case)} | "
            f"{table.ratio(case, 'seconds', LOWER, 'default')} |"
        )
    return lines


def w7_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w7")
    lines = [
        f"## W7 warm process pool: {sizes['pool_jobs']:,} process jobs of 20 ms, each child's"
        f" start-up {sizes['pool_startup']:g} s",
        "",
        "One `jobqueue worker` with 2 slots, so a pool of 2 children; the start-up hook"
        " stands in for loading a model. Every job is queued first; the time runs from the"
        " worker's start to the last job's end. The baseline is the same worker with"
        " `--max-jobs-per-child 1`: a fresh child per attempt, as `process=True` ran before"
        " the pool, each loading the model once (run once: the start-up decides it).",
        "",
        "| library | backend | variant | total seconds | jobs/s | process starts |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in table.cases:
        starts = stat(case, "process_starts")
        lines.append(
            f"| {_library(case)} | {case['variant']} | {cell(stat(case, 'seconds'), case)} | "
            f"{cell(stat(case, 'jobs_per_s'), case)} | "
            f"{'–' if starts is None else f'{starts.median:.0f}'} |"
        )
    return lines


def w9_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w9")
    lines = [
        "## W9 watchers: SSE streams held by one server process",
        "",
        "One `jobqueue serve` process; N clients open one job's event stream at the same"
        " moment (two load processes of plain asyncio sockets), then a worker runs the job,"
        f" which reports progress {sizes['watcher_ticks']} times, each report stamped with its"
        " time. Errors: streams not answered `200` or cut; connected: seconds until the last"
        " watcher had the job's first state; delay: from a report to its arrival at a watcher,"
        " over every (report, watcher) pair; memory: the server's resident growth while"
        " holding them, per watcher; received: the share of (report, watcher) pairs that"
        " arrived — a stream that falls behind skips to the job's newest version, so it never"
        " misses the latest state but may miss one in between (`bench/watchers.py`).",
        "",
        "| backend | watchers | errors | all connected, s | delay p50, ms | delay p99, ms"
        " | received | server RSS, MiB | KiB per watcher |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in table.cases:
        figures = [
            cell(stat(case, key), case)
            for key in ("errors", "all_connected_s", "delay_p50_ms", "delay_p99_ms")
        ]
        received = [
            run["deliveries"] / run["expected_deliveries"]
            for run in case["runs"]
            if run.get("expected_deliveries")
        ]
        figures.append(f"{statistics.median(received):.0%}" if received else "–")
        figures += [cell(stat(case, key), case) for key in ("server_rss_mib", "kib_per_watcher")]
        lines.append(
            f"| {BACKEND_NAMES[case['backend']]} | {case['variant']} | {' | '.join(figures)} |"
        )
    return lines


def w10_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    table = Table(cases, "w10")
    lines = [
        f"## W10 webhooks: {sizes['webhook_jobs']:,} jobs, each completion delivered to a local"
        " receiver",
        "",
        "One `jobqueue worker` (50 slots) runs the no-op jobs plain (the baseline, jobs/s from"
        " the worker's start to the last end), then the same number with a webhook for"
        " `completed` to a receiver on 127.0.0.1 answering 204: each completion adds a"
        " delivery job that the same worker runs (deliveries/s from the worker's start to the"
        " last delivery). Every delivery is verified with `jobqueue.webhooks.verify`"
        " (`bench/webhooks_bench.py`).",
        "",
        "| backend | plain jobs/s | deliveries/s | ratio | repeats | unverified |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for case in table.cases:
        plain, hooked = stat(case, "plain_jobs_per_s"), stat(case, "deliveries_per_s")
        ratio = f"{hooked.median / plain.median:.2f}×" if plain and hooked else "–"
        counts = [cell(stat(case, key), case) for key in ("repeats", "unverified")]
        lines.append(
            f"| {BACKEND_NAMES[case['backend']]} | {cell(plain, case)} | {cell(hooked, case)} | "
            f"{ratio} | {' | '.join(counts)} |"
        )
    return lines


def keyed_variant(workload: str, keys: int, limit: int) -> str:
    """The variant name of W8's case made from *workload* (w1 or w3): `bench.run.keyed`."""
    return f"{workload.upper()} over {keys} keys at limit {limit}"


#: W8's rows: (label, the baseline's workload and variant, figure).
W8_ROWS = (
    ("W1 enqueue, jobs/s", "w1", "tuned", "enqueue_per_s"),
    ("W1 processing, jobs/s", "w1", "tuned", "process_per_s"),
    ("W3 seconds", "w3", "default", "seconds"),
)


def w8_section(cases: list[Case], sizes: dict[str, Any]) -> list[str]:
    keys, limit, few = sizes["keys"], sizes["key_limit"], sizes["saturated_keys"]
    lines = [
        f"## W8 fair claim: W1 and W3 with `key_concurrency={limit}` over {keys} keys",
        "",
        f"W1 (tuned, {sizes['tuned']} slots) and W3 as above, and the same with the task"
        f" declaring `key_concurrency={limit}` and each job given one of {keys} concurrency keys"
        f" in turn: {keys} × {limit} ≥ {sizes['tuned']} slots, so the limit leaves no slot"
        " empty and what differs is the fair claim itself (the running jobs of each key"
        " counted under the claim's lock). Each keyed case runs right after its plain one in"
        " the same run. keyed ÷ plain: below 1 for jobs/s and above 1 for seconds is the cost.",
        "",
        "| store | figure | plain | keyed | keyed ÷ plain |",
        "| --- | --- | --- | --- | --- |",
    ]
    for backend, name in BACKEND_NAMES.items():
        for label, workload, variant, key in W8_ROWS:
            plain = find(cases, workload, backend, variant)
            keyed = find(cases, "w8", backend, keyed_variant(workload, keys, limit))
            base, own = (stat(c, key) if c else None for c in (plain, keyed))
            ratio = f"{own.median / base.median:.2f}" if base and own and base.median else "–"
            lines.append(
                f"| {name} | {label} | {cell(base, plain)} | {cell(own, keyed)} | {ratio} |"
            )
    ideal = sizes["io_jobs"] / few * 0.05
    lines += [
        "",
        f"Saturated keys: W3's {sizes['io_jobs']:,} sleep jobs over only {few} keys at"
        f" `key_concurrency=1` with {sizes['tuned']} slots, so at most {few} run at once"
        f" (ideal {ideal:.1f} s). Peak running: the most jobs whose runs overlapped, from the"
        " tasks' own marks.",
        "",
        "| store | seconds | jobs/s | peak running |",
        "| --- | --- | --- | --- |",
    ]
    for backend, name in BACKEND_NAMES.items():
        case = find(cases, "w8", backend, keyed_variant("w3", few, 1))
        seconds, peak = (stat(case, key) if case else None for key in ("seconds", "peak_running"))
        rate = _number(sizes["io_jobs"] / seconds.median) if seconds else "–"
        lines.append(
            f"| {name} | {cell(seconds, case)} | {rate} |"
            f" {'–' if peak is None else f'{peak.high:.0f}'} |"
        )
    return lines


def find(cases: list[Case], workload: str, backend: str, variant: str) -> Case | None:
    """jobqueue's case for *workload* on *backend*."""
    return next(
        (
            c
            for c in cases
            if c["library"] == "jobqueue"
            and (c["workload"], c["backend"], c["variant"]) == (workload, backend, variant)
        ),
        None,
    )


def _best_peer(cases: list[Case], workload: str, key: str, backend: str) -> float | None:
    figures = [
        s.median
        for c in cases
        if c["library"] != "jobqueue" and c["workload"] == workload and c["backend"] == backend
        if (s := stat(c, key))
    ]
    return max(figures) if figures else None


def targets(cases: list[Case], sizes: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each of the issue's targets that was measured."""
    rows: list[tuple[str, str, bool | None]] = []

    def check(name: str, value: float | None, goal: float, higher: bool, unit: str) -> None:
        if value is None:
            rows.append((name, "not measured", None))
            return
        met = value >= goal if higher else value <= goal
        rows.append(
            (name, f"{_number(value)} {unit} (goal {'≥' if higher else '≤'} {_number(goal)})", met)
        )

    def best_w1(backend: str, key: str) -> float | None:
        figures = [
            s.median
            for v in ("default", "tuned")
            if (c := find(cases, "w1", backend, v))
            if (s := stat(c, key))
        ]
        return max(figures) if figures else None

    redis_peer = _best_peer(cases, "w1", "process_per_s", "redis")
    if redis_peer:
        check(
            "W1 processing on Redis ≥ 2× the fastest Redis peer",
            best_w1("redis", "process_per_s"),
            2 * redis_peer,
            True,
            "jobs/s",
        )
    for backend, goal in (("redis", 10_000.0), ("postgres", 5_000.0), ("sqlite", 5_000.0)):
        check(
            f"W1 processing on {BACKEND_NAMES[backend]}",
            best_w1(backend, "process_per_s"),
            goal,
            True,
            "jobs/s",
        )
    for backend in ("redis", "postgres"):
        peer = _best_peer(cases, "w1", "enqueue_per_s", backend)
        if peer:
            check(
                f"W1 enqueue on {BACKEND_NAMES[backend]} ≥ the fastest peer there",
                best_w1(backend, "enqueue_per_s"),
                peer,
                True,
                "jobs/s",
            )
    w2_goals: tuple[tuple[str, str, float], ...] = (
        ("redis", "Python API", 1.0),
        ("postgres", "Python API", 2.0),
        ("sqlite", "Python API", 2.0),
        ("redis", "HTTP + SSE", 2.0),
        ("postgres", "HTTP + SSE", 2.0),
        ("sqlite", "HTTP + SSE", 2.0),
    )
    for backend, variant, goal in w2_goals:
        case = find(cases, "w2", backend, variant)
        p50 = stat(case, "p50_ms") if case else None
        p99 = stat(case, "p99_ms") if case else None
        where = f"{BACKEND_NAMES[backend]}, {variant}"
        check(f"W2 p50 on {where}", p50.median if p50 else None, goal, False, "ms")
        if p50 and p99:
            check(f"W2 p99 ≤ 3× p50 on {where}", p99.median, 3 * p50.median, False, "ms")
    for backend in BACKEND_NAMES:
        case = find(cases, "w3", backend, "default")
        seconds = stat(case, "seconds") if case else None
        ideal = sizes["io_jobs"] / sizes["tuned"] * 0.05
        check(
            f"W3 on {BACKEND_NAMES[backend]}",
            seconds.median if seconds else None,
            ideal * 1.1,
            False,
            "s",
        )
        case = find(cases, "w4", backend, "default")
        for key, ratio_goal in (("submit_ratio", 0.5), ("status_ratio", 0.7)):
            value = stat(case, key) if case else None
            check(
                f"W4 {key.split('_')[0]} ÷ bare on {BACKEND_NAMES[backend]}",
                value.median if value else None,
                ratio_goal,
                True,
                "",
            )
        case = find(cases, "w5", backend, "default")
        small, large = w5_figures(case) if case else (None, None)
        check(
            f"W5 large ÷ small on {BACKEND_NAMES[backend]}",
            large.median / small.median if small and large else None,
            1.5,
            False,
            "",
        )
        for variant, lease in (
            (f"lease {sizes['short_lease']:g} s", sizes["short_lease"]),
            ("default", 30.0),
        ):
            case = find(cases, "w6", backend, variant)
            seconds = stat(case, "seconds") if case else None
            if case:
                check(
                    f"W6 on {BACKEND_NAMES[backend]}, {variant}",
                    seconds.median if seconds else None,
                    lease + 1,
                    False,
                    "s",
                )
    return rows


#: The fixed part of the page: how each library is driven.
NOTES = Path(__file__).with_name("notes.md")


def render(results: dict[str, Any]) -> str:
    """The Markdown page for *results*."""
    cases, sizes, host = results["cases"], results["sizes"], results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in results["versions"].items())
    load = f"{host['load_before'][0]:.1f} before, {host['load_after'][0]:.1f} after"
    lines = [
        "# Benchmarks: jobqueue and its Python peers",
        "",
        "Generated by `make bench` (`python -m bench.run`); do not edit by hand. Raw figures:"
        " `bench/results/latest.json`. Benchmarks are not tests: CI runs only `make"
        " bench-smoke` (every workload at 1 % size) so that the harness keeps working.",
        "",
        f"- Run: {results['generated_at']}, {results['seconds'] / 60:.0f} min,"
        f" {'SMOKE (1 % sizes — not meaningful figures)' if results['smoke'] else 'full sizes'},"
        f" median of {results['runs']} runs with min–max in brackets.",
        f"- Machine: {host['nproc']} cores, {host['cpu']}, Python {host['python']},"
        f" {host['os']}; 1-minute load average {load}.",
        f"- jobqueue source: `{host.get('commit', 'unknown')}` (`git describe --dirty` at the"
        " start).",
        *(
            [
                f"- Re-run later (`--merge`, last at {results['rerun_at']}):"
                f" {', '.join(results['rerun'])}."
            ]
            if "rerun" in results
            else []
        ),
        f"- Versions (latest from PyPI, each peer in its own venv): {versions}.",
        "- Services: Redis on 127.0.0.1:6379 (database 15, flushed before every case),"
        " PostgreSQL on 127.0.0.1:5432 (database `jobqueue_bench`); SQLite in a temporary file.",
        "- Ratios: × the best peer on the comparable backend (Redis peers for Redis,"
        " Procrastinate for PostgreSQL, all peers for SQLite); above 1 is better.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    for name, measured, met in targets(cases, sizes):
        lines.append(f"| {name} | {measured} | {'–' if met is None else 'yes' if met else 'no'} |")
    sections = (w1_section, w2_section, w3_section, w4_section, w5_section, w6_section)
    for section in (*sections, w7_section, w8_section, w9_section, w10_section):
        lines += ["", *section(cases, sizes)]
    return "\n".join([*lines, "", NOTES.read_text()])


def main() -> None:
    """Re-render a page from saved results: ``python -m bench.report [RESULTS] [PAGE]``."""
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.json")
    page = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/benchmarks.md")
    page.write_text(render(json.loads(results.read_text())))


if __name__ == "__main__":
    main()
