"""Server-sent events read straight off an SDK's streaming response.

The SDKs build a pydantic model for every chunk, which costs about a millisecond each: with hundreds of
expansions streaming at once that, not the network, was the bottleneck (benchmarks/overhead.py). The
requests still go through the SDKs (auth, headers, base URLs, status errors as the SDK's exception types);
only the chunks of a successful stream are parsed here, with ``json.loads``, from the response's bytes in one
generator (httpx's text and line decoders and the SDK's line iterator would add four more per chunk).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from types import ModuleType
from typing import Any

from ..errors import StreamError


async def sse_events(response: Any, sdk: ModuleType) -> AsyncIterator[tuple[str | None, Any]]:
    """Yield ``(event, data)`` per event of an SDK streaming response; ``data`` is parsed JSON, or the raw
    text when it is not JSON. A connection that breaks mid-stream raises the SDK's own
    ``APIConnectionError`` / ``APITimeoutError``, as the SDK's stream classes do. A 200 whose body is not an
    event stream (a proxy's HTML error page, an empty body, a JSON completion) is a ``StreamError``."""
    import httpx2  # imported with the SDK, off the event loop, before the first response

    http = response.http_response
    try:
        content_type = http.headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            body = (await http.aread())[:500].decode(errors="replace")
            raise StreamError(f"the server answered 200 with {content_type or 'no content type'}, not an event "
                              f"stream: {body!r}", raw=body)
        async for item in parse_sse(http.aiter_bytes()):
            yield item
    except httpx2.TimeoutException as exc:
        raise sdk.APITimeoutError(request=response.http_request) from exc
    except httpx2.TransportError as exc:
        raise sdk.APIConnectionError(request=response.http_request) from exc
    except UnicodeDecodeError as exc:
        raise StreamError(f"the event stream is not UTF-8 text: {exc}", raw=exc.object[:500]) from exc


def malformed(data: Any, error: Exception) -> StreamError:
    """The error for an event that does not have the provider's shape (``data: <html>``, ``data: [1, 2]``)."""
    excerpt = data[:500] if isinstance(data, str) else data
    return StreamError(f"the server sent an event that is not the API's: {str(excerpt)[:500]!r}", raw=excerpt)


async def parse_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[tuple[str | None, Any]]:
    """The events of an SSE byte stream, however its chunks split lines or characters. Lines end in
    ``\\n`` or ``\\r\\n`` (what every LLM API sends; a lone ``\\r`` is not taken as a line end)."""
    event: str | None = None
    data: list[str] = []
    pending = b""
    async for chunk in chunks:
        *lines, pending = (pending + chunk).split(b"\n")
        for raw in lines:
            line = raw.removesuffix(b"\r").decode()
            if line == "":
                if data:
                    yield event, _parsed("\n".join(data))
                event, data = None, []
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                event = line[6:].strip()
    line = pending.removesuffix(b"\r").decode()
    if line.startswith("data:"):  # a stream that ended without its final newline
        data.append(line[5:].removeprefix(" "))
    if data:  # ... or without the blank line after its last event
        yield event, _parsed("\n".join(data))


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
