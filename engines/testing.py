"""Tiny, download-free chat models for tests of the in-process engine and the ``local:`` provider.

A character-level tokenizer with a ChatML template and a 2-layer random Llama: real transformers objects that
load, batch and generate in milliseconds, so generation logic is tested without fetching weights.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_SPECIAL = ["<unk>", "<|im_end|>", "<|im_start|>"]
_CHARS = string.ascii_letters + string.digits + string.punctuation + " \n"


def char_tokenizer(specials: Sequence[str], chars: str, *, eos_token: str,
                   pad_token: str | None = None) -> PreTrainedTokenizerFast:
    """One token per character, after ``specials`` (ids 0, 1, ...; ``specials[0]`` is the unknown token)."""
    vocab = {tok: i for i, tok in enumerate([*specials, *chars])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=specials[0]))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    others = [t for t in specials[1:] if t not in (eos_token, pad_token)]
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token=specials[0], eos_token=eos_token,
                                   pad_token=pad_token, additional_special_tokens=others)


def tiny_chat_tokenizer(*, pad_token: str | None = None) -> PreTrainedTokenizerFast:
    """Characters as tokens, ``<|im_end|>`` as EOS (id 1), a ChatML chat template; no pad token unless given."""
    tokenizer = char_tokenizer(_SPECIAL, _CHARS, eos_token="<|im_end|>", pad_token=pad_token)
    tokenizer.chat_template = CHATML
    return tokenizer


def tiny_llama(vocab_size: int, seed: int = 0, hidden_size: int = 64) -> LlamaForCausalLM:
    """A 2-layer random Llama (fixed seed, float32) with EOS id 1.

    A larger init than the default 0.02 gives peaked, well-separated logits, so argmax ties from float rounding
    cannot make "equals greedy" tests flaky.
    """
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        eos_token_id=1, bos_token_id=None, pad_token_id=None, tie_word_embeddings=True, initializer_range=0.2,
    )
    return LlamaForCausalLM(config).eval()


def save_tiny_chat_model(directory: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny chat model and its tokenizer as a Hugging Face model directory (for ``local:<path>``)."""
    tokenizer = tiny_chat_tokenizer()
    tiny_llama(len(tokenizer), seed).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return Path(directory)
