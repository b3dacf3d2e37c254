"""Store URLs: what the PostgreSQL and Redis backends take out of one before the driver
sees it, and how one is shown without its password.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def pop_query(url: str, *names: str) -> tuple[str, dict[str, str]]:
    """Take jobqueue's own options (``?schema=``, ``?prefix=``) out of a store URL.

    Returns the URL without them, for the driver, and the options found.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {key: value for key, value in query if key in names}
    rest = urlencode([(key, value) for key, value in query if key not in names])
    return urlunsplit(parts._replace(query=rest)), options


def redacted(url: str) -> str:
    """*url* with its password, if it has one, shown as ``***`` (for logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
