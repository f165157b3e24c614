"""``decoding="lexical_unit"``: a model fine-tuned with ``[PAD]`` slots, one request at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..base import Engine, GenerationRequest
from ..errors import ConfigError
from ..streaming import Completion

CONFIG_FILE = "lud_config.json"


class LexicalUnits(Engine):
    """Lexical-unit decoding (``decoding.generate``); ``alpha`` and ``k`` default to the model's own
    ``lud_config.json``, ``verify=True`` keeps the output exactly greedy, ``lookup`` adds prompt-lookup drafts."""

    name = "lexical_unit"
    command = "lud"
    cli_module = f"{__package__}.cli"

    def __init__(self, model: str, *, alpha: float | None = None, k: int | None = None, verify: bool = False,
                 lookup: int = 0) -> None:
        super().__init__(model)
        if lookup and not verify:
            raise ConfigError(f"lookup={lookup} drafts tokens that must be checked: pass decoding='lexical_unit', "
                              "verify=True")
        config_file = Path(model) / CONFIG_FILE
        if not config_file.is_file():
            raise ConfigError(f"decoding='lexical_unit' needs a model fine-tuned with [PAD] slots, and {model!r} has "
                              f"no {CONFIG_FILE}; create one with `sotkit engines lud prepare` and `... train`")
        saved = json.loads(config_file.read_text())
        self.settings = {"alpha": saved.get("alpha", 0.9) if alpha is None else alpha,
                         "k": saved.get("k", 3) if k is None else k, "verify": verify, "lookup": lookup}

    def generate_one(self, loaded: Any, request: GenerationRequest, on_text: Callable[[str], None],
                     should_stop: Callable[[], bool]) -> Completion:
        from ..generation import chat_token_ids
        from .decoding import generate

        model, tokenizer = loaded
        prompt_ids = chat_token_ids(tokenizer, request.prompt)
        result = generate(model, tokenizer, prompt_ids, request.max_tokens, stop=request.stop, on_span=on_text,
                          should_stop=should_stop, **self.settings)
        return Completion(result.text, len(prompt_ids), len(result.token_ids), result.finish_reason)


ENGINE = LexicalUnits
