"""``local:`` models: a transformers causal LM run in this process (``local:smollm2``, ``local:/path/to/model``).

How the model decodes is an engine, found by name (``decoding=``, default ``"greedy"``) in
``sotkit.engines.registry`` the way model strings find providers; the engine checks its own options. Generation runs
in a worker thread, one generation per model at a time, so the event loop stays responsive; text deltas travel
back through an anyio memory object stream. torch and transformers are imported only when a model is first used.
Decoding is greedy: ``ChatRequest.temperature`` is not used; a text that begins to loop ends before the repeat
(``finish_reason="repetition"``: ``engines/streaming.py``). ``fast_decode=True`` (greedy engine) decodes on a
static KV cache with CUDA graphs (``engines/fast_decode.py``), for GPUs.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from functools import partial
from types import MappingProxyType
from typing import Any

import anyio
import anyio.to_thread
from anyio.from_thread import run_sync as run_in_loop

from ..engines import registry
from ..engines.models import check_device, check_dtype, model_key
from ..engines.streaming import Completion
from ..forks import in_children
from ..per_loop import current_loop
from .base import HELD, CallUsage, ChatRequest, Chunk, Provider

#: per loaded model (``models.model_key``: its resolved path, device and dtype, however the client spelt them, since
#: clients of one model share its weights), in-process generations run one at a time, whichever event loop asks:
#: a lock taken in the worker thread; and per event loop a capacity limiter for those threads (a limiter belongs to
#: one loop: released in one, it would never wake a task waiting in another, and both would wait for ever)
_generating: dict[tuple[str, str, str], threading.Lock] = {}
in_children(_generating.clear)  # a lock a generation of the parent held at a fork would never be released there
_limiters: weakref.WeakKeyDictionary[Any, dict[tuple[str, str, str], anyio.CapacityLimiter]] = \
    weakref.WeakKeyDictionary()


class LocalProvider(Provider):
    """An in-process Hugging Face causal LM decoded by an engine; with an engine that batches (greedy, the
    default), the expansions of one question run as a single batched generation."""

    supports_prefill = prefill_known = True
    supports_batch = True
    in_process = True
    whole_sentences = True
    # Every point is a row of one batch and the slowest row sets the time: fewer, shorter points; and no first-text
    # timeout, as the first call may load (and on first use convert) the model
    request_defaults = MappingProxyType({"max_points": 6, "point_max_tokens": 128, "first_token_timeout": None})

    def __init__(self, model_name: str, *, device: str = "cpu", dtype: str | Any | None = None,
                 decoding: str | None = None, **options: Any) -> None:
        check_device(device)
        check_dtype(dtype)
        if decoding is None:  # focus_weights= alone chose FocusLLM before decoding='focusllm' existed
            decoding = "focusllm" if options.get("focus_weights") not in (None, False) else "greedy"
            if options.get("focus_weights", True) in (None, False):
                del options["focus_weights"]  # no FocusLLM; anything else (a path, even '') is the engine's to check
        self.engine = registry.create(decoding, model_name, options, common=("device", "dtype"))
        self.model = f"local:{model_name}"
        self._name = model_name
        self._device = device
        self._dtype = dtype
        self._key: tuple[str, str, str] | None = None  # model_key's, at the first call (it imports torch)
        self._loaded: Any = None  # what engine.load gave, kept: an engine's own load need not cache it
        self.supports_batch = self.engine.batches
        self.supports_context = self.engine.reads_context

    @classmethod
    def option_names(cls) -> set[str]:
        return super().option_names() | registry.option_names()

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        # aclosing: a reader that stops early must close the inner generator in this task, not leave it
        # to the garbage collector (its task group would then exit in another task)
        async with aclosing(self.stream_batch([request])) as rows:
            async for _, chunk in rows:
                yield chunk

    async def stream_batch(self, requests: Sequence[ChatRequest]) -> AsyncGenerator[tuple[int, Chunk], None]:
        """Generate every request (one batch, or one after the other for an engine that does not batch); yields
        ``(row, text delta)`` (``HELD`` for tokens whose text the engine holds back) and, as each row ends, its
        usage."""
        if not requests:
            return
        if self._key is None:
            self._key = await anyio.to_thread.run_sync(partial(model_key, self._name, device=self._device,
                                                               dtype=self._dtype), abandon_on_cancel=True)
        assert self._key is not None  # (set just above where it was not)
        loop_limiters = _limiters.setdefault(current_loop(), {})
        limiter = loop_limiters.get(self._key) or loop_limiters.setdefault(self._key, anyio.CapacityLimiter(1))
        generating = _generating.setdefault(self._key, threading.Lock())
        # The first load (and first-use conversion) can take half a minute: a deadline that passes meanwhile ends
        # the request on time, and the load finishes in its thread for the next call.
        if self._loaded is None:
            self._loaded = await anyio.to_thread.run_sync(self.engine.load, self._device, self._dtype, limiter=limiter,
                                                          abandon_on_cancel=True)
        loaded = self._loaded
        send, receive = anyio.create_memory_object_stream[tuple[int, Chunk]](math.inf)
        stop = threading.Event()
        errors: list[Exception] = []

        def deliver(item: tuple[int, Chunk]) -> None:
            """Called from the worker thread; a closed stream means the consumer has gone, so stop."""
            if stop.is_set():  # after a cancellation this thread may outlive the request, and its event loop
                return
            try:
                run_in_loop(send.send_nowait, item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):  # RuntimeError: loop gone
                stop.set()

        ended: set[int] = set()

        def ongoing(row: int) -> int:
            if row in ended:  # counted and finished already: more would be spliced onto a finished point
                raise RuntimeError(f"engine {self.engine.name!r} reported row {row} after it ended (an engine bug: "
                                   "each row gets on_done once, and no text after it)")
            return row

        def done(row: int, completion: Completion) -> None:
            deliver((ongoing(row), CallUsage(completion.input_tokens, completion.output_tokens,
                                             finish_reason=completion.finish_reason)))
            ended.add(row)

        def generate() -> None:
            while not generating.acquire(timeout=0.05):  # another event loop's generation on this model
                if stop.is_set():
                    return
            try:
                # (an engine's empty text: tokens came whose text is held back)
                self.engine.generate(loaded, requests, lambda row, text: deliver((ongoing(row), text or HELD)), done,
                                     stop.is_set)
            finally:
                generating.release()

        async def work() -> None:
            try:
                # A cancelled request returns at once, not after the forward pass under way (a long prompt's prefill
                # takes seconds): the thread ends at its next token, and holds the model's lock until then, so the
                # next generation of this model waits for it (the limiter, freed now, only queues threads)
                await anyio.to_thread.run_sync(generate, limiter=limiter, abandon_on_cancel=True)
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
