"""Faults driven through the loopback server and the real SDKs; each test counts the requests it caused."""

from __future__ import annotations

import asyncio
import time
import warnings

import anthropic
import anyio
import openai
import pytest

import sotkit
from sotkit.providers import create_provider
from sotkit.providers.base import CallUsage
from sotkit.testing import FakeLLMServer, Fault, Latency, RecordedRequest, Reply
from tests.conftest import is_skeleton, joined, point_of, sot_responder

pytestmark = pytest.mark.anyio

SKELETON = "1. Sleep well\n2. Eat less sugar\n3. Move daily"
TEXTS = {1: "Aim for eight hours every night.", 2: "Swap soda for water at meals.", 3: "Walk for thirty minutes."}
FAST = Latency(ttft_s=0.0, tokens_per_s=2000)
QUICK_RETRY = sotkit.RetryPolicy(attempts=4, initial_wait_s=0.01)
SDK = {"openai": openai, "anthropic": anthropic}


def faulty(faults: dict[int | str, list[Fault]], **kwargs):
    """The scripted SoT model, with the given faults on the first attempts of a point (or "skeleton")."""
    base = sot_responder(SKELETON, TEXTS, **kwargs)
    remaining = {key: list(value) for key, value in faults.items()}

    def respond(request):
        key = "skeleton" if is_skeleton(request) else point_of(request)
        reply = base(request)
        if remaining.get(key):
            return Reply(reply.text, latency=reply.latency, fault=remaining[key].pop(0))
        return reply

    return respond


def client(server: FakeLLMServer, provider: str, model: str = "test-model", **options) -> sotkit.SoT:
    base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    options.setdefault("retry", QUICK_RETRY)
    return sotkit.SoT(f"{provider}:{model}", base_url=base_url, api_key="test-key", mode="sot", **options)


def for_point(server: FakeLLMServer, index: int | str):
    return [r for r in server.requests if (("skeleton" if is_skeleton(r) else point_of(r)) == index)]


def expected_text() -> str:
    return "\n".join(f"{i}. {t}: {TEXTS[i]}" for i, t in enumerate(["Sleep well", "Eat less sugar", "Move daily"], 1))


async def test_429_waits_as_long_as_retry_after_says(provider):
    with FakeLLMServer(faulty({"skeleton": [Fault.status(429, {"retry-after": "1"})]}), latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I be healthier?") as events:
            seen = [event async for event in events]
    first, second = for_point(server, "skeleton")
    assert second.received_at - first.finished_at >= 1.0  # measured on the server's clock
    assert len(server.requests) == 2 + 3
    [retry] = [e for e in seen if e.type == "retry"]
    assert (retry.index, retry.attempt, retry.status) == (None, 1, 429) and retry.wait_s >= 1.0
    assert seen[-1].result.text == expected_text()


#: a 429 that says the money ran out, as each API words it (its message, as the SDK reads it, and its code)
QUOTA_SPENT = {
    "openai": {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                         "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}},
    "anthropic": {"type": "error", "error": {"type": "rate_limit_error",
                                             "message": "You have reached your monthly spend limit.",
                                             "details": {"error_code": "enforced_spend_limit_reached"}}},
}


async def test_a_429_that_says_the_quota_ran_out_is_not_retried_and_the_fallback_answers_at_once(provider):
    # no wait ends it: every call waited out its retries (0.5 + 1 + 2 s by default), and the fallback after them
    spent = Reply("x", fault=Fault.status(429, body=QUOTA_SPENT[provider]))
    error = SDK[provider].RateLimitError
    with FakeLLMServer(spent, latency=FAST) as server, FakeLLMServer(sot_responder(SKELETON, TEXTS),
                                                                      latency=FAST) as backup:
        async with client(server, provider) as sot:
            with pytest.raises(error, match="quota|spend limit"):
                await sot.generate("How can I be healthier?")
        assert len(server.requests) == 1
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, provider, fallback=fallback) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.text == expected_text() and result.written_by == "openai:backup"
    # each call (skeleton, 3 points) tried once on the main model, not retried there (4 attempts each)
    assert len(server.requests) == 1 + 4


async def test_a_quota_error_sent_inside_a_200_stream_is_not_retried_either(provider):
    # review 210: an error event carries the code in its body only, and was retried as a rate limit; the text the
    # stream gave before it stays a partial answer (review's gateway: the quota ran out mid-answer)
    spent = Reply("Sleep well and often.",
                  fault=Fault.error_event(after_tokens=2, code=429, body=QUOTA_SPENT[provider]))
    with FakeLLMServer(spent, latency=FAST) as server:
        async with client(server, provider) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I be healthier?", mode="sequential")
    assert len(server.requests) == 1
    assert isinstance(caught.value.__cause__, sotkit.StreamError)
    error = QUOTA_SPENT[provider]["error"]
    assert caught.value.__cause__.code == error.get("code", error.get("details", {}).get("error_code"))
    assert caught.value.__cause__.status_code == 429
    assert caught.value.partial.text == "Sleep well" and caught.value.partial.truncated


@pytest.mark.parametrize("in_stream, code", [(False, None), (True, None), (False, "429"), (True, "")])
async def test_a_quota_error_named_by_its_type_alone_is_not_retried(in_stream, code):
    # a server that sends OpenAI's body without its "code" (the type says the same), or with its status or nothing
    # there, had every call wait out its retries, a spent quota taken for a rate limit
    body = {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota", "code": code}}
    fault = Fault.error_event(after_tokens=2, code=429, body=body) if in_stream else Fault.status(429, body=body)
    with FakeLLMServer(Reply("Sleep well and often.", fault=fault), latency=FAST) as server:
        async with client(server, "openai") as sot:
            with pytest.raises(sotkit.PartialResultError if in_stream else openai.RateLimitError):
                await sot.generate("How can I be healthier?", mode="sequential")
    assert len(server.requests) == 1


@pytest.mark.parametrize("skeleton, whole_points", [("1. Alpha\n2. Beta", 1), ("1. Alpha\n2. Beta\n3. Gamma", 2)])
async def test_a_skeleton_that_breaks_off_after_one_point_says_it_was_the_skeleton(provider, skeleton, whole_points):
    # a bare "sent no text in 2 s for more text": nothing said which call, nor why one whole point made no answer
    # (probe 220); two whole points make an answer (skeleton_truncated), where points may be left out (probe 340:
    # it was a success with on_point_error='raise' too, the points after them missing)
    broken = Reply(skeleton, fault=Fault.stall(after_tokens=2 * whole_points + 1, seconds=30))
    with FakeLLMServer(lambda r: broken if is_skeleton(r) else Reply("More."), latency=FAST) as server:
        async with client(server, provider, stall_timeout=1.0, retry=1) as sot:
            if whole_points == 2:
                with pytest.raises(sotkit.PartialResultError, match=r"^the skeleton call failed after 2 point\(s\) "
                                   r"\(StreamStalled: .*\): any points after them are missing") as caught:
                    await sot.generate("How can I be healthier?", mode="sot")
                result = await sot.generate("How can I be healthier?", mode="sot", on_point_error="skip")
                for answer in (caught.value.partial, result):
                    assert [p.text for p in answer.points] == ["More."] * 2 and answer.skeleton_truncated
                assert isinstance(caught.value.__cause__, sotkit.StreamStalled)
                return
            with pytest.raises(sotkit.StreamStalled) as caught:
                await sot.generate("How can I be healthier?", mode="sot")
    assert caught.value.__notes__[-1] == "(the skeleton's call, after its first point: an answer needs two)"


async def test_a_server_that_reads_a_fraction_of_a_long_prompt_is_warned_of_once(provider):
    # probe 211: a server that cuts a prompt to its context size (Ollama's num_ctx) answered a 1 MB question as a
    # success, nothing saying it had read 1,000 tokens of it
    document = "Summarize this report: " + "The quarterly revenue grew in every region. " * 1000  # ~11K tokens
    cut = CallUsage(input_tokens=1000, output_tokens=5)
    with FakeLLMServer(Reply("A summary.", usage=cut), latency=FAST) as server:
        async with client(server, provider) as sot:
            with pytest.warns(sotkit.PromptCutWarning, match=r"reported reading 1,000 input tokens of a prompt of "
                                                             r"about 11,\d{3}: it may cut prompts"):
                result = await sot.generate(document, mode="sequential")
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                await sot.generate(document, mode="sequential")  # once per client and model
        async with client(server, provider) as sot:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                await sot.generate("Why is the sky blue?", mode="sequential")  # short: under 2,000 tokens, not judged
    assert result.text == "A summary."
    # a tokenizer that packs more into a token; a server that gives no count (0, review 214): no warning
    for usage in (CallUsage(input_tokens=3000, output_tokens=5), CallUsage(input_tokens=0, output_tokens=5)):
        with FakeLLMServer(Reply("A summary.", usage=usage), latency=FAST) as server:
            async with client(server, provider) as sot:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    await sot.generate(document, mode="sequential")


@pytest.mark.parametrize("status", [503, 529, 500, 408])
async def test_overloaded_and_server_errors_are_retried(provider, status):
    faults = {2: [Fault.status(status)], 3: [Fault.status(status), Fault.status(status)]}
    with FakeLLMServer(faulty(faults), latency=FAST) as server:
        async with client(server, provider) as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.text == expected_text()
    assert [p.attempts for p in result.points] == [1, 2, 3]
    assert len(server.requests) == 1 + 1 + 2 + 3 == result.usage.calls


@pytest.mark.parametrize("status, error", [(400, "BadRequestError"), (401, "AuthenticationError")])
async def test_client_errors_are_not_retried(provider, status, error):
    with FakeLLMServer(faulty({2: [Fault.status(status)]}), latency=FAST) as server:
        async with client(server, provider) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I be healthier?")
    assert len(for_point(server, 2)) == 1 and len(server.requests) == 4
    assert isinstance(caught.value.__cause__, getattr(SDK[provider], error))
    partial = caught.value.partial
    assert [p.text for p in partial.points if p.done] == [TEXTS[1], TEXTS[3]]
    assert partial.points[1].failed and "test-key" not in str(caught.value) + str(caught.value.__cause__)


async def test_a_skeleton_rejected_with_401_raises_the_sdk_error(provider):
    with FakeLLMServer(faulty({"skeleton": [Fault.status(401)]}), latency=FAST) as server:
        async with client(server, provider) as sot:
            with pytest.raises(getattr(SDK[provider], "AuthenticationError")):
                await sot.generate("How can I be healthier?")
    assert len(server.requests) == 1


@pytest.mark.parametrize("model", ["test-model", "claude-sonnet-4-5"])
async def test_a_stream_cut_midway_resumes_where_it_stopped_on_a_model_known_to_continue_a_prefill(provider, model):
    faults = {"skeleton": [Fault.drop(after_tokens=4)], 1: [Fault.drop(after_tokens=3)]}
    with FakeLLMServer(faulty(faults), latency=FAST) as server:
        async with client(server, provider, model) as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.text == expected_text()
    assert len(for_point(server, "skeleton")) == 2 and len(for_point(server, 1)) == 2
    retried = for_point(server, 1)[1].prefill
    if provider == "anthropic" and model.startswith("claude"):  # the retry continued the prefill with what had arrived
        assert retried.startswith("1. Sleep well: Aim for")
    else:  # restarted: a server that ignores a prefill would have its model write anew after the received text
        assert retried in (None, "1. Sleep well:")


async def test_a_stall_is_caught_by_the_stall_timeout(provider):
    faults = {2: [Fault.stall(after_tokens=2, seconds=5)]}
    with FakeLLMServer(faulty(faults), latency=FAST) as server:
        # 1 s: a loaded machine's pause within a stream of a few milliseconds is no stall
        async with client(server, provider, stall_timeout=1.0) as sot:
            result = await sot.generate("How can I be healthier?")
        stalled, retried = for_point(server, 2)
    assert result.text == expected_text() and result.points[1].attempts == 2
    assert retried.received_at - stalled.pieces[-1][0] >= 1.0
    assert stalled.client_closed


async def test_a_slow_but_steady_stream_is_no_stall(provider):
    """Each chunk comes well within the stall timeout (1.4 s to spare for a loaded machine's pauses); the whole
    stream takes several timeouts."""
    long = " ".join(["word"] * 40) + "."
    steady = {2: Latency(ttft_s=0.0, tokens_per_s=10)}
    with FakeLLMServer(sot_responder(SKELETON, {**TEXTS, 2: long}, point_latency=steady), latency=FAST) as server:
        async with client(server, provider, stall_timeout=1.5) as sot:
            result = await sot.generate("How can I be healthier?")
        [request] = for_point(server, 2)
    assert result.points[1].text == long and result.points[1].attempts == 1
    assert request.finished_at - request.received_at > 2.5 * 1.5


@pytest.mark.parametrize("read", ["generate", "stream"])
async def test_a_deadline_keeps_the_points_that_finished_behind_a_slow_one(provider, read):
    # points 2 and 3 finish at once while point 1 still streams when the deadline passes: they were written, and
    # the partial answer (and the stream) holds them, after point 1 as far as it went
    slow = {1: Latency(ttft_s=0.0, tokens_per_s=5)}
    long = " ".join(["word"] * 40) + "."
    with FakeLLMServer(sot_responder(SKELETON, {**TEXTS, 1: long}, point_latency=slow), latency=FAST) as server:
        async with client(server, provider, deadline=1.5) as sot:
            streamed = ""
            with pytest.raises(sotkit.DeadlineExceeded) as caught:
                if read == "generate":
                    await sot.generate("How can I be healthier?")
                else:
                    async with sot.stream("How can I be healthier?") as events:
                        async for event in events:
                            if event.type == "text":
                                streamed += event.text
                            elif event.type == "withdraw":
                                streamed = streamed[:len(streamed) - len(event.text)]
    partial = caught.value.partial
    assert [p.done for p in partial.points] == [False, True, True]
    assert partial.text.startswith("1. Sleep well: word word") and "word." not in partial.text
    assert partial.text.endswith(f"\n2. Eat less sugar: {TEXTS[2]}\n3. Move daily: {TEXTS[3]}")
    if read == "stream":
        assert streamed == partial.text


async def test_the_deadline_ends_a_request_that_keeps_failing(provider):
    forever = {3: [Fault.status(503)] * 100}
    with FakeLLMServer(faulty(forever), latency=FAST) as server:
        policy = sotkit.RetryPolicy(attempts=100, initial_wait_s=0.05, max_wait_s=0.1)
        # 2 s: more than 3 tries at point 3 on a loaded machine too, and far fewer than 100 (at most 0.1 s apart)
        async with client(server, provider, retry=policy, deadline=2.0) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I be healthier?")
    # the retries go on while one can start before the deadline; the last one that could not is not slept: the
    # point fails with the server's error (a fallback would have been asked), or the deadline passes mid-call
    partial = caught.value.partial
    assert [p.text for p in partial.points[:2]] == [TEXTS[1], TEXTS[2]]
    assert not partial.points[2].done
    assert 3 < len(for_point(server, 3)) < 100
    cause = caught.value.__cause__
    assert isinstance(caught.value, sotkit.DeadlineExceeded) or getattr(cause, "status_code", None) == 503


@pytest.mark.parametrize("retry_after", ["30", None])  # the server's wait, or the policy's own backoff
async def test_a_retry_wait_past_the_deadline_fails_at_once_with_the_servers_reason_or_falls_back(provider,
                                                                                                 retry_after):
    # it slept into the deadline, and the DeadlineExceeded then hid the 429 (and the fallback was never asked)
    busy = Reply("x", fault=Fault.status(429, {"retry-after": retry_after} if retry_after else None))
    with FakeLLMServer([busy, busy], latency=FAST) as server, \
            FakeLLMServer("A plain answer.", latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        deadline = 20 if retry_after else 2  # the backoff: 2.5-5 s before the first retry
        for options in ({}, {"fallback": fallback}):
            async with client(server, provider, deadline=deadline, retry=sotkit.RetryPolicy(initial_wait_s=5),
                              **options) as sot:
                with anyio.fail_after(10):  # far below the 30 s asked for: the wait is not taken
                    if not options:
                        with pytest.raises(SDK[provider].RateLimitError):
                            await sot.generate("How can I sleep better?", mode="sequential")
                    else:
                        result = await sot.generate("How can I sleep better?", mode="sequential")
        await fallback.aclose()
    assert result.text == "A plain answer." and len(server.requests) == 2 and len(backup.requests) == 1
    assert (result.model, result.written_by) == (f"{provider}:test-model", "openai:backup")  # who answered


async def test_a_partial_sequential_answer_names_the_model_that_wrote_it(provider):
    """It said written_by=None, also where the fallback wrote the text that broke off (probe 98)."""
    text = "This is a long sequential answer with many words that keeps going."
    with FakeLLMServer(Reply("x", fault=Fault.status(500)), latency=FAST) as server, \
            FakeLLMServer(Reply(text, fault=Fault.drop(after_tokens=6)), latency=FAST) as backup, \
            FakeLLMServer(Reply(text, fault=Fault.stall(after_tokens=6, seconds=5)), latency=FAST) as stalling:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, provider, fallback=fallback,
                          retry=sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01)) as sot:
            with pytest.raises(sotkit.PartialResultError) as broke:
                await sot.generate("How can I sleep better?", mode="sequential")
        async with client(stalling, provider, deadline=1.5) as sot:  # its own text (at once), cut by time
            with pytest.raises(sotkit.DeadlineExceeded) as late:
                await sot.generate("How can I sleep better?", mode="sequential")
        await fallback.aclose()
    assert broke.value.partial.text and text.startswith(broke.value.partial.text)
    assert (broke.value.partial.model, broke.value.partial.written_by) == (f"{provider}:test-model", "openai:backup")
    assert late.value.partial.text and late.value.partial.written_by == f"{provider}:test-model"


async def test_a_sequential_answer_after_the_fallbacks_skeleton_does_not_take_its_writer(provider):
    """A skeleton of one point, written by the fallback, sends the question down the sequential path; that call,
    which wrote nothing before the deadline, was said to be the fallback's (review 100)."""
    def main_model(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply("x", fault=Fault.status(500))
        return Reply("A plain answer.", fault=Fault.stall(after_tokens=0, seconds=5))

    with FakeLLMServer(main_model, latency=FAST) as server, \
            FakeLLMServer(sot_responder("1. Only one thing"), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, provider, fallback=fallback, deadline=1,
                          retry=sotkit.RetryPolicy(attempts=1)) as sot:
            with pytest.raises(sotkit.DeadlineExceeded) as late:
                await sot.generate("How can I be healthier?", mode="sot")
        await fallback.aclose()
    assert len(backup.requests) == 1 and late.value.partial.mode == "sequential"
    assert (late.value.partial.text, late.value.partial.written_by) == ("", None)


async def test_a_point_not_retried_for_the_deadline_says_so_and_a_fallbacks_error_names_the_main_models(provider):
    # Point.error said only "RateLimitError: ...", under "failed after all attempts", though one attempt of four ran
    busy = {2: [Fault.status(429, {"retry-after": "30"})] * 2}
    with FakeLLMServer(faulty(busy), latency=FAST) as server, \
            FakeLLMServer(faulty({2: [Fault.status(500)] * 4}), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        for options in ({}, {"fallback": fallback}):
            async with client(server, provider, deadline=10, on_point_error="raise", **options) as sot:
                with anyio.fail_after(8), pytest.raises(sotkit.PartialResultError) as raised:
                    await sot.generate("How can I sleep better?")
            point = raised.value.partial.points[1]
            assert str(raised.value).startswith(f"point(s) 2 failed (point 2: {point.error}); the partial result "
                                                "holds the others")
            assert point.failed and point.attempts == (1 if not options else 5)  # the fallback's four: quick waits
            if not options:
                assert point.error.startswith("RateLimitError: ") and point.error.endswith(
                    "(attempt 1 of 4; not retried: the wait of 30.0 s would end past the deadline)")
            else:  # the fallback's own error, then the main model's
                assert point.error.startswith("InternalServerError: ")
                assert f"(the fallback openai:backup's error; {provider}:test-model failed first: RateLimitError" \
                    in point.error
                assert str(raised.value).count(point.error) == 1  # said once, not again as "the last error"
        await fallback.aclose()
    assert [len(for_point(server, 2)), len(for_point(backup, 2))] == [2, 4]


async def test_a_point_left_empty_is_logged_as_it_falls_back_and_no_log_quotes_a_models_text(caplog):
    # a point that came back empty went to the fallback without a log line, and a retry's line quoted the model's
    # reply (a stream cut in an event), which spans leave out unless trace_content=True (probe 81)
    caplog.set_level("INFO", logger="sotkit")
    empty = sot_responder(SKELETON, {**TEXTS, 2: ""})
    secret = Reply(TEXTS[3], fault=Fault.garbage(after_tokens=2, data='{"delta": {"content": "my diagnosis is'))

    def respond(request):
        return secret if point_of(request) == 3 and request.attempt == 1 else empty(request)

    with FakeLLMServer(respond, latency=FAST) as server, FakeLLMServer(sot_responder(SKELETON, TEXTS)) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.text == expected_text() and result.points[1].model == "openai:backup"
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "sotkit"]
    assert ("WARNING", "point 2 failed on openai:test-model (EmptyPoint: point 2 ('…') came back without text of its "
                       "own, also when asked again); falling back to openai:backup") in logged
    assert any(line.startswith("point 3 on openai:test-model: attempt 1 of 4 failed") for _, line in logged)
    assert not any("diagnosis" in line or "Eat less" in line for _, line in logged), logged


@pytest.mark.parametrize("backup_model", ["openai:backup", "openai:test-model"])  # the same model elsewhere too
@pytest.mark.parametrize("status, asked", [(400, 1), (500, 4)])  # not retried; retried to its 4 attempts
async def test_a_point_the_fallback_left_empty_is_asked_again_of_the_fallback_alone(caplog, backup_model, status,
                                                                                     asked):
    # after the main model failed it (a 400) and the fallback wrote it empty, the point "fell back" from the fallback
    # to itself: two more calls, and a log line saying so (probe 82); where the fallback was the main model's name
    # on another endpoint, still (probe 83). Asked again, it went to the main model again, its retries over again
    # (probe 282: a 500 four times more, with their waits), and to the fallback after it
    caplog.set_level("INFO", logger="sotkit")
    with FakeLLMServer(faulty({2: [Fault.status(status)] * 8}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, {**TEXTS, 2: ""}), latency=FAST) as backup:
        fallback = create_provider(backup_model, api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback, on_point_error="skip", retry=QUICK_RETRY) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.points[1].failed and result.points[1].error.startswith("EmptyPoint: point 2")
    assert [len(for_point(server, 2)), len(for_point(backup, 2))] == [asked, 2]  # asked once more, of the fallback
    error = "BadRequestError" if status == 400 else "InternalServerError"
    assert [r.getMessage().startswith(f"point 2 failed on openai:test-model ({error}")
            for r in caplog.records if "falling back" in r.getMessage()] == [True]  # not from the fallback


@pytest.mark.parametrize("written", ["", "Sleep in a dark"])
async def test_a_deadline_says_whether_any_of_the_answer_was_written(written):
    # probe 152: `sotkit ask --deadline` said "the answer so far is printed on stdout" where nothing was
    reply = Reply(written, fault=Fault.stall(after_tokens=len(written.split()), seconds=5), latency=FAST)
    with FakeLLMServer(reply) as server:
        async with client(server, "openai") as sot:
            with pytest.raises(sotkit.DeadlineExceeded) as raised:
                await sot.generate("How can I sleep better?", mode="sequential", deadline=1.5)  # well after the text
    said = "the answer so far is in .partial" if written else "nothing of the answer was written yet"
    assert str(raised.value).endswith(f"passed; {said}") and raised.value.partial.text == written


async def test_a_skeleton_a_deadline_stopped_has_its_time_in_the_partial_result():
    # probe 231: "skeleton 0.00 s, total 8.00 s" for a skeleton that had run the whole 8 s
    reply = Reply("1. Sleep in a dark", fault=Fault.stall(after_tokens=3, seconds=5), latency=FAST)
    with FakeLLMServer(reply) as server:
        async with client(server, "openai") as sot:
            with pytest.raises(sotkit.DeadlineExceeded) as raised:
                await sot.generate("How can I sleep better?", mode="sot", deadline=0.5)
    timings = raised.value.partial.timings
    assert timings.total_s >= timings.skeleton_s >= 0.5


async def test_fallback_warnings_quoting_a_new_429_each_request_keep_the_warning_registry_bounded(monkeypatch):
    # probe 230: a client per request (sotkit.generate) warned for each, quoting the 429's own words ("Used 199000,
    # Requested 1200"), and Python keeps each text it showed in the module's __warningregistry__ for good
    from sotkit import coordinator, errors

    monkeypatch.setattr(errors, "REGISTRY_MOST", 5, raising=False)
    used = iter(range(199_000, 200_000))

    def busy(request):
        body = {"error": {"message": f"Rate limit reached: Used {next(used)}, Requested 1200.", "code": "rate_limit"}}
        return Reply("x", fault=Fault.status(429, {"retry-after-ms": "1"}, body=body))

    with FakeLLMServer(busy, latency=FAST) as server, FakeLLMServer("A plain answer.", latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")  # Python's own: each text once per place, kept in the registry
            held = []
            for _ in range(12):
                await sotkit.generate("How can I sleep?", model="openai:m", base_url=server.openai_base_url,
                                      api_key="k", mode="sequential", retry=1, fallback=fallback)
                held.append(len(coordinator.__warningregistry__))
        await fallback.aclose()
    assert len([w for w in caught if w.category is sotkit.FallbackWarning]) == 12  # each text is new: all shown
    assert max(held) <= 6 and min(held) < max(held), held  # emptied past 5 (and its version), not grown to 13


async def test_a_callers_own_timeout_is_no_deadline_of_sotkits(provider):
    # a caller's move_on_after(1) or fail_after(1) was read as deadline=: a 429 asking for 5 s raised RateLimitError
    # at once, where the caller's scope promised a quiet cancel or its TimeoutError at 1 s (probe 79)
    busy = {"skeleton": [Fault.status(429, {"retry-after": "5"})] * 2}
    with FakeLLMServer(faulty(busy), latency=FAST) as server:
        async with client(server, provider) as sot:
            with anyio.move_on_after(1) as scope:
                await sot.generate("How can I sleep better?")
            assert scope.cancelled_caught
            with pytest.raises(TimeoutError):
                with anyio.fail_after(1):
                    await sot.generate("How can I sleep better?")


async def test_one_exception_object_raised_for_every_call_keeps_one_note_of_each_kind():
    """A provider (a test double's ``side_effect``) that raises the same instance each time: the note that it was
    not retried was added to it once per point, and every later Point.error showed them all (probe 73)."""
    shared = ConnectionError("upstream reset")

    class Failing(sotkit.providers.Provider):
        model = "mine:failing"

        async def stream(self, request):
            if request.max_tokens == 300:  # the skeleton
                yield "1. Alpha\n2. Beta\n3. Gamma"
                return
            raise shared

    async with sotkit.SoT(Failing(), retry=sotkit.RetryPolicy(initial_wait_s=30, max_wait_s=60)) as sot:
        with pytest.raises(sotkit.PartialResultError) as raised:
            await sot.generate("Why?", mode="sot", point_max_tokens=100, deadline=5)
    assert len(shared.__notes__) == 1
    assert all(p.error.count("not retried") == 1 for p in raised.value.partial.points)


async def test_a_point_that_keeps_failing_goes_to_the_fallback_model(provider, caplog):
    caplog.set_level("INFO", logger="sotkit")
    always = {2: [Fault.status(500)] * 4}
    with FakeLLMServer(faulty(always), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, {2: "Fallback text."}), latency=FAST) as backup:
        # a Provider object configures the fallback fully; its owner (this test) closes it
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, provider, fallback=fallback) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert [p.model for p in result.points] == [f"{provider}:test-model", "openai:backup", f"{provider}:test-model"]
    assert result.points[1].text == "Fallback text." and result.points[1].attempts == 5
    assert len(for_point(server, 2)) == 4 and len(backup.requests) == 1
    # the retries and the fallback are logged, as the SDKs log their own retries (sotkit turns those off)
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "sotkit"]
    assert [level for level, _ in logged] == ["INFO"] * 3 + ["WARNING"], logged
    assert logged[0][1].startswith(f"point 2 on {provider}:test-model: attempt 1 of 4 failed (InternalServerError")
    assert logged[-1][1].startswith(f"point 2 failed on {provider}:test-model (InternalServerError")
    assert logged[-1][1].endswith("falling back to openai:backup")


def fallback_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if w.category is sotkit.FallbackWarning]


async def test_a_model_that_refuses_every_call_is_not_hidden_behind_the_fallback(provider, recwarn):
    # a bad option or key: every call went to the fallback, paid for twice, with nothing said but a log line
    # (probe 151); a stream says each fallback as it happens, and the client warns once for each kind of error
    status = iter([400] * 4 + [401] * 4 + [400] * 4)  # a question's calls, then another's, then a third's

    with FakeLLMServer(lambda request: Reply("x", fault=Fault.status(next(status))), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, provider, fallback=fallback, max_concurrency=1) as sot:
            async with sot.stream("How can I be healthier?") as events:
                seen = [event async for event in events]
            answers = [await sot.generate("How can I sleep better?") for _ in range(2)]
        await fallback.aclose()
    assert seen[-1].result.text == answers[0].text == answers[1].text == expected_text()
    fallbacks = [e for e in seen if e.type == "fallback"]
    assert [(e.call, e.index) for e in fallbacks] == [("skeleton", None), ("point", 1), ("point", 2), ("point", 3)]
    assert {(e.model, e.fallback, e.status) for e in fallbacks} == {(f"{provider}:test-model", "openai:backup", 400)}
    assert fallbacks[0].error.startswith("BadRequestError: ") and "Error 400 (injected" in fallbacks[0].error
    bad_request, unauthorized = fallback_warnings(recwarn)  # the third answer's 400 was warned of already
    assert bad_request.startswith(f"the fallback openai:backup wrote all of the answer, {provider}:test-model "
                                  "having failed (the first error: BadRequestError")
    assert bad_request.endswith("if that goes on, check its key, model name and options (warned once per client and "
                                "kind of error)")
    assert "(the first error: AuthenticationError" in unauthorized


async def test_a_base_url_where_no_server_listens_is_warned_of_once_the_fallback_wrote_an_answer(recwarn):
    with FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with sotkit.SoT("openai:m", base_url="http://127.0.0.1:9/v1", api_key="k", fallback=fallback,
                              retry=sotkit.RetryPolicy(2, initial_wait_s=0.01), mode="sequential") as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.written_by == "openai:backup"
    [warned] = fallback_warnings(recwarn)
    assert "(the first error: APIConnectionError" in warned and "check that its server is up at its base URL" in warned


async def test_no_warning_where_a_call_failed_on_the_fallback_too_or_the_main_model_wrote_a_point(recwarn):
    # the request's error says what failed (review 155: a failed request's warning used up the client's one); where
    # the main model wrote a point, it works
    def backup_model(request: RecordedRequest) -> Reply:  # a skeleton, then a 500 for each point
        return Reply(SKELETON) if is_skeleton(request) else Reply("x", fault=Fault.status(500))

    with FakeLLMServer(lambda r: Reply("x", fault=Fault.status(401)), latency=FAST) as server, \
            FakeLLMServer(backup_model, latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback, retry=1) as sot:
            with pytest.raises(sotkit.PartialResultError, match="every point of the skeleton"):
                await sot.generate("How can I be healthier?")
        await fallback.aclose()
    with FakeLLMServer(faulty({2: [Fault.status(400)]}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert [p.model for p in result.points] == ["openai:test-model", "openai:backup", "openai:test-model"]
    assert not fallback_warnings(recwarn)


async def test_points_the_fallback_wrote_all_are_warned_of_though_the_main_model_wrote_the_skeleton(recwarn):
    # review 155: a point_max_tokens over the model's limit failed every point, paid twice, unwarned
    def main_model(request: RecordedRequest) -> Reply:
        return Reply(SKELETON) if is_skeleton(request) else Reply("x", fault=Fault.status(400))

    with FakeLLMServer(main_model, latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.written_by == "openai:test-model" and {p.model for p in result.points} == {"openai:backup"}
    [warned] = fallback_warnings(recwarn)
    assert "openai:test-model having failed (the first error: BadRequestError" in warned


async def test_replies_left_empty_are_no_warning(recwarn):
    # review 155: an empty answer is the model's doing, not a bad key or option
    with FakeLLMServer(sot_responder(SKELETON, {1: "", 2: "", 3: ""}, sequential=""), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS, sequential="Backup."), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback) as sot:
            answers = [await sot.generate("How can I be healthier?", mode=mode) for mode in ("sot", "sequential")]
        await fallback.aclose()
    assert [a.text for a in answers] == [expected_text(), "Backup."]
    assert {p.model for p in answers[0].points} == {"openai:backup"} and answers[1].written_by == "openai:backup"
    assert not fallback_warnings(recwarn)


@pytest.mark.parametrize("fault, check", [
    (Fault.status(401), "its key, model name and options"),
    (Fault.status(404), "its model name and its base URL's path"),
    (Fault.status(429), "its rate limits and quota"), (Fault.status(429, {"retry-after": "600"}), "its rate limits"),
    (Fault.status(503), "its server's status (it was failing or overloaded)"),
    (Fault.drop(), "that its server is up at its base URL"),
])
async def test_the_warnings_advice_follows_the_error(fault, check, recwarn):
    # review 157: a 429 was told to check that the server is up, a retry-after over the cap to check the key
    with FakeLLMServer(lambda r: Reply("x", fault=fault), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS, sequential="Backup."), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback, retry=1) as sot:
            assert (await sot.generate("How can I be healthier?", mode="sequential")).text == "Backup."
        await fallback.aclose()
    [warned] = fallback_warnings(recwarn)
    assert f"if that goes on, check {check}" in warned


async def test_a_fallback_of_the_same_model_elsewhere_is_told_apart_and_a_skipped_point_does_not_hide_it(recwarn):
    # review 157: a fallback named as the main model (its own key and URL, as the README advises) read as the main
    # model writing; and with on_point_error="skip", a point that failed on both kept the rest unwarned
    model = sot_responder(SKELETON, TEXTS)

    def backup_model(request: RecordedRequest) -> Reply:
        return Reply("x", fault=Fault.status(500)) if point_of(request) == 3 else model(request)

    with FakeLLMServer(lambda r: Reply("x", fault=Fault.status(401)), latency=FAST) as server, \
            FakeLLMServer(backup_model, latency=FAST) as backup:
        fallback = create_provider("openai:test-model", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback, retry=1, on_point_error="skip") as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert [p.failed for p in result.points] == [False, False, True]
    [warned] = fallback_warnings(recwarn)
    assert "openai:test-model having failed (the first error: AuthenticationError" in warned


async def test_a_model_that_is_down_falls_back_with_an_event(provider):
    with FakeLLMServer(faulty({2: [Fault.status(503)] * 2}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, provider, fallback=fallback, retry=sotkit.RetryPolicy(2, initial_wait_s=0.01)) \
                as sot, sot.stream("How can I be healthier?") as events:
            seen = [event async for event in events]
        await fallback.aclose()
    assert [(e.type, e.call, e.index, e.status) for e in seen if e.type in ("retry", "fallback")] == \
        [("retry", "point", 2, 503), ("fallback", "point", 2, 503)]
    assert seen[-1].result.points[1].model == "openai:backup"


async def test_a_429_whose_wait_is_too_long_falls_back_with_its_status():
    # probe 272: the event's status was None (RetryAfterTooLong has no status of its own), the span's 429
    with FakeLLMServer(faulty({2: [Fault.status(429, {"retry-after": "100"})]}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback, retry=sotkit.RetryPolicy(max_wait_s=5)) as sot, \
                sot.stream("How can I be healthier?") as events:
            seen = [event async for event in events]
        await fallback.aclose()
    [event] = [e for e in seen if e.type == "fallback"]
    assert (event.index, event.status) == (2, 429) and event.error.startswith("RetryAfterTooLong: ")


async def test_a_point_left_empty_that_goes_to_the_fallback_is_an_event_too():
    # review 154: a point the main model wrote empty went on to the fallback with no event
    with FakeLLMServer(sot_responder(SKELETON, {**TEXTS, 2: ""}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback) as sot, sot.stream("How can I be healthier?") as events:
            seen = [event async for event in events]
        await fallback.aclose()
    [event] = [e for e in seen if e.type == "fallback"]
    assert (event.call, event.index, event.model, event.fallback, event.status) == \
        ("point", 2, "openai:test-model", "openai:backup", None)
    assert event.error.startswith("EmptyPoint: point 2") and seen[-1].result.points[1].model == "openai:backup"


async def test_a_point_that_failed_on_the_fallback_too_is_logged_as_failed_on_the_fallback(caplog):
    caplog.set_level("WARNING", logger="sotkit")
    # the main model wrote some of it (Point.model, for the partial), then the fallback failed: the log named the
    # main model as where it failed (probe 151)
    with FakeLLMServer(faulty({2: [Fault.drop(after_tokens=3)]}), latency=FAST) as server, \
            FakeLLMServer(lambda r: Reply("x", fault=Fault.status(500)), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback, retry=1, on_point_error="skip") as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.points[1].failed and result.points[1].model == "openai:test-model"
    last = [r.getMessage() for r in caplog.records if r.name == "sotkit"][-1]
    assert last.startswith("point 2 failed on openai:backup (InternalServerError") and "missing from the answer" in last


async def test_a_skeleton_written_by_the_fallback_model_keeps_its_first_point(provider):
    """The skeleton is prefilled with "1." where the provider continues a prefill: which backend writes it decides
    how its reply is read (Anthropic's continues the "1.", OpenAI's writes it again)."""
    other = "anthropic" if provider == "openai" else "openai"
    with FakeLLMServer(faulty({"skeleton": [Fault.status(500)] * 4}), latency=FAST) as server, \
            FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as backup:
        url = backup.openai_base_url if other == "openai" else backup.anthropic_base_url
        fallback = create_provider(f"{other}:backup", api_key="k2", base_url=url)
        async with client(server, provider, fallback=fallback) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.skeleton == ["Sleep well", "Eat less sugar", "Move daily"] and not result.skeleton_truncated
    assert result.text == expected_text()
    # the fallback decided what the answer covers: the result says so (probe 56: nothing did)
    assert (result.model, result.written_by) == (f"{provider}:test-model", f"{other}:backup")


async def test_a_fallback_skeleton_that_disagreed_with_the_points_kept_is_not_named_their_writer():
    # the main model's skeleton broke off after three lines whose points started; the fallback wrote another
    # skeleton, dropped as it disagreed: the answer is the main model's, yet written_by named the fallback (probe 95)
    def main_model(request: RecordedRequest) -> Reply:
        if is_skeleton(request):
            return Reply("1. Sleep early\n2. Eat well\n3. Move daily\n4. Dim the lights", fault=Fault.drop(10))
        return Reply(f"Body of point {point_of(request)}.")

    with FakeLLMServer(main_model, latency=FAST) as server, \
            FakeLLMServer(sot_responder("1. Go to bed\n2. Avoid screens\n3. Keep cool"), latency=FAST) as backup:
        fallback = create_provider("openai:backup", api_key="k2", base_url=backup.openai_base_url)
        async with client(server, "openai", fallback=fallback, eager=True, retry=sotkit.RetryPolicy(attempts=1)) as sot:
            result = await sot.generate("How can I be healthier?")
        await fallback.aclose()
    assert result.skeleton == ["Sleep early", "Eat well", "Move daily"] and result.skeleton_truncated
    assert "disagreed" in result.route_reason and all(p.model == "openai:test-model" for p in result.points)
    assert result.written_by == "openai:test-model"
    # the generation that disagreed was the fallback's, billed: the reason said "the skeleton was retried" (probe 151)
    assert "; the skeleton was written by the fallback openai:backup and its new generation disagreed with the 3 " \
        "point(s) already started" in result.route_reason


async def test_without_a_fallback_the_partial_result_keeps_every_finished_point(provider):
    always = {2: [Fault.status(500)] * 4}
    with FakeLLMServer(faulty(always), latency=FAST) as server:
        async with client(server, provider) as sot:
            with pytest.raises(sotkit.PartialResultError) as caught:
                await sot.generate("How can I be healthier?")
            skipped = await sot.generate("How can I be healthier?", on_point_error="skip")
    error = caught.value
    assert isinstance(error, sotkit.SotkitError)
    assert isinstance(error.__cause__, SDK[provider].InternalServerError)
    assert [p.text for p in error.partial.points] == [TEXTS[1], "", TEXTS[3]]
    assert error.partial.usage.calls == 1 + 1 + 4 + 1
    assert not skipped.points[1].failed  # the faults were used up: the second request succeeds
    assert skipped.text == expected_text()


async def test_on_point_error_skip_returns_the_answer_without_the_failed_point(provider):
    always = {2: [Fault.status(500)] * 4}
    with FakeLLMServer(faulty(always), latency=FAST) as server:
        async with client(server, provider, on_point_error="skip") as sot:
            result = await sot.generate("How can I be healthier?")
    assert result.points[1].failed and result.points[1].attempts == 4
    assert result.points[1].error.startswith("InternalServerError: ")  # why, for a user's log
    assert result.points[0].error is None
    assert result.text == f"1. Sleep well: {TEXTS[1]}\n3. Move daily: {TEXTS[3]}"


async def test_a_whole_stream_whose_connection_then_breaks_is_a_whole_answer(provider):
    # after [DONE] / message_stop nothing more is the answer's: a proxy that closes before the body's last chunk
    # (or resets) lost it all, streamed, withdrawn and retried, until the attempts ran out
    with FakeLLMServer(Reply("A plain answer.", fault=Fault.unclean_close()), latency=FAST) as server:
        async with client(server, provider) as sot:
            async with sot.stream("How can I sleep better?", mode="sequential") as events:
                seen = [event async for event in events]
    assert {e.type for e in seen} == {"route", "text", "done"} and seen[-1].result.text == "A plain answer."
    assert len(server.requests) == 1 and not seen[-1].result.usage.estimated


async def test_an_attempt_cut_before_its_first_text_is_billed_its_prompt_and_a_refused_one_nothing(provider):
    # the server had the prompt when the deadline (or a stall) cut the call: an estimate, never a zero read as measured
    slow = Reply("A plain answer.", latency=Latency(ttft_s=5))
    with FakeLLMServer([slow, Reply("x", fault=Fault.status(429)), "A plain answer."], latency=FAST) as server:
        async with client(server, provider) as sot:
            with pytest.raises(sotkit.DeadlineExceeded) as cut:
                await sot.generate("How can I sleep better?", mode="sequential", deadline=0.5)
            retried = await sot.generate("How can I sleep better?", mode="sequential")
    usage = cut.value.partial.usage
    assert usage.calls == usage.estimated_calls == 1 and usage.input_tokens > 0 and usage.output_tokens == 0
    # the 429 sent no counts and no text: it costs nothing; the answer after it is measured
    assert retried.usage.calls == 2 and retried.usage.estimated_calls == 0
    assert retried.usage.input_tokens == server.requests[-1].usage.input_tokens
    # a stream that began (its 200 came) and broke before any text was paid for: an estimate of its prompt
    with FakeLLMServer([Reply("x", fault=Fault.drop()), "A plain answer."], latency=FAST) as server:
        async with client(server, provider) as sot:
            dropped = await sot.generate("How can I sleep better?", mode="sequential")
    measured = server.requests[-1].usage.input_tokens
    assert dropped.usage.calls == 2 and dropped.usage.estimated_calls == 1 and dropped.usage.input_tokens > measured


async def test_a_broken_attempt_counts_what_it_wrote_in_usage(provider):
    long = {1: " ".join(["word"] * 40) + "."}
    with FakeLLMServer(sot_responder(SKELETON, long), latency=FAST) as server:
        async with client(server, provider) as sot:
            clean = await sot.generate("How can I be healthier?")
    first = [Fault.drop(after_tokens=20)]

    def once_broken(request):
        reply = sot_responder(SKELETON, long)(request)
        return Reply(reply.text, fault=first.pop()) if point_of(request) == 1 and first else reply

    with FakeLLMServer(once_broken, latency=FAST) as server:
        async with client(server, provider) as sot:
            broken = await sot.generate("How can I be healthier?")
    assert broken.text == clean.text and broken.usage.calls == clean.usage.calls + 1
    assert broken.usage.estimated_calls == 1  # the broken attempt's counts never came: estimated, not zero
    assert broken.usage.input_tokens > clean.usage.input_tokens
    # about 20 tokens were written before the drop: OpenAI writes them again (a restart), Anthropic goes on after them
    again = 15 if provider == "openai" else 0
    assert broken.usage.output_tokens >= clean.usage.output_tokens + again


async def test_skipping_every_point_is_an_error_not_an_empty_answer(provider):
    always = {i: [Fault.status(500)] * 4 for i in (1, 2, 3)}
    with FakeLLMServer(faulty(always), latency=FAST) as server:
        async with client(server, provider, on_point_error="skip") as sot:
            # with the first point's error: the server's reason (a 400 for a max_tokens over the model's, say)
            # was only in __cause__, and a caller who shows str(error) saw no cause
            with pytest.raises(sotkit.PartialResultError, match=r"every point of the skeleton \(3\) failed \(point "
                               r"\d: InternalServerError: .*\): there is no answer") as caught:
                await sot.generate("How can I be healthier?")
    assert caught.value.partial.text == "" and all(p.failed for p in caught.value.partial.points)
    assert caught.value.__cause__.status_code == 500


async def test_a_retry_after_over_the_cap_fails_fast(provider):
    with FakeLLMServer(faulty({"skeleton": [Fault.status(429, {"retry-after": "120"})]}), latency=FAST) as server:
        async with client(server, provider) as sot:
            with pytest.raises(sotkit.RetryAfterTooLong, match="120 s") as caught:
                await sot.generate("How can I be healthier?")
    assert len(server.requests) == 1 and caught.value.__cause__.status_code == 429


async def test_cancelling_generate_closes_every_connection(provider):
    slow = {i: Latency(ttft_s=0.0, tokens_per_s=5) for i in range(1, 4)}
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency=slow), latency=FAST) as server:
        async with client(server, provider) as sot:
            async with anyio.create_task_group() as tg:
                tg.start_soon(sot.generate, "How can I be healthier?")
                while server.in_flight < 3:  # all three expansions are streaming
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
        await server.wait_idle_async(connections=True)
    assert server.open_connections == 0
    assert all(r.client_closed for r in server.requests if point_of(r))


async def test_closing_the_stream_early_cancels_the_calls_in_flight(provider):
    slow = {i: Latency(ttft_s=0.0, tokens_per_s=5) for i in range(1, 4)}
    # long enough to be mid-stream at the first delta (the filter holds a sentence's first words back)
    texts = {i: f"{text} " * 4 for i, text in TEXTS.items()}
    with FakeLLMServer(sot_responder(SKELETON, texts, point_latency=slow), latency=FAST) as server:
        async with client(server, provider) as sot:
            async with sot.stream("How can I be healthier?") as events:
                async for event in events:
                    if event.type == "point_delta":
                        break
            await server.wait_idle_async()
            assert server.in_flight == 0
            assert all(r.client_closed for r in server.requests if point_of(r))
        await server.wait_idle_async(connections=True)


async def test_each_event_may_be_read_in_a_task_of_its_own(provider):
    """asyncio.wait_for(events.__anext__(), t) reads each event in a new task (Python 3.11), and a per-event timeout
    that fires cancels one read: the stream goes on, and the answer is whole (no cancel scope spans a read)."""
    slow = {i: Latency(ttft_s=0.3 if i == 1 else 0.0, tokens_per_s=200) for i in range(1, 4)}
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency=slow), latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I be healthier?") as events:
            seen, timeouts = [], 0
            while True:
                try:
                    seen.append(await asyncio.wait_for(events.__anext__(), 0.1))
                except TimeoutError:
                    timeouts += 1
                except StopAsyncIteration:
                    break
    assert timeouts >= 1 and seen[-1].type == "done"
    assert "".join(e.text for e in seen if e.type == "text") == seen[-1].result.text
    assert all(p.done for p in seen[-1].result.points)


async def test_reads_cut_short_by_the_readers_own_timeout_lose_no_event(provider):
    """A read that times out (here after 1 ms, many times per answer) must not take an event with it: every point's
    deltas still join to its text, and the text events to the answer."""
    slow = {i: Latency(ttft_s=0.0, tokens_per_s=400) for i in range(1, 4)}
    with FakeLLMServer(sot_responder(SKELETON, {i: f"{t} " * 8 for i, t in TEXTS.items()}, point_latency=slow),
                       latency=FAST) as server:
        async with client(server, provider) as sot:
            for _ in range(3):
                async with sot.stream("How can I be healthier?") as events:
                    seen = []
                    while True:
                        try:
                            seen.append(await asyncio.wait_for(events.__anext__(), 0.001))
                        except TimeoutError:
                            continue
                        except StopAsyncIteration:
                            break
                result = seen[-1].result
                assert "".join(e.text for e in seen if e.type == "text") == result.text
                for point in result.points:
                    assert "".join(e.text for e in seen if e.type == "point_delta" and e.index == point.index) \
                        == point.text


async def test_aclose_from_another_task_still_streams_the_text_written_behind_a_slower_point(provider):
    """A "stop" button closes the stream while points 2 and 3 have finished behind a slow point 1: their text, held
    back for order, reaches the reader before its loop ends (it was in result() only, so a UI showed less than
    the app saved)."""
    slow = {1: Latency(ttft_s=0.0, tokens_per_s=5)}
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency=slow), latency=FAST) as server:
        async with client(server, provider) as sot:
            async with sot.stream("How can I be healthier?") as events, anyio.create_task_group() as tg:
                async def stop() -> None:  # once the client has points 2 and 3 whole (not the server: on a busy
                    # machine the client may not have read what the server has sent)
                    while len(points := events.result().points) < 3 or not all(p.done for p in points[1:]):
                        await anyio.sleep(0.01)
                    await events.aclose()

                tg.start_soon(stop)
                seen = [event async for event in events]  # no error: the reader asked for the stop
            kept = events.result()
    assert seen[-1].type != "done" and joined(seen) == kept.text
    assert TEXTS[2] in kept.text and TEXTS[3] in kept.text and not kept.points[0].done


async def test_aclose_after_the_request_ended_leaves_the_reader_every_event(provider):
    # a fast model, a slow reader (an SSE relay), then a stop: the queued events were dropped, and the UI showed
    # less than events.result(), which the app saves (probe 52)
    with FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I be healthier?") as events:
            seen = [await events.__anext__()]
            while not events.result().points or not all(p.done for p in events.result().points) \
                    or len(events.result().points) < 3:
                await anyio.sleep(0.01)
            await anyio.sleep(1.0)  # the request's end (its last steps, which a loaded machine may take a while over)
            await events.aclose()
            seen += [event async for event in events]
    assert seen[-1].type == "done" and joined(seen) == events.result().text == expected_text()


async def test_aclose_between_two_reads_ends_the_loop_at_the_next_read(provider):
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency={i: Latency(0.0, 5) for i in range(1, 4)}),
                       latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I be healthier?") as events:
            with pytest.raises(sotkit.ConfigError, match="open already"):  # a stream is entered once
                async with events:
                    pass
            seen = []
            async for event in events:  # a slow reader: the close comes while it works on an event
                seen.append(event)
                await events.aclose()
    assert len(seen) == 1 and server.in_flight == 0


async def test_a_stream_read_to_its_end_inside_a_scope_of_the_readers_own_leaves_the_block_running(provider):
    with FakeLLMServer(sot_responder(SKELETON, TEXTS), latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I be healthier?") as events:
            with anyio.move_on_after(30) as scope:
                seen = [event async for event in events]
            await anyio.sleep(0)  # the block's own code goes on after the stream ended (a cancel would raise here)
    assert not scope.cancelled_caught and seen[-1].type == "done"


async def test_aclose_from_another_task_ends_the_readers_loop_and_the_calls(provider):
    """A disconnect handler closes the stream while the reader waits for its next event: the reader's loop ends
    (no error), and the calls in flight stop."""
    slow = {i: Latency(ttft_s=0.0, tokens_per_s=5) for i in range(1, 4)}
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency=slow), latency=FAST) as server:
        async with client(server, provider) as sot:
            async with sot.stream("How can I be healthier?") as events, anyio.create_task_group() as tg:
                async def disconnect() -> None:
                    while server.in_flight < 3:
                        await anyio.sleep(0.01)
                    await events.aclose()

                tg.start_soon(disconnect)
                seen = [event async for event in events]
            assert seen and seen[-1].type != "done"
            with pytest.raises(sotkit.ConfigError, match="read to its end or closed"):
                await events.__anext__()
            await server.wait_idle_async()
            assert server.in_flight == 0 and all(r.client_closed for r in server.requests if point_of(r))


async def test_aclose_closes_only_the_clients_sotkit_created(provider):
    with FakeLLMServer(sot_responder(SKELETON), latency=FAST) as server:
        if provider == "openai":
            mine = openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0)
        else:
            mine = anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=0)
        sot = sotkit.SoT(f"{provider}:m", client=mine, mode="sot")
        await sot.generate("Why?")
        await sot.aclose()
        assert not mine.is_closed()
        await mine.close()


async def test_a_requests_per_minute_budget_is_shared_across_requests(provider):
    skeleton = "\n".join(f"{i}. Point number {i}" for i in range(1, 9))
    with FakeLLMServer(sot_responder(skeleton), latency=FAST) as server:
        async with client(server, provider, rpm=600) as sot:  # 10 a second, at most 10 at once
            started = time.perf_counter()  # before the bucket's first take: the server may see that request late
            async with anyio.create_task_group() as tg:
                for _ in range(2):
                    tg.start_soon(sot.generate, "List eight things.")
    times = sorted(r.received_at for r in server.requests)
    assert len(times) == 18
    # 18 requests through a bucket of 10 refilled at 10/s: the last is taken 0.8 s after the first, at the earliest
    assert times[-1] - started >= 0.79


@pytest.mark.parametrize("wait", ["first_token_timeout", "timeout"])
async def test_points_queued_behind_their_siblings_on_a_one_at_a_time_server_are_no_stall(provider, wait):
    # Ollama and llama.cpp with fewer slots than points write the points in turn: point 4's first text came three
    # whole points after it was sent, past first_token_timeout, and it was retried at the back of the same queue (a
    # point failed after four attempts; probe 51). While another call of the request writes, the server is at work.
    # With timeout= (60 s by default), the SDK's read timeout ended such a wait first (probe 246).
    words = " ".join(["word"] * 10) + "."
    in_turn = {i: Latency(ttft_s=0.5 * (i - 1), tokens_per_s=20) for i in range(1, 5)}  # 10 words: 0.5 s each
    skeleton = "1. Sleep well\n2. Eat less sugar\n3. Move daily\n4. See friends"
    with FakeLLMServer(sot_responder(skeleton, dict.fromkeys(range(1, 5), words), point_latency=in_turn),
                       latency=FAST) as server:
        async with client(server, provider, **{wait: 0.9}, eager=False) as sot:
            with pytest.warns(sotkit.SerialServerWarning):
                result = await sot.generate("How can I be healthier?")
    assert [p.attempts for p in result.points] == [1, 1, 1, 1]  # point 4's first text came after 1.5 s
    assert len(server.requests) == 5


async def test_a_point_sent_while_the_skeleton_writes_on_waits_a_whole_timeout_after_its_last_text():
    # a one-at-a-time server: points sent just after a beat of the skeleton's watchdog waited from their own start,
    # not from the skeleton's last text, which came before its next beat; point 1's first text, a silence after that
    # last text shorter than the timeout, came after it was timed out, and every attempt after it too (review 93)
    timeout = 6.4
    skeleton = ("1. Sleep\n2. Eat\n3. Move daily, see your friends often and keep to one steady routine every day")
    tokens_per_s = 12.5
    skeleton_s = (len(skeleton.split()) - 1) / tokens_per_s  # 1.44 s, less than a quarter timeout
    points_sent_s = skeleton.split().index("3.") / tokens_per_s  # points 1 and 2 go at "\n3.", at 0.32 s
    # point 3, sent at the skeleton's end, hears nothing until point 1's first text: the silence must be shorter than
    # the timeout, and longer than it less the skeleton's time after "\n3." (the wait from the points' own start)
    silence = timeout - (skeleton_s - points_sent_s) / 2
    busy_until = 0.0

    def one_at_a_time(request: RecordedRequest) -> Reply:
        nonlocal busy_until
        now = time.monotonic()
        if is_skeleton(request):
            text, first, rate = skeleton[len(request.prefill or ""):], 0.0, tokens_per_s
        else:
            text, first, rate = " Some text for this point.", silence if point_of(request) == 1 else 0.1, 50.0
        start = max(now, busy_until)  # in turn, after every request before it
        busy_until = start + first + (len(text.split()) - 1) / rate
        return Reply(text, latency=Latency(ttft_s=start - now + first, tokens_per_s=rate))

    with FakeLLMServer(one_at_a_time) as server:
        async with client(server, "openai", first_token_timeout=timeout, eager=True) as sot:
            with pytest.warns(sotkit.SerialServerWarning):
                result = await sot.generate("How can I be healthier?")
    assert [p.attempts for p in result.points] == [1, 1, 1]
    assert len(server.requests) == 4


async def test_a_hung_point_among_siblings_that_write_at_once_is_still_found_at_its_first_token_timeout(provider):
    # a parallel server: a point that gets only keep-alives is retried at its timeout, not once the others are done
    # (probe 53: each sibling's text started its wait again; 6.5 s for a 2 s timeout)
    steady = " ".join(["Some steady advice that takes a while to stream."] * 3)  # about 3 s at 10 words a second

    def respond(request: RecordedRequest) -> Reply:
        if point_of(request) == 2 and request.attempt == 1:
            return Reply(TEXTS[2], fault=Fault.keep_alive(seconds=30, every_s=0.2, then="close"))
        return sot_responder(SKELETON, {1: steady, 2: TEXTS[2], 3: steady},
                             point_latency={1: Latency(0.0, 10), 3: Latency(0.0, 10)})(request)

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, provider, first_token_timeout=1.0) as sot:
            result = await sot.generate("How can I be healthier?")
    hung, retried = for_point(server, 2)
    assert result.points[1].text == TEXTS[2] and result.points[1].attempts == 2
    assert retried.received_at < min(r.finished_at for r in for_point(server, 1) + for_point(server, 3))


async def test_a_point_the_fallback_was_writing_when_the_answer_stopped_names_the_fallback():
    # Point.model said the main model (or None) for the fallback's words in a stopped answer's result (probe 54)
    def respond(request: RecordedRequest) -> Reply:
        if point_of(request) == 1:
            if request.model == "backup":
                return Reply(" ".join(["Rest well."] * 40), latency=Latency(ttft_s=0.0, tokens_per_s=20))
            return Reply("", fault=Fault.status(500))
        return sot_responder(SKELETON, TEXTS)(request)

    with FakeLLMServer(respond, latency=FAST) as server:
        backup = create_provider("openai:backup", api_key="k", base_url=server.openai_base_url)
        async with client(server, "openai", fallback=backup) as sot, sot.stream("How can I be healthier?") as events:
            shown = ""
            async for event in events:
                shown += event.text if event.type == "text" else ""
                if shown.count("Rest") == 2:  # the fallback is writing
                    await events.aclose()
        await backup.aclose()
    stopped = events.result().points[0]
    assert stopped.text.startswith("Rest well. Rest well.") and not stopped.done and stopped.model == "openai:backup"


def test_advise_from_a_shallow_stack_warns_as_python_would():
    # review 232: a stacklevel past the stack's top made sys._getframe raise where warnings.warn warns as from sys
    from sotkit.errors import advise

    with pytest.warns(UserWarning, match="deep"):
        advise("deep", stacklevel=500)
