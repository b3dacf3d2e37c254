"""A pytest plugin that ends the run with the groups of tests it skipped, and why.

``-ra`` lists skips one location at a time, in the middle of the summary; twenty browser
tests skipped for a missing Chromium scroll past unseen. This section comes last, before
the final counts (after ``-ra``'s list), with one line per test folder and reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

    from _pytest.terminal import TerminalReporter

SKIP_PREFIX = "Skipped: "


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix(SKIP_PREFIX)


def _group(nodeid: str) -> str:
    """The test folder of *nodeid*: ``tests/browser/test_x.py::t`` is ``tests/browser``."""
    return str(PurePosixPath(nodeid.split("::", 1)[0]).parent)


def skipped_groups(reports: list[pytest.TestReport]) -> Counter[tuple[str, str]]:
    """How many tests were skipped per (folder, reason)."""
    return Counter((_group(report.nodeid), _reason(report)) for report in reports)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: TerminalReporter) -> Generator[None]:
    # The outermost wrapper: the terminal reporter's own summary (``-ra``) is written first.
    yield
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report, pytest.TestReport)
    ]
    if not skipped:
        return
    groups = skipped_groups(skipped)
    tests = "1 test" if len(skipped) == 1 else f"{len(skipped)} tests"
    terminalreporter.section(f"{tests} skipped, by folder and reason", yellow=True)
    for (folder, reason), count in sorted(groups.items(), key=lambda item: -item[1]):
        terminalreporter.line(f"{count:5d}  {folder}: {reason}", yellow=True, bold=True)
