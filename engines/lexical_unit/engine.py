"""``decoding="lexical_unit"``: a model fine-tuned with ``[PAD]`` slots, one request at a time."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..base import Engine, GenerationRequest
from ..errors import ConfigError
from ..streaming import Completion

CONFIG_FILE = "lud_config.json"
#: the key of the ``lud_config.json`` that a save writes first, until its end: a folder holding it is a save stopped
SAVING = "saving"
PAD_TOKEN = "[PAD]"  # decoding.PAD_TOKEN, which would import torch with its module


class LexicalUnits(Engine):
    """Lexical-unit decoding (``decoding.generate``); ``alpha`` and ``k`` default to the model's own
    ``lud_config.json``, ``verify=True`` keeps the output exactly greedy (in float32), ``lookup`` adds prompt-lookup
    drafts."""

    name = "lexical_unit"
    command = "lud"
    cli_module = f"{__package__}.cli"

    def __init__(self, model: str, *, alpha: float | None = None, k: int | None = None, verify: bool = False,
                 lookup: int = 0) -> None:
        super().__init__(model)
        _check_options(alpha, k, verify, lookup)
        if lookup and not verify:
            raise ConfigError(f"lookup={lookup} drafts tokens that must be checked: pass decoding='lexical_unit', "
                              "verify=True")
        config_file = Path(model) / CONFIG_FILE
        if not config_file.is_file():
            raise ConfigError(f"decoding='lexical_unit' needs a model fine-tuned with [PAD] slots, and {model!r} has "
                              f"no {CONFIG_FILE}; create one with `sotkit engines lud prepare` and `... train`")
        saved = read_config(Path(model))
        self.settings = {"alpha": saved.get("alpha", 0.9) if alpha is None else alpha,
                         "k": saved.get("k", 3) if k is None else k, "verify": verify, "lookup": lookup}
        trained = saved.get("k")
        if isinstance(trained, int) and self.settings["k"] > trained and not verify:  # untrained slots guess
            raise ConfigError(f"k={self.settings['k']}: {model!r} was trained to fill {trained} [PAD] slots, and the "
                              f"slots past them propose tokens no training taught (an answer of junk): use k <= "
                              f"{trained}, or verify=True (exactly greedy, whatever the slots propose)")
        if self.settings["k"] and not any(PAD_TOKEN in path.read_text(errors="replace")
                                          for path in Path(model).glob("tokenizer*.json")):
            raise ConfigError(f"{model!r} has no {PAD_TOKEN} token in its tokenizer, so it cannot fill k="
                              f"{self.settings['k']} slots; give a model made with `sotkit engines lud prepare`")

    def generate_one(self, loaded: Any, request: GenerationRequest, on_text: Callable[[str], None],
                     should_stop: Callable[[], bool]) -> Completion:
        from ..generation import chat_token_ids
        from .decoding import generate

        model, tokenizer = loaded
        prompt_ids = chat_token_ids(tokenizer, request.prompt)
        result = generate(model, tokenizer, prompt_ids, request.max_tokens, stop=request.stop, on_span=on_text,
                          should_stop=should_stop, asked=request.prompt.user, **self.settings)
        return Completion(result.text, len(prompt_ids), len(result.token_ids), result.finish_reason)


def read_config(folder: Path) -> dict[str, Any]:
    """The ``lud_config.json`` of a model folder that has one; a ConfigError where it is damaged, or was left by a
    save that was stopped."""
    config_file = folder / CONFIG_FILE
    try:
        saved = json.loads(config_file.read_text(encoding="utf-8"))
        if not isinstance(saved, dict):
            raise ValueError(f"a JSON {type(saved).__name__}, not an object")
        if saved.get(SAVING):
            raise ValueError("the save that wrote it was stopped before its end")
        _check_options(saved.get("alpha"), saved.get("k"), False, 0)  # read as given: named here, not at a call
    except (ValueError, ConfigError) as exc:  # UnicodeDecodeError is a ValueError
        raise ConfigError(f"{str(config_file)!r} is damaged ({exc}); train the model again with `sotkit engines lud "
                          "train`") from None
    return saved


#: more [PAD] slots than this cost a forward as wide as a long prompt for every few tokens (models train with 3-8)
MAX_K = 64


def _check_options(alpha: Any, k: Any, verify: Any, lookup: Any) -> None:
    """Each option of the right type and range, named when it is not (at client construction)."""
    if not isinstance(verify, bool):
        raise ConfigError(f"verify={verify!r}: use True (exactly greedy) or False")
    for name, value, most in (("k", k, MAX_K), ("lookup", lookup, None)):
        if value is None and name == "k":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (most and value > most):
            raise ConfigError(f"{name}={value!r}: must be a whole number from 0" + (f" to {most}" if most else ""))
    if alpha is not None and (not isinstance(alpha, (int, float)) or isinstance(alpha, bool)
                              or not math.isfinite(alpha) or alpha < 0):
        raise ConfigError(f"alpha={alpha!r}: must be a finite number >= 0 (a probability threshold; above 1 "
                          "disables the slots)")


ENGINE = LexicalUnits
