"""A Server-Sent Events decoder: lines in, events out, following the HTML standard's rules.

It does no I/O, so the sync and async clients feed it the lines they read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event. ``id`` is the stream's last event id when it was dispatched."""

    event: str
    data: str
    id: str | None


class SSEDecoder:
    """Turns the lines of a ``text/event-stream`` body (without line endings) into events.

    ``last_event_id`` and ``retry_ms`` (the server's reconnection delay) persist across
    events, as they do in a browser's ``EventSource``.
    """

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        """Take one line; return the event a blank line completes, else None."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def reset(self) -> None:
        """Drop a half-received event, as a new connection must; the ids and delay stay."""
        self._event, self._data = "", []

    def _dispatch(self) -> Event | None:
        event, data = self._event, self._data
        self._event, self._data = "", []
        if not data:
            return None
        return Event(event or "message", "\n".join(data), self.last_event_id)
