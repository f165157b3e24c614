"""``decoding="focusllm"`` (or ``focus_weights=`` alone): the request's context read in parallel chunks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..base import Engine, GenerationRequest
from ..errors import ConfigError
from ..models import cache_dir
from ..streaming import Completion

#: FocusLLM wrappers by (loaded model, weights file): wrapping swaps the shared base model's projections in place
#: (unchanged while the switch is off), so there is one wrapper per loaded model and weights file in the process
_wrapped: dict[tuple[int, Path], Any] = {}


def default_weights_path(base: str) -> Path:
    """Where ``sotkit engines focus train`` writes and ``bench`` reads FocusLLM weights for ``base``."""
    return cache_dir() / "focusllm" / f"{Path(base).name}.safetensors"


class Focus(Engine):
    """FocusLLM over the loaded base model with trained candidate projections (``focus_weights``: a file, or
    ``True`` for where ``sotkit engines focus train`` writes them); it reads ``context`` itself."""

    name = "focusllm"
    reads_context = True
    command = "focus"
    cli_module = f"{__package__}.cli"

    def __init__(self, model: str, *, focus_weights: str | Path | bool = True) -> None:
        super().__init__(model)
        path = Path(default_weights_path(model) if focus_weights is True else focus_weights)
        if not path.is_file():
            raise ConfigError(f"no FocusLLM weights at {str(path)!r}; train them with `sotkit engines focus train` "
                              "or pass focus_weights='path/to/weights.safetensors'")
        self.weights = path

    def generate_one(self, loaded: Any, request: GenerationRequest, on_text: Callable[[str], None],
                     should_stop: Callable[[], bool]) -> Completion:
        from ..generation import chat_token_ids
        from .model import FocusLLM, focus_completion

        model, tokenizer = loaded
        key = (id(model), self.weights)
        focus = _wrapped.get(key) or _wrapped.setdefault(key, FocusLLM.from_pretrained(model, self.weights))
        context_ids = tokenizer(request.context or "", add_special_tokens=False)["input_ids"]
        return focus_completion(focus, tokenizer, context_ids, chat_token_ids(tokenizer, request.prompt),
                                request.max_tokens, on_text, stop=request.stop, should_stop=should_stop)


ENGINE = Focus
