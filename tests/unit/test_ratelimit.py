"""Rate limits: the notation, and fixed windows aligned to the epoch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobqueue.errors import ConfigError
from jobqueue.ratelimit import RateLimit

MINUTE = RateLimit(100, 60)


def test_the_notation_names_one_or_more_limits() -> None:
    assert RateLimit.parse("50/second") == (RateLimit(50, 1),)
    assert RateLimit.parse("1000/minute;20000/day") == (
        RateLimit(1000, 60),
        RateLimit(20000, 86400),
    )
    assert RateLimit.parse("10 per 2 hours") == (RateLimit(10, 7200),)


@pytest.mark.parametrize("text", ["", "lots", "5/fortnight", "0/minute", "-1/second"])
def test_anything_else_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        RateLimit.parse(text)


def test_a_window_ends_at_the_next_multiple_of_its_width() -> None:
    start = datetime(2026, 12, 7, 12, 30, tzinfo=UTC)

    assert MINUTE.window_end(start) == start + timedelta(minutes=1)
    assert MINUTE.window_end(start + timedelta(seconds=59.999)) == start + timedelta(minutes=1)
    assert RateLimit(1, 86400).window_end(start) == datetime(2026, 12, 8, tzinfo=UTC)


def test_each_limit_and_submitter_has_its_own_counter() -> None:
    keys = {MINUTE.key("a"), MINUTE.key("b"), RateLimit(100, 1).key("a"), RateLimit(5, 60).key("a")}
    assert len(keys) == 4
