"""sotkit on trio, anyio's other event loop: answers, streams, retries, cancels and interrupts as on asyncio, and
the one option that needs asyncio (``http="aiohttp"``) refused before any request."""

from __future__ import annotations

import anyio
import pytest

import sotkit
from sotkit.testing import FakeLLMServer, Fault, Latency
from tests.conftest import sot_responder
from tests.test_reliability import FAST, SKELETON, TEXTS, client, expected_text, faulty

pytestmark = pytest.mark.anyio
SDKS = pytest.mark.parametrize("sdk", ["openai", "anthropic"])


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.fixture(autouse=True)
def _httpx(monkeypatch):
    monkeypatch.delenv("SOTKIT_HTTP", raising=False)


@SDKS
async def test_an_answer_and_its_stream_are_written_as_on_asyncio_with_a_retried_point(sdk):
    with FakeLLMServer(faulty({2: [Fault.status(503)]}), latency=FAST) as server:
        async with client(server, sdk) as sot:
            result = await sot.generate("How can I be healthier?")
            async with sot.stream("How can I be healthier?") as events:
                streamed = "".join([event.text async for event in events if event.type == "text"])
    assert result.text == streamed == expected_text()
    assert [p.attempts for p in result.points] == [1, 2, 1]


@SDKS
async def test_a_cancel_from_the_caller_closes_every_call(sdk):
    slow = {i: Latency(ttft_s=0.0, tokens_per_s=2) for i in TEXTS}
    with FakeLLMServer(sot_responder(SKELETON, TEXTS, point_latency=slow)) as server:
        async with client(server, sdk) as sot:
            with anyio.move_on_after(1) as scope:
                await sot.generate("How can I be healthier?")
        await server.wait_idle_async(timeout=5)  # raises if a call were left open
    assert scope.cancelled_caught and len(server.requests) == 4 and all(r.client_closed for r in server.requests[1:])


@SDKS
async def test_the_aiohttp_backend_is_refused_before_any_request(sdk):
    with FakeLLMServer(faulty({}), latency=FAST) as server:
        async with client(server, sdk, http="aiohttp") as sot:
            with pytest.raises(sotkit.ConfigError, match="http='aiohttp' runs on asyncio only, not on trio: use "
                                                         "http='httpx'"):
                await sot.generate("How can I be healthier?")  # was a bare RuntimeError, or retried connection errors
    assert not server.requests


async def test_ctrl_c_in_a_points_task_reaches_the_caller_plain():
    # trio delivers Ctrl-C to whichever task runs: in a point's, it came out of generate() wrapped in a
    # BaseExceptionGroup from sotkit's own task group, past the caller's `except KeyboardInterrupt` (probe 79)
    class Interrupted(sotkit.providers.Provider):
        model = "mine:interrupted"
        points = 0

        async def stream(self, request):
            if request.max_tokens == 300:  # the skeleton
                yield "1. Alpha\n2. Beta\n3. Gamma"
                return
            self.points += 1
            yield "Some text."
            if self.points == 2:
                raise KeyboardInterrupt
            await anyio.sleep(10)

    async with sotkit.SoT(Interrupted()) as sot:
        with pytest.raises(KeyboardInterrupt):
            await sot.generate("Why?", mode="sot", point_max_tokens=100)
