"""Tiny, download-free models and tokenizers for tests and smoke runs of the lexical-unit engine."""

from __future__ import annotations

import string

from transformers import PreTrainedTokenizerFast

from ..testing import char_tokenizer as _char_tokenizer
from ..testing import tiny_llama
from .decoding import PAD_TOKEN

__all__ = ["EOS_TOKEN", "char_tokenizer", "tiny_llama"]

EOS_TOKEN = "</s>"
_CHARS = string.ascii_lowercase + string.digits + " .,:()=\n"


def char_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level tokenizer with ``<unk>``, ``</s>`` and ``[PAD]`` (ids 0, 1, 2) and ~45 characters."""
    return _char_tokenizer(["<unk>", EOS_TOKEN, PAD_TOKEN], _CHARS, eos_token=EOS_TOKEN)
