"""The SSE parser behind both API providers, fed the same stream split every way a network may split it."""

import json

import anyio
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


@pytest.mark.parametrize("http", ["httpx", "aiohttp"])
def test_a_compressed_event_stream_is_decoded_before_it_is_parsed(http):
    """Events are read off the raw bytes where the body has no content encoding; a proxy that gzips the stream
    must still be read through the decoder, not parsed as binary."""
    import gzip

    import sotkit

    chunks = [{"choices": [{"delta": {"content": word}, "finish_reason": None}]}
              for word in ("Keep ", "it ", "dark.")]
    chunks.append({"choices": [{"delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 5, "completion_tokens": 3}})
    body = gzip.compress("".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n")

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\n"
                     b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    async def main():
        import asyncio

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        async with server, sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", http=http) as sot:
            return await sot.generate("Hi?")

    result = anyio.run(main, backend="asyncio")
    assert result.text == "Keep it dark."
    assert (result.usage.input_tokens, result.usage.output_tokens) == (5, 3)
