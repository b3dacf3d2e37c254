"""SQL resource files under ``jobqueue/stores/sql``: whole scripts, or named statements.

A statements file holds sections that each start with a ``-- name: <name>`` line; the
text up to the next such line is the statement.
"""

from __future__ import annotations

import re
from importlib.resources import files

_NAME_LINE = re.compile(r"^-- name: *(\S+) *$", re.MULTILINE)


def read_script(filename: str) -> str:
    """The text of one SQL resource file."""
    return (files("jobqueue.stores") / "sql" / filename).read_text(encoding="utf-8")


def read_statements(filename: str) -> dict[str, str]:
    """The named statements of one SQL resource file, by name."""
    parts = _NAME_LINE.split(read_script(filename))
    # parts: [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
