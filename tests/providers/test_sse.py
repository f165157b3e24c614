"""The SSE parser behind both API providers, fed the same stream split every way a network may split it."""

import json

import pytest

from sotkit.providers._sse import EventParser

STREAM = ('event: content_block_delta\r\ndata: {"text": "caf\u00e9 \u2615"}\r\n\r\n'
          ': a comment\n\n'
          'data: line one\ndata: line two\n\n'
          'data: {"n": 2}\n\n'
          'data: [DONE]').encode()
EVENTS = [("content_block_delta", {"text": "caf\u00e9 \u2615"}), (None, "line one\nline two"), (None, {"n": 2}),
          (None, "[DONE]")]


def parse(chunks: list[bytes]) -> list:
    parser = EventParser()
    return [event for chunk in chunks for event in parser.feed(chunk)] + parser.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_events_survive_any_split(size):
    # size 1 splits inside the UTF-8 of "é" and "☕" and between every "\r" and its "\n"
    assert parse([STREAM[i:i + size] for i in range(0, len(STREAM), size)]) == EVENTS


def test_a_stream_ending_with_its_blank_line_yields_each_event_once():
    body = b"".join(f"data: {json.dumps({'i': i})}\n\n".encode() for i in range(3))
    assert parse([body]) == [(None, {"i": i}) for i in range(3)]
    assert parse([]) == []


def test_a_last_event_without_its_line_end_is_still_read_whole():
    assert parse([b"data: one\r\ndata: two\r"]) == [(None, "one\ntwo")]  # a CRLF stream cut before its last LF


def test_a_stream_cut_inside_an_events_line_says_it_was_cut():
    from sotkit.errors import StreamError

    assert parse([b'data: {"a": 1}']) == [(None, {"a": 1})]  # whole, though its line end never came
    with pytest.raises(StreamError, match="ended in the middle of an event: it was cut"):
        parse([b'data: {"a": 1}\n\ndata: {"choices": [{"del'])  # it was "not the API's event"


def test_a_long_line_is_joined_once_and_an_endless_one_is_refused(monkeypatch):
    from sotkit.errors import StreamError
    from sotkit.providers import _sse

    text = "x" * 300_000
    line = f'data: {{"text": "{text}"}}\n\n'.encode()
    assert parse([line[i:i + 1000] for i in range(0, len(line), 1000)]) == [(None, {"text": text})]
    monkeypatch.setattr(_sse, "MAX_LINE_BYTES", 100_000)
    parser = EventParser()
    with pytest.raises(StreamError, match="ran past"):
        for i in range(0, len(line), 1000):
            parser.feed(line[i:i + 1000])
