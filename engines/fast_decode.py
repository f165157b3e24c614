"""Greedy decoding with a static KV cache and, on a GPU, one CUDA graph per decoding step.

``model.generate()`` spends most of a small model's step on the host: a 135M model on an H200 ran 40 tokens/s
(25 ms a step, ``benchmarks/results/lud_gpu.md``) where reading its bf16 weights takes well under 0.1 ms. This
loop keeps every tensor of a step at a fixed address (transformers' ``StaticCache``, a preallocated attention
mask, input and position buffers), so on CUDA the step's few hundred kernel launches are captured once per call
into a CUDA graph and replayed as one launch. There is no ``torch.compile``: capturing takes one step's time,
where compiling takes tens of seconds per batch shape, which a GPU window of minutes cannot spare.

It is a drop-in for the greedy ``generate()`` call of ``generation.stream_generate`` (``fast_decode=True``):
the same keywords, left-padded rows, positions and attention, the same ``LogitsProcessor`` and
``StoppingCriteria`` objects called after every step, finished rows fed pad tokens. On a CPU it runs the same
loop without a graph, which is how its tokens are checked against ``generate()`` (``tests/engines/``
``test_fast_decode.py``); there it is no faster (its attention spans the whole preallocated cache).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import LogitsProcessorList, PreTrainedModel, StoppingCriteriaList

# generation-config fields whose processors generate() would add to greedy decoding; this loop applies none
_UNSUPPORTED = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "min_new_tokens": 0, "min_length": 0,
                "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None,
                "forced_bos_token_id": None, "forced_eos_token_id": None, "sequence_bias": None}


def check_supported(model: PreTrainedModel) -> None:
    """Raise if this loop would decode differently from ``generate()`` for ``model``, saying what to do."""
    if "cache" not in inspect.signature(model.forward).parameters:
        raise RuntimeError("fast_decode needs a transformers version whose models take `cache=` (5.2x or later); "
                           "upgrade transformers or decode without fast_decode")
    config = model.generation_config
    changed = [name for name, default in _UNSUPPORTED.items() if getattr(config, name, default) not in (default, None)]
    if changed:
        raise ValueError(f"the model's generation config sets {', '.join(changed)}, which fast_decode does not "
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
    from transformers import StaticCache

    check_supported(model)
    device = model.device
    input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
    rows, width = input_ids.shape
    # the static cache is allocated whole: no longer than the model can attend (max_tokens=10**12 would ask TBs)
    most = getattr(model.config, "max_position_embeddings", None)
    length = width + (min(max_new_tokens, max(most - width, 1)) if most else max_new_tokens)
    tokens = torch.full((rows, length), pad_token_id, dtype=input_ids.dtype, device=device)
    tokens[:, :width] = input_ids
    # generate()'s positions: each token's index among its row's real (unpadded) tokens
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill_(attention_mask == 0, 1)
    cache = StaticCache(config=model.config, max_cache_len=length)
    with torch.inference_mode():
        logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, cache=cache,
                       use_cache=True, logits_to_keep=1).logits
        use_graph = device.type == "cuda" if cuda_graph is None else cuda_graph
        step = _Step(model, cache, attention_mask, width, length, use_graph)
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


class _Step:
    """One decoding step on fixed buffers: the new tokens, their positions and which cache slots they see."""

    def __init__(self, model: PreTrainedModel, cache: Any, attention_mask: torch.Tensor, width: int, length: int,
                 use_graph: bool) -> None:
        import torch

        self.model, self.cache = model, cache
        rows = attention_mask.shape[0]
        self.ids = torch.zeros(rows, 1, dtype=torch.long, device=model.device)
        # the first generated token sits after all of its row's real tokens
        self.positions = attention_mask.long().sum(-1, keepdim=True) - 1
        # a 4D boolean mask is passed through to attention as is: slot k is visible if it holds a real token
        self.visible = torch.zeros(rows, 1, 1, length, dtype=torch.bool, device=model.device)
        self.visible[:, 0, 0, :width] = attention_mask.bool()
        self.use_graph = use_graph
        self.graph: Any = None
        self.logits: torch.Tensor | None = None
        self.stream = torch.cuda.Stream(model.device) if use_graph else None

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
        assert self.stream is not None
        self.stream.wait_stream(torch.cuda.current_stream(self.model.device))
        if self.logits is None:
            with torch.cuda.stream(self.stream):
                self.logits = self._forward()
            torch.cuda.current_stream(self.model.device).wait_stream(self.stream)
            return self.logits
        # capture_begin/end rather than torch.cuda.graph(), which empties the allocator's cache at every capture
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.stream(self.stream):
            self.graph.capture_begin(capture_error_mode="thread_local")
            try:
                self.logits = self._forward()
            finally:
                self.graph.capture_end()
        torch.cuda.current_stream(self.model.device).wait_stream(self.stream)
        self.graph.replay()
        return self.logits

    def _forward(self) -> torch.Tensor:
        return self.model(input_ids=self.ids, attention_mask=self.visible, position_ids=self.positions,
                          cache=self.cache, use_cache=True).logits
