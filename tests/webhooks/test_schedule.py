"""Deliveries are retried from about five seconds on, for at least a day by default."""

from __future__ import annotations

import random

import pytest

from jobqueue.errors import ConfigError
from jobqueue.webhooks import DeliverySchedule
from jobqueue.webhooks.schedule import DELIVERY_BACKOFF


def _total_waits(schedule: DeliverySchedule, rng: random.Random) -> float:
    return sum(schedule.backoff.delay(n, rng) for n in range(1, schedule.max_attempts))


def test_the_default_schedule_lasts_a_day_however_the_jitter_falls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JOBQUEUE_WEBHOOK_RETRY_SECONDS", raising=False)
    schedule = DeliverySchedule.from_environment()
    assert 4.0 <= DELIVERY_BACKOFF.delay(1) <= 5.0
    assert all(_total_waits(schedule, random.Random(seed)) >= 86400 for seed in range(50))
    shortest = sum(schedule.backoff.shortest(n) for n in range(1, schedule.max_attempts))
    assert 86400 <= shortest < 86400 + schedule.backoff.cap_seconds


def test_the_delays_grow_with_jitter() -> None:
    rng = random.Random(1)
    delays = [DELIVERY_BACKOFF.delay(n, rng) for n in range(1, 8)]
    assert delays == sorted(delays)
    assert len({round(d / DELIVERY_BACKOFF._raw(n), 6) for n, d in enumerate(delays, 1)}) > 1


def test_the_window_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_RETRY_SECONDS", "60")
    schedule = DeliverySchedule.from_environment()
    assert sum(schedule.backoff.shortest(n) for n in range(1, schedule.max_attempts)) >= 60
    assert schedule.max_attempts < DeliverySchedule.spanning(86400).max_attempts


@pytest.mark.parametrize("value", ["soon", "-5", "0"])
def test_a_bad_window_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_RETRY_SECONDS", value)
    with pytest.raises(ConfigError, match="JOBQUEUE_WEBHOOK_RETRY_SECONDS"):
        DeliverySchedule.from_environment()
