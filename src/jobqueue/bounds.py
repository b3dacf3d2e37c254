"""The bounds of submit options, defined once.

`JobQueue` checks them on every submit, whoever the caller, and the HTTP API writes the
same bounds into its submit schema, so both refuse the same values. What lies outside
them is a mistake, and would overflow some stores.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from annotated_types import Interval

from jobqueue.errors import InvalidRequest
from jobqueue.models import DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, Webhook

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from jobqueue.models import JSONValue

MAX_TASK_NAME_LENGTH = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_CONCURRENCY_KEY_LENGTH = 200
MAX_TAGS = 10
MAX_TAG_LENGTH = 100
MAX_WEBHOOK_URL_LENGTH = 2048
#: What a tag is made of (API.md): letters, digits and ``._:-``, 1 to `MAX_TAG_LENGTH`.
TAG_PATTERN = rf"^[A-Za-z0-9._:-]{{1,{MAX_TAG_LENGTH}}}$"


def check_length(name: str, value: str | None, maximum: int) -> None:
    """`InvalidRequest` naming *name* unless *value* is None or 1 to *maximum* characters."""
    if value is not None and not 0 < len(value) <= maximum:
        raise InvalidRequest(f"{name} must be 1 to {maximum} characters")


def checked_tags(tags: Sequence[str] | None) -> tuple[str, ...]:
    """*tags* without repeats, in their order; `InvalidRequest` naming what is wrong."""
    if tags is None:
        return ()
    if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
        raise InvalidRequest("tags must be an array of strings")
    if len(tags) > MAX_TAGS:
        raise InvalidRequest(f"tags: at most {MAX_TAGS}, not {len(tags)}")
    for tag in tags:
        if not re.fullmatch(TAG_PATTERN, tag):
            raise InvalidRequest(
                f"tags: {tag[: MAX_TAG_LENGTH + 1]!r} is not 1 to {MAX_TAG_LENGTH} characters"
                " of letters, digits and ._:-"
            )
    return tuple(dict.fromkeys(tags))


def checked_webhook(value: Webhook | Mapping[str, JSONValue] | None) -> Webhook | None:
    """*value* as a `Webhook` with its events in their canonical order; `InvalidRequest`
    for a field or an event it does not know, or a URL that is not text."""
    if value is None:
        return None
    if isinstance(value, Webhook):
        value = value.to_json()
    unknown = sorted(set(value) - {"url", "events"})
    if unknown:
        raise InvalidRequest(f"webhook.{unknown[0]}: not a webhook field (url, events)")
    url, events = value.get("url"), value.get("events", list(DEFAULT_WEBHOOK_EVENTS))
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_WEBHOOK_URL_LENGTH:
        raise InvalidRequest(f"webhook.url: a URL of 1 to {MAX_WEBHOOK_URL_LENGTH} characters")
    if isinstance(events, str) or not isinstance(events, list | tuple) or not events:
        raise InvalidRequest(f"webhook.events: a non-empty array of {', '.join(WEBHOOK_EVENTS)}")
    strange = [event for event in events if event not in WEBHOOK_EVENTS]
    if strange:
        raise InvalidRequest(
            f"webhook.events: {strange[0]!r} is not one of {', '.join(WEBHOOK_EVENTS)}"
        )
    return Webhook(url, tuple(event for event in WEBHOOK_EVENTS if event in events))


@dataclass(frozen=True, slots=True)
class Bound:
    """The range a numeric option accepts: *minimum* to *maximum*, both included unless
    *is_minimum_excluded*.
    """

    minimum: float
    maximum: float
    is_minimum_excluded: bool = False

    @property
    def interval(self) -> Interval:
        """The bound as pydantic's constraints (which also write it into a JSON schema)."""
        if self.is_minimum_excluded:
            return Interval(gt=self.minimum, le=self.maximum)
        return Interval(ge=self.minimum, le=self.maximum)

    def number(self, name: str, value: float | None) -> float | None:
        """*value* (None passes) as a float; `InvalidRequest` naming *name* unless it is a
        finite number within the bound.
        """
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidRequest(f"{name} must be a number")
        if not self._contains(value):
            low = "greater than" if self.is_minimum_excluded else "at least"
            raise InvalidRequest(
                f"{name} must be {low} {self.minimum:g} and at most {self.maximum:g}"
            )
        return float(value)

    def integer(self, name: str, value: int | None) -> int | None:
        """*value* (None passes); `InvalidRequest` naming *name* unless it is an integer
        within the bound.
        """
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be an integer")
        if not self._contains(value):
            raise InvalidRequest(f"{name} must be between {self.minimum} and {self.maximum}")
        return value

    def _contains(self, value: float) -> bool:
        if self.is_minimum_excluded and value == self.minimum:
            return False
        return self.minimum <= value <= self.maximum


_DAY = 86400.0

PRIORITY = Bound(-(2**31 - 1), 2**31 - 1)
DELAY_SECONDS = Bound(0, 366 * _DAY)
TIMEOUT_SECONDS = Bound(0, 7 * _DAY, is_minimum_excluded=True)
MAX_ATTEMPTS = Bound(1, 1000)
TTL_SECONDS = Bound(0, 366 * _DAY, is_minimum_excluded=True)
QUEUED_JOBS = Bound(1, 2**31 - 1)
SLOTS = Bound(1, 100_000)
