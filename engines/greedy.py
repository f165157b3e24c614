"""The default engine: greedy decoding, every request of a call in one batched ``generate()``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .base import Engine, GenerationRequest, OnDone, OnText
from .errors import ConfigError


class Greedy(Engine):
    """Greedy decoding through ``generation.stream_generate``; the only engine that batches. The requests of one
    call are the points of one answer, decoded as distinct rows: a point is steered off the phrases the others
    wrote (``distinct_points=False`` decodes each row as it would be alone). ``fast_decode=True`` decodes on a
    static KV cache with, on a GPU, one CUDA graph per step (``fast_decode.py``): same tokens."""

    name = "greedy"
    batches = True

    def __init__(self, model: str, *, fast_decode: bool = False, distinct_points: bool = True) -> None:
        for name, value, default in (("fast_decode", fast_decode, False), ("distinct_points", distinct_points, True)):
            if not isinstance(value, bool):
                raise ConfigError(f"{name}={value!r}: use True or False (the default is {default})")
        super().__init__(model)
        self.fast_decode = fast_decode
        self.distinct_points = distinct_points

    def generate(self, loaded: Any, requests: Sequence[GenerationRequest], on_text: OnText, on_done: OnDone,
                 should_stop: Callable[[], bool]) -> None:
        from .generation import stream_generate

        model, tokenizer = loaded
        stream_generate(model, tokenizer, [r.prompt for r in requests],
                        max_new_tokens=[r.max_tokens for r in requests], stop=[r.stop for r in requests],
                        max_line_tokens=[r.max_line_tokens for r in requests], on_text=on_text, on_done=on_done,
                        should_stop=should_stop, fast_decode=self.fast_decode,
                        distinct_rows=self.distinct_points and len(requests) > 1)


ENGINE = Greedy
