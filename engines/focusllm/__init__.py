"""FocusLLM: long inputs read in parallel chunks by a frozen model, with trainable candidate projections."""

from sotkit.engines.focusllm.model import (
    FocusConfig,
    FocusLLM,
    focus_generate,
    read_focus_config,
    save_focus_weights,
)

__all__ = ["FocusConfig", "FocusLLM", "focus_generate", "read_focus_config", "save_focus_weights"]
