"""The state machine, the backoff policy, cursors and the public surface."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

import jobqueue
from jobqueue.errors import InvalidRequest
from jobqueue.models import TERMINAL_STATUSES, TRANSITIONS, JobStatus
from jobqueue.retry import Backoff
from jobqueue.stores import open_store
from jobqueue.stores.codec import decode_cursor, encode_cursor


def test_terminal_statuses_only_leave_by_operator_retry() -> None:
    assert {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED} == TERMINAL_STATUSES
    for status in JobStatus:
        assert status not in TRANSITIONS[status]
    assert not TRANSITIONS[JobStatus.COMPLETED]
    assert JobStatus.QUEUED in TRANSITIONS[JobStatus.FAILED]
    assert JobStatus.COMPLETED not in TRANSITIONS[JobStatus.QUEUED]


def test_status_values_are_the_api_strings() -> None:
    assert [s.value for s in JobStatus] == [
        "queued",
        "processing",
        "completed",
        "failed",
        "cancelled",
    ]


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = Backoff(base_seconds=1, factor=2, cap_seconds=10, jitter=0.5)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (30, 10)]:
        delay = policy.delay(attempt, rng)
        assert ceiling * 0.5 <= delay <= ceiling


def test_cursor_round_trip_and_garbage() -> None:
    """Any position is a cursor; a string that names none is `InvalidRequest`."""
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "abc")) == (at, "abc")
    bad_cursors = ["", "!!!", "bm90IGpzb24", "_x", "1" * 18 + "_x", "\u00b2_x", "12_"]
    for bad in [*bad_cursors, encode_cursor(at, "x")[:-3]]:
        with pytest.raises(InvalidRequest):
            decode_cursor(bad)


def test_unknown_store_scheme_names_the_known_ones() -> None:
    with pytest.raises(jobqueue.ConfigError, match="memory, postgres"):
        open_store("mongodb://x")


def test_public_api_is_declared_once_and_sorted() -> None:
    assert jobqueue.__all__ == sorted(jobqueue.__all__)
    for name in jobqueue.__all__:
        assert hasattr(jobqueue, name), name
