"""The public API as type checkers and run-time introspection (pydantic, FastAPI, typeguard) read it (probe 71)."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import AsyncIterator

import pytest

import sotkit
import sotkit.providers
import sotkit.router
import sotkit.testing
from sotkit.providers import CallUsage, ChatRequest, Chunk, Provider

PUBLIC = (sotkit, sotkit.providers, sotkit.router, sotkit.testing)


@pytest.mark.parametrize("module", PUBLIC, ids=lambda module: module.__name__)
def test_every_public_dataclass_has_hints_that_resolve_at_run_time(module):
    # Usage, DoneEvent, RouteEvent and Decision named types imported only for type checkers: NameError
    classes = [getattr(module, name) for name in module.__all__ if dataclasses.is_dataclass(getattr(module, name))]
    assert classes
    for cls in classes:
        assert typing.get_type_hints(cls), cls


def test_every_event_hashes_as_the_frozen_dataclass_it_is():
    # a set of the events seen failed at the last one: TypeError: unhashable type: 'Result' (probe 219)
    done = sotkit.DoneEvent(sotkit.Result(text="Because.", mode="sequential", model="m"))
    same = sotkit.DoneEvent(sotkit.Result(text="Because.", mode="sequential", model="m"))
    assert hash(done) == hash(same) and done == same and len({done, same}) == 1
    assert done != sotkit.DoneEvent(sotkit.Result(text="Another.", mode="sequential", model="m"))
    assert len({sotkit.TextEvent(text="A"), sotkit.TextEvent(text="A"), done}) == 2


@pytest.mark.anyio
async def test_a_provider_of_ones_own_may_stream_any_async_iterator():
    # Provider.stream promises an AsyncIterator, and the runner closed it with aclose(), which only an async
    # generator has: AttributeError, the call failed (found by mypy)
    class Chunks:
        def __init__(self, *items: object) -> None:
            self.items = list(items)

        def __aiter__(self) -> Chunks:
            return self

        async def __anext__(self) -> object:
            if not self.items:
                raise StopAsyncIteration
            return self.items.pop(0)

    class Plain(Provider):
        model = "plain:m"

        def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:  # type: ignore[override]
            return Chunks("Because it is.", CallUsage(1, 3, finish_reason="stop"))  # type: ignore[return-value]

    async with sotkit.SoT(Plain(), mode="sequential") as sot:
        assert (await sot.generate("Why?")).text == "Because it is."


def test_the_request_keywords_type_every_request_option_as_its_field():
    fields = typing.get_type_hints(sotkit.RequestOptions)
    keywords = typing.get_type_hints(sotkit.RequestKwargs)
    assert keywords.keys() == fields.keys()  # a field added to one only fails here
    differ = {name for name in fields if keywords[name] != fields[name]}
    assert differ == {"retry"} and keywords["retry"] == sotkit.RetryPolicy | int | None  # attempts; None: the client's
    assert not sotkit.RequestKwargs.__required_keys__
    # complete()'s, which refuses a mode and a context at run time, has neither (review 262: a checker passed them)
    assert typing.get_type_hints(sotkit.CompleteKwargs).keys() == fields.keys() - {"mode", "context"}
    assert typing.get_type_hints(sotkit.SoT.complete)["options"] == typing.Unpack[sotkit.CompleteKwargs]


class _Unnamed(Provider):
    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        yield "An answer."
        yield CallUsage(1, 1, finish_reason="stop")


def test_a_provider_of_ones_own_without_a_model_name_fails_at_construction_saying_what_to_set():
    for options in ({"model": _Unnamed()}, {"model": "openai:m", "api_key": "k", "fallback": _Unnamed()}):
        with pytest.raises(sotkit.ConfigError, match="_Unnamed has no model name: a Provider sets self.model"):
            sotkit.SoT(**options)  # was an AttributeError from deep inside

