"""SQL resource files of the SQL backends: whole scripts, or files of named statements.

A statements file holds sections that each start with a ``-- name: <name>`` line; the
text up to the next such line is the statement.
"""

from __future__ import annotations

import re
from importlib.resources import files

_NAME_LINE = re.compile(r"^-- name: *(\S+) *$", re.MULTILINE)


def read_script(package: str, path: str) -> str:
    """The text of the SQL file at *path* (``/``-separated) inside *package*."""
    return (files(package) / path).read_text(encoding="utf-8")


def read_statements(package: str, path: str) -> dict[str, str]:
    """The named statements of the SQL file at *path* inside *package*, by name."""
    parts = _NAME_LINE.split(read_script(package, path))
    # parts: [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
