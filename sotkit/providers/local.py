"""``local:`` models: a transformers causal LM run in this process (``local:smollm2``, ``local:/path/to/model``).

Generation runs in a worker thread, one generation per model at a time, so the event loop stays responsive;
text deltas travel back through an anyio memory object stream. torch and transformers are imported only
when a model is first used. Decoding is greedy: ``ChatRequest.temperature`` is not used. ``fast_decode=True``
decodes on a static KV cache with CUDA graphs (``engines/fast_decode.py``), for GPUs.
"""

from __future__ import annotations

import json
import math
import threading
from contextlib import aclosing
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import anyio
import anyio.to_thread
from anyio.from_thread import run_sync as run_in_loop

from ..errors import ConfigError
from .base import CallUsage, ChatRequest, Chunk, Provider

_DEVICES = ("cpu", "cuda", "auto")
_DTYPES = ("auto", "float32", "float16", "bfloat16")

#: FocusLLM wrappers by (loaded model, weights file)
_focus_models: dict[tuple[int, Path], Any] = {}

#: one capacity limiter per loaded model (name, device, dtype): in-process generations run one at a time
_limiters: dict[tuple[str, str, str], anyio.CapacityLimiter] = {}


class LocalProvider(Provider):
    """An in-process Hugging Face causal LM; expansions of one question run as a single batched generation."""

    supports_prefill = True
    supports_batch = True
    whole_sentences = True
    # Every point is a row of one batch and the slowest row sets the time: fewer, shorter points.
    # the first call may load (and on first use convert) the model: that is no stall
    request_defaults = MappingProxyType({"max_points": 6, "point_max_tokens": 128, "first_token_timeout": None})

    def __init__(self, model_name: str, *, device: str = "cpu", dtype: str | Any | None = None,
                 decoding: str = "greedy", alpha: float | None = None, k: int | None = None, verify: bool = False,
                 lookup: int = 0, focus_weights: str | Path | bool | None = None, fast_decode: bool = False,
                 **options: Any) -> None:
        from ..engines.models import check_available

        if options:
            raise ConfigError(f"unknown option(s) for local models: {', '.join(sorted(options))}; local models take "
                              "device=, dtype=, decoding= ('greedy', 'lexical_unit'), alpha=, k=, verify=, lookup=, "
                              "focus_weights=, fast_decode=")
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
        self._lexical_units = _lexical_unit_settings(model_name, decoding, alpha, k, verify, lookup)
        self._focus_weights = _focus_weights_path(model_name, focus_weights)
        # Lexical-unit and FocusLLM decoding run one row at a time; FocusLLM reads request contexts itself.
        self.supports_batch = self._lexical_units is None and self._focus_weights is None
        self.supports_context = self._focus_weights is not None
        if fast_decode and not self.supports_batch:
            raise ConfigError("fast_decode=True speeds up greedy decoding; lexical-unit and FocusLLM decoding run "
                              "their own loops: drop fast_decode or decoding=/focus_weights=")
        self._fast_decode = fast_decode

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        # aclosing: a reader that stops early must close the inner generator in this task, not leave it
        # to the garbage collector (its task group would then exit in another task)
        async with aclosing(self.stream_batch([request])) as rows:
            async for _, chunk in rows:
                yield chunk

    async def stream_batch(self, requests: Sequence[ChatRequest]) -> AsyncIterator[tuple[int, Chunk]]:
        """Generate every request in one batch; yields ``(row, text delta)`` and, as each row ends, its usage."""
        if not requests:
            return
        from ..engines.generation import stream_generate
        from ..engines.models import load_model

        limiter = _limiters.get(self._key) or _limiters.setdefault(self._key, anyio.CapacityLimiter(1))
        # The first load (and first-use conversion) can take half a minute: a deadline that passes meanwhile ends
        # the request on time, and the load finishes in its thread for the next call.
        model, tokenizer = await anyio.to_thread.run_sync(
            lambda: load_model(self._name, device=self._device, dtype=self._dtype), limiter=limiter,
            abandon_on_cancel=True,
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
            if self.supports_batch:
                stream_generate(
                    model, tokenizer, [r.prompt for r in requests],
                    max_new_tokens=[r.max_tokens for r in requests],
                    stop=[r.stop for r in requests],
                    max_line_tokens=[r.max_line_tokens for r in requests],
                    on_text=lambda row, text: deliver((row, text)),
                    on_done=lambda row, done: deliver((row, CallUsage(done.input_tokens, done.output_tokens))),
                    should_stop=stop.is_set,
                    fast_decode=self._fast_decode,
                )
                return
            for row, request in enumerate(requests):
                if stop.is_set():
                    return
                deliver((row, self._generate_row(model, tokenizer, request, lambda text: deliver((row, text)),
                                                 stop.is_set)))

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

    def _generate_row(self, model: Any, tokenizer: Any, request: ChatRequest, on_text: Callable[[str], None],
                      should_stop: Callable[[], bool]) -> CallUsage:
        """One request with lexical-unit decoding or FocusLLM (worker thread); returns its usage."""
        from ..engines.generation import chat_token_ids

        prompt_ids = chat_token_ids(tokenizer, request.prompt)
        if self._lexical_units is not None:
            from ..engines.lexical_unit import generate

            result = generate(model, tokenizer, prompt_ids, request.max_tokens, stop=request.stop, on_span=on_text,
                              **self._lexical_units)
            return CallUsage(len(prompt_ids), len(result.token_ids))
        from ..engines.focusllm import FocusLLM, focus_generate

        # Wrapping swaps the shared base model's projections in place (unchanged while the switch is off),
        # so there is one wrapper per loaded model and weights file in the process.
        key = (id(model), self._focus_weights)
        focus = _focus_models.get(key) or _focus_models.setdefault(key, FocusLLM.from_pretrained(model, self._focus_weights))
        context_ids = tokenizer(request.context or "", add_special_tokens=False)["input_ids"]
        text = focus_generate(focus, tokenizer, context_ids, prompt_ids, request.max_tokens, on_text,
                              stop=request.stop, should_stop=should_stop)
        return CallUsage(len(context_ids) + len(prompt_ids), len(tokenizer(text, add_special_tokens=False)["input_ids"]))


def _lexical_unit_settings(name: str, decoding: str, alpha: float | None, k: int | None,
                           verify: bool, lookup: int) -> dict[str, Any] | None:
    """``generate`` keywords for ``decoding="lexical_unit"`` (defaults from the model's lud_config.json)."""
    if decoding not in ("greedy", "lexical_unit"):
        raise ConfigError(f"decoding={decoding!r}; use 'greedy' or 'lexical_unit'")
    if lookup and (decoding != "lexical_unit" or not verify):
        raise ConfigError(f"lookup={lookup} drafts tokens that must be checked: pass decoding='lexical_unit', "
                          "verify=True")
    if decoding == "greedy":
        return None
    config_file = Path(name) / "lud_config.json"
    if not config_file.is_file():
        raise ConfigError(f"decoding='lexical_unit' needs a model fine-tuned with [PAD] slots, and {name!r} has "
                          "no lud_config.json; create one with `sotkit engines lud prepare` and `... train`")
    saved = json.loads(config_file.read_text())
    return {"alpha": saved.get("alpha", 0.9) if alpha is None else alpha,
            "k": saved.get("k", 3) if k is None else k, "verify": verify, "lookup": lookup}


def _focus_weights_path(name: str, focus_weights: str | Path | bool | None) -> Path | None:
    """The FocusLLM weights file (``True``: where ``sotkit engines focus train`` writes it by default)."""
    if not focus_weights:
        return None
    if focus_weights is True:
        from ..engines.focusllm.cli import default_weights_path

        focus_weights = default_weights_path(name)
    path = Path(focus_weights)
    if not path.is_file():
        raise ConfigError(f"no FocusLLM weights at {str(path)!r}; train them with `sotkit engines focus train` "
                          "or pass focus_weights='path/to/weights.safetensors'")
    return path


PROVIDER = LocalProvider
