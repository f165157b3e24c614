"""``local:`` models: a transformers causal LM run in this process (``local:smollm2``, ``local:/path/to/model``).

Generation runs in a worker thread, one generation per model at a time, so the event loop stays responsive;
text deltas travel back through an anyio memory object stream. torch and transformers are imported only
when a model is first used. Decoding is greedy: ``ChatRequest.temperature`` is not used.
"""

from __future__ import annotations

import math
import threading
from collections.abc import AsyncIterator, Sequence
from types import MappingProxyType
from typing import Any

import anyio
import anyio.to_thread
from anyio.from_thread import run_sync as run_in_loop

from ..errors import ConfigError
from .base import CallUsage, ChatRequest, Chunk, Provider

_DEVICES = ("cpu", "cuda", "auto")
_DTYPES = ("auto", "float32", "float16", "bfloat16")

#: one capacity limiter per loaded model (name, device, dtype): in-process generations run one at a time
_limiters: dict[tuple[str, str, str], anyio.CapacityLimiter] = {}


class LocalProvider(Provider):
    """An in-process Hugging Face causal LM; expansions of one question run as a single batched generation."""

    supports_prefill = True
    supports_batch = True
    # Every point is a row of one batch and the slowest row sets the time: fewer, shorter points.
    request_defaults = MappingProxyType({"max_points": 6, "point_max_tokens": 96})

    def __init__(self, model_name: str, *, device: str = "cpu", dtype: str | Any | None = None, **options: Any) -> None:
        from ..engines.models import check_available

        if options:
            raise ConfigError(f"unknown option(s) for local models: {', '.join(sorted(options))}; "
                              "local models take device= ('cpu', 'cuda', 'auto') and dtype= ('float32', 'bfloat16', ...)")
        if device not in _DEVICES and not device.startswith("cuda:"):
            raise ConfigError(f"device={device!r} is not one of {', '.join(_DEVICES)} (or 'cuda:N')")
        if isinstance(dtype, str) and dtype not in _DTYPES:
            raise ConfigError(f"dtype={dtype!r} is not one of {', '.join(_DTYPES)}")
        check_available(model_name)  # a missing package or directory is reported now, not mid-request
        self.model = f"local:{model_name}"
        self._name = model_name
        self._device = device
        self._dtype = dtype
        self._key = (model_name, device, str(dtype))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        async for _, chunk in self.stream_batch([request]):
            yield chunk

    async def stream_batch(self, requests: Sequence[ChatRequest]) -> AsyncIterator[tuple[int, Chunk]]:
        """Generate every request in one batch; yields ``(row, text delta)`` and, as each row ends, its usage."""
        if not requests:
            return
        from ..engines.generation import stream_generate
        from ..engines.models import load_model

        limiter = _limiters.get(self._key) or _limiters.setdefault(self._key, anyio.CapacityLimiter(1))
        model, tokenizer = await anyio.to_thread.run_sync(
            lambda: load_model(self._name, device=self._device, dtype=self._dtype), limiter=limiter
        )
        send, receive = anyio.create_memory_object_stream[tuple[int, Chunk]](math.inf)
        stop = threading.Event()
        errors: list[Exception] = []

        def deliver(item: tuple[int, Chunk]) -> None:
            """Called from the worker thread; a closed stream means the consumer has gone, so stop."""
            try:
                run_in_loop(send.send_nowait, item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                stop.set()

        def generate() -> None:
            stream_generate(
                model, tokenizer, [r.prompt for r in requests],
                max_new_tokens=[r.max_tokens for r in requests],
                stop=[r.stop for r in requests],
                on_text=lambda row, text: deliver((row, text)),
                on_done=lambda row, done: deliver((row, CallUsage(done.input_tokens, done.output_tokens))),
                should_stop=stop.is_set,
            )

        async def work() -> None:
            try:
                await anyio.to_thread.run_sync(generate, limiter=limiter)
            except Exception as exc:  # re-raised below as itself, not wrapped in an exception group
                errors.append(exc)
            finally:
                send.close()

        consumer_left = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(work)
            try:
                async with receive:
                    async for item in receive:
                        yield item
            except GeneratorExit:  # closed early by the consumer: end quietly (a task group would wrap it)
                consumer_left = True
            finally:
                stop.set()  # consumer gone or cancelled: generation ends at the next token
        if errors and not consumer_left:
            raise errors[0]


PROVIDER = LocalProvider
