"""A last resort behind pytest-timeout: a test still running well past its time limit
ends the whole run, with every thread's traceback on stderr.

pytest-timeout's signal method fails a test by raising from a SIGALRM handler. Under
uvloop (which the CLI's worker and server use), a Python signal handler runs inside a
loop callback, and an exception from it is logged and dropped: the test goes on hanging,
and so does the run, until CI gives up on it with nothing to show. The stdlib's
faulthandler watchdog is a C thread that no event loop can hold back.
"""

from __future__ import annotations

import faulthandler
import os
from typing import TYPE_CHECKING, TextIO

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

#: Seconds granted beyond twice a test's own limit before the run is ended.
SLACK_SECONDS = 10.0

_STDERR = pytest.StashKey[TextIO]()
"""The run's own stderr, which output capturing leaves alone."""


def pytest_configure(config: pytest.Config) -> None:
    # Output capturing is suspended between loading conftests and running tests: this is
    # the run's real stderr, which fd 2 is not while a test runs.
    config.stash[_STDERR] = os.fdopen(os.dup(2), "w")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STDERR in config.stash:
        config.stash[_STDERR].close()


def _limit_seconds(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    configured = item.config.getini("timeout")
    return float(configured) if configured else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    limit = _limit_seconds(item)
    stderr = item.config.stash.get(_STDERR, None)
    if not limit or stderr is None:
        return (yield)
    faulthandler.dump_traceback_later(2 * limit + SLACK_SECONDS, file=stderr, exit=True)
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()
