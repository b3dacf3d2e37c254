"""How long and how often a delivery is tried: about 5 s after the first failure, then
doubling (with jitter) up to an hour between attempts, for at least 24 hours in all.

``JOBQUEUE_WEBHOOK_RETRY_SECONDS`` changes the total; the attempts follow from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobqueue.bounds import MAX_ATTEMPTS, TTL_SECONDS
from jobqueue.errors import ConfigError
from jobqueue.retry import Backoff

RETRY_SECONDS_VARIABLE = "JOBQUEUE_WEBHOOK_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 86400.0
DELIVERY_BACKOFF = Backoff(base_seconds=5.0, factor=2.0, cap_seconds=3600.0, jitter=0.2)


@dataclass(frozen=True, slots=True)
class DeliverySchedule:
    """The backoff between attempts to deliver a message, and the attempts in all."""

    backoff: Backoff
    max_attempts: int

    @classmethod
    def spanning(cls, seconds: float, backoff: Backoff = DELIVERY_BACKOFF) -> DeliverySchedule:
        """A schedule that keeps trying for at least *seconds*."""
        attempts = backoff.attempts_spanning(seconds)
        if attempts > MAX_ATTEMPTS.maximum:
            raise ConfigError(f"Retrying for {seconds:g}s takes more than 1000 attempts")
        return cls(backoff, attempts)

    @classmethod
    def from_environment(cls) -> DeliverySchedule:
        """The schedule ``JOBQUEUE_WEBHOOK_RETRY_SECONDS`` asks for (default 24 hours)."""
        raw = os.environ.get(RETRY_SECONDS_VARIABLE, "")
        try:
            seconds = TTL_SECONDS.number(RETRY_SECONDS_VARIABLE, float(raw)) if raw else None
        except ValueError:
            raise ConfigError(
                f"{RETRY_SECONDS_VARIABLE} must be a positive number of seconds, not {raw!r}"
            ) from None
        return cls.spanning(seconds or DEFAULT_RETRY_SECONDS)
