"""FocusLLM: long inputs read in parallel chunks by a frozen model, with trainable candidate projections.

Names are imported lazily so that registering the engine (``engine.py``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {name: "model" for name in
            ("FocusConfig", "FocusLLM", "focus_completion", "focus_generate", "read_focus_config", "save_focus_weights")}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
