"""FakeLLMServer, driven by the official openai and anthropic SDKs over real loopback sockets."""

from __future__ import annotations

import anthropic
import openai
import pytest

from sotkit.providers.base import CallUsage
from sotkit.testing import FakeLLMServer, Latency, Message, Reply, count_tokens, split_tokens

pytestmark = pytest.mark.anyio

TEXT = "Paris is the capital of France. It sits on the Seine."


def openai_client(server: FakeLLMServer, **options) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="test-key", base_url=server.openai_base_url, max_retries=0, **options)


def anthropic_client(server: FakeLLMServer, **options) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="test-key", base_url=server.anthropic_base_url, max_retries=0, **options)


async def openai_stream(client: openai.AsyncOpenAI, **kwargs) -> tuple[list[str], list]:
    kwargs.setdefault("model", "gpt-fake")
    kwargs.setdefault("messages", [{"role": "user", "content": "What is the capital of France?"}])
    chunks = [c async for c in await client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **kwargs)]
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    return deltas, chunks


@pytest.mark.parametrize("text", ["", "one", "  lead and trail  ", "a\n\nb\tc ", "   "])
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(split_tokens(text)) == text
    assert count_tokens(text) == len(split_tokens(text))


def test_tokens_are_whitespace_led_words() -> None:
    assert split_tokens("Hello there,  world.\n") == ["Hello", " there,", "  world.\n"]


async def test_openai_stream_delivers_every_token_with_usage_and_a_full_record() -> None:
    with FakeLLMServer(TEXT, latency=Latency(ttft_s=0.01, tokens_per_s=500)) as server:
        async with openai_client(server) as client:
            deltas, chunks = await openai_stream(
                client, messages=[{"role": "system", "content": "Be brief."},
                                  {"role": "user", "content": "What is the capital of France?"}])
        [request] = server.requests

    assert deltas == split_tokens(TEXT) and "".join(deltas) == TEXT
    assert chunks[0].choices[0].delta.role == "assistant"
    finishing = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishing == ["stop"]
    # include_usage: usage arrives alone on the last chunk, after the finish_reason
    assert chunks[-1].choices == [] and all(c.usage is None for c in chunks[:-1])
    input_tokens = count_tokens("Be brief.") + count_tokens("What is the capital of France?")
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (input_tokens, len(deltas))
    assert chunks[-1].usage.total_tokens == input_tokens + len(deltas)

    assert (request.api, request.method, request.path) == ("openai", "POST", "/v1/chat/completions")
    assert request.api_key == "test-key" and request.headers["authorization"] == "Bearer test-key"
    assert request.model == "gpt-fake" and request.stream and request.status == 200
    assert request.system == "Be brief."
    assert request.messages == [Message("user", "What is the capital of France?")]
    assert request.user == "What is the capital of France?" and request.prefill is None
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.text == request.reply == TEXT and request.finish_reason == "stop"
    assert request.usage == CallUsage(input_tokens, len(deltas))
    assert [piece for _, piece in request.pieces] == deltas
    times = [t for t, _ in request.pieces]
    assert request.received_at < request.first_byte_at <= times[0]
    assert times == sorted(times) and times[-1] <= request.finished_at
    # paced by the latency model: never earlier than scheduled (no upper bound: the machine may be busy)
    assert times[0] - request.received_at >= 0.01
    assert times[-1] - request.received_at >= 0.01 + (len(deltas) - 1) / 500
    assert not request.client_closed and request.closed_at is None


async def test_openai_non_streaming_body_and_usage() -> None:
    with FakeLLMServer(TEXT) as server:
        async with openai_client(server) as client:
            completion = await client.chat.completions.create(
                model="gpt-fake", messages=[{"role": "user", "content": [{"type": "text", "text": "Capital?"}]}])
        [request] = server.requests
    choice = completion.choices[0]
    assert (choice.message.content, choice.message.role, choice.finish_reason) == (TEXT, "assistant", "stop")
    assert completion.usage.prompt_tokens == 1 and completion.usage.completion_tokens == count_tokens(TEXT)
    assert completion.model == "gpt-fake" and completion.id == request.headers.get("x-request-id", completion.id)
    assert not request.stream and request.pieces == [] and request.messages == [Message("user", "Capital?")]


async def test_openai_stop_sequences_and_max_tokens_cut_like_a_real_server() -> None:
    with FakeLLMServer(TEXT) as server:
        async with openai_client(server) as client:
            stopped, _ = await openai_stream(client, stop=["France", "Seine"])
            limited = await client.chat.completions.create(
                model="gpt-fake", messages=[{"role": "user", "content": "q"}], max_tokens=3)
            stop_first = await client.chat.completions.create(
                model="gpt-fake", messages=[{"role": "user", "content": "q"}], max_completion_tokens=3, stop=" is")
        first, second, third = server.requests

    assert "".join(stopped) == "Paris is the capital of " and first.stop == ("France", "Seine")
    assert first.finish_reason == "stop" and first.usage.output_tokens == len(stopped)
    assert limited.choices[0].message.content == "Paris is the"
    assert limited.choices[0].finish_reason == "length" and limited.usage.completion_tokens == 3
    assert second.max_tokens == 3
    assert stop_first.choices[0].message.content == "Paris" and stop_first.choices[0].finish_reason == "stop"
    assert third.max_tokens == 3 and third.stop == (" is",)


async def test_reply_usage_overrides_the_counts() -> None:
    with FakeLLMServer(Reply("short", usage=CallUsage(input_tokens=1000, output_tokens=77))) as server:
        async with openai_client(server) as client:
            _, chunks = await openai_stream(client)
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (1000, 77)


async def test_list_responder_is_consumed_in_order_and_a_callable_sees_the_request() -> None:
    with FakeLLMServer(["first", Reply("second")]) as server:
        async with openai_client(server) as client:
            assert "".join((await openai_stream(client))[0]) == "first"
            assert "".join((await openai_stream(client))[0]) == "second"
            with pytest.raises(openai.InternalServerError, match="responder list has 2 replies"):
                await openai_stream(client)
        assert len(server.errors) == 1

    seen = []

    async def responder(request):
        seen.append((request.api, request.model, request.user))
        return f"echo: {request.user}"

    with FakeLLMServer(responder) as server:
        async with openai_client(server) as client:
            assert "".join((await openai_stream(client, model="m2"))[0]) == "echo: What is the capital of France?"
    assert seen == [("openai", "m2", "What is the capital of France?")]
