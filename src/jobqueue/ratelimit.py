"""Submit rate limits: the notation (``50/second``, ``1000/minute;20000/day``) and the fixed
windows they are counted in.

A window starts at a multiple of its width since the epoch, on the queue's clock, and its
hits are counted in the store (`Store.count_hit`), so every process of a deployment shares
one count. The `limits` package reads the notation; its own counters are not used, because
they keep time by the wall clock in storages of their own (no SQLite, no PostgreSQL), where
this count must live in the deployment's store, whichever it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from jobqueue.errors import ConfigError, MissingDependency

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most *amount* hits per window of *window_seconds*."""

    amount: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> tuple[RateLimit, ...]:
        """The limits *text* names, ``;``-separated; `ConfigError` if it names none."""
        try:
            import limits
        except ImportError:
            raise MissingDependency("limits", "server") from None
        try:
            items = limits.parse_many(text)
        except ValueError:
            items = []
        parsed = tuple(cls(item.amount, item.get_expiry()) for item in items)
        if not parsed or any(limit.amount < 1 for limit in parsed):
            raise ConfigError(
                f"rate limit {text!r} is not like '50/second', '1000/minute' or "
                "'10/second;1000/hour' (each amount at least 1)"
            )
        return parsed

    @property
    def name(self) -> str:
        """The policy's name in the ``RateLimit`` headers: ``submits-60s``."""
        return f"submits-{self.window_seconds}s"

    def key(self, submitter: str) -> str:
        """The store's counter of *submitter*'s hits under this limit."""
        return f"{self.name}:{self.amount}:{submitter}"

    def window_end(self, now: datetime) -> datetime:
        """When the window holding *now* ends."""
        elapsed = (now - _EPOCH).total_seconds()
        windows = math.floor(elapsed / self.window_seconds) + 1
        return datetime.fromtimestamp(windows * self.window_seconds, UTC)
