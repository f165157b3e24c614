"""The provider's client pool: one client for calls one after another, more only under heavy concurrency."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
import ssl
import threading

import anyio
import pytest

import sotkit
from sotkit.errors import ConfigError
from sotkit.providers._clients import ClientPool
from sotkit.providers.openai import OpenAIProvider


class Client:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


async def hold(pool: ClientPool, calls: int, seen: list, release: anyio.Event) -> None:
    async def one() -> None:
        async with pool.client() as client:
            seen.append(client)
            await release.wait()

    async with anyio.create_task_group() as tg:
        for _ in range(calls):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        release.set()


@pytest.mark.anyio
async def test_calls_one_after_another_use_one_client():
    made = []
    pool = ClientPool(lambda tls: made.append(Client()) or made[-1], calls_per_client=2)
    for _ in range(5):
        async with pool.client() as client:
            assert client is made[0]
    assert len(made) == 1


@pytest.mark.anyio
async def test_concurrent_calls_spread_over_new_clients_up_to_the_cap():
    made, contexts = [], []
    pool = ClientPool(lambda tls: contexts.append(tls) or made.append(Client()) or made[-1],
                      calls_per_client=4, max_clients=3)
    seen: list = []
    await hold(pool, 10, seen, anyio.Event())
    assert len(made) == 3
    assert isinstance(contexts[0], ssl.SSLContext) and all(c is contexts[0] for c in contexts)  # built once
    assert sorted(seen.count(c) for c in made) == [2, 4, 4]  # 4 + 4, then the third client takes the rest
    await hold(pool, 20, seen := [], anyio.Event())  # over the cap: the clients share the load
    assert len(made) == 3 and sorted(seen.count(c) for c in made) == [6, 7, 7]
    await pool.aclose()
    assert all(c.closed for c in made)


@pytest.mark.anyio
async def test_clients_past_the_first_are_closed_once_idle_last_first():
    # after a burst, calls one after another go to the first client: the others' keep-alive connections stayed
    # open for the provider's life, as a pool checks them only when it is used (probe 124: 200 sockets after 80 s)
    made = []
    pool = ClientPool(lambda tls: made.append(Client()) or made[-1], calls_per_client=1, idle_s=0)
    async with pool.client() as first, pool.client() as second, pool.client() as third:  # none idle: none closed
        assert made == [first, second, third] and not any(c.closed for c in made)
    assert [c.closed for c in made] == [False, True, True]  # closed as the calls ended
    async with pool.client() as client:
        assert client is made[0]
    await hold(pool, 2, seen := [], anyio.Event())  # the next burst opens another
    assert len(made) == 4 and set(seen) == {made[0], made[3]}
    slow = ClientPool(lambda tls: made.append(Client()) or made[-1], calls_per_client=1)  # idle for 20 s first
    await hold(slow, 2, [], anyio.Event())
    async with slow.client():
        assert not any(c.closed for c in made[4:])
    await pool.aclose()
    await slow.aclose()


@pytest.mark.anyio
async def test_a_close_of_the_pool_during_a_call_leaves_no_client_open():
    # idle clients popped by a call were closed only after it: an aclose() during it left their sockets open (review
    # 127); before that, closed before the call had its client, an aclose() in between made the call fail with
    # "ValueError: min() arg is an empty sequence" (review 126)
    made = []
    pool = ClientPool(lambda tls: made.append(Client()) or made[-1], calls_per_client=1, idle_s=0)
    await hold(pool, 3, [], anyio.Event())
    async with pool.client() as client:
        await pool.aclose()
        assert client is made[0] and all(c.closed for c in made)


class SlowToClose(Client):
    async def close(self) -> None:
        await anyio.sleep(0.05)
        self.closed = True


class FailsToClose(Client):
    async def close(self) -> None:
        raise RuntimeError("already closed")


def test_every_idle_client_is_closed_though_one_close_fails_or_the_call_is_cancelled():
    # popped before they are closed, they were left open for good where one close raised, or a native cancel (an
    # asyncio timeout) passed the shield during one (review 128)
    import asyncio

    async def scenario(cancel: bool) -> list[bool]:
        made: list = []
        last = SlowToClose if cancel else FailsToClose  # closed first (last first): the cancel comes during its close
        pool = ClientPool(lambda tls: made.append([Client, Client, Client, last][len(made)]()) or made[-1],
                          calls_per_client=1, idle_s=0.01)
        await hold(pool, 4, [], anyio.Event())
        await asyncio.sleep(0.02)

        async def call() -> None:
            async with pool.client():
                pass

        task = asyncio.ensure_future(call())
        if cancel:
            await asyncio.sleep(0.01)
            task.cancel()
        with pytest.raises(asyncio.CancelledError) if cancel else contextlib.nullcontext():
            await task
        return [c.closed for c in made]

    assert asyncio.run(scenario(cancel=False)) == [False, True, True, False]  # the last one's close failed
    assert asyncio.run(scenario(cancel=True)) == [False, True, True, False]


@pytest.mark.anyio
async def test_a_users_client_is_used_alone_and_never_closed():
    mine = Client()
    pool = ClientPool(client=mine, calls_per_client=1)
    seen: list = []
    await hold(pool, 5, seen, anyio.Event())
    assert seen == [mine] * 5
    await pool.aclose()
    assert not mine.closed


@pytest.mark.anyio
async def test_a_cancel_ends_the_wait_for_the_first_clients_slow_import():
    # the SDK's import at the first call takes a second or more in a worker thread: a deadline of 0.6 s held for
    # 1.5 s (probe 61). The wait is abandoned; the import goes on in its thread, and a later call makes the client.
    importing, imported = threading.Event(), threading.Event()

    def slow_import() -> None:
        importing.set()
        imported.wait(10)

    pool = ClientPool(lambda tls: Client(), prepare=slow_import)
    with anyio.move_on_after(0.05) as scope:
        await pool.ready()
    assert scope.cancelled_caught and importing.is_set() and not imported.is_set()
    imported.set()
    async with pool.client() as client:
        assert isinstance(client, Client)


def test_a_pool_needs_a_factory_or_a_client():
    with pytest.raises(ValueError):
        ClientPool()


def test_the_http_backend_is_httpx_unless_aiohttp_is_chosen(monkeypatch):
    import openai

    def transport(provider: OpenAIProvider) -> type:
        async def first() -> type:  # the first client is made at the first call
            async with provider._clients.client() as client:
                return type(client._client)  # the SDK client's HTTP client

        return anyio.run(first)

    monkeypatch.delenv("SOTKIT_HTTP", raising=False)
    assert transport(OpenAIProvider("m", api_key="k")) is openai.DefaultAsyncHttpxClient
    assert transport(OpenAIProvider("m", api_key="k", http="aiohttp")) is openai.DefaultAioHttpClient
    monkeypatch.setenv("SOTKIT_HTTP", "aiohttp")
    assert transport(OpenAIProvider("m", api_key="k")) is openai.DefaultAioHttpClient
    assert transport(OpenAIProvider("m", api_key="k", http="httpx")) is openai.DefaultAsyncHttpxClient


@pytest.mark.parametrize("http, installed, message", [
    ("requests", True, "http='requests': use one of httpx, aiohttp"),
    ("aiohttp", False, "pip install 'sotkit[aiohttp]'"),
])
def test_a_bad_http_backend_fails_when_the_client_is_built(monkeypatch, http, installed, message):
    if not installed:
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=re.escape(message)):
        sotkit.SoT("anthropic:m", api_key="k", http=http)


@pytest.mark.anyio
@pytest.mark.parametrize("http, clients", [("httpx", 2), ("aiohttp", 1)])
async def test_aiohttp_carries_every_call_on_one_client(http, clients):
    """httpcore checks every connection of its pool per request, so past 32 calls in flight httpx calls go to
    another client; aiohttp's pool has no such cost, and one client (one platform probe) carries them all."""
    provider = OpenAIProvider("m", api_key="k", http=http)
    await provider.ready()  # else the calls wait for the first client in a worker thread, taken for blocked by hold()
    seen: list = []
    await hold(provider._clients, 40, seen, anyio.Event())
    assert len({id(client) for client in seen}) == clients
    await provider.aclose()


def test_the_clients_of_an_event_loop_close_when_the_loop_ends():
    """A sync app runs a loop per request (``anyio.run``, ``asyncio.run``): each loop's clients close with it."""
    made: list[Client] = []
    pool = ClientPool(lambda tls: made.append(Client()) or made[-1], calls_per_client=1)
    seen: list = []
    for _ in range(2):
        anyio.run(hold, pool, 3, seen, anyio.Event())  # three at once: three clients
        assert made and all(c.closed for c in made)
    assert len(made) == 6


def test_a_users_client_is_refused_in_a_second_event_loop():
    mine = Client()
    pool = ClientPool(client=mine)

    async def call() -> Client:
        async with pool.client() as client:
            return client

    assert anyio.run(call) is mine
    with pytest.raises(ConfigError, match="ran in another event loop first.*pass api_key= and base_url= instead"):
        anyio.run(call)
    assert not mine.closed


def test_a_users_client_is_refused_in_a_second_event_loop_through_one_off_clients_too():
    # sotkit.generate(client=) builds a client per call: the second asyncio.run got the transport's "Event loop is
    # closed" (probe 87)
    import asyncio

    import openai

    from sotkit.testing import FakeLLMServer

    with FakeLLMServer() as server:
        mine = openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url)  # retries: sotkit uses a copy
        ask = functools.partial(sotkit.generate, "Why?", model="openai:m", client=mine, mode="sequential")
        assert asyncio.run(ask()).text
        with pytest.raises(ConfigError, match=r"client= \(AsyncOpenAI\) ran in another event loop first"):
            asyncio.run(ask())
        assert len(server.requests) == 1


@pytest.mark.parametrize("http", ["httpx", pytest.param("aiohttp", marks=pytest.mark.skipif(
    importlib.util.find_spec("aiohttp") is None, reason="aiohttp not installed"))])
def test_a_client_shared_by_a_loop_per_request_leaves_no_connection_or_session_open(http, caplog):
    import asyncio
    import gc
    import time

    from sotkit.testing import FakeLLMServer

    gc.disable()  # what the garbage collector would close some time later does not count
    try:
        with FakeLLMServer("Sleep well.") as server:
            sot = sotkit.SoT("openai:m", base_url=server.openai_base_url, api_key="k", mode="sequential", http=http)
            for _ in range(3):
                assert asyncio.run(sot.generate("How can I sleep better?")).text == "Sleep well."
            deadline = time.monotonic() + 5
            while server.open_connections and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.open_connections == 0
    finally:
        gc.enable()
    gc.collect()
    assert not [r for r in caplog.records if "Unclosed" in r.getMessage()]


def test_a_users_client_for_a_cloud_platform_names_the_platform_for_traces():
    import anthropic
    import openai

    from sotkit.providers import create_provider

    azure = openai.AsyncAzureOpenAI(api_key="k", api_version="2024-10-21", azure_endpoint="https://a.openai.azure.com")
    vertex = anthropic.AsyncAnthropicVertex(region="us-east5", project_id="p", access_token="t")
    assert create_provider("openai:my-gpt4o", client=azure).platform == "azure.ai.openai"
    assert create_provider("anthropic:claude-sonnet-4-5@20250929", client=vertex).platform == "gcp.vertex_ai"
    assert create_provider("openai:m", client=openai.AsyncOpenAI(api_key="k")).platform is None  # its prefix says
