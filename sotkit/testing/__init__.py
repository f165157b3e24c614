"""Test doubles for code that calls chat APIs: a fake OpenAI + Anthropic server on a loopback port.

The official ``openai`` and ``anthropic`` SDKs talk to it over real sockets, so everything between your code
and the wire (streaming, usage, stop sequences, error classes, retry headers, cancellation) is exercised::

    from openai import AsyncOpenAI
    from sotkit.testing import FakeLLMServer, Fault, Latency, Reply

    def responder(request):                      # sees the parsed request: api, model, system, messages, ...
        if request.prefill is not None:          # a trailing assistant message (Anthropic's Claude < 4.6 continue it)
            return " and more."
        return Reply("1. Alpha\\n2. Beta", latency=Latency(ttft_s=0.05, tokens_per_s=200))

    with FakeLLMServer(responder) as server:     # or `async with`, or start()/stop()
        client = AsyncOpenAI(api_key="test-key", base_url=server.openai_base_url, max_retries=0)
        ...                                      # AsyncAnthropic(base_url=server.anthropic_base_url, ...)
        [request] = server.requests              # RecordedRequest: headers, body, timings, streamed pieces
        assert request.api_key == "test-key"

A responder can also be a plain string or a list of replies (consumed in order); ``sot_responder(skeleton,
points)`` answers sotkit's own calls (skeleton, points, router, sequential: ``sot_call(request)`` tells them apart by
sotkit's default prompts), prefills and resumed calls included. ``request.attempt`` counts
requests with the same prompt (1, 2, ...), so a responder can word each retry anew, as a sampled model does.
Faults go on a reply, ``Reply("...", fault=Fault.status(429, {"retry-after": "1"}))``, or on a seeded fraction
of all requests with ``FakeLLMServer(..., random_faults=RandomFaults(rate=0.1, faults=[...], seed=0))``:

- ``Fault.status(code)``: an HTTP error with the API's error body;
- ``Fault.drop(after_tokens)``: the connection closes mid-stream;
- ``Fault.stall(after_tokens, seconds)``: nothing is sent for a while (then the stream goes on, or closes);
- ``Fault.error_event(after_tokens, code, body)``: the API's error event inside the 200 stream (e.g. overloaded;
  ``body``: an error body of your own, such as a spent quota's);
- ``Fault.cut(after_tokens)``: the stream ends cleanly but without its terminal event;
- ``Fault.garbage(after_tokens, data)``: ``data: <data>``, not one of the API's events, then the end;
- ``Fault.not_a_stream(body)``: a 200 with a proxy's HTML page (or any body) instead of the stream;
- ``Fault.keep_alive(after_tokens, seconds)``: SSE comments and text-free events, and no text, for a while;
- ``Fault.runaway(tokens)``: ``max_tokens`` and stop sequences ignored, the reply repeated.
- ``Fault.unclean_close()``: the whole stream, terminal event included, then the connection closes before the
  body's end (no last chunk), as some proxies do: the answer is whole.
- ``Fault.filtered(after_tokens)``: the provider's content filter ends the reply there (``content_filter`` /
  ``refusal``), a whole response.

Tokens are whitespace-led words (``split_tokens``); usage counts them (a prompt's each message's, or half sotkit's
own estimate of its tokens where that is more: text written without spaces; ``count_prompt_tokens``). The server runs
its own event loop in a daemon thread, so it works the same under sync code, asyncio, trio and plain pytest.
"""

from ..providers.base import CallUsage  # what Reply(usage=...) takes
from ._records import Message, RecordedRequest
from ._replies import Fault, Latency, RandomFaults, Reply, count_prompt_tokens, count_tokens, split_tokens
from ._sot import sot_call, sot_responder
from .server import FakeLLMServer, Responder

__all__ = [
    "CallUsage",
    "FakeLLMServer",
    "Fault",
    "Latency",
    "Message",
    "RandomFaults",
    "RecordedRequest",
    "Reply",
    "Responder",
    "count_prompt_tokens",
    "count_tokens",
    "sot_call",
    "sot_responder",
    "split_tokens",
]
