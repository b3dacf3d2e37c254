"""What a process pool did, counted: children started, recycled and killed, by reason;
also added to the process's Prometheus counters when prometheus_client is installed."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from prometheus_client import Counter


class _Exported(NamedTuple):
    """The process's Prometheus counters (in prometheus_client's default registry)."""

    starts: Counter
    recycles: Counter
    kills: Counter


def _prometheus_counters() -> _Exported | None:
    """The counters every pool of this process adds to, when prometheus_client is installed."""
    try:
        from prometheus_client import Counter
    except ImportError:
        return None
    return _Exported(
        Counter("jobqueue_pool_process_starts", "Child processes started for process tasks."),
        Counter("jobqueue_pool_recycles", "Pool children replaced on a limit.", ["reason"]),
        Counter("jobqueue_pool_kills", "Pool children killed or lost mid-job.", ["reason"]),
    )


_EXPORTED = _prometheus_counters()


@dataclass
class PoolCounts:
    """What one pool did: children started, recycled and killed, by reason.

    Recycle reasons: ``jobs``, ``memory``. Kill reasons: ``timeout``, ``cancel``,
    ``crashed`` (the child exited by itself), ``lease_lost``, ``shutdown``. Each count
    is also added to the process's Prometheus counters when prometheus_client is there.
    """

    starts: int = 0
    recycles: collections.Counter[str] = field(default_factory=collections.Counter)
    kills: collections.Counter[str] = field(default_factory=collections.Counter)

    def started(self) -> None:
        self.starts += 1
        if _EXPORTED is not None:
            _EXPORTED.starts.inc()

    def recycled(self, reason: str) -> None:
        self.recycles[reason] += 1
        if _EXPORTED is not None:
            _EXPORTED.recycles.labels(reason).inc()

    def killed(self, reason: str) -> None:
        self.kills[reason] += 1
        if _EXPORTED is not None:
            _EXPORTED.kills.labels(reason).inc()

    def __str__(self) -> str:
        def listed(counts: collections.Counter[str]) -> str:
            return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) or "none"

        return (
            f"{self.starts} process starts; recycled: {listed(self.recycles)};"
            f" killed: {listed(self.kills)}"
        )
