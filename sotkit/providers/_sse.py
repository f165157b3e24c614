"""Server-sent events read straight off an SDK's streaming response.

The SDKs build a pydantic model for every chunk, which costs about a millisecond each: with hundreds of
expansions streaming at once that, not the network, was the bottleneck (benchmarks/overhead.py). The
requests still go through the SDKs (auth, headers, base URLs, status errors as the SDK's exception types);
only the chunks of a successful stream are parsed here, with ``json.loads``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import httpx2


async def sse_events(response: Any, sdk: ModuleType) -> AsyncIterator[tuple[str | None, Any]]:
    """Yield ``(event, data)`` per event of an SDK streaming response; ``data`` is parsed JSON, or the raw
    text when it is not JSON. A connection that breaks mid-stream raises the SDK's own
    ``APIConnectionError`` / ``APITimeoutError``, as the SDK's stream classes do."""
    try:
        async for item in _events(response.iter_lines()):
            yield item
    except httpx2.TimeoutException as exc:
        raise sdk.APITimeoutError(request=response.http_request) from exc
    except httpx2.TransportError as exc:
        raise sdk.APIConnectionError(request=response.http_request) from exc


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, Any]]:
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                text = "\n".join(data)
                try:
                    yield event, json.loads(text)
                except json.JSONDecodeError:
                    yield event, text
            event, data = None, []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
    if data:  # a stream that ended without the final blank line
        text = "\n".join(data)
        yield event, text if text.startswith("[DONE]") else json.loads(text)
