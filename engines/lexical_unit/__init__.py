"""Lexical-unit decoding: several tokens per forward pass from ``[PAD]`` slots, with an exact verified mode.

    model, tokenizer, config = load_lud(path)  # both from sotkit.engines.lexical_unit
    result = generate(model, tokenizer, prompt_ids, 128, alpha=config["alpha"], k=config["k"], verify=True)

Names are imported lazily so that mounting the CLI (``cli.add_subcommands``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "generate": "decoding",
    "LUDResult": "decoding",
    "DecodingStats": "decoding",
    "PAD_TOKEN": "decoding",
    "add_pad_token": "decoding",
    "pad_token_id": "decoding",
    "load_lud": "train",
    "save_lud": "train",
    "TrainConfig": "train",
    "fine_tune": "train",
    "mark_units": "units",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
