"""Retry policy: exponential backoff with jitter, as pure functions."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt ``n + 1`` after attempt ``n`` failed.

    ``base * factor ** (n - 1)``, capped at ``cap``, then scaled by a random factor in
    ``[1 - jitter, 1]`` so that jobs which failed together do not retry together.
    """

    base_seconds: float = 1.0
    factor: float = 2.0
    cap_seconds: float = 300.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the failed attempt number *attempt* (1-based)."""
        spread = (rng or random).uniform(1.0 - self.jitter, 1.0)
        return self._raw(attempt) * spread

    def shortest(self, attempt: int) -> float:
        """The least `delay` can be after attempt *attempt* (the most jitter takes off)."""
        return self._raw(attempt) * (1.0 - self.jitter)

    def attempts_spanning(self, seconds: float) -> int:
        """The fewest attempts whose waits add up to at least *seconds*, however the
        jitter falls: a retry budget that lasts that long."""
        attempts, total = 1, 0.0
        while total < seconds:
            total += self.shortest(attempts)
            attempts += 1
        return attempts

    def _raw(self, attempt: int) -> float:
        return min(self.cap_seconds, self.base_seconds * self.factor ** max(attempt - 1, 0))


#: Waits between attempts to reach a store that is unavailable: quick at first, then
#: settling at a few seconds so a long outage costs little.
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


def reconnect_delay(failures: int) -> float:
    """Seconds to wait after *failures* consecutive failures to reach the store."""
    return RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
