"""The encodings the backends share: times as integer microseconds, JSON text, list
cursors, and the ``job_id:version:status`` text that announces a change.
"""

from __future__ import annotations

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


_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_MAX_CURSOR_MICROS_DIGITS = 17  # up to the year 5138, well inside what datetime holds

CURSOR_PATTERN = rf"^[0-9]{{1,{_MAX_CURSOR_MICROS_DIGITS}}}_{_UUID}$"
"""The form of the cursors `encode_cursor` makes of the job ids `new_job_id` makes.

Clients treat cursors as opaque; the HTTP API declares this form so that a string that
is not a cursor is told apart (400) from a position that names no job (still a page).
"""


def encode_cursor(created_at: datetime, job_id: str) -> str:
    """An opaque cursor pointing just past the job (*created_at*, *job_id*):
    ``<created_at in microseconds>_<job_id>``.
    """
    return f"{micros(created_at)}_{job_id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position an `encode_cursor` cursor names; `InvalidRequest` when malformed.

    Any position is a valid cursor: a page starts just past it, whether or not a job
    is there.
    """
    at, _, job_id = cursor.partition("_")
    if not (at.isascii() and at.isdigit() and len(at) <= _MAX_CURSOR_MICROS_DIGITS and job_id):
        raise InvalidRequest("Invalid cursor")
    return from_micros(at), job_id


def parse_change(text: str) -> Change | None:
    """The change a backend announced as ``job_id:version:status``; None if malformed."""
    try:
        job_id, version, status = text.rsplit(":", 2)
        return Change(job_id, int(version), JobStatus(status))
    except ValueError:
        logger.warning("Ignoring a malformed change notification: %r", text)
        return None
