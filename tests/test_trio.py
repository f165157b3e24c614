"""sotkit on trio, anyio's other event loop: answers, streams, retries, cancels and interrupts as on asyncio, and
the one option that needs asyncio (``http="aiohttp"``) refused before any request."""

from __future__ import annotations

import anyio
import pytest

import sotkit
from sotkit.errors import AsyncioOnly
from sotkit.providers import create_provider
from sotkit.router import LLMRouter
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
async def test_the_aiohttp_backend_is_refused_before_any_request_and_no_fallback_hides_it(sdk):
    with FakeLLMServer(faulty({}), latency=FAST) as server, FakeLLMServer("Fallback text.") as backup:
        fallback = create_provider("openai:backup", api_key="k", base_url=backup.openai_base_url)
        for options in ({}, {"fallback": fallback}):  # the fallback answered every request instead (probe 81)
            async with client(server, sdk, http="aiohttp", **options) as sot:
                with pytest.raises(sotkit.ConfigError, match="http='aiohttp' runs on asyncio only, not on trio: "
                                                             "use http='httpx'"):
                    await sot.generate("How can I be healthier?")  # was a bare RuntimeError, or connection errors
        await fallback.aclose()
    assert not server.requests and not backup.requests


async def test_an_aiohttp_fallback_or_router_is_refused_before_any_request_too():
    # a point's failure on an aiohttp fallback, or an aiohttp LLM router falling back to the default router, hid it:
    # an answer without that point came back as a success (probe 82)
    with FakeLLMServer(faulty({2: [Fault.status(400)]}), latency=FAST) as server:
        aiohttp = create_provider("openai:fb", api_key="k", base_url=server.openai_base_url, http="aiohttp")
        for options in ({"fallback": aiohttp, "on_point_error": "skip"}, {"router": LLMRouter(aiohttp)}):
            async with client(server, "openai", **options) as sot:
                with pytest.raises(AsyncioOnly, match="http='aiohttp' runs on asyncio only"):
                    await sot.generate("How can I be healthier?", mode="auto")
        with pytest.raises(AsyncioOnly):  # a provider used on its own, too
            await aiohttp.ready()
        await aiohttp.aclose()
    assert not server.requests


@pytest.mark.parametrize("read", ["generate", "stream"])
async def test_ctrl_c_in_a_points_task_reaches_the_caller_plain(read):
    # trio delivers Ctrl-C to whichever task runs: in a point's, it came out of generate() wrapped in a
    # BaseExceptionGroup from sotkit's own task group, past the caller's `except KeyboardInterrupt` (probe 79), and
    # out of a stream in the stream's task group too (probe 81)
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
                raise KeyboardInterrupt from OSError("the root cause")
            await anyio.sleep(10)

    async with sotkit.SoT(Interrupted(), mode="sot", point_max_tokens=100) as sot:
        with pytest.raises(KeyboardInterrupt) as caught:
            if read == "generate":
                await sot.generate("Why?")
            else:
                async with sot.stream("Why?") as events:
                    async for _ in events:
                        pass
    assert isinstance(caught.value.__cause__, OSError)  # its own cause is kept (probe 83)



class _Held:
    """A value a loop holds (an SDK client set)."""


def test_the_values_of_finished_trio_runs_are_dropped_as_those_of_closed_asyncio_loops():
    # a trio token cannot say that its run has finished, as an asyncio loop can: a client shared by one anyio.run
    # after another kept every run's SDK clients (their closed sockets, 14 KB a request) for its life (probe 124)
    import gc
    import weakref

    from sotkit.per_loop import PerLoop

    values = PerLoop(_Held)

    async def held() -> weakref.ref:
        return weakref.ref(values.get())

    made = [anyio.run(held, backend=backend) for backend in ("trio", "trio", "asyncio", "trio")]
    gc.collect()
    assert [ref() is None for ref in made] == [True, True, True, False]  # only the last run's


async def test_redis_limits_built_on_trio_are_refused_first_whether_redis_answers_or_not():
    # with Redis down the error said "start redis-server", and once it ran, that trio is refused (probe 131)
    with pytest.raises(AsyncioOnly, match="limits shared through Redis run on asyncio"):
        sotkit.SoT("openai:m", api_key="k", base_url="http://127.0.0.1:9/v1", limits="redis://127.0.0.1:9/0")
