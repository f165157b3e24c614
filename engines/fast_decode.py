"""Greedy decoding with a static KV cache and, on a GPU, one CUDA graph per decoding step.

``model.generate()`` spends most of a small model's step on the host: a 135M model on an H200 ran 40 tokens/s
(25 ms a step, ``benchmarks/results/lud_gpu.md``) where reading its bf16 weights takes well under 0.1 ms. This
loop keeps every tensor of a step at a fixed address (transformers' ``StaticCache``, a preallocated attention
mask, input and position buffers), so on CUDA the step's few hundred kernel launches are captured into a CUDA
graph and replayed as one launch; the cache and graph are kept for the next call of the same shape (``KEEP_BYTES``,
``release``). On an H200 this loop ran 261 tokens/s where ``generate()`` ran 46 (``benchmarks/results/README_gpu.md``).
There is no ``torch.compile``: capturing takes one step's time, where compiling takes tens of seconds per batch
shape, which a GPU window of minutes cannot spare.

It is a drop-in for the greedy ``generate()`` call of ``generation.stream_generate`` (``fast_decode=True``):
the same keywords, left-padded rows, positions and attention, the same ``LogitsProcessor`` and
``StoppingCriteria`` objects called after every step, finished rows fed pad tokens. On a CPU it runs the same
loop without a graph, which is how its tokens are checked against ``generate()`` (``tests/engines/``
``test_fast_decode.py``); there it is no faster (its attention spans the whole preallocated cache).
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .models import has_sliding_window

if TYPE_CHECKING:
    import torch
    from transformers import LogitsProcessorList, PreTrainedModel, StoppingCriteriaList

# generation-config fields whose processors generate() would add to greedy decoding; this loop applies none
# (transformers' GenerationMixin._get_logits_processor and _get_stopping_criteria; sampling's are not greedy's)
_UNSUPPORTED = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "min_new_tokens": 0, "min_length": 0,
                "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None,
                "forced_bos_token_id": None, "forced_eos_token_id": None, "sequence_bias": None,
                "exponential_decay_length_penalty": None, "guidance_scale": 1.0, "watermarking_config": None,
                "stop_strings": None, "max_time": None,
                # (generate() reads a decoder-only model's prompt as its "encoder input" for these)
                "encoder_repetition_penalty": 1.0, "encoder_no_repeat_ngram_size": 0}

# A call's static cache and captured step are kept for the next call of as many rows and the same cache length
# (rounded up to LENGTH_STEP): making them (the cache, an eager warm-up step, the capture) costs 20 to 50 steps on
# an H200 (benchmarks/results/fast_decode_calls_gpu.json), more than a SoT skeleton's whole decoding. KEEP_BYTES
# bounds the kept caches of one model by device type; the least recently used goes first. A CPU has no graph to
# keep, so nothing is kept there unless it is named.
KEEP_BYTES = {"cuda": 2 << 30}
LENGTH_STEP = 256
_kept: weakref.WeakKeyDictionary[Any, OrderedDict[tuple, _Workspace]] = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()


def check_supported(model: PreTrainedModel) -> None:
    """Raise if this loop would decode differently from ``generate()`` for ``model``, saying what to do."""
    if "cache" not in inspect.signature(model.forward).parameters:
        raise RuntimeError("fast_decode needs a transformers version whose models take `cache=` (5.2x or later); "
                           "upgrade transformers or decode without fast_decode")
    # this loop's one mask over every slot of the cache does not describe a sliding window's ring
    if has_sliding_window(model.config):
        raise ConfigError(f"fast_decode does not decode {type(model).__name__}'s sliding-window attention layers; "
                          "decode without fast_decode")
    config = model.generation_config
    changed = [name for name, default in _UNSUPPORTED.items() if getattr(config, name, default) not in (default, None)]
    if changed:
        raise ConfigError(f"the model's generation config sets {', '.join(changed)}, which fast_decode does not "
                         "apply; decode without fast_decode or clear them in model.generation_config")


def greedy(
    model: PreTrainedModel,
    *,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_new_tokens: int,
    pad_token_id: int,
    stopping_criteria: StoppingCriteriaList,
    logits_processor: LogitsProcessorList | None = None,
    do_sample: bool = False,
    top_p: None = None,
    top_k: None = None,
    temperature: None = None,
    cuda_graph: bool | None = None,
) -> torch.Tensor:
    """Greedy tokens for left-padded rows, as ``model.generate(do_sample=False, ...)`` with the same keywords.

    Returns the prompt and generated tokens (one column per step; rows that ended early carry pad tokens).
    ``stopping_criteria(ids, scores)`` returns one bool per row after every step; the loop ends when all rows
    have ended or after ``max_new_tokens`` steps. The sampling settings are taken only to be refused (greedy
    decoding ignores them, as ``generate()`` does). ``cuda_graph`` (default: on for CUDA models) replays each
    step as a CUDA graph.
    """
    if do_sample or any(v is not None for v in (top_p, top_k, temperature)):
        raise ValueError("fast_decode decodes greedily: pass do_sample=False and no top_p, top_k or temperature")
    import torch

    check_supported(model)
    device = model.device
    input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
    rows, width = input_ids.shape
    # the static cache is allocated whole: no longer than the model can attend (max_tokens=10**12 would ask TBs)
    most = getattr(model.config, "max_position_embeddings", None)
    length = width + (min(max_new_tokens, max(most - width, 1)) if most else max_new_tokens)
    tokens = torch.full((rows, length), pad_token_id, dtype=input_ids.dtype, device=device)
    tokens[:, :width] = input_ids
    use_graph = device.type == "cuda" if cuda_graph is None else cuda_graph
    with _workspace(model, rows, _cache_length(length, most), use_graph) as step, torch.inference_mode():
        logits = step.start(input_ids, attention_mask)
        unfinished = torch.ones(rows, dtype=torch.bool, device=device)
        pad = torch.tensor(pad_token_id, dtype=tokens.dtype, device=device)
        for index in range(width, length):
            scores = logits[:, -1, :].to(dtype=torch.float32, copy=True)
            if logits_processor:
                scores = logits_processor(tokens[:, :index], scores)
            tokens[:, index] = torch.where(unfinished, scores.argmax(-1), pad)
            unfinished &= ~stopping_criteria(tokens[:, : index + 1], scores)
            if index + 1 == length or not unfinished.any():
                return tokens[:, : index + 1]
            logits = step(tokens[:, index], index)
    return tokens


def _cache_length(length: int, most: int | None) -> int:
    """``length`` rounded up to a LENGTH_STEP, so calls of nearby lengths share a kept cache (within the model)."""
    rounded = -(-length // LENGTH_STEP) * LENGTH_STEP
    return max(length, min(rounded, most)) if most else rounded


@contextmanager
def _workspace(model: PreTrainedModel, rows: int, length: int, use_graph: bool) -> Iterator[_Workspace]:
    """A kept workspace of this shape if one is free, else a new one; kept afterwards if the call ended well."""
    key = (rows, length, use_graph, _state(model))
    with _kept_lock:
        found = _kept.get(model, {}).get(key)
        space = found if found is not None and found.lock.acquire(blocking=False) else None  # another call's?
    if space is None:
        space = _Workspace(model, rows, length, use_graph)
        space.lock.acquire()
    try:
        yield space
    except BaseException:  # a call broken off mid-step or mid-capture: its buffers are not to be trusted
        with _kept_lock:
            if _kept.get(model, {}).get(key) is space:
                del _kept[model][key]
        raise
    else:
        with _kept_lock:
            kept = _kept.setdefault(model, OrderedDict())
            for stale in [k for k in kept if k[3] != key[3]]:
                del kept[stale]
            if kept.setdefault(key, space) is space:
                kept.move_to_end(key)
                while kept and sum(s.nbytes for s in kept.values()) > KEEP_BYTES.get(model.device.type, 0):
                    kept.popitem(last=False)
    finally:
        space.lock.release()


def release(model: PreTrainedModel) -> None:
    """Free the caches and graphs kept for ``model``: after changing it in place in a way a captured step cannot
    see (another attention implementation, an adapter switched on), or to give their memory back."""
    with _kept_lock:
        _kept.pop(model, None)


def _state(model: PreTrainedModel) -> tuple:
    """What a kept workspace is good for: a graph reads every tensor where it was at capture (model.to() moves
    them all, a parameter assigned anew moves one), in the dtypes it was captured in, with autocast as it was."""
    import torch

    device = model.device.type
    autocast = torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device)
    return (str(model.device), model.training, autocast,
            tuple((t.data_ptr(), t.dtype) for t in (*model.parameters(), *model.buffers())))


class _Workspace:
    """A static KV cache and one decoding step on fixed buffers (the new tokens, their positions and which cache
    slots they see), with the step's CUDA graph once captured: every call that uses it starts with ``start``."""

    def __init__(self, model: PreTrainedModel, rows: int, length: int, use_graph: bool) -> None:
        import torch
        from transformers import StaticCache

        # the model is passed to each call, not held: the kept workspaces must not keep their model alive
        self.model_ref = weakref.ref(model)
        self.cache = StaticCache(config=model.config, max_cache_len=length)
        self.ids = torch.zeros(rows, 1, dtype=torch.long, device=model.device)
        self.positions = torch.zeros(rows, 1, dtype=torch.long, device=model.device)
        # a 4D boolean mask is passed through to attention as is: slot k is visible if it holds a real token
        self.visible = torch.zeros(rows, 1, 1, length, dtype=torch.bool, device=model.device)
        self.use_graph = use_graph
        self.graph: Any = None
        self.logits: torch.Tensor | None = None
        self.stream = torch.cuda.Stream(model.device) if use_graph else None
        self.lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """The cache's bytes (the captured graph's own pool of activations comes on top)."""
        return sum(t.nbytes for layer in self.cache.layers for t in (getattr(layer, "keys", None),
                                                                       getattr(layer, "values", None))
                   if t is not None)

    def start(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Empty the cache and prefill it with left-padded prompts; the logits of their last tokens."""
        width = input_ids.shape[1]
        self.cache.reset()  # in place: a captured graph keeps reading and writing the same tensors
        self.visible.zero_()
        self.visible[:, 0, 0, :width] = attention_mask.bool()
        # the first generated token sits after all of its row's real tokens
        self.positions.copy_(attention_mask.long().sum(-1, keepdim=True) - 1)
        # generate()'s positions: each token's index among its row's real (unpadded) tokens
        positions = (attention_mask.long().cumsum(-1) - 1).masked_fill_(attention_mask == 0, 1)
        return self._model()(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions,
                             cache=self.cache, use_cache=True, logits_to_keep=1).logits

    def __call__(self, token: torch.Tensor, slot: int) -> torch.Tensor:
        import torch

        self.ids[:, 0] = token
        self.positions += 1
        self.visible[:, 0, 0, slot] = True
        if self.graph is not None:
            self.graph.replay()
            return self.logits  # type: ignore[return-value]
        if not self.use_graph:
            return self._forward()
        # The first step runs eagerly on the capture stream (a warm-up, as CUDA graphs need); the second is
        # captured (capturing runs nothing, so the cache is untouched) and then replayed for real.
        device = self.ids.device
        assert self.stream is not None
        self.stream.wait_stream(torch.cuda.current_stream(device))
        if self.logits is None:
            with torch.cuda.stream(self.stream):
                self.logits = self._forward()
            torch.cuda.current_stream(device).wait_stream(self.stream)
            return self.logits
        # capture_begin/end rather than torch.cuda.graph(), which empties the allocator's cache at every capture
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.stream(self.stream):
            graph.capture_begin(capture_error_mode="thread_local")
            try:
                self.logits = self._forward()
            finally:
                graph.capture_end()
        torch.cuda.current_stream(device).wait_stream(self.stream)
        self.graph = graph
        graph.replay()
        return self.logits

    def _model(self) -> PreTrainedModel:
        model = self.model_ref()
        assert model is not None, "a workspace is used only while its model is"
        return model

    def _forward(self) -> torch.Tensor:
        return self._model()(input_ids=self.ids, attention_mask=self.visible, position_ids=self.positions,
                             cache=self.cache, use_cache=True).logits
