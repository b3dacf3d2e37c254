"""Workers: claim jobs from the store and run them."""

from __future__ import annotations

from jobqueue.worker.runner import Worker

__all__ = ["Worker"]
