"""The start estimate's arithmetic: a task's rate from its recent start times, and a queued
job's expected start from its position and that rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobqueue.models import Job, JobStatus
from jobqueue.placement import WINDOW_SECONDS, estimated_start, start_rate

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def queued(run_at: datetime = NOW) -> Job:
    return Job("j", "work", JobStatus.QUEUED, None, ago(100), run_at, 3, 60.0)


def test_the_rate_counts_the_starts_within_the_window() -> None:
    starts = [ago(1), ago(10), ago(59), ago(WINDOW_SECONDS + 1), ago(3600)]
    assert start_rate(starts, NOW, full=False) == pytest.approx(3 / WINDOW_SECONDS)


def test_no_recent_start_means_no_rate() -> None:
    assert start_rate([], NOW, full=False) is None
    assert start_rate([ago(WINDOW_SECONDS + 1)], NOW, full=True) is None


def test_a_full_sample_of_recent_starts_measures_over_the_time_they_took() -> None:
    starts = [ago(n / 10) for n in range(1, 51)]  # fifty starts in the last five seconds
    assert start_rate(starts, NOW, full=True) == pytest.approx(10.0)
    # Not cut at the sample size: these are all the starts of the window.
    assert start_rate(starts, NOW, full=False) == pytest.approx(50 / WINDOW_SECONDS)


def test_a_full_sample_reaching_past_the_window_counts_the_window() -> None:
    starts = [ago(1), ago(2), ago(WINDOW_SECONDS + 5)]
    assert start_rate(starts, NOW, full=True) == pytest.approx(2 / WINDOW_SECONDS)


def test_a_ready_job_starts_after_the_jobs_ahead_and_itself() -> None:
    assert estimated_start(queued(), 3, 0.5, NOW) == NOW + timedelta(seconds=8)
    assert estimated_start(queued(), 0, 2.0, NOW) == NOW + timedelta(seconds=0.5)


def test_unknown_without_a_rate_or_with_too_many_ahead() -> None:
    assert estimated_start(queued(), 3, None, NOW) is None
    assert estimated_start(queued(), None, 1.0, NOW) is None


def test_a_delayed_job_starts_no_earlier_than_its_run_time() -> None:
    later = NOW + timedelta(seconds=30)
    assert estimated_start(queued(later), None, 1.0, NOW) == later
    assert estimated_start(queued(later), None, 0.01, NOW) == NOW + timedelta(seconds=100)
    assert estimated_start(queued(later), None, None, NOW) is None
