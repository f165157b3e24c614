"""Tiny, download-free models and tokenizers for tests and smoke runs of the lexical-unit engine."""

from __future__ import annotations

import string

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from .decoding import PAD_TOKEN

EOS_TOKEN = "</s>"
_CHARS = string.ascii_lowercase + string.digits + " .,:()=\n"


def char_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level tokenizer with ``<unk>``, ``</s>`` and ``[PAD]`` (ids 0, 1, 2) and ~45 characters."""
    vocab = {tok: i for i, tok in enumerate(["<unk>", EOS_TOKEN, PAD_TOKEN, *_CHARS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", eos_token=EOS_TOKEN, additional_special_tokens=[PAD_TOKEN]
    )


def tiny_llama(vocab_size: int, seed: int = 0, hidden_size: int = 64) -> LlamaForCausalLM:
    """A 2-layer random Llama (fixed seed, float32, eager-free default attention) for unit tests."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=1,
        pad_token_id=None,
        bos_token_id=None,
        tie_word_embeddings=True,
        # A larger init than the default 0.02 gives peaked, well-separated logits, so argmax ties from float
        # rounding cannot make "equals greedy" tests flaky.
        initializer_range=0.2,
    )
    return LlamaForCausalLM(config).eval()
