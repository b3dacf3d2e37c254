"""The encodings the backends share: times as integer microseconds, JSON text, list
cursors, and the ``job_id:version:status`` text that announces a change.
"""

from __future__ import annotations

import base64
import functools
import logging
from datetime import UTC, datetime, timedelta

import orjson

from jobqueue.errors import InvalidRequest
from jobqueue.models import Change, JobStatus

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(at: datetime) -> int:
    """*at* as whole microseconds since the epoch (exact in SQLite integers and Lua numbers)."""
    return (at - _EPOCH) // _MICROSECOND


@functools.lru_cache(maxsize=1024)
def from_micros(value: str | int) -> datetime:
    """The UTC datetime `micros` encoded, given as a number or its text.

    Cached: the jobs of one claim share their start and lease times, and a job's run_at
    is mostly its created_at.
    """
    return _EPOCH + timedelta(microseconds=int(value))


def from_micros_or_none(value: str | int | None) -> datetime | None:
    """`from_micros` of a value that may be absent."""
    return None if value is None else from_micros(value)


def seconds_as_micros(seconds: float) -> int:
    """A duration in whole microseconds, rounded as `timedelta` rounds it."""
    return timedelta(seconds=seconds) // _MICROSECOND


def json_text(value: object) -> str:
    """*value* as JSON text."""
    return orjson.dumps(value).decode()


def encode_cursor(created_at: datetime, job_id: str) -> str:
    """An opaque cursor pointing just past the job (*created_at*, *job_id*)."""
    raw = orjson.dumps([created_at.isoformat(), job_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position an `encode_cursor` cursor names; `InvalidRequest` when malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, job_id = orjson.loads(raw)
        at = datetime.fromisoformat(created)
        if at.tzinfo is None or not isinstance(job_id, str):
            raise ValueError(cursor)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("Invalid cursor") from exc
    return at, job_id


def parse_change(text: str) -> Change | None:
    """The change a backend announced as ``job_id:version:status``; None if malformed."""
    try:
        job_id, version, status = text.rsplit(":", 2)
        return Change(job_id, int(version), JobStatus(status))
    except ValueError:
        logger.warning("Ignoring a malformed change notification: %r", text)
        return None
