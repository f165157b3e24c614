"""What the API providers make of bytes the fake server never sends, written by hand on a loopback socket: a stream
without its [DONE] or usage, errors and events that are not the API's, a compressed stream, a server gone quiet."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import re
from contextlib import asynccontextmanager

import anyio
import openai
import pytest

import sotkit
from sotkit import runner
from sotkit.providers import _sse, create_provider
from sotkit.providers.base import ENDED, REFUSED, STARTED, CallUsage, ChatRequest, Prompt, Thinking, cut_by
from sotkit.testing import FakeLLMServer, Fault, Latency, Reply

pytestmark = pytest.mark.anyio

EVENT_STREAM = "content-type: text/event-stream"
REQUEST = ChatRequest(Prompt("Why is the sky dark at night?", system="Be brief."), max_tokens=20)
WORDS = [{"choices": [{"delta": {"content": word}, "finish_reason": None}]} for word in ("Keep ", "it ", "dark.")]
LENGTH = {"choices": [{"delta": {}, "finish_reason": "length"}]}


def sse(*chunks, done: bool = True) -> bytes:
    """OpenAI-style ``data:`` events (UTF-8, as the API sends them), ending with ``[DONE]`` unless ``done`` is false."""
    return ("".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks).encode()
            + (b"data: [DONE]\n\n" if done else b""))


def anthropic_sse(*events: tuple[str, dict]) -> bytes:
    """Anthropic-style named events (UTF-8), after a ``message_start``."""
    start = ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 5}}})
    return "".join(f"event: {e}\ndata: {json.dumps(d, ensure_ascii=False)}\n\n"
                   for e, d in [start, *events]).encode()


END_TURN = [("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                               "usage": {"output_tokens": 3}}), ("message_stop", {"type": "message_stop"})]
BLOCK_STOP = ("content_block_stop", {"type": "content_block_stop", "index": 0})


def text_delta(text: str) -> tuple[str, dict]:
    return "content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": text}}


@asynccontextmanager
async def serving(body: bytes | list[bytes], headers: str = EVENT_STREAM, hold: bool = False):
    """A server answering every request 200 with ``headers`` and ``body`` (a list: its pieces written apart, so
    that each reaches the client in a read of its own), then closing (``hold``: waiting for the client to hang up);
    yields its base URL and the JSON bodies it was sent."""
    received = []

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length"))
        received.append(json.loads(await reader.readexactly(length)))
        writer.write(f"HTTP/1.1 200 OK\r\n{headers}\r\nconnection: close\r\n\r\n".encode())
        try:
            for piece in body if isinstance(body, list) else [body]:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.05)
        except ConnectionError:  # the client hung up before the body's end
            return
        if not body or hold:  # a server gone quiet: nothing more until the client gives up
            await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", received


async def read(model: str, url: str, received: list | None = None, **options) -> list:
    """What the provider streams after its ``STARTED``, but the prompt's counts it sends ahead (a ``partial`` usage)
    and its ``ENDED`` (the runner's concern); ``received``, where given, holds it also when the stream raises."""
    received = [] if received is None else received
    provider = create_provider(model, base_url=url, **{"api_key": "k", **options})
    try:
        chunks = provider.stream(REQUEST)
        assert await anext(chunks) is STARTED  # the 200 came: the prompt is paid for, whatever follows
        async for chunk in chunks:
            if not (isinstance(chunk, CallUsage) and chunk.partial or chunk is ENDED):
                received.append(chunk)
        return received
    finally:
        await provider.aclose()


async def test_an_openai_stream_that_ends_at_its_finish_reason_without_done_or_counts_is_whole_and_estimated():
    async with serving(sse(*WORDS, LENGTH, done=False)) as (url, _):
        *texts, usage = await read("openai:m", url)
    assert "".join(texts) == "Keep it dark."
    # no counts came: a token per four characters, of the prompt ("Be brief." + the question: 38) and the text (13)
    assert usage == CallUsage(10, 4, finish_reason="length", estimated=True)


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_events_split_across_reads_mid_line_and_mid_character_arrive_whole(model):
    words = ["Café ", "naïve ", "日本."]
    if model.startswith("openai"):
        body = sse(*[{"choices": [{"delta": {"content": w}, "finish_reason": None}]} for w in words],
                   {"choices": [{"delta": {}, "finish_reason": "stop"}]})
    else:
        body = anthropic_sse(*map(text_delta, words),
                             ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                                "usage": {"output_tokens": 3}}),
                             ("message_stop", {"type": "message_stop"}))
    # cut inside the first event's line, then inside the two bytes of "é" and the three of "本"
    cuts = [7, body.index("é".encode()) + 1, body.index("本".encode()) + 2]
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
    async with serving(pieces) as (url, _):
        *texts, usage = await read(model, url)
    assert "".join(texts) == "".join(words) and usage.finish_reason in ("stop", "end_turn")


async def test_an_openai_stream_without_finish_reason_or_done_was_cut():
    async with serving(sse(*WORDS, done=False)) as (url, _):
        with pytest.raises(sotkit.StreamError, match=r"ended without a finish_reason or \[DONE\]: it was cut"):
            await read("openai:m", url)


@pytest.mark.parametrize("chunks, message", [
    # llama-cpp-python's interrupt; some relays' every answer (probe 312: the message says so)
    ([*WORDS], r"\[DONE\] before any finish_reason: the server cut it short \(or it sends none, as some relays do"),
    ([*WORDS, {"choices": [{"delta": {}, "finish_reason": "error"}]}], "finish_reason 'error'"),
], ids=["bare DONE", "finish_reason error"])
async def test_an_openai_stream_that_says_done_without_finishing_was_cut(chunks, message):
    async with serving(sse(*chunks)) as (url, _):
        with pytest.raises(sotkit.StreamError, match=message):
            await read("openai:m", url)



async def test_an_anthropic_stream_that_says_message_stop_without_a_stop_reason_was_cut():
    # probe 311: a gateway whose upstream broke ended the stream so, mid-word, and the text passed for a whole
    # answer (truncated False, finish_reason None); the API sends its stop_reason first, in message_delta
    body = anthropic_sse(text_delta("Keep it da"), ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                         ("message_stop", {"type": "message_stop"}))
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="message_stop before any stop_reason: the server cut it short"):
            await read("anthropic:m", url)


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_stream_cut_after_an_event_of_no_apis_shape_quotes_it(model):
    # probe 311: a gateway's own error object, then the body's end, read "it was cut", the gateway's words lost
    gateway = {"message": "upstream error: model not loaded", "status": 503}
    # (before it, what is no stray: a keep-alive's {}, a chunk of counts alone; review 315)
    harmless = [{}, {"usage": {"prompt_tokens": 3, "completion_tokens": 0}}] if model.startswith("openai") else []
    body = "".join(f"data: {json.dumps(event)}\n\n" for event in [*harmless, gateway]).encode()
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="it was cut; before, it sent an event that is not the API's: "
                                                     ".*upstream error: model not loaded") as caught:
            await read(model, url)
    assert caught.value.raw == gateway


async def test_an_answer_that_came_as_reasoning_alone_says_a_reasoning_parser_may_have_taken_it():
    # probe 312: vLLM's reasoning parser, for a model that writes no <think>, put the whole answer in
    # reasoning_content: "the answer came back without text", no hint at why
    body = sse({"choices": [{"delta": {"reasoning_content": "Keep the room dark and cool."}}]},
               {"choices": [{"delta": {}, "finish_reason": "stop"}]})
    async with serving(body) as (url, _):
        async with sotkit.SoT("openai:m", base_url=url, api_key="k", mode="sequential") as sot:
            with pytest.raises(sotkit.EmptyAnswer, match=r"reasoning came \(28 characters\) and no text: the answer "
                                                         "may be in it \\(a server's reasoning parser"):
                await sot.generate("How can I sleep better?")

async def test_only_the_first_of_several_generations_is_read():
    """A server that streams several generations (n=2 set by a gateway; extra_body refuses it) interleaves their
    chunks: only index 0's are the answer."""
    other = [{"choices": [{"index": 1, "delta": {"content": word.upper()}, "finish_reason": None}]}
             for word in ("Keep ", "it ", "dark.")]
    mine = [{"choices": [{"index": 0, **chunk["choices"][0]}]} for chunk in WORDS]
    chunks = [c for pair in zip(mine, other) for c in pair] + [
        {"choices": [{"index": 1, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    async with serving(sse(*chunks)) as (url, _):
        *texts, usage = await read("openai:m", url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason == "stop"


REASONING = [{"choices": [{"delta": {"reasoning_content": "Let me think. "}, "finish_reason": None}]}] * 36
THINKING_DELTAS = [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "thinking_delta", "thinking": "Hmm. "}})] * 36
# Claude's thinking with display "omitted" (the API's default from Claude Opus 4.7 on): an empty thinking block, only
# pings while the model thinks, then its signature (probe 57: four requests, each paying its thinking, then an error)
OMITTED = [("content_block_start", {"type": "content_block_start", "index": 0,
                                    "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
           *[("ping", {"type": "ping"})] * 35,
           ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                    "delta": {"type": "signature_delta", "signature": "EuYBCkQ"}}),
           ("content_block_stop", {"type": "content_block_stop", "index": 0})]


def event_pieces(body: bytes) -> list[bytes]:
    """A body of events, one piece each (``serving`` writes them 50 ms apart)."""
    return [piece + b"\n\n" for piece in body.split(b"\n\n") if piece]


@pytest.mark.parametrize("model, thinking", [("openai:m", None), ("anthropic:m", THINKING_DELTAS),
                                             ("anthropic:m", OMITTED)])
async def test_a_model_that_reasons_for_longer_than_the_timeouts_is_alive_not_stalled(model, thinking):
    """36 reasoning events 50 ms apart, then the answer: 1.8 s without text, nearly twice the timeouts (1 s: pauses of
    a loaded machine's are no stall)."""
    if model.startswith("openai"):
        pieces = [sse(chunk, done=False) for chunk in REASONING] + [sse(*WORDS, STOPPED)]
    else:
        pieces = event_pieces(anthropic_sse(*thinking, text_delta("Keep it dark."), *END_TURN))
    async with serving(pieces) as (url, received):
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential", first_token_timeout=1.0,
                              stall_timeout=1.0, retry=1) as sot:
            result = await sot.generate("Why is the sky dark at night?")
    assert result.text == "Keep it dark." and len(received) == 1


@pytest.mark.parametrize("model", ["openai:m", "anthropic:claude-sonnet-4-6"])
@pytest.mark.parametrize("before", ["", "Keep it"])
async def test_white_space_alone_is_no_progress(model, before):
    # Claude's " " pieces pushed the first-text and stall timeouts on, forever, where OpenAI's did not: the call ran
    # until the runaway bound (minutes at the default max_tokens) and then said it had no text (probe 220)
    spaces = [" ", "\n", "  \n "] * 200  # 600 pieces 50 ms apart: 30 s of white space, 30 times the timeouts
    if model.startswith("openai"):
        pieces = [sse({"choices": [{"delta": {"content": text}, "finish_reason": None}]}, done=False)
                  for text in [before, *spaces] if text]
    else:
        pieces = event_pieces(anthropic_sse(*[text_delta(text) for text in [before, *spaces] if text]))
    async with serving(pieces, hold=True) as (url, received):
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential", first_token_timeout=1.0,
                              stall_timeout=1.0, retry=1) as sot:
            with anyio.fail_after(15), pytest.raises((sotkit.StreamStalled, sotkit.PartialResultError)) as caught:
                await sot.generate("Why is the sky dark at night?")
    stalled = caught.value if isinstance(caught.value, sotkit.StreamStalled) else caught.value.__cause__
    assert isinstance(stalled, sotkit.StreamStalled), caught.value
    if before:
        assert caught.value.partial.text.startswith("Keep it") and caught.value.partial.truncated


@pytest.mark.parametrize("model", ["openai:m", "anthropic:claude-sonnet-4-6"])
async def test_reasoning_of_white_space_alone_is_no_progress(model):
    # probe 259: a reasoning delta of " " kept the call alive as reasoning does (a server sending one every 29 s
    # would hold it for months), where white space written is no progress
    spaces = [" ", "\n", "  \n "] * 200  # 600 pieces 50 ms apart: 30 s of white space, 30 times the timeouts
    if model.startswith("openai"):
        pieces = [sse({"choices": [{"delta": {"reasoning_content": text}, "finish_reason": None}]}, done=False)
                  for text in spaces]
    else:
        pieces = event_pieces(anthropic_sse(*[("content_block_delta", {
            "type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": text}})
            for text in spaces]))
    async with serving(pieces, hold=True) as (url, _):
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential", first_token_timeout=1.0,
                              stall_timeout=1.0, retry=1) as sot:
            with anyio.fail_after(15), pytest.raises(sotkit.StreamStalled):
                await sot.generate("Why is the sky dark at night?")


async def test_a_thinking_block_with_only_pings_keeps_a_call_alive_for_a_bounded_time(monkeypatch):
    # a stuck server (or a proxy's own pings) would keep the call open forever (probe 58): signs of life without any
    # reasoning count for REASONING_CAP tokens at HIDDEN_TOKENS_PER_S (27 minutes; made 0.33 s here), then it stalls
    # (the thinking block starts 50 ms into the stream: 1 s for it, on a loaded machine too; the pings go on for 15 s,
    # past the guard of 10 s that also covers a loaded machine's first import of the anthropic SDK)
    monkeypatch.setattr(runner, "HIDDEN_TOKENS_PER_S", runner.REASONING_CAP / 0.33)
    pieces = event_pieces(anthropic_sse(OMITTED[0], *[("ping", {"type": "ping"})] * 300))
    async with serving(pieces) as (url, _):
        async with sotkit.SoT("anthropic:m", api_key="k", base_url=url, mode="sequential", max_tokens=3,
                              first_token_timeout=1.0, stall_timeout=0.3, retry=1) as sot:
            with anyio.fail_after(10), pytest.raises(sotkit.StreamStalled, match="after its reasoning"):
                await sot.generate("Why is the sky dark at night?")


async def test_reasoning_past_the_runaway_bound_ends_the_call_as_at_its_limit():
    # a server that ignores max_tokens while its model reasons streamed on until a deadline, if any (probe 58); now
    # ended as at its budget past 16 characters a token of REASONING_CAP (some servers leave reasoning out of
    # max_tokens), it goes again with more (as a reasoning model's call does), and ends so again
    endless = [sse({"choices": [{"delta": {"reasoning_content": "Let me think again. " * 5_000}}]}, done=False)] * 60
    async with serving(endless) as (url, received):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", max_tokens=10,
                              retry=1) as sot:
            with anyio.fail_after(2.5), pytest.raises(sotkit.EmptyAnswer, match="token limit"), \
                    pytest.warns(UserWarning, match="spent a call's whole budget"):
                await sot.generate("Why is the sky dark at night?")
    assert [body["max_tokens"] for body in received] == [10, 1024]


THOUGHT = " The user wants sleep advice; step 1 of my reasoning."


MISTRAL_THOUGHT = {"type": "thinking", "thinking": [{"type": "text", "text": THOUGHT}]}


@pytest.mark.parametrize("model, body, text", [
    ("openai:deepseek-reasoner", sse(*[{"choices": [{"delta": {"reasoning_content": THOUGHT}}]}] * 40, done=False), ""),
    ("anthropic:claude-sonnet-4-6", anthropic_sse(
        *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "thinking_delta", "thinking": THOUGHT}})] * 40,
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})), ""),
    ("openai:magistral", sse(*[{"choices": [{"delta": {"content": [MISTRAL_THOUGHT]}}]}] * 40, done=False), ""),
    # the reasoning, then text, all in the one read the body is: the text's read no longer hides the reasoning
    ("openai:deepseek-reasoner", sse(*[{"choices": [{"delta": {"reasoning_content": THOUGHT}}]}] * 40,
                                     {"choices": [{"delta": {"content": "Keep"}}]}, done=False), "Keep"),
], ids=["reasoning_content", "thinking_delta", "mistral", "reasoning then text"])
async def test_reasoning_that_came_before_a_call_broke_is_charged(model, body, text):
    # it was charged no output at all (probe 55): a success whose usage left out 500 tokens of paid reasoning
    def respond(request):
        broken = Fault.not_a_stream(body.decode(), "text/event-stream") if request.attempt == 1 else None
        return Reply("Keep a schedule.", fault=broken, latency=Latency(ttft_s=0.0, tokens_per_s=5000))

    with FakeLLMServer(respond) as server:
        url = server.openai_base_url if model.startswith("openai") else server.anthropic_base_url
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential", retry=2) as sot:
            result = await sot.generate("How can I sleep better?")
    broken_call = result.usage.priced_calls[0]
    assert result.text == "Keep a schedule." and result.usage.estimated
    assert broken_call[2] == math.ceil((40 * len(THOUGHT) + len(text)) / 4)


NAMES_THE_TAGS = ["DeepSeek-R1 用</think>标签结束推理。", "<think> opens the block and </think> closes it."]


@pytest.mark.parametrize("answer", NAMES_THE_TAGS, ids=["a close after a word", "an opening"])
@pytest.mark.parametrize("model", ["openai:deepseek-reasoner", "anthropic:deepseek-v3.2"])
async def test_an_answer_naming_the_think_tags_after_reasoning_that_came_apart_is_kept_whole(model, answer):
    # probe 285: the first failed as "reasoning sent as the answer's text ... start the server with a reasoning
    # parser" (the server had one), the second lost its opening up to the </think>: reasoning that came in its own
    # field or blocks leaves the text the answer's
    if model.startswith("openai"):
        body = sse({"choices": [{"delta": {"reasoning_content": THOUGHT}}]},
                   {"choices": [{"delta": {"content": answer}, "finish_reason": "stop"}]})
    else:
        body = anthropic_sse(
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "thinking", "thinking": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "thinking_delta", "thinking": THOUGHT}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("content_block_start", {"type": "content_block_start", "index": 1,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                     "delta": {"type": "text_delta", "text": answer}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 1}), *END_TURN)
    async with serving(body) as (url, _):
        received = await read(model, url)
    assert "".join(t for t in received if isinstance(t, str)) == answer
    if model.startswith("openai"):  # white space first, which is no text begun (review 289)
        spaced = sse({"choices": [{"delta": {"content": "\n\n"}}]},
                     {"choices": [{"delta": {"reasoning_content": THOUGHT}}]},
                     {"choices": [{"delta": {"content": answer}, "finish_reason": "stop"}]})
        async with serving(event_pieces(spaced)) as (url, _):
            assert "".join(t for t in await read(model, url) if isinstance(t, str)) == answer
    if model.startswith("openai"):  # the reasoning and the text in one chunk (review 286: a gateway's whole reply)
        both = sse({"choices": [{"delta": {"reasoning_content": THOUGHT, "content": answer}, "finish_reason": "stop"}]})
        async with serving(both) as (url, _):
            assert "".join(t for t in await read(model, url) if isinstance(t, str)) == answer
    async with serving(body.replace(THOUGHT.encode(), b" ")) as (url, _):  # no reasoning of its own: watched
        if answer.startswith("<think>"):
            assert "".join(t for t in await read(model, url) if isinstance(t, str)) == "closes it."
        else:
            with pytest.raises(sotkit.StreamError, match="reasoning parser"):
                await read(model, url)


@pytest.mark.parametrize("reads", ["one read", "a read an event"])
@pytest.mark.parametrize("model", ["openai:deepseek-reasoner", "anthropic:deepseek-r1"])
async def test_reasoning_that_comes_apart_after_the_text_began_leaves_the_text_watched(model, reads):
    # review 286: a stray reasoning chunk after reasoning the template opened in the text turned the watch off, and
    # the reasoning was the answer; review 287: so did one in the same network read as the text before it
    text = ["Let me think about it.\nThe user asks", " a lot.\n</think>\n\nThe answer."]
    if model.startswith("openai"):
        body = sse({"choices": [{"delta": {"content": text[0]}}]},
                   {"choices": [{"delta": {"reasoning_content": "hmm"}}]},
                   {"choices": [{"delta": {"content": text[1]}, "finish_reason": "stop"}]})
    else:
        def block(index: int, kind: str, delta: dict) -> list[tuple[str, dict]]:
            return [("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": kind, kind: ""}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
                    ("content_block_stop", {"type": "content_block_stop", "index": index})]

        body = anthropic_sse(*block(0, "text", {"type": "text_delta", "text": text[0]}),
                             *block(1, "thinking", {"type": "thinking_delta", "thinking": "hmm"}),
                             *block(2, "text", {"type": "text_delta", "text": text[1]}), *END_TURN)
    async with serving(body if reads == "one read" else event_pieces(body)) as (url, _):
        with pytest.raises(sotkit.StreamError, match="reasoning parser"):
            await read(model, url)


async def test_a_reasoning_model_that_spent_max_tokens_reasoning_says_so():
    async with serving(sse(*REASONING[:3], LENGTH)) as (url, _):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", max_tokens=3) as sot:
            with pytest.raises(sotkit.EmptyAnswer, match=r"cut off at the token limit \(max_tokens\) "
                                                           "before any text.*larger max_tokens"):
                await sot.generate("Why is the sky dark at night?")


async def test_an_answer_the_providers_filter_stopped_says_so_and_gives_no_advice_on_max_tokens():
    filtered = {"choices": [{"delta": {}, "finish_reason": "content_filter"}]}
    async with serving(sse(filtered)) as (url, _):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", retry=1) as sot:
            with pytest.raises(sotkit.EmptyAnswer, match="by the provider's filter \\('content_filter'\\)") as raised:
                await sot.generate("Why is the sky dark at night?")
    assert "max_tokens" not in str(raised.value)
    async with serving(sse(*WORDS, filtered)) as (url, _):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential") as sot:
            result = await sot.generate("Why is the sky dark at night?")
    assert result.text == "Keep it dark." and result.truncated and result.finish_reason == "content_filter"


async def test_a_content_type_in_capitals_is_still_an_event_stream():
    async with serving(sse(*WORDS, STOPPED), headers="Content-Type: Text/Event-Stream; charset=UTF-8") as (url, _):
        *texts, _ = await read("openai:m", url)
    assert "".join(texts) == "Keep it dark."


@pytest.mark.parametrize("error, message, status", [
    ({"message": "The model is overloaded.", "type": "server_error"}, "The model is overloaded.", 500),
    ({"code": 503}, "{'code': 503}", 503),
    # vLLM's: a prompt too long is a 400 that no retry mends (it was a 500, retried)
    ({"object": "error", "message": "This model's maximum context length is 2048 tokens.", "code": 400},
     "This model's maximum context length is 2048 tokens.", 400),
    ({"message": "Overloaded.", "code": "server_overloaded"}, "Overloaded.", 500),  # a code that is no status
    ({"message": "Context window exceeded.", "code": "400"}, "Context window exceeded.", 400),  # LiteLLM's: a string
    ({"message": "Too many.", "code": "429"}, "Too many.", 429),
    # OpenAI's own: a type and a code that is no status (it was a 500, retried four times)
    ({"message": "This model's maximum context length is 128000 tokens.", "type": "invalid_request_error",
      "param": "messages", "code": "context_length_exceeded"}, "This model's maximum context length is 128000 tokens.",
     400),
], ids=["message", "no message", "vllm 400", "named code", "string 400", "string 429", "openai type"])
async def test_an_openai_error_chunk_is_a_server_error_with_its_message_and_status(error, message, status):
    async with serving(sse(WORDS[0], {"error": error}, done=False)) as (url, _):
        with pytest.raises(sotkit.StreamError) as caught:
            await read("openai:m", url)
    assert str(caught.value) == message
    assert caught.value.status_code == status and caught.value.raw == {"error": error}
    assert sotkit.retry.is_retryable(caught.value) is (status != 400)


@pytest.mark.parametrize("model, path", [("openai:m", "/chat/completions"), ("anthropic:m", "/v1/messages")])
async def test_lm_studios_unexpected_endpoint_is_a_404_not_retried(model, path):
    # probe 312: its 200 for a path it does not serve (a base URL without /v1) was a 500, asked four times before the
    # same error; review 322: on Anthropic's wire, "an event that is not the API's", retried too
    said = f"Unexpected endpoint or method. (POST {path})"
    async with serving(json.dumps({"error": said}).encode(), headers="Content-Type: application/json") as (url, _):
        with pytest.raises(sotkit.StreamError) as caught:
            await read(model, url)
    assert str(caught.value) == said and caught.value.status_code == 404
    assert not sotkit.retry.is_retryable(caught.value)
    # only LM Studio's words: an upstream's error that names an endpoint is no 404 (review 322: not retried)
    other = {"error": {"message": "upstream said: unexpected endpoint; the model is overloaded, try again"}}
    async with serving(json.dumps(other).encode(), headers="Content-Type: application/json") as (url, _):
        with pytest.raises(sotkit.StreamError) as caught:
            await read(model, url)
    assert caught.value.status_code == 500


LLAMA_CPP_ERROR = b'error: {"code": 400, "message": "the request exceeds the available context size", "type": ' \
    b'"exceed_context_size_error"}\n\n'


@pytest.mark.parametrize("body", [
    sse(WORDS[0], done=False) + LLAMA_CPP_ERROR + b"data: [DONE]\n\n",  # llama.cpp's server, mid-stream
    LLAMA_CPP_ERROR + b"data: [DONE]\n\n",  # and before any text
    LLAMA_CPP_ERROR.rstrip(),  # as the body's last line
    sse(WORDS[0], {"object": "error", "message": "the request exceeds the available context size", "code": 400}),
], ids=["error line mid-stream", "error line first", "error line last", "flat error chunk"])
async def test_a_compatible_servers_own_error_shape_is_an_error_with_its_message_and_status(body):
    # llama.cpp's `error:` line (no SSE field) was dropped, and older vLLM's flat error chunk skipped: both streams
    # were "cut short" at [DONE] and retried, the server's message lost
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError) as caught:
            await read("openai:m", url)
    assert str(caught.value) == "the request exceeds the available context size"
    assert caught.value.status_code == 400 and not sotkit.retry.is_retryable(caught.value)


@pytest.mark.parametrize("body, said", [
    ({"error": "Input validation error: `inputs` must be <= 4096 tokens", "error_type": "validation"},  # TGI's
     "Input validation error: `inputs` must be <= 4096 tokens"),
    ({"detail": [{"loc": ["body", "stream_options"], "msg": "extra fields not permitted"}]}, "stream_options"),
    ("404 page not found", "404 page not found"),  # Ollama's, on a URL without /v1
])
async def test_an_error_body_the_sdk_does_not_read_is_in_the_error(body, said):
    # probe 246: the SDK reads only {"error": {"message": ...}}: "UnprocessableEntityError: Error code: 422" alone
    with FakeLLMServer(Reply("x", fault=Fault.status(422, body=body))) as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, mode="sequential",
                              retry=1) as sot:
            with pytest.raises(openai.UnprocessableEntityError) as caught:
                await sot.generate("Hi?")
    assert str(caught.value) == "Error code: 422"  # the SDK's own, as it was
    described = sotkit.errors.describe(caught.value)
    assert "(the server said: " in described and said in described


async def test_a_key_an_error_body_echoes_is_redacted_in_its_note_whatever_its_length():
    # review 247: the note went unredacted into log lines, and a key cut at 300 characters was no longer found
    key = "sk-proj-" + "S3CRET" * 8
    body = "\x1b[31mRED " + "x" * 260 + f" upstream rejected key {key}"  # (the key across the clip at 300)
    with FakeLLMServer(Reply("x", fault=Fault.status(503, body=body)), api_key=key) as server:
        async with sotkit.SoT("openai:m", api_key=key, base_url=server.openai_base_url, mode="sequential",
                              retry=1) as sot:
            with pytest.raises(openai.InternalServerError) as caught:
                await sot.generate("Hi?")
    [note] = caught.value.__notes__[-1:]
    assert note.startswith("(the server said: ") and "S3CRET" not in note and "\x1b" not in note


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("fault", ["error_event", "html_page"])
async def test_a_key_a_server_repeats_in_its_200_is_redacted_in_the_stream_error(provider, fault):
    # probe 334: str(), repr() and .raw of sotkit's own StreamError held the key (its retry log line did not)
    key = "sk-proj-" + "S3CRET" * 4
    said = f"invalid credentials: Bearer {key}"
    faults = {"error_event": Fault.error_event(0, 400, body={"error": {"type": "invalid_request_error",
                                                                        "message": said}}),
              # (across the cut at 500 characters, where a key was no longer found whole: review 335)
              "html_page": Fault.not_a_stream(f"<html>{'x' * 460} Bearer {key}</html>")}
    with FakeLLMServer(Reply("x", fault=faults[fault])) as server:
        async with sotkit.SoT(f"{provider}:m", api_key=key, base_url=getattr(server, f"{provider}_base_url"),
                              mode="sequential", retry=1) as sot:
            with pytest.raises(sotkit.StreamError) as caught:
                await sot.generate("Hi?")
    shown = [str(caught.value), repr(caught.value), repr(caught.value.raw)]
    assert all("S3CRET" not in text for text in shown) and "Bearer ***" in shown[0]


async def test_cached_tokens_counted_apart_from_the_prompt_are_in_its_input():
    # review 247: prompt_tokens 0 (Ollama's) beside cached_tokens 500 made usage.cost raise ValueError
    usage = {"prompt_tokens": 0, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 500}}
    async with serving(sse(*WORDS, {"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": usage})) as (url, _):
        *_, counted = await read("openai:m", url)
    assert (counted.input_tokens, counted.cache_read_tokens) == (500, 500)


async def test_a_prompt_counted_as_no_tokens_is_estimated_and_said_so():
    # probe 246: Ollama reports prompt_tokens 0 for a prompt its cache served; it was taken as a measured 0
    with FakeLLMServer(Reply("Rest well.", usage=CallUsage(0, 3))) as server:
        async with sotkit.SoT("openai:m", api_key="k", base_url=server.openai_base_url, mode="sequential") as sot:
            result = await sot.generate("How can I sleep better at night?")
    assert result.usage.input_tokens > 0 and result.usage.output_tokens == 3 and result.usage.estimated_calls == 1


async def test_an_error_field_that_is_null_is_no_error():
    # some gateways send "error": null on every chunk; the SDK tests the field's value, sotkit tested its presence
    chunks = [{**chunk, "error": None} for chunk in [*WORDS, STOPPED]]
    async with serving(sse(*chunks)) as (url, _):
        *texts, usage = await read("openai:m", url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason == "stop"


async def test_content_as_a_list_of_typed_parts_is_its_text_and_its_thinking():
    # Mistral's reasoning models (Magistral): it was a chunk "not the API's", retried until the call failed
    def chunk(content):
        return {"choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None}]}

    thinking = {"type": "thinking", "thinking": [{"type": "text", "text": "The user asks why."}]}
    pieces = [sse(chunk([thinking]), done=False), sse(chunk([{"type": "text", "text": "Keep "}]), done=False),
              sse(chunk([thinking, {"type": "text", "text": "it "}, {"type": "text", "text": "dark."}]), STOPPED)]
    async with serving(pieces) as (url, _):
        *chunks, usage = await read("openai:m", url)
    assert isinstance(chunks[0], Thinking) and chunks[1:] == ["Keep ", "it dark."] and usage.finish_reason == "stop"


async def test_counts_that_are_no_object_are_estimated():
    # it was a raw AttributeError from inside sotkit
    async with serving(sse(*[{**chunk, "usage": "n/a"} for chunk in WORDS], STOPPED)) as (url, _):
        *texts, usage = await read("openai:m", url)
    assert "".join(texts) == "Keep it dark." and usage.estimated


async def test_groqs_counts_under_x_groq_are_the_servers():
    last = {**STOPPED, "x_groq": {"id": "req_1", "usage": {"prompt_tokens": 11, "completion_tokens": 3}}}
    async with serving(sse(*WORDS, last)) as (url, _):
        *_, usage = await read("openai:m", url)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (11, 3, False)  # it was estimated


async def test_a_prefill_server_is_asked_to_continue_only_the_requests_that_end_with_a_prefill():
    # the advice was extra_body={"continue_final_message": True, ...}, which goes on every request: vLLM then
    # continued the user's question on requests without a prefill (sequential answers, the router)
    async with serving(sse(*WORDS, STOPPED)) as (url, received):
        provider = create_provider("openai:m", base_url=url, api_key="k", prefill=True)
        for prefill in (None, "1."):
            request = ChatRequest(Prompt("List three.", prefill=prefill), max_tokens=20)
            [chunk async for chunk in provider.stream(request)]
        await provider.aclose()
    plain, continued = received
    assert plain["messages"][-1]["role"] == "user"
    assert "continue_final_message" not in plain and "add_generation_prompt" not in plain
    assert continued["messages"][-1] == {"role": "assistant", "content": "1."}
    assert continued["continue_final_message"] is True and continued["add_generation_prompt"] is False


async def test_a_field_given_as_none_in_extra_body_is_left_out_of_the_body():
    # Mistral's API refuses stream_options (422), which sotkit sends: {"stream_options": None} sent it as null
    async with serving(sse(*WORDS, STOPPED)) as (url, received):
        await read("openai:m", url, extra_body={"stream_options": None, "top_k": 5})
    assert "stream_options" not in received[0] and received[0]["top_k"] == 5 and received[0]["max_tokens"] == 20


async def test_an_openai_compatible_error_event_is_an_error_with_its_message():
    body = sse(WORDS[0], done=False) + b'event: error\ndata: {"message": "Upstream timed out.", "code": 504}\n\n'
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="^Upstream timed out.$") as caught:
            await read("openai:m", url)
    assert caught.value.status_code == 504


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_an_event_stream_with_no_events_but_text_is_an_error_showing_the_text(model):
    # a gateway's error sent with the event stream's content type: it was "ended without ...: it was cut"
    body = b"upstream connect error or disconnect/reset before headers"
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="a body that holds no events, only: ") as caught:
            await read(model, url)
    assert caught.value.raw == body.decode()


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
@pytest.mark.parametrize("body", [[b""], b"\r\n"])
async def test_an_empty_200_says_so_and_what_sends_one(model, body):
    # llama-cpp-python's server answers a streamed prompt longer than its n_ctx so (its log alone says why): it was
    # "ended without a finish_reason or [DONE]: it was cut" (probe 51)
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="200 with an empty body, no event: .* n_ctx"):
            await read(model, url)


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
@pytest.mark.parametrize("headers", [EVENT_STREAM, "x-no-content-type: 1"])
async def test_a_json_error_under_any_label_is_an_error_with_its_message(model, headers):
    body = b'{"error": {"message": "The model gpt-5 does not exist"}}'
    async with serving(body, headers=headers) as (url, _):
        with pytest.raises(sotkit.StreamError, match="^The model gpt-5 does not exist$"):
            await read(model, url)


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_byte_order_mark_before_the_first_event_hides_nothing(model):
    body = b"\xef\xbb\xbf" + (sse(*WORDS, STOPPED) if model.startswith("openai") else
                              anthropic_sse(*map(text_delta, ["Keep ", "it ", "dark."]), *END_TURN))
    async with serving(body) as (url, _):
        *texts, _ = await read(model, url)
    assert "".join(texts) == "Keep it dark."  # the first event's text was dropped: "it dark."


@pytest.mark.parametrize("error, status", [({"type": "overloaded_error", "message": "Overloaded."}, 529),
                                           ({"type": "a_new_error", "message": "Something new."}, 500),
                                           ({"type": "api_error"}, 500),
                                           ({"type": "overloaded_error", "message": None}, 529),  # (review 252)
                                           ({"type": "overloaded_error", "message": " "}, 529)],  # (review 254)
                         ids=["known type", "unknown type", "no message", "null message", "blank message"])
async def test_an_anthropic_error_event_is_a_server_error_with_its_message(error, status):
    data = {"type": "error", "error": error}
    async with serving(anthropic_sse(("error", data)), headers=f"{EVENT_STREAM}\r\nrequest-id: req_011CX") as (url, _):
        with pytest.raises(sotkit.StreamError) as caught:
            await read("anthropic:m", url)
    # an unknown type is still a server error (500: retried), and an error without a message shows the whole event;
    # its type and the response's request id are said too (probe 251: "Overloaded." alone)
    assert str(caught.value) == f"{(error.get('message') or '').strip() or str(data)} ({error['type']})"
    assert caught.value.status_code == status and caught.value.raw == data
    assert caught.value.__notes__ == ["(request_id: req_011CX)"]


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_text_that_came_in_one_read_with_a_bad_event_is_given_before_the_error(model):
    """A provider passes on a network read's text as one piece: text ahead of a bad event in that read is kept."""
    if model.startswith("openai"):
        body = sse(*WORDS[:2], {"error": {"message": "overloaded"}}, done=False)
    else:
        overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}}
        body = anthropic_sse(text_delta("Keep "), text_delta("it "), ("error", overloaded))
    texts: list = []
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="overloaded"):
            await read(model, url, texts)
    assert [t for t in texts if isinstance(t, str)] == ["Keep it "]  # (Anthropic's counts of the prompt, then)


@pytest.mark.parametrize("data, raw", [([1, 2], [1, 2]), ("<html>" + "x" * 600, ("<html>" + "x" * 600)[:500])],
                         ids=["json", "long text"])
@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_an_event_that_is_not_the_apis_is_shown_and_kept(model, data, raw):
    async with serving(f"data: {json.dumps(data) if isinstance(data, list) else data}\n\n".encode()) as (url, _):
        with pytest.raises(sotkit.StreamError, match="the server sent an event that is not the API's: ") as caught:
            await read(model, url)
    assert caught.value.raw == raw and str(raw)[:20] in str(caught.value)


async def test_an_anthropic_text_that_is_not_a_string_is_not_the_apis():
    body = (b'event: message_start\ndata: {"type": "message_start", "message": {"usage": {"input_tokens": 3}}}\n\n'
            b'event: content_block_delta\ndata: {"type": "content_block_delta", '
            b'"delta": {"type": "text_delta", "text": 5}}\n\n')
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="not the API's") as caught:
            await read("anthropic:m", url)
    assert str(caught.value.__cause__) == "text is a int"  # shown under the error's traceback


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_finish_reason_that_is_no_string_is_not_the_apis(model):
    # probe 164: finish_reason 7 was taken, the answer truncated with finish_reason an int
    if model.startswith("openai"):
        body = sse(*WORDS, {"choices": [{"delta": {}, "finish_reason": 7}]})
    else:
        body = anthropic_sse(text_delta("Keep it dark."), ("message_delta", {"type": "message_delta",
                                                                            "delta": {"stop_reason": 5}}))
    async with serving(body) as (url, _):
        with pytest.raises(sotkit.StreamError, match="not the API's") as caught:
            await read(model, url)
    assert str(caught.value.__cause__) in ("finish_reason is a int", "stop_reason is a int")


@pytest.mark.parametrize("output_tokens", [None, "7", -1], ids=["null", "string", "negative"])
async def test_anthropic_counts_that_are_no_numbers_are_estimated_not_added(output_tokens):
    end = [("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                              "usage": {"output_tokens": output_tokens}}), ("message_stop", {"type": "message_stop"})]
    async with serving(anthropic_sse(text_delta("Keep it dark."), *end)) as (url, _):
        *texts, usage = await read("anthropic:m", url)
    assert "".join(texts) == "Keep it dark."
    assert usage.estimated and usage.output_tokens == 4 and usage.finish_reason == "end_turn"  # 13 characters


async def test_anthropic_prompt_counts_are_kept_where_the_output_has_none():
    # probe 251: the counted prompt (3,000 of it cache reads) was replaced by an estimate of its characters
    start = ("message_start", {"type": "message_start", "message": {"usage": {
        "input_tokens": 25, "cache_read_input_tokens": 3000, "output_tokens": 1}}})
    end = ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}})  # no output count
    body = "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in [start, text_delta("Keep it dark."), end])
    async with serving(body.encode()) as (url, _):
        *_, usage = await read("anthropic:m", url)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens, usage.estimated) == (3025, 3000, 4, True)


async def test_anthropic_is_sent_no_stop_sequence_of_white_space_alone_and_the_text_ends_at_it_here():
    # probe 251: the API refuses one ("stop_sequences: each stop sequence must contain non-whitespace"), so
    # every call of a template whose stop block held "\n\n" failed with a 400
    from sotkit.testing import FakeLLMServer

    templates = {"sequential": "{% block user %}{{ question }}{% endblock %}{% block stop %}\\n\\n\nEND\n"
                               "{% endblock %}"}
    with FakeLLMServer(lambda request: "Keep it dark.\n\nKeep it cool.") as server:
        async with sotkit.SoT("anthropic:claude-sonnet-4-6", base_url=server.anthropic_base_url, api_key="k",
                              templates=templates, mode="sequential") as sot:
            result = await sot.generate("How can I sleep better?")
    assert [r.stop for r in server.requests] == [("END",)]
    assert result.text == "Keep it dark." and not result.truncated
    assert result.usage.calls == 1


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
@pytest.mark.parametrize("piece, stop, refused, text", [
    # review 254: a <think> tag's possible start ("<|ret"), held back in the piece that held the stop, came after it
    ("Keep it dark.\n\nMore<|ret", "\n\n", True, "Keep it dark."),
    # probe 312: a compatible server that ignored the template's stop sequence had the text after it returned whole
    ("Keep it dark. STOPHERE and more the template never asked for", "STOPHERE", False, "Keep it dark. "),
], ids=["stops refused", "stops ignored"])
async def test_a_text_ended_at_a_stop_sequence_here_ends_there_with_what_was_held_back(model, piece, stop, refused,
                                                                                      text):
    body = sse({"choices": [{"delta": {"content": piece}}]}, STOPPED) if model.startswith("openai") else \
        anthropic_sse(text_delta(piece), *END_TURN)
    async with serving(body) as (url, requests):
        provider = create_provider(model, base_url=url, api_key="k")
        provider.takes_stop = not refused  # (an OpenAI model that refused stops; Anthropic is sent no "\n\n")
        try:
            chunks = [c async for c in provider.stream(ChatRequest(Prompt("Why?", stop=(stop,))))]
        finally:
            await provider.aclose()
    if not refused:  # it was sent them, and went on
        assert requests[0].get("stop", requests[0].get("stop_sequences")) == [stop]
    assert "".join(c for c in chunks if isinstance(c, str)) == text
    assert chunks[-1].finish_reason in ("stop", "stop_sequence")


@pytest.mark.parametrize("extra_body, stop, chunks, text, reason", [
    # review 315: the "\n\n" sotkit puts before a refusal ended the text there, the refusal lost, reason "stop"
    (None, "\n\n", ["Sure.", {"refusal": "I can't help with that."}], "Sure.\n\nI can't help with that.", "refusal"),
    (None, "\n", [{"refusal": "I'm sorry.\nI can't help with that."}], "I'm sorry.\nI can't help with that.",
     "refusal"),
    # review 317: a refusal while a <think> block was open was taken for reasoning (an EmptyAnswer, no refusal)
    (None, "\n\n", ["<think>Hmm", {"refusal": "I can't help with that."}], "I can't help with that.", "refusal"),
    # review 318: after a closed one, the blank lines sotkit puts before a refusal opened the answer
    (None, "\n\n", ["<think>Hmm</think>", {"refusal": "I can't help with that."}], "I can't help with that.",
     "refusal"),
    # vLLM's include_stop_str_in_output: the server ends the text at the stop and leaves it in, as asked
    ({"include_stop_str_in_output": True}, "END", ["The answer is 4.", " END"], "The answer is 4. END", "stop"),
    ({"include_stop_str_in_output": 1}, "END", ["The answer is 4.", " END"], "The answer is 4. END", "stop"),
], ids=["refusal after text", "refusal alone", "refusal in a think block", "refusal after a think block",
        "stop left in", "stop left in, as 1"])
async def test_what_is_no_text_past_a_stop_sequence_is_not_ended_at_one(extra_body, stop, chunks, text, reason):
    deltas = [{"choices": [{"delta": c if isinstance(c, dict) else {"content": c}}]} for c in chunks]
    async with serving(sse(*deltas, STOPPED)) as (url, _):
        provider = create_provider("openai:m", base_url=url, api_key="k", **({"extra_body": extra_body}
                                                                            if extra_body else {}))
        try:
            got = [c async for c in provider.stream(ChatRequest(Prompt("Why?", stop=(stop,))))]
        finally:
            await provider.aclose()
    assert "".join(c for c in got if isinstance(c, str)) == text and got[-1].finish_reason == reason

def test_text_held_back_elsewhere_is_no_part_of_a_text_ended_at_its_stop_sequence():
    # review 252: a <think> tag's possible start held back by ThinkTags ("<|ret") came after the stop sequence
    from sotkit.providers.base import StopAt

    stopping = StopAt(["\n\n"])
    assert stopping.feed("Keep it dark.\n\nMore") == "Keep it dark." and stopping.finish("<|ret") == ""
    going = StopAt(["\n\n"])
    assert going.feed("Keep it dark.\n") == "Keep it dark." and going.finish("<|ret") == "\n<|ret"
    assert StopAt(["\n\n"]).finish("a\n\nb") == "a"


async def test_an_anthropic_stream_without_message_start_has_estimated_counts():
    events = [text_delta("Keep it dark."), ("message_delta", {"type": "message_delta", "delta": {"stop_reason":
              "end_turn"}, "usage": {"output_tokens": 3}}), ("message_stop", {"type": "message_stop"})]
    body = "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode()
    async with serving(body) as (url, _):
        *_, usage = await read("anthropic:m", url)
    assert usage.estimated and usage.input_tokens > 0  # not 0 reported as counted


async def test_anthropic_input_counts_sent_in_message_delta_are_taken():
    # compatible servers (and the API's cumulative counts) may give them only there, after a 0 in message_start;
    # the SDK takes them: sotkit counted 0 input tokens
    start = ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 0, "output_tokens": 0}}})
    end = ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {
        "input_tokens": 1250, "cache_read_input_tokens": 100, "output_tokens": 4}})
    body = "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n"
                   for e, d in [start, text_delta("Keep it dark."), end, END_TURN[1]]).encode()
    async with serving(body) as (url, _):
        *_, usage = await read("anthropic:m", url)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (1350, 4, False)


async def test_anthropic_text_in_a_content_block_start_is_kept():
    # some compatible servers open the text block with its first piece; the SDK keeps it, sotkit dropped it
    start = ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": "Keep "}})
    async with serving(anthropic_sse(start, text_delta("it dark."), *END_TURN)) as (url, _):
        *texts, _ = await read("anthropic:m", url)
    assert "".join(texts) == "Keep it dark."


@pytest.mark.parametrize("prefill, pieces, text", [
    ("Second paragraph, ", [" more words."], "more words."),
    ("It ends here.\n\n", ["\n", "\n", "Next one."], "Next one."),  # across reads
    ("A list:\n", ["\n\n- one"], "\n- one"),  # only as much as was trimmed goes
])
async def test_anthropic_drops_the_space_it_writes_again_after_a_prefill_trimmed_of_it(prefill, pieces, text):
    """The API refuses a prefill that ends in white space, so it is sent trimmed and the model writes the space
    again: the caller, who has the whole prefill, must not get it twice ("paragraph,  more")."""
    body = anthropic_sse(*map(text_delta, pieces), *END_TURN)
    async with serving(body) as (url, received):
        provider = create_provider("anthropic:m", base_url=url, api_key="k")
        request = ChatRequest(Prompt("Go on.", prefill=prefill), max_tokens=20)
        texts = [chunk async for chunk in provider.stream(request) if isinstance(chunk, str)]
        await provider.aclose()
    assert received[0]["messages"][-1] == {"role": "assistant", "content": prefill.rstrip()}
    assert "".join(texts) == text


FILTERED = {"choices": [{"delta": {}, "finish_reason": "content_filter"}]}
STOPPED = {"choices": [{"delta": {}, "finish_reason": "stop"}]}  # and no counts, as llama.cpp's servers send


@pytest.mark.parametrize("model, body, cut", [
    ("openai:m", sse(*WORDS, FILTERED), True),
    ("anthropic:m", anthropic_sse(text_delta("Keep it"), ("message_delta", {
        "type": "message_delta", "delta": {"stop_reason": "refusal"}, "usage": {"output_tokens": 2}}),
        ("message_stop", {"type": "message_stop"})), True),
    ("openai:m", sse(*WORDS, STOPPED), False),  # estimated counts over max_tokens=2 are no cut: it said "stop"
    ("anthropic:m", anthropic_sse(text_delta("Keep it"), ("message_delta", {
        "type": "message_delta", "delta": {"stop_reason": "model_context_window_exceeded"},
        "usage": {"output_tokens": 2}}), ("message_stop", {"type": "message_stop"})), True),
    *[("openai:m", sse(*WORDS, {"choices": [{"delta": {}, "finish_reason": reason}]}), True)
      for reason in ("abort", "repetition", "model_length", "insufficient_system_resource")],  # vLLM, Mistral, ...
    ("openai:m", sse(*WORDS, {"choices": [{"delta": {}, "finish_reason": "eos_token"}]}), False),  # TGI's stop
    # a turn that stops to call a tool has not answered (a gateway's automatic tools; sotkit sends none)
    ("openai:m", sse(*WORDS, {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}), True),
    ("anthropic:m", anthropic_sse(text_delta("Keep it"), ("message_delta", {
        "type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 2}}),
        ("message_stop", {"type": "message_stop"})), True),
], ids=["content filter", "refusal", "stop, no counts", "context window", "abort", "repetition", "model length",
        "no resources", "eos token", "tool calls", "tool use"])
async def test_an_answer_cut_off_by_the_providers_filter_is_truncated_and_one_that_stopped_is_not(model, body, cut):
    async with serving(body) as (url, _):
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential", max_tokens=2) as sot:
            result = await sot.generate("Why is the sky dark at night?")
    assert result.text.startswith("Keep it") and result.truncated is cut


def refusal(text: str) -> dict:
    return {"choices": [{"delta": {"refusal": text}, "finish_reason": None}]}


@pytest.mark.parametrize("chunks, end, text, reason", [
    ([refusal("I'm sorry, "), refusal("I can't help with that.")], STOPPED, "I'm sorry, I can't help with that.",
     "refusal"),
    # some text, then a refusal: a paragraph of its own, not run into the text's sentence
    ([WORDS[0], refusal("I can't "), refusal("go on.")], STOPPED, "Keep \n\nI can't go on.", "refusal"),
    ([{"choices": [{"delta": {"content": None, "refusal": "No."}, "finish_reason": None}]}], STOPPED, "No.", "refusal"),
    ([refusal("No.")], FILTERED, "No.", "content_filter"),  # a reason of its own is the provider's word
    ([{"choices": [{"delta": {"content": "Keep ", "refusal": "No."}, "finish_reason": None}]}], STOPPED,
     "Keep \n\nNo.", "refusal"),
], ids=["refusal only", "text then refusal", "null content", "filtered", "text and refusal in one delta"])
async def test_an_openai_refusal_is_the_answers_text_and_cuts_it_off(chunks, end, text, reason):
    """OpenAI sends a refusal in its own delta field and ends with finish_reason "stop": the refusal was dropped, so
    a refused answer came back whole (its text before the refusal), or as an empty answer that did not say why."""
    async with serving(sse(*chunks, end)) as (url, _):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential") as sot:
            result = await sot.generate("Why is the sky dark at night?")
    assert result.text == text and result.truncated and result.finish_reason == reason


SKELETON_CUT = "1. Sleep schedule\n2. Exercise daily\n3. Limi"


@pytest.mark.parametrize("chunks", [
    [{"choices": [{"delta": {"content": SKELETON_CUT}}]}, refusal("I can't continue.")],
    [{"choices": [{"delta": {"content": SKELETON_CUT, "refusal": "I can't continue."}}]}],  # one delta (review 143)
], ids=["deltas apart", "one delta"])
async def test_a_refusal_after_a_skeleton_line_cut_mid_word_makes_no_point_of_that_line(chunks):
    # probe 142: the refusal's paragraph break ended the line "3. Limi", which became a point with a title cut
    # mid-word (a filter's own finish_reason left it out, as a line the stream broke off in)
    async with serving(sse(*chunks, STOPPED)) as (url, _):
        # (every call gets the same reply here: the points' texts are no answer, and are skipped)
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sot", on_point_error="skip") as sot:
            result = await sot.generate("What are the best ways to deal with stress?")
    assert result.skeleton == ["Sleep schedule", "Exercise daily"] and result.skeleton_truncated
    assert "cut off by the provider's filter ('refusal') after 2 point(s)" in result.route_reason


async def test_openai_itself_is_asked_for_max_completion_tokens_and_a_compatible_server_for_max_tokens():
    import openai

    from sotkit.providers.openai import _max_tokens_field

    async with serving(sse(*WORDS, LENGTH)) as (url, received):
        await read("openai:m", url)  # base_url: a compatible server
        # a client of one's own for a compatible server (it was asked for max_completion_tokens)
        await read("openai:m", None, api_key=None, client=openai.AsyncOpenAI(api_key="k", base_url=url))
    assert [("max_tokens" in body, body.get("max_completion_tokens")) for body in received] == [(True, None)] * 2
    for openai_itself in (None, "https://api.openai.com/v1", "https://eu.api.openai.com/v1",
                          "https://mine.openai.azure.com/openai", "https://mine.cognitiveservices.azure.com"):
        assert _max_tokens_field(openai_itself) == "max_completion_tokens"  # its reasoning models refuse max_tokens
    assert _max_tokens_field(url) == _max_tokens_field("http://vllm:8000/v1") == "max_tokens"


async def test_a_compatible_server_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with serving(sse(*WORDS, LENGTH)) as (url, _):
        *texts, _ = await read("openai:m", url, api_key=None)
    assert "".join(texts) == "Keep it dark."


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_read_that_never_comes_ends_at_the_first_text_timeout(model):
    # sotkit's SDK clients read without a timeout (probe 246): the wait for text is the watchdog's, timeout= by default
    async with serving(b"") as (url, _):
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential", timeout=0.3, retry=1) as sot:
            with anyio.fail_after(20), pytest.raises(sotkit.StreamStalled, match="no text in 0.3 s for the first text"):
                await sot.generate("Hi?")


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_server_that_never_answers_is_told_from_a_model_slow_to_write(model):
    # probe 260: a server that took the connection and sent nothing, not even a status line (a hung server, https://
    # aimed at a plain one), was blamed on a reasoning model's thinking, with advice to wait longer
    async def silent(reader, writer):
        await reader.read()  # the request, and nothing back, until the client hangs up
        writer.close()
    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}" + ("/v1" if model.startswith("openai") else "")
    try:
        async with sotkit.SoT(model, api_key="k", base_url=url, mode="sequential", timeout=0.3, retry=1) as sot:
            with anyio.fail_after(20), pytest.raises(sotkit.StreamStalled) as stalled:
                await sot.generate("Hi?")
    finally:
        server.close()
    assert "no text in 0.3 s for the first text; no response came, not even its status line: check that a server " \
           "answers at its base URL" in str(stalled.value) and "reasoning" not in str(stalled.value)
    # ... and that one answering only once it starts needs a longer wait (review 264: a queue's late headers)
    assert "one that answers only once it starts (a queue, a model loading) needs a longer first_token_timeout=" in \
        str(stalled.value)


@pytest.mark.parametrize("http", ["httpx", "aiohttp"])
async def test_a_compressed_event_stream_is_decoded_before_it_is_parsed(http):
    """Events are read off the raw bytes where the body has no content encoding; a proxy that gzips the stream
    must still be read through the decoder, not parsed as binary."""
    usage = {"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
    async with serving(gzip.compress(sse(*WORDS, usage)), f"{EVENT_STREAM}\r\ncontent-encoding: gzip") as (url, _):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", http=http) as sot:
            result = await sot.generate("Hi?")
    assert result.text == "Keep it dark."
    assert (result.usage.input_tokens, result.usage.output_tokens) == (5, 3)


@pytest.mark.parametrize("http", ["httpx", "aiohttp"])
@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_body_its_content_encoding_does_not_decode_is_a_stream_error_that_says_so_and_retried(model, http):
    """A proxy that labels a plain body gzip (probe 164: httpx2's own DecodingError came through, unretried; probe
    340: then it read as a connection that broke off)."""
    event = sse(WORDS[0], done=False) if model.startswith("openai") else anthropic_sse(text_delta("Keep "))
    async with serving(event, f"{EVENT_STREAM}\r\ncontent-encoding: gzip") as (url, _):
        with pytest.raises(sotkit.StreamError, match=r"^the body from .* does not decode as its content-encoding "
                                                     r"'gzip' says \(.*\): the server, or a proxy between") as caught:
            await read(model, url, http=http)
    assert sotkit.retry.is_retryable(caught.value)


def escaped_events(model: str, *texts: str) -> bytes:
    """Events of ``texts`` as JSON with ASCII escapes (a character past U+FFFF as its two UTF-16 halves), each text
    in an event of its own, then the model's end."""
    if model.startswith("openai"):
        return b"".join(f'data: {{"choices": [{{"delta": {{"content": {t}}}, "finish_reason": null}}]}}\n\n'.encode()
                        for t in map(json.dumps, texts)) + sse({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    return anthropic_sse() + b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode()
                                      for e, d in [*map(text_delta, texts), *END_TURN])


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
@pytest.mark.parametrize("texts, text", [
    # a relay that slices text by UTF-16 units splits a character past U+FFFF (probe 164: the two halves were the
    # answer's, a text no encoder takes, returned as a success)
    (["Party \ud83c", "\udf89 time."], "Party \U0001f389 time."),
    (["Party \ud83c", "", "\udf89"], "Party \U0001f389"),
    # a half without its partner is U+FFFD, as a broken byte is
    (["Party \ud83c", " time."], "Party \ufffd time."),
    (["Party \udf89 time."], "Party \ufffd time."),
    (["Party \ud83c"], "Party \ufffd"),
])
async def test_a_characters_utf16_halves_sent_apart_are_one_character(model, texts, text):
    async with serving(escaped_events(model, *texts)) as (url, _):
        *pieces, _ = await read(model, url)
    assert "".join(pieces) == text
    "".join(pieces).encode()  # every piece is text that encodes


async def test_a_half_character_before_a_refusal_is_the_models_text_not_the_refusals():
    # review 168: its U+FFFD opened the refusal's text
    body = escaped_events("openai:m", "Party \ud83c")[:-len(sse({"choices": [{"delta": {}, "finish_reason": "stop"}]}))]
    async with serving(body + sse(refusal("No."), STOPPED)) as (url, _):
        pieces = await read("openai:m", url)
    at = pieces.index(REFUSED)
    assert "".join(pieces[:at]) == "Party \ufffd" and "".join(pieces[at + 1:-1]) == "\n\nNo."


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_broken_chunked_encoding_on_aiohttp_is_the_sdks_connection_error_and_retried(model):
    pytest.importorskip("aiohttp")
    import anthropic
    import openai

    event = sse(WORDS[0], done=False) if model.startswith("openai") else anthropic_sse(text_delta("Keep "))
    # a proxy's hiccup: a chunk size that is no number; the SDKs' aiohttp transport let aiohttp's own
    # ClientResponseError through, which no retry policy knows
    body = f"{len(event):x}\r\n".encode() + event + b"\r\nzz\r\nKeep\r\n0\r\n\r\n"
    sdk = openai if model.startswith("openai") else anthropic
    sdk_client = sdk.AsyncOpenAI if sdk is openai else sdk.AsyncAnthropic
    async with serving(body, f"{EVENT_STREAM}\r\ntransfer-encoding: chunked") as (url, _):
        with pytest.raises(sdk.APIConnectionError) as caught:
            await read(model, url, http="aiohttp")
        mine = type("Mine", (sdk_client,), {})(api_key="k", base_url=url, http_client=sdk.DefaultAioHttpClient())
        with pytest.raises(sdk.APIConnectionError):  # one's own subclass of the SDK's client, on aiohttp
            await read(model, None, api_key=None, client=mine)
        await mine.close()  # the user's client is the user's to close
    assert sotkit.retry.is_retryable(caught.value, create_provider(model, api_key="k").transient_errors)


def up_to_the_models_end(model: str) -> bytes:
    """"Keep it dark." up to its finish_reason (stop_reason), without [DONE] (message_stop)."""
    if model.startswith("openai"):
        return sse(*WORDS, STOPPED, done=False)
    return anthropic_sse(*map(text_delta, ["Keep ", "it ", "dark."]), BLOCK_STOP, END_TURN[0])  # (no message_stop)


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_connection_that_breaks_after_the_models_end_loses_nothing(model):
    # the finish_reason (message_stop) came, then the connection broke before [DONE] (the body's end): the answer was
    # lost and retried
    events = up_to_the_models_end(model)
    if model.startswith("anthropic"):  # (its sure end is message_stop: a stop_reason alone may be a relay's mark)
        events += b'event: message_stop\ndata: {"type": "message_stop"}\n\n'
    broken = f"{len(events):x}\r\n".encode() + events + b"\r\n"  # and no last chunk: the body never ends
    async with serving(broken, f"{EVENT_STREAM}\r\ntransfer-encoding: chunked") as (url, _):
        *texts, usage = await read(model, url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason in ("stop", "end_turn")


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_a_server_that_goes_quiet_after_the_models_end_holds_nothing_up(model):
    # no [DONE] / message_stop and no end of the body after the finish_reason (stop_reason): the call waited for them
    # until the watchdog took it for stalled, and the retry was withdrawn-and-rewritten (OpenAI) or, continuing the
    # whole answer as its prefill, spliced on (Anthropic)
    events = up_to_the_models_end(model)
    async with serving(events, hold=True) as (url, _):
        with anyio.fail_after(20):  # a hang guard: the rest is waited for a second at most (ten on Anthropic's
            *texts, usage = await read(model, url)  # wire, where only message_stop makes the end sure)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason in ("stop", "end_turn")


async def test_the_wait_after_an_unsure_end_is_no_stall(monkeypatch):
    # probe 142: "stop" on the chunk of text (an end that may be a relay's mark), then an open connection: what
    # follows is read for UNSURE_TAIL_S, and a stall_timeout shorter than that failed the whole answer as stalled
    monkeypatch.setattr(_sse, "UNSURE_TAIL_S", 2.0)
    last = {"choices": [{"delta": {"content": "dark."}, "finish_reason": "stop"}]}
    async with serving(sse(*WORDS[:2], last, done=False), hold=True) as (url, _):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", stall_timeout=0.5,
                              retry=sotkit.RetryPolicy(attempts=1)) as sot:
            result = await sot.generate("How do I sleep well?")
        provider = create_provider("openai:m", base_url=url, api_key="k")
        streamed = [chunk async for chunk in provider.stream(REQUEST)]  # the end is told, then the wait
        await provider.aclose()
    assert (result.text, result.truncated, result.usage.calls) == ("Keep it dark.", False, 1)
    assert "".join(c for c in streamed if isinstance(c, str)) == "Keep it dark." and streamed[-2] is ENDED


async def test_an_end_that_was_none_leaves_the_stream_watched(monkeypatch):
    # review 143: the watchdog rested at a relay's first "stop" (a role chunk) for good; the text after it (white
    # space, held back) never reached it, and keep-alives then held the call open for ever
    monkeypatch.setattr(runner, "AFTER_END_S", 1.0)
    first = {"choices": [{"delta": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]}
    blank = {"choices": [{"delta": {"content": "\n"}, "finish_reason": "stop"}]}
    async with serving([sse(first, done=False), sse(blank, done=False), *[b": keep-alive\n\n"] * 400],
                       hold=True) as (url, _):
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", first_token_timeout=2,
                              stall_timeout=1, retry=sotkit.RetryPolicy(attempts=1)) as sot:
            with anyio.fail_after(15), pytest.raises(sotkit.StreamStalled):  # (the keep-alives go on for 20 s)
                await sot.generate("How do I sleep well?")


async def test_a_broken_call_is_charged_what_its_stream_told_of_its_price():
    # probe 144: a stream that broke was charged an estimate from characters alone, though it had sent its prompt's
    # counts ahead (vLLM's running totals: 12,001 tokens, 10,000 of them cached, became 107) and its service tier
    # (a priority call's break priced at standard rates)
    counts = {"prompt_tokens": 12001, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 10000}}
    told = [{"choices": [{"delta": {"content": word}}], "usage": counts, "service_tier": "priority"}
            for word in ("Keep ", "it ")]
    async with serving(sse(*told, done=False)) as (url, _):  # no finish_reason: cut
        async with sotkit.SoT("openai:gpt-5", api_key="k", base_url=url, mode="sequential",
                              retry=sotkit.RetryPolicy(attempts=1)) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How do I sleep well?")
    [(model, input_tokens, output_tokens, cache_read, _, tier, *_)] = caught.value.partial.usage.priced_calls
    assert (input_tokens, cache_read, tier) == (12001, 10000, "priority") and output_tokens == 2  # "Keep it "
    assert caught.value.partial.usage.estimated_calls == 1


async def test_an_empty_finish_reason_on_every_chunk_is_no_end():
    # SGLang's, Ollama's and KoboldCpp's habit: "" until the last chunk; a break mid-stream was a whole answer
    chunks = [{"choices": [{"delta": {"content": word}, "finish_reason": ""}]} for word in ("Keep ", "it ")]
    async with serving(sse(*chunks, done=False)) as (url, _):
        with pytest.raises(sotkit.StreamError, match="it was cut"):
            await read("openai:m", url)


def every_chunk_stopped(*deltas: dict) -> list[dict]:
    return [{"choices": [{"delta": delta, "finish_reason": "stop"}]} for delta in deltas]


def apart(*chunks: dict) -> list[bytes]:
    """The chunks 0.45 s apart (pieces are written 50 ms apart), then [DONE]: longer in all than the second a
    stream's end is read on for (``_sse.TAIL_S``), each gap shorter."""
    *first, last = [sse(chunk, done=False) for chunk in chunks]
    return [piece for chunk in first for piece in (chunk, *[b""] * 8)] + [last + sse()]


@pytest.mark.parametrize("http", ["httpx", "aiohttp"])
async def test_a_finish_reason_on_every_chunk_is_no_end_while_text_follows(http):
    # relays that send "stop" with every chunk (new-api's and older LiteLLM's Gemini channels): the first was taken
    # for the end, and what came more than a second later was left out of an answer reported whole
    words = ("Keep ", "it ", "dark ", "and ", "cool.")
    async with serving(apart(*every_chunk_stopped(*({"content": word} for word in words)))) as (url, _):
        *texts, usage = await read("openai:m", url, http=http)
        async with sotkit.SoT("openai:m", api_key="k", base_url=url, mode="sequential", http=http) as sot:
            result = await sot.generate("How do I sleep well?")
    assert "".join(texts) == "Keep it dark and cool." and usage.finish_reason == "stop"
    assert (result.text, result.truncated) == ("Keep it dark and cool.", False)


async def test_reasoning_on_chunks_that_each_say_stop_is_no_end_of_the_answer():
    # Open WebUI's shape: reasoning chunks with finish_reason "stop", the answer after them; it was all lost, and the
    # call failed as an empty answer
    chunks = every_chunk_stopped(*[{"reasoning_content": "Darkness helps. "}] * 3, {"content": "Keep it dark."})
    async with serving(apart(*chunks)) as (url, _):
        received = await read("openai:m", url)
    assert "".join(t for t in received if isinstance(t, str)) == "Keep it dark."


@pytest.mark.parametrize("opening", [
    {"content": "Keep "},  # a relay's first chunk of text, marked "stop"
    {"role": "assistant", "content": ""},  # its role chunk, marked "stop" before any text
])
async def test_an_unsure_end_waits_longer_for_text_than_a_firm_one(opening):
    # a finish_reason on a chunk of text, or before any text, may be a relay's mark on every chunk: a model that
    # then took 1.5 s for its next text lost it (the answer cut to "Keep ", or no text at all: EmptyPoint), as what
    # follows an end was read for a second (review 130)
    first, *rest = every_chunk_stopped(opening, *({"content": word} for word in ("it ", "dark.")))
    if "role" in opening:
        rest = every_chunk_stopped({"content": "Keep "}) + rest
    async with serving([sse(first, done=False), *[b""] * 30, sse(*rest)]) as (url, _):
        *texts, usage = await read("openai:m", url)
    assert "".join(t for t in texts if isinstance(t, str)) == "Keep it dark." and usage.finish_reason == "stop"


async def test_a_break_after_an_unsure_end_fails_the_call():
    # a relay that marks every chunk "stop", cut after its first: the break was taken as after the answer's end, and
    # "Keep " returned whole, unretried (review 130); after a firm end (an empty chunk after the text) a break loses
    # nothing (test_a_connection_that_breaks_after_the_models_end_loses_nothing)
    import openai

    events = sse(*every_chunk_stopped({"content": "Keep "}), done=False)
    broken = f"{len(events):x}\r\n".encode() + events + b"\r\n"  # and no last chunk: the body never ends
    async with serving(broken, f"{EVENT_STREAM}\r\ntransfer-encoding: chunked") as (url, _):
        with pytest.raises(openai.APIConnectionError):
            await read("openai:m", url)


STOP_MARK = ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                               "usage": {"output_tokens": 1}})


async def test_anthropic_text_after_a_stop_reason_is_read_to_message_stop(monkeypatch):
    # probe 321: a relay that sends a message_delta with a stop_reason after every chunk (from an upstream whose
    # chunks each say finish_reason "stop"): what came more than a second after the first was left out of an answer
    # reported whole. (The wait after an unsure end, shortened, no longer covers the whole stream: probe 323's mutant
    # that read no text after a stop_reason as going on passed in ten seconds' wait.)
    monkeypatch.setattr(sotkit.providers._sse, "UNSURE_TAIL_S", 1.0)  # (each gap 0.45 s, the stream 2.25 s)
    words = ("Keep ", "it ", "dark ", "and ", "cool.")
    pieces = event_pieces(anthropic_sse(*[e for word in words for e in (text_delta(word), STOP_MARK)], BLOCK_STOP,
                                        END_TURN[1]))
    pieces = [piece for event in pieces for piece in (event, *([b""] * 8 if b"message_delta" in event else []))]
    async with serving(pieces) as (url, _):
        *texts, usage = await read("anthropic:m", url)
        async with sotkit.SoT("anthropic:m", api_key="k", base_url=url, mode="sequential") as sot:
            result = await sot.generate("How do I sleep well?")
    assert "".join(texts) == "Keep it dark and cool." and usage.finish_reason == "end_turn"
    assert (result.text, result.truncated) == ("Keep it dark and cool.", False)


@pytest.mark.parametrize("marked", ["in an open block", "after a closed block", "before any content"])
async def test_anthropic_stop_reason_without_message_stop_waits_longer_and_a_break_after_it_fails(marked):
    # only message_stop makes Anthropic's end sure: a stop_reason alone may be a relay's mark, whatever the blocks
    # around it, and the next content 1.5 s later was lost (a second is read after a sure end; review 322)
    opening = {"in an open block": [text_delta("Keep ")], "after a closed block": [text_delta("Keep "), BLOCK_STOP],
               "before any content": []}[marked]
    first = event_pieces(anthropic_sse(*opening, STOP_MARK))
    rest = event_pieces(anthropic_sse(text_delta("" if opening else "Keep "), text_delta("it dark."), BLOCK_STOP,
                                      *END_TURN))[1:]  # (its message_start)
    async with serving([*first, *[b""] * 30, *rest]) as (url, _):
        *texts, usage = await read("anthropic:m", url)
    assert "".join(t for t in texts if isinstance(t, str)) == "Keep it dark." and usage.finish_reason == "end_turn"
    import anthropic

    events = b"".join(first)
    broken = f"{len(events):x}\r\n".encode() + events + b"\r\n"  # and no last chunk: the body never ends
    async with serving(broken, f"{EVENT_STREAM}\r\ntransfer-encoding: chunked") as (url, _):
        with pytest.raises(anthropic.APIConnectionError):
            await read("anthropic:m", url)


async def test_anthropic_relay_that_sends_no_message_stop_ends_at_the_body_end_after_a_stop_reason():
    # review 322: a relay marking every chunk, whose body ends after its last stop_reason without message_stop,
    # failed every call as "ended without its stop_reason"; one cut after text fails, saying what was missing
    words = [e for word in ("Keep ", "it ", "dark.") for e in (text_delta(word), STOP_MARK)]
    async with serving(anthropic_sse(*words, BLOCK_STOP, END_TURN[0])) as (url, _):
        *texts, usage = await read("anthropic:m", url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason == "end_turn"
    async with serving(anthropic_sse(*words[:-1])) as (url, _):
        with pytest.raises(sotkit.StreamError, match=r"without message_stop \(it sent a stop_reason before content"):
            await read("anthropic:m", url)


async def test_anthropic_output_count_is_kept_through_a_later_message_delta_without_usage():
    # probe 321: a gateway's second message_delta (a container's, no usage) made the 200 counted tokens unknown
    later = ("message_delta", {"type": "message_delta", "delta": {"container": {"id": "c1"}}})
    async with serving(anthropic_sse(text_delta("Keep it dark."), BLOCK_STOP, END_TURN[0], later,
                                     END_TURN[1])) as (url, _):
        *texts, usage = await read("anthropic:m", url)
    assert (usage.output_tokens, usage.estimated) == (3, False)


async def test_anthropic_web_searches_are_priced():
    # probe 321: a gateway's web search tool's 3 searches ($10 a thousand) were left out of a cost reported exact
    start = ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 1000}}})
    end = ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                             "usage": {"output_tokens": 200, "server_tool_use": {"web_search_requests": 3}}})
    body = anthropic_sse(start, text_delta("From the web."), BLOCK_STOP, end, END_TURN[1])
    async with serving(body) as (url, _):
        async with sotkit.SoT("anthropic:claude-sonnet-4-6", api_key="k", base_url=url, mode="sequential") as sot:
            result = await sot.generate("What is new?")
    assert result.text == "From the web." and not result.usage.estimated
    assert result.usage.cost == pytest.approx((1000 * 3 + 200 * 15) / 1e6 + 3 * 0.01)


async def test_anthropic_counts_that_are_no_numbers_are_no_counts():
    # probe 323: an output count or a search count of the wrong type was never tried (a mutant crashed the call on a
    # string, took 2.5 for exact): neither is a count, the output is estimated and no search is priced
    end = ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                             "usage": {"output_tokens": "200", "server_tool_use": {"web_search_requests": 2.5}}})
    async with serving(anthropic_sse(text_delta("From the web."), BLOCK_STOP, end, END_TURN[1])) as (url, _):
        *texts, usage = await read("anthropic:m", url)
    assert "".join(texts) == "From the web." and usage.estimated and usage.web_searches == 0


async def test_anthropic_second_message_start_after_text_is_a_cut_stream():
    # probe 321: a gateway that began its upstream's message again in the same body had both texts spliced, whole
    again = ("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 5}}})
    async with serving(anthropic_sse(text_delta("First attempt "), again, text_delta("Second."), BLOCK_STOP,
                                     *END_TURN)) as (url, _):
        with pytest.raises(sotkit.StreamError, match="began a second message"):
            await read("anthropic:m", url)


async def test_anthropic_events_without_their_event_lines_are_read_by_their_type():
    # probe 340: a gateway that writes data: lines alone; every call failed, four times, as "it was cut; before, it
    # sent an event that is not the API's" (the official SDK fails on such a stream too)
    body = anthropic_sse(text_delta("Keep it dark."), BLOCK_STOP, *END_TURN)
    bare = b"\n".join(line for line in body.split(b"\n") if not line.startswith(b"event: "))
    for named in (bare, re.sub(rb"event: \w+", b"event: message", body), re.sub(rb"event: \w+", b"event:", body)):
        async with serving(named) as (url, _):  # (review 344: SSE's default name, or an empty one)
            *texts, usage = await read("anthropic:m", url)
        assert "".join(texts) == "Keep it dark." and (usage.finish_reason, usage.output_tokens) == ("end_turn", 3)


async def test_a_finish_reason_written_in_camel_case_ends_the_answer():
    # Gemini's OpenAI-compatible beta: "finish_reason": null on every chunk, "finishReason" on the last; every call
    # failed as "the stream ended with [DONE] before any finish_reason: the server cut it short"
    last = {"choices": [{"delta": {}, "finish_reason": None, "finishReason": "stop"}]}
    async with serving(sse(*WORDS, last)) as (url, _):
        *texts, usage = await read("openai:m", url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason == "stop"


@pytest.mark.parametrize(("said", "read_as"), [("STOP", "stop"), ("end", "end"), ("END_TURN", "end_turn")])
@pytest.mark.parametrize("wire", ["openai", "anthropic"])
async def test_a_gateways_own_words_for_the_models_end_are_a_whole_answer(wire, said, read_as):
    # probe 340: gateways in front of Gemini pass on its "STOP", others say "end": every answer was marked cut off,
    # and a skeleton ending without a line break (as models end it) lost its last point
    body = sse(*WORDS, {"choices": [{"delta": {}, "finish_reason": said}]}) if wire == "openai" else anthropic_sse(
        text_delta("Keep it dark."), BLOCK_STOP, ("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": said}, "usage": {"output_tokens": 3}}), END_TURN[1])
    async with serving(body) as (url, _):
        result = await sotkit.generate("q", model=f"{wire}:m", base_url=url, api_key="k", mode="sequential")
    assert (result.text, result.finish_reason, result.truncated) == ("Keep it dark.", read_as, False)


async def test_geminis_own_words_for_a_cut_through_a_gateway_are_the_token_limit_and_the_filter():
    # probe 340: an empty answer cut at "MAX_TOKENS" was not asked again with room to answer, as one at "length" is
    async with serving(sse({"choices": [{"delta": {}, "finish_reason": "MAX_TOKENS"}]})) as (url, received):
        with pytest.raises(sotkit.EmptyAnswer, match="token limit"), pytest.warns(UserWarning, match="whole budget"):
            await sotkit.generate("q", model="openai:m", base_url=url, api_key="k", mode="sequential", max_tokens=100)
    assert len(received) == 2 and received[0]["max_tokens"] == 100 < received[1]["max_tokens"]
    async with serving(sse(*WORDS, {"choices": [{"delta": {}, "finish_reason": "SAFETY"}]})) as (url, _):
        result = await sotkit.generate("q", model="openai:m", base_url=url, api_key="k", mode="sequential")
    assert result.truncated and cut_by(result.finish_reason, "max_tokens") == "by the provider's filter ('safety')"
    assert cut_by("guardrail_intervened", "max_tokens").startswith("by the provider's filter")  # (Bedrock's, probe 342)


async def test_a_stream_with_a_finish_reason_on_every_chunk_ends_at_done_or_the_end_of_a_last_finished_chunk():
    # its finish_reasons say nothing mid-stream: a body that ends after a chunk of text without one was cut (as any
    # stream so ended), one that ends after a last chunk with one is whole (review 125: it was refused, after retries)
    chunks = every_chunk_stopped(*({"content": word} for word in ("Keep ", "it ", "dark.")))
    async with serving(apart(*chunks)[:-1] + [sse(chunks[-1], done=False)]) as (url, _):
        *texts, usage = await read("openai:m", url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason == "stop"
    cut = {"choices": [{"delta": {"content": "and"}, "finish_reason": None}]}
    async with serving(apart(*chunks)[:-1] + [sse(chunks[-1], cut, done=False)]) as (url, _):
        with pytest.raises(sotkit.StreamError, match=r"without \[DONE\] \(it sent a finish_reason before its last"):
            await read("openai:m", url)


async def test_a_client_whose_transport_gives_the_body_whole_is_read():
    # respx-style tests answer with a body already read: reading it raw was httpx2.StreamConsumed
    import httpx2
    import openai

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*WORDS, STOPPED))

    mine = openai.AsyncOpenAI(api_key="k", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer)))
    *texts, usage = await read("openai:m", None, api_key=None, client=mine)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason == "stop"


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
async def test_an_error_event_after_the_models_end_fails_nothing_in_any_read(model):
    # in the same read as the end it failed the whole answer (Anthropic's retry then continued it as its prefill: two
    # answers in one), while in a read of its own it was ignored: TCP's split decided
    error = b'data: {"error": {"message": "usage accounting failed"}}\n\n' if model.startswith("openai") else \
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    async with serving(up_to_the_models_end(model) + error) as (url, _):
        *texts, usage = await read(model, url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason in ("stop", "end_turn")


async def test_counts_that_come_a_little_after_the_end_are_the_servers():
    counts = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}
    pause = [b""] * 5  # each piece is written 50 ms after the one before: the counts come 0.3 s after the end
    async with serving([sse(*WORDS, STOPPED, done=False), *pause, sse(counts)]) as (url, _):
        *_, usage = await read("openai:m", url)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (7, 3, False)


#: an expand template with five stop sequences (the fifth is the one each reply below reaches)
FIVE_STOPS = {"expand": "{% block user %}Expand '{{ point.title }}' for: {{ question }}{% endblock %}"
                        "{% block stop %}\n###\nNote:\n---\nIn summary\nNext point:\n{% endblock %}"}


def five_stops_responder(request) -> str:
    if "organizer" in request.user:
        return "1. Keep a schedule\n2. Dim the lights\n"[len(request.prefill or ""):]
    return "Go to bed at the same hour every night. Next point: Dim the lights, an hour before bed."


@pytest.mark.parametrize("model", ["openai:gpt-4o-mini", "anthropic:claude-sonnet-4-6"])
async def test_a_compatible_server_is_sent_every_stop_sequence_and_the_point_ends_at_the_fifth(model):
    from sotkit.testing import FakeLLMServer

    with FakeLLMServer(five_stops_responder) as server:
        url = server.openai_base_url if model.startswith("openai") else server.anthropic_base_url
        async with sotkit.SoT(model, base_url=url, api_key="k", templates=FIVE_STOPS) as sot:
            result = await sot.generate("How can I sleep better?")
        points = [r for r in server.requests if "organizer" not in r.user]
    # the fifth was left out on OpenAI's wire format, and each point ran on into the next
    assert [r.stop for r in points] == [("###", "Note:", "---", "In summary", "Next point:")] * 2
    assert [p.text for p in result.points] == ["Go to bed at the same hour every night."] * 2


async def test_more_stop_sequences_than_openais_api_takes_fail_when_the_client_is_built(monkeypatch):
    import openai

    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    openai_itself = [{}, {"base_url": "https://api.openai.com/v1"},
                     {"client": openai.AsyncOpenAI(api_key="k", base_url="https://api.openai.com/v1")},
                     {"client": openai.AsyncAzureOpenAI(api_key="k", azure_endpoint="https://mine.openai.azure.com",
                                                        api_version="2024-10-21")},
                     {"base_url": "http://vllm:8000/v1", "fallback": "openai:gpt-4o-mini"}]
    for options in openai_itself:  # OpenAI refuses each such call (400): found before any is sent
        with pytest.raises(sotkit.ConfigError) as caught:
            sotkit.SoT("openai:gpt-4o-mini", templates=FIVE_STOPS, **options)
        assert str(caught.value) == ("template '<string expand>' has 5 stop sequences, but openai:gpt-4o-mini takes "
                                     "at most 4; keep at most 4 lines in its {% block stop %}")
    four = {"expand": FIVE_STOPS["expand"].replace("Next point:\n", "")}
    async with sotkit.SoT("openai:gpt-4o-mini", templates=four):
        pass
    for compatible in [{"base_url": "http://vllm:8000/v1"},  # vLLM, llama.cpp, ... take more; they are sent all
                       {"client": openai.AsyncOpenAI(api_key="k", base_url="http://localhost:11434/v1")}]:
        async with sotkit.SoT("openai:gpt-4o-mini", templates=FIVE_STOPS, **compatible):
            pass
    # probe 250: stops written only where a request has a context were counted without one, and built
    with_context = {"sequential": "{% block user %}{{ context }} {{ question }}{% endblock %}{% block stop %}"
                                  "\nEND{% if context %}\nA\nB\nC\nD{% endif %}\n{% endblock %}"}
    with pytest.raises(sotkit.ConfigError, match="'<string sequential>' has 5 stop sequences, but"):
        sotkit.SoT("openai:gpt-4o-mini", templates=with_context)


@pytest.mark.parametrize("model", ["openai:m", "anthropic:m"])
@pytest.mark.parametrize("headers", ["x-no-content-type: 1", "content-type: application/octet-stream",
                                     "content-type: text/plain; charset=utf-8", "content-type: application/json"])
async def test_events_under_another_content_type_are_read_as_the_sdks_read_them(model, headers):
    """Some proxies label a stream wrongly or not at all; its events are what counts."""
    body = sse(*WORDS, STOPPED) if model.startswith("openai") else anthropic_sse(text_delta("Keep it dark."), *END_TURN)
    async with serving(body, headers=headers) as (url, _):
        *texts, usage = await read(model, url)
    assert "".join(texts) == "Keep it dark." and usage.finish_reason in ("stop", "end_turn")


OPENAI_REPLY = {"id": "c", "object": "chat.completion", "model": "m",
                "choices": [{"index": 0, "finish_reason": "length",
                             "message": {"role": "assistant", "content": "<think>Hmm.</think>\n\nKeep it dark."}}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}}
ANTHROPIC_REPLY = {"type": "message", "role": "assistant", "stop_reason": "end_turn",
                   "content": [{"type": "thinking", "thinking": "Hmm."}, {"type": "text", "text": "Keep it dark."}],
                   "usage": {"input_tokens": 12, "output_tokens": 9}}


@pytest.mark.parametrize("headers", ["content-type: application/json", "x-no-content-type: 1", EVENT_STREAM])
@pytest.mark.parametrize("model, reply, reason", [("openai:m", OPENAI_REPLY, "length"),
                                                  ("anthropic:m", ANTHROPIC_REPLY, "end_turn")])
async def test_a_server_that_ignores_stream_and_sends_the_whole_reply_as_json_is_read_whole(model, reply, reason,
                                                                                            headers):
    """Read by what the body holds, whatever its label (a proxy may send none, or a wrong one)."""
    async with serving(b"\n " + json.dumps(reply).encode(), headers=headers) as (url, _):
        *texts, usage = await read(model, url)
    assert "".join(t for t in texts if isinstance(t, str)) == "Keep it dark."
    assert usage == CallUsage(12, 9, finish_reason=reason)


@pytest.mark.parametrize("model, reply, error", [
    ("openai:m", {"error": {"message": "model not loaded", "code": 400}}, "model not loaded"),
    # (quoted: it was "ended with [DONE] before any finish_reason: the server cut it short", of a [DONE] never sent)
    ("openai:m", {"id": "c", "choices": [{"index": 0, "message": {"content": "Keep"}}]},
     r'as JSON, but without a finish_reason or \[DONE\]: .\{"id": "c", "choices"'),
    ("openai:m", {"detail": "Model is loading, retry in 20 s"}, "without a finish_reason .*Model is loading"),
    ("anthropic:m", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "Overloaded"),
    ("anthropic:m", {"type": "message", "content": [{"type": "text", "text": "Keep"}]}, "without its stop_reason"),
])
async def test_a_json_reply_that_is_an_error_or_has_no_end_is_no_answer(model, reply, error):
    received = []
    async with serving(json.dumps(reply).encode(), headers="content-type: application/json") as (url, _):
        with pytest.raises(sotkit.StreamError, match=error):
            await read(model, url, received)
    assert received in ([], ["Keep"])  # what came is given first, and is no whole answer


async def test_an_anthropic_stream_broken_after_message_start_is_charged_the_counted_input():
    """message_start counts the prompt: a stream that breaks after it was charged an estimate of about four
    characters a token instead (a quarter of the count for a Chinese context). Its output stays an estimate."""
    overloaded = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    async with serving(anthropic_sse(text_delta("Keep it dark."), overloaded)) as (url, _):
        async with sotkit.SoT("anthropic:m", api_key="k", base_url=url, mode="sequential",
                              retry=sotkit.RetryPolicy(attempts=1)) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("为什么夜晚的天空是黑的？" * 50)
    usage = caught.value.partial.usage
    assert usage.input_tokens == 5 and usage.output_tokens == 4 and usage.estimated_calls == 1
