"""Telling a server that writes the expansions one at a time from one that writes them at once."""

from __future__ import annotations

import warnings

import pytest

import sotkit
from sotkit.overlap import CallSpan, one_at_a_time
from sotkit.testing import FakeLLMServer, Latency
from tests.conftest import sot_responder

SKELETON = "1. Sleep well\n2. Eat less sugar\n3. Move daily\n4. See friends"
TEXT = " ".join(["word"] * 20)


def spans(*triples: tuple[float, float, float]) -> list[CallSpan]:
    return [CallSpan(*t) for t in triples]


@pytest.mark.parametrize("calls, serial", [
    # all sent at once, each written after the one before: a queue
    (spans((0, 1, 2), (0, 2.1, 3), (0, 3.2, 4)), True),
    (spans((0, 3.2, 4), (0, 1, 2), (0, 2.1, 3)), True),  # in any order
    (spans((0, 1, 2), (0, 1.95, 3), (0, 3.0, 4)), True),  # the next first text stamped a little early
    # written at once (parallel slots, continuous batching)
    (spans((0, 1, 2), (0, 1.1, 2.1), (0, 1.2, 2.2)), False),
    (spans((0, 1, 2), (0, 2.1, 3), (0, 2.5, 4)), False),  # two of them overlapped: the server is parallel
    # sent one at a time by the client (max_concurrency=1, or points found late): no evidence
    (spans((0, 1, 2), (2.05, 2.1, 3), (3.05, 3.2, 4)), False),
    # two calls are too few to tell
    (spans((0, 1, 2), (0, 2.1, 3)), False),
    # calls read in one go (a busy client, a few tokens each) cannot show an overlap
    (spans((0, 1, 1.001), (0, 1.002, 1.003), (0, 1.004, 1.005)), False),
    ([], False),
])
def test_one_at_a_time(calls, serial):
    assert one_at_a_time(calls) is serial


def queued(ttft_step: float) -> dict[int, Latency]:
    """Point i's first token after i * ttft_step; its 20 tokens take 0.4 s (a serial server, for a step > 0.4): a
    writing span that a loaded client, reading late, still sees longer than MIN_WRITING_S."""
    return {i: Latency(ttft_s=ttft_step * i, tokens_per_s=50) for i in range(1, 5)}


pytestmark = pytest.mark.anyio


async def test_a_server_that_writes_the_points_in_turn_is_named_once_per_client():
    responder = sot_responder(SKELETON, {i: TEXT for i in range(1, 5)}, point_latency=queued(0.7))
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=2000)) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sot",
                              eager=False) as sot:
            with pytest.warns(sotkit.SerialServerWarning, match="one at a time"):
                first = await sot.generate("How can I be healthier?")
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a second warning would raise
                second = await sot.generate("How can I be healthier?")
    for result in first, second:
        assert result.mode == "sot" and len(result.points) == 4
        assert "openai:m wrote the 4 expansions one at a time" in result.route_reason
        assert result.route_reason.startswith("mode='sot' was requested; ")


async def test_warnings_made_errors_do_not_throw_away_the_answer_the_note_is_logged(caplog):
    # under -W error (pytest's filterwarnings = error) the note raised out of generate() after every point was
    # written: the whole answer was lost (probe 92)
    responder = sot_responder(SKELETON, {i: TEXT for i in range(1, 5)}, point_latency=queued(0.7))
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=2000)) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sot",
                              eager=False) as sot:
            with warnings.catch_warnings(), caplog.at_level("WARNING", logger="sotkit"):
                warnings.simplefilter("error")
                result = await sot.generate("How can I be healthier?")
    assert len(result.points) == 4 and all(p.done for p in result.points)
    assert "openai:m wrote the 4 expansions one at a time" in result.route_reason
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["SerialServerWarning"]


@pytest.mark.parametrize("max_concurrency", [None, 1])
async def test_a_parallel_server_or_a_client_that_sends_in_turn_is_not_named(max_concurrency):
    responder = sot_responder(SKELETON, {i: TEXT for i in range(1, 5)}, point_latency=queued(0.02))
    options = {"max_concurrency": max_concurrency} if max_concurrency else {}
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=2000)) as server:
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sot",
                              eager=False, **options) as sot:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                result = await sot.generate("How can I be healthier?")
    assert len(result.points) == 4 and result.route_reason == "mode='sot' was requested"


async def test_calls_the_per_minute_budget_spaced_out_are_no_evidence_against_the_server():
    """Spaced by rpm, expansions line up one after another on any server: the server is not named (probe 39 saw
    it named for a parallel server whose calls a shared rpm budget spaced out)."""
    responder = sot_responder(SKELETON, {i: TEXT for i in range(1, 5)}, point_latency=queued(0.45))
    with FakeLLMServer(responder, latency=Latency(ttft_s=0, tokens_per_s=2000)) as server:
        # 2 a second, a burst of 2, one taken by the skeleton's call: the third and fourth expansions wait 0.5 s and
        # 1 s or more, however long the skeleton took (at 240, a skeleton of 0.25 s left room for all four at once)
        async with sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sot",
                              eager=False, rpm=120) as sot:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                result = await sot.generate("How can I be healthier?")
    assert len(result.points) == 4 and result.route_reason == "mode='sot' was requested"
