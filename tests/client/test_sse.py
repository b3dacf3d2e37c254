"""The SSE decoder: the HTML standard's field rules, ids and retry across events."""

from __future__ import annotations

from jobqueue.client._sse import Event, SSEDecoder


def feed(decoder: SSEDecoder, text: str) -> list[Event]:
    return [event for line in text.split("\n") if (event := decoder.feed(line)) is not None]


def test_events_carry_type_data_and_id() -> None:
    decoder = SSEDecoder()
    events = feed(decoder, 'retry: 2000\nevent: job\nid: 3\ndata: {"a": 1}\n\n')
    assert events == [Event("job", '{"a": 1}', "3")]
    assert decoder.retry_ms == 2000


def test_comments_and_unknown_fields_are_ignored_and_data_lines_join() -> None:
    decoder = SSEDecoder()
    events = feed(decoder, ": keep-alive\nfoo: bar\ndata:one\ndata: two\n\n")
    assert events == [Event("message", "one\ntwo", None)]


def test_the_last_event_id_persists_and_a_blank_without_data_dispatches_nothing() -> None:
    decoder = SSEDecoder()
    assert feed(decoder, "id: 7\n\n") == []
    assert feed(decoder, "data: x\n\n") == [Event("message", "x", "7")]
    assert feed(decoder, "retry: soon\n\n") == []
    assert decoder.retry_ms is None


def test_reset_drops_a_half_received_event_but_keeps_the_id() -> None:
    decoder = SSEDecoder()
    feed(decoder, "id: 4\ndata: full\n\nevent: job\ndata: half")
    decoder.reset()
    assert feed(decoder, "data: next\n\n") == [Event("message", "next", "4")]
