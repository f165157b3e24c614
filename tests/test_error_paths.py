"""Error paths a one-line change would break without any other test noticing (issue: tests that bite).

Each test names the regression it guards against. They run through the real SDKs against the loopback server,
but for the few cases it cannot make (a model ignoring stop sequences, empty pieces, a broken batch): those run
through a user's own ``Provider``, as a user's in-process model would.
"""

from __future__ import annotations

import itertools
import math
import time

import anyio
import pytest

import sotkit
from sotkit.providers import create_provider
from sotkit.providers.base import THINKING, CallUsage, Provider
from sotkit.testing import FakeLLMServer, Fault, Reply
from sotkit.testing._replies import split_tokens
from tests.conftest import is_skeleton, point_of
from tests.test_reliability import FAST, SKELETON, TEXTS, client, faulty, for_point

pytestmark = pytest.mark.anyio


async def test_a_points_retry_event_names_that_point(provider):
    # guards: RetryEvent(index=None) for a point, which tells a UI the skeleton was retried
    with FakeLLMServer(faulty({2: [Fault.status(500)]}), latency=FAST) as server:
        async with client(server, provider) as sot, sot.stream("How can I be healthier?") as events:
            seen = [event async for event in events]
    [retry] = [e for e in seen if e.type == "retry"]
    assert (retry.index, retry.attempt, retry.status) == (2, 1, 500)
    assert seen[-1].result.points[1].attempts == 2


async def test_a_stream_raises_the_error_that_ended_its_request(provider):
    # guards: EventStream swallowing the request's exception and ending as if the answer were complete
    with FakeLLMServer(faulty({"skeleton": [Fault.status(400)]}), latency=FAST) as server:
        async with client(server, provider) as sot:
            events = sot.stream("How can I be healthier?")
            seen = []
            with pytest.raises(Exception) as caught:
                async with events:
                    async for event in events:
                        seen.append(event)
    assert 400 in (getattr(caught.value, "status_code", None), getattr(caught.value.__cause__, "status_code", None))
    assert not any(e.type == "done" for e in seen)
    assert len(server.requests) == 1  # a 400 is not retried


async def test_a_skeleton_cut_after_two_points_keeps_them(provider):
    # guards: discarding the points a failing skeleton call had already written
    def respond(request):
        if is_skeleton(request):
            text = SKELETON[len(request.prefill or ""):]
            # cut after the third line's number: two whole lines arrived
            cut_after = len(split_tokens(text[:text.index("3.") + 2]))
            return Reply(text, fault=Fault.drop(after_tokens=cut_after))
        return Reply(TEXTS[point_of(request)])

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, provider, retry=sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01)) as sot:
            # (any points after them are missing: an error, kept in its partial result, unless they may be)
            result = await sot.generate("How can I be healthier?", on_point_error="skip")
    assert len(for_point(server, "skeleton")) == 2  # both attempts were cut
    assert result.mode == "sot" and result.skeleton == ["Sleep well", "Eat less sugar"]
    assert [p.text for p in result.points[:2]] == [TEXTS[1], TEXTS[2]]
    assert "skeleton call failed" in (result.route_reason or "")


async def test_a_skeleton_cut_before_two_points_raises(provider):
    def respond(request):
        if is_skeleton(request):
            return Reply(SKELETON[len(request.prefill or ""):], fault=Fault.drop(after_tokens=1))
        return Reply("never asked")

    with FakeLLMServer(respond, latency=FAST) as server:
        async with client(server, provider, retry=sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01)) as sot:
            with pytest.raises(Exception):
                await sot.generate("How can I be healthier?")
    assert all(is_skeleton(r) for r in server.requests)


async def test_a_compatible_server_gets_every_stop_sequence(provider):
    # none is dropped (one left out lets the text run on past it); OpenAI's own API, which takes four, refuses a
    # template with more when the client is built (tests/providers/test_wire.py)
    stops = "\n".join(["END1", "END2", "END3", "END4", "END5", "END6"])
    template = "{% block user %}{{ question }}{% endblock %}{% block stop %}" + stops + "{% endblock %}"
    with FakeLLMServer("Fine.", latency=FAST) as server:
        base_url = server.openai_base_url if provider == "openai" else server.anthropic_base_url
        async with sotkit.SoT(f"{provider}:m", base_url=base_url, api_key="k", mode="sequential",
                              templates={"sequential": template}) as sot:
            await sot.generate("Why?")
    [request] = server.requests
    assert request.stop == tuple(stops.split("\n"))


async def test_a_tokens_per_minute_budget_spaces_requests_out():
    # guards: tpm= accepted but never charged. 6,000 tokens a minute is 100 a second, and each call may
    # write 90 tokens plus its prompt: the second call must wait for the bucket to refill (about a second).
    with FakeLLMServer("Fine.", latency=FAST) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential",
                              max_tokens=90, tpm=6000) as sot:
            started = time.perf_counter()  # the first request may reach the server late on a loaded machine
            for _ in range(2):
                await sot.generate("Why?")
    first, second = server.requests
    assert second.received_at - started >= 0.8


class Pieces(Provider):
    """A user's own provider streaming the pieces it is given (an endless iterable: a server that ignores
    max_tokens)."""

    model = "test:pieces"
    supports_prefill = False

    def __init__(self, pieces) -> None:
        self.pieces = pieces

    async def stream(self, request):
        for piece in self.pieces:
            yield piece
        yield CallUsage(5, 4)


async def test_an_empty_piece_is_not_the_end_of_a_stream():
    # guards: the runner ending a call at an empty piece (half a character from a tokenizer, a keep-alive) and
    # returning the text so far as the whole answer
    async with sotkit.SoT(Pieces(("Sleep", "", " in a dark", "", " room.")), mode="sequential") as sot:
        result = await sot.generate("How can I sleep better?")
    assert result.text == "Sleep in a dark room." and result.usage.output_tokens == 4


@pytest.mark.parametrize("piece, text", [("and ", "and " * (2 * 50 + 8 + 1)), ("x" * 100, "x" * (16 * 50 + 64))],
                         ids=["2 pieces a token", "16 characters a token"])
async def test_a_runaway_is_cut_exactly_at_the_first_bound_it_passes(piece, text):
    # guards: either bound of the runaway rule lost or loosened (one bound alone still ends the stream)
    async with sotkit.SoT(Pieces(itertools.repeat(piece)), mode="sequential", max_tokens=50) as sot:
        result = await sot.generate("How can I sleep better?")
    # charged the text it sent (a token per four characters), which is more than the budget it ignored (probe 55)
    assert result.text == text and result.usage.output_tokens == math.ceil(len(text) / 4) > 50


async def test_a_stream_of_a_character_an_event_within_its_budget_is_no_runaway():
    # a smoothing proxy's: past 2 pieces a token asked for, the answer was cut there and marked length (probe 123)
    text = " ".join(["Silence your phone and put it away."] * 4)  # 143 characters, about 36 tokens of the 50 asked for
    async with sotkit.SoT(Pieces(tuple(text)), mode="sequential", max_tokens=50) as sot:
        result = await sot.generate("How can I focus?")
    assert (result.text, result.truncated) == (text, False)


class ThinksThenStalls(Provider):
    """A reasoning model that reasons once, then goes quiet."""

    model = "test:thinker"
    supports_prefill = False

    async def stream(self, request):
        yield THINKING
        await anyio.sleep(30)
        yield CallUsage(5, 4)


async def test_a_stall_after_reasoning_says_which_timeout_ended_it():
    # the message named the first-text timeout ("None s for the first text") though the stall timeout ran
    async with sotkit.SoT(ThinksThenStalls(), mode="sequential", retry=1, stall_timeout=0.2,
                          first_token_timeout=None) as sot:
        with anyio.fail_after(20), pytest.raises(sotkit.StreamStalled) as stalled:
            await sot.generate("How can I sleep better?")
    assert str(stalled.value) == "test:thinker sent no text in 0.2 s after its reasoning"


class RunsOn(Provider):
    """A user's own model that ignores stop sequences: every expansion runs on into further points, endlessly."""

    model = "test:runs-on"
    supports_prefill = False

    async def stream(self, request):
        if request.max_line_tokens is not None:  # the skeleton
            yield "1. Sleep well\n2. Eat less sugar"
            yield CallUsage(10, 8)
            return
        yield "Keep to one bedtime."
        for n in itertools.count(3):
            yield f"\n{n}. Another point"


async def test_an_expansion_that_runs_into_the_next_point_is_ended_there():
    # guards: the call read on to its token budget (or returned no usage) after its text left the point; the
    # loopback server honours stop sequences, so only a model that ignores them gets here
    async with sotkit.SoT(RunsOn(), mode="sot") as sot:
        result = await sot.generate("How can I sleep better?")
    assert [p.text for p in result.points] == ["Keep to one bedtime."] * 2
    # the skeleton's 8 tokens, and each expansion estimated from the 38 characters it read (10 tokens a call), not
    # charged its whole budget as a runaway
    assert result.usage.output_tokens == 8 + 2 * 10 and result.usage.estimated_calls == 2


class BatchThatBreaks(Provider):
    """An in-process-style model (it batches) whose batch dies after its first row finished, and that fails every
    expansion it is asked for alone (the runner retries an unfinished row as a single call)."""

    model = "test:batch"
    supports_prefill = True
    supports_batch = True

    async def stream(self, request):
        if request.max_line_tokens is None:  # not the skeleton
            raise ConnectionError("the worker is still dead")
        yield " Sleep well\n2. Eat less sugar\n3. Move daily"
        yield CallUsage(10, 12)

    async def stream_batch(self, requests):
        assert len(requests) == 3
        yield 0, "Row one, written in the batch."
        yield 0, CallUsage(20, 6)
        raise ConnectionError("the worker died")


QUICK_RETRY = sotkit.RetryPolicy(attempts=2, initial_wait_s=0.01)


async def test_a_broken_batch_keeps_its_finished_rows_and_sends_the_rest_to_the_fallback(caplog):
    # guards: finished rows dropped with the failed ones, and the fallback never used for batched points
    caplog.set_level("INFO", logger="sotkit")
    with FakeLLMServer(faulty({}), latency=FAST) as server:
        backup = create_provider("openai:backup", base_url=server.openai_base_url, api_key="k")
        async with sotkit.SoT(BatchThatBreaks(), fallback=backup, mode="sot", retry=QUICK_RETRY) as sot:
            result = await sot.generate("How can I be healthier?")
        await backup.aclose()
    assert [p.text for p in result.points] == ["Row one, written in the batch.", TEXTS[2], TEXTS[3]]
    assert [p.model for p in result.points] == ["test:batch", "openai:backup", "openai:backup"]
    # the batch, then one single attempt on the model (the second of its two: it numbered the batch's failure
    # "attempt 1" and then its own first again, and made three), then the fallback's
    assert [p.attempts for p in result.points] == [1, 3, 3]
    assert sorted(point_of(r) for r in server.requests) == [2, 3]
    # each row retried alone is logged as a retry, as a single call's is (probe 81: no line was)
    logged = sorted(r.getMessage() for r in caplog.records if r.name == "sotkit")
    assert [line for line in logged if "worker died" in line] == [
        f"point {i} on test:batch: attempt 1 of 2 failed (ConnectionError: the worker died); retrying in 0.0 s"
        for i in (2, 3)]
    assert not [line for line in logged if "still dead); retrying" in line]


async def test_a_broken_batch_with_no_retries_sends_its_unfinished_rows_straight_to_the_fallback(caplog):
    # RetryPolicy(attempts=1) still tried each row alone once more, logged as "attempt 1 of 1 failed ... retrying"
    # (probe 86)
    caplog.set_level("INFO", logger="sotkit")
    with FakeLLMServer(faulty({}), latency=FAST) as server:
        backup = create_provider("openai:backup", base_url=server.openai_base_url, api_key="k")
        async with sotkit.SoT(BatchThatBreaks(), fallback=backup, mode="sot",
                              retry=sotkit.RetryPolicy(attempts=1)) as sot:
            result = await sot.generate("How can I be healthier?")
        await backup.aclose()
    assert [p.text for p in result.points] == ["Row one, written in the batch.", TEXTS[2], TEXTS[3]]
    assert [p.attempts for p in result.points] == [1, 2, 2]  # the batch, then the fallback's
    logged = [r.getMessage() for r in caplog.records if r.name == "sotkit"]
    assert not [line for line in logged if "retrying" in line], logged
    assert sorted(line for line in logged if "falling back" in line) == [
        f"point {i} failed on test:batch (ConnectionError: the worker died); falling back to openai:backup"
        for i in (2, 3)]
    async with sotkit.SoT(BatchThatBreaks(), mode="sot", retry=sotkit.RetryPolicy(attempts=1)) as sot:
        with pytest.raises(sotkit.PartialResultError) as caught:
            await sot.generate("How can I be healthier?")
    assert [p.attempts for p in caught.value.partial.points] == [1, 1, 1]
    assert "the worker died" in caught.value.partial.points[1].error


async def test_a_broken_batch_without_a_fallback_fails_only_its_unfinished_points():
    async with sotkit.SoT(BatchThatBreaks(), mode="sot", retry=QUICK_RETRY) as sot:
        with pytest.raises(sotkit.PartialResultError) as caught:
            await sot.generate("How can I be healthier?")
    partial = caught.value.partial
    assert [(p.done, p.failed) for p in partial.points] == [(True, False), (False, True), (False, True)]
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert partial.points[0].text == "Row one, written in the batch."
    assert isinstance(caught.value.__cause__, ConnectionError)


class SmallLocalModel(Provider):
    """A small in-process model, as a fallback: it runs on until its budget cuts it mid-sentence."""

    model = "test:small"
    supports_prefill = False
    whole_sentences = True

    async def stream(self, request):
        yield "Keep one bedtime every night. It helps your body clock to"
        yield CallUsage(10, request.max_tokens, finish_reason="length")


async def test_a_point_a_small_local_fallback_writes_ends_at_its_last_whole_sentence():
    # the filter was made for the main (API) model, and the fallback's cut sentence was kept (probe 56)
    with FakeLLMServer(faulty({2: [Fault.status(500)] * 4}), latency=FAST) as server:
        async with client(server, "openai", fallback=SmallLocalModel(), retry=QUICK_RETRY) as sot:
            result = await sot.generate("How can I be healthier?")
    point = result.points[1]
    assert point.model == "test:small" and point.text == "Keep one bedtime every night." and point.truncated


class FailingInProcessModel(Provider):
    """An in-process model whose defaults set no first-text wait (as ``local:`` models' do), and that fails."""

    in_process = True

    def __init__(self) -> None:
        self.model = "local:failing"
        self.request_defaults = {**Provider.request_defaults, "first_token_timeout": None}

    async def stream(self, request):
        raise ConnectionError("the local model failed")
        yield  # (a generator)


async def test_an_api_fallback_behind_an_in_process_model_still_waits_at_most_timeout_for_its_first_text():
    # review 247: the in-process model's defaults set no first-text wait, and the SDK clients sotkit makes read
    # without a timeout: a fallback server that never answered held the request for ever (its timeout= had ended it)
    with FakeLLMServer(Reply("Rest.", fault=Fault.stall(seconds=60))) as server:
        async with sotkit.SoT(FailingInProcessModel(), fallback=create_provider(
                "openai:m", api_key="k", base_url=server.openai_base_url), timeout=1.0, retry=1,
                mode="sequential") as sot:
            with anyio.fail_after(30), pytest.raises(sotkit.StreamStalled, match="no text in 1.0 s for the first"):
                await sot.generate("Why?")
