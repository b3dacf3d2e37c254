"""Finding the application's `JobQueue` from a ``MODULE:ATTR`` string, as uvicorn finds apps."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from jobqueue.queue import JobQueue


def load_queue(spec: str, store: str | None = None) -> JobQueue:
    """Import ``MODULE:ATTR`` (the current directory importable) and return the JobQueue,
    switched to *store* when one is given."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise click.BadParameter(f"expected MODULE:ATTR, got {spec!r}", param_hint="APP")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint="APP") from exc
    target: object = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise click.BadParameter(
                f"{module_name!r} has no attribute {attr!r}", param_hint="APP"
            ) from None
    if not isinstance(target, JobQueue):
        raise click.BadParameter(
            f"{spec} is a {type(target).__name__}, not a JobQueue", param_hint="APP"
        )
    if store:
        target.use_store(store)
    return target
