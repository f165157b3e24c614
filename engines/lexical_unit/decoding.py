"""Lexical-unit decoding (LUD): several tokens per forward pass from ``[PAD]`` slots.

Every step feeds the tokens that are not yet in the KV cache followed by ``k`` ``[PAD]`` placeholders.
The last real position gives the next token exactly as greedy decoding would; the ``[PAD]`` slots
propose the tokens after it, and the leading run whose probabilities are all at or above ``alpha`` is
kept (Sun et al., LREC-COLING 2024). The ``[PAD]`` entries are cropped from the cache after every step and
the kept tokens ride along with the next step's ``[PAD]`` slots, so they cost no extra forward pass.

With ``verify=True`` the kept tokens are only drafts: the next forward pass (which runs anyway) checks each
against the model's own greedy choice at its position, keeps the matching prefix plus the model's next token,
and rolls the rest back, so the output is exactly greedy decoding at any ``alpha``, in float32 (in bfloat16 a pass
over several positions rounds differently from one position at a time, and the text can part from plain greedy
decoding's where two tokens are nearly tied, as speculative decoding's does). Verified mode can also draft
by prompt lookup (``lookup``): the tokens that followed the latest earlier occurrence of the last few tokens.
Each step drafts whichever is longer, the confident slot run or the lookup; both are checked the same way.
Slots predict new phrasing, lookup catches text the answer repeats (code does both).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from ..errors import ConfigError
from ..models import context_length, context_room, has_sliding_window
from ..streaming import TextStream, eos_token_ids

__all__ = ["PAD_TOKEN", "DecodingStats", "LUDResult", "add_pad_token", "eos_token_ids", "generate", "pad_token_id"]

PAD_TOKEN = "[PAD]"


@dataclass
class DecodingStats:
    """What one ``generate`` call cost and how much the ``[PAD]`` slots contributed."""

    forward_passes: int = 0
    new_tokens: int = 0
    #: tokens proposed by ``[PAD]`` slots at or above alpha (in verified mode, the drafts to check, unless a
    #: longer lookup draft went instead)
    proposed: int = 0
    #: verified mode: drafts the model's own greedy choice rejected and that were rolled back
    rejected: int = 0
    #: verified mode: draft tokens taken from prompt lookup rather than from the slots
    looked_up: int = 0
    #: tokens committed by each forward pass, in order
    committed_per_step: list[int] = field(default_factory=list)
    #: KV-cache length after each step (it never holds a ``[PAD]`` or a rejected draft)
    cache_lengths: list[int] = field(default_factory=list)

    @property
    def tokens_per_forward(self) -> float:
        return self.new_tokens / self.forward_passes if self.forward_passes else 0.0

    @property
    def histogram(self) -> dict[int, int]:
        """Tokens committed per forward pass -> number of passes that committed that many."""
        return dict(sorted(Counter(self.committed_per_step).items()))

    def as_dict(self) -> dict:
        return {
            "forward_passes": self.forward_passes,
            "new_tokens": self.new_tokens,
            "tokens_per_forward": round(self.tokens_per_forward, 4),
            "proposed": self.proposed,
            "rejected": self.rejected,
            "looked_up": self.looked_up,
            "histogram": self.histogram,
        }


@dataclass
class LUDResult:
    """The generated token ids (prompt excluded), their text, why decoding ended, and the statistics."""

    token_ids: list[int]
    text: str
    finish_reason: str  # "eos", "stop", "length", "model_context_window_exceeded", "repetition" or "cancelled"
    stats: DecodingStats


def pad_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The id of the ``[PAD]`` placeholder; a clear error if the tokenizer lacks one."""
    token_id = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise ValueError(
            f"the tokenizer has no {PAD_TOKEN!r} token: call "
            "sotkit.engines.lexical_unit.add_pad_token(model, tokenizer) first (and fine-tune so the slots mean something)"
        )
    return int(token_id)


def add_pad_token(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """Add ``[PAD]`` to the tokenizer and the model's embeddings if missing; return its id.

    The new embedding row (or the spare row it takes) is the mean of the tokens' rows, so before fine-tuning a
    ``[PAD]`` slot reads as an "average token" carrying no information of its own; with tied embeddings the same
    row is its output vector. Any untied output row is set to the mean too.
    """
    if tokenizer.convert_tokens_to_ids(PAD_TOKEN) not in (None, tokenizer.unk_token_id):
        return pad_token_id(tokenizer)
    tokenizer.add_tokens([PAD_TOKEN], special_tokens=True)
    pad = pad_token_id(tokenizer)
    rows = model.get_input_embeddings().weight.shape[0]
    if rows <= pad:
        model.resize_token_embeddings(pad + 1, mean_resizing=False)
    # a model may have spare rows past its tokenizer's tokens (Qwen2, Llama 3): [PAD] takes one, set like a new one
    known = min(rows, pad)
    with torch.no_grad():
        for matrix in {model.get_input_embeddings().weight, model.get_output_embeddings().weight}:
            matrix[known:pad + 1] = matrix[:known].mean(0)
    return pad


def _validate(prompt_ids: list[int], max_new_tokens: int, alpha: float, k: int, verify: bool, lookup: int) -> None:
    if not prompt_ids:
        raise ConfigError("prompt_ids is empty: pass at least one token (e.g. the chat template's output)")
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if k < 0:
        raise ConfigError(f"k (the number of [PAD] slots) must be 0 or more, got {k}")
    if not alpha >= 0:  # NaN too: every p < NaN is False, so it kept every slot
        raise ConfigError(f"alpha is a probability threshold and must be >= 0, got {alpha} (use alpha > 1 to disable)")
    if lookup < 0:
        raise ConfigError(f"lookup (prompt-lookup draft tokens) must be 0 or more, got {lookup}")
    if lookup and not verify:
        raise ConfigError("lookup drafts are guesses copied from the context and need checking: pass verify=True")


def _as_list(prompt_ids: torch.Tensor | Iterable[int]) -> list[int]:
    if isinstance(prompt_ids, torch.Tensor):
        if prompt_ids.dim() == 2:
            if prompt_ids.shape[0] != 1:
                raise ValueError(f"generate decodes one sequence at a time; got a batch of {prompt_ids.shape[0]}")
            prompt_ids = prompt_ids[0]
        return [int(t) for t in prompt_ids.tolist()]
    return [int(t) for t in prompt_ids]


def _confident_run(slot_logits: torch.Tensor, pad_id: int, alpha: float) -> list[int]:
    """The leading slot predictions whose probability is >= alpha (a slot never proposes ``[PAD]`` itself)."""
    slot_logits = slot_logits.float()
    slot_logits[:, pad_id] = float("-inf")
    probs, tokens = slot_logits.softmax(-1).max(-1)
    run: list[int] = []
    for p, t in zip(probs.tolist(), tokens.tolist()):
        if p < alpha:
            break
        run.append(int(t))
    return run


def _lookup_draft(tokens: list[int], n_tokens: int, max_ngram: int = 3) -> list[int]:
    """Prompt lookup: the ``n_tokens`` that followed the latest earlier occurrence of the last ``max_ngram``
    tokens (else of fewer, down to one); if no occurrence is followed by that many, the longest run found."""
    best: list[int] = []
    for n in range(min(max_ngram, len(tokens) - 1), 0, -1):
        tail = tokens[-n:]
        for start in range(len(tokens) - n - 1, -1, -1):
            if tokens[start : start + n] == tail:
                follow = tokens[start + n : start + n + n_tokens]
                if len(follow) == n_tokens:
                    return follow
                best = max(best, follow, key=len)
    return best


@torch.inference_mode()
def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt_ids: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    alpha: float = 0.9,
    k: int = 3,
    verify: bool = False,
    *,
    lookup: int = 0,
    stop: Sequence[str] = (),
    eos_token_id: int | Iterable[int] | None = None,
    on_span: Callable[[str], None] | None = None,
    pad_id: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    asked: str = "",
) -> LUDResult:
    """Decode greedily from ``prompt_ids``, taking up to ``k`` extra tokens per forward pass from ``[PAD]`` slots.

    Args:
        model: a Hugging Face causal LM (fine-tuned with ``[PAD]`` slots for any speed-up).
        tokenizer: its tokenizer, which must contain ``[PAD]`` when ``k > 0`` (see ``add_pad_token``).
        prompt_ids: the prompt as a 1-D sequence of ids (or a ``[1, n]`` tensor).
        max_new_tokens: upper bound on generated tokens (an answer also ends where the model's context is full,
            ``finish_reason="model_context_window_exceeded"``; a prompt that fills it alone is a ``ConfigError``).
        alpha: keep slot predictions while each one's probability is ``>= alpha``; above 1 keeps none.
        k: number of ``[PAD]`` slots per step; 0 is plain greedy decoding with a KV cache.
        verify: check every slot token against the model's greedy choice in the next pass and roll back
            mismatches, so the output equals greedy decoding exactly.
        lookup: verified mode only: also draft up to this many tokens by prompt lookup, taking the longer of
            that and the slots' run each step (``k=0`` with ``lookup`` is plain prompt-lookup decoding).
        stop: strings that end generation; the text is cut before the first one.
        eos_token_id: end-of-sequence id(s); defaults to the model's generation config / tokenizer.
        on_span: called with each newly settled piece of text as spans are accepted (safe to use from a worker
            thread; the call happens on the decoding thread).
        pad_id: the ``[PAD]`` id, if the tokenizer does not spell it ``[PAD]``.
        should_stop: polled after every step; when it returns true decoding ends (``finish_reason="cancelled"``).
        asked: the prompt's user text: a loop of it at the answer's start may have been asked for (``TextStream``).
    """
    prompt = _as_list(prompt_ids)
    _validate(prompt, max_new_tokens, alpha, k, verify, lookup)
    if has_sliding_window(model.config):  # it failed once the window was full, part way through an answer
        raise ConfigError(f"lexical-unit decoding crops its cache after each step, which {type(model).__name__}'s "
                          "sliding-window attention layers keep as a ring; use decoding='greedy' for this model")
    most = context_length(model)
    pad = (pad_id if pad_id is not None else pad_token_id(tokenizer)) if k > 0 else -1
    if eos_token_id is None:
        eos = eos_token_ids(model, tokenizer)
    else:
        eos = {int(eos_token_id)} if isinstance(eos_token_id, int) else {int(e) for e in eos_token_id}

    stats = DecodingStats()
    stream = TextStream(tokenizer, stop, on_span, eos_ids=eos, max_tokens=max_new_tokens,
                        context_room=context_room(model, len(prompt)), input_tokens=len(prompt),
                        asked=asked)
    cache = DynamicCache(config=model.config)
    generated = stream.tokens  # committed: cut at a stop string, EOS included, never past the budget
    pending = prompt  # committed tokens whose keys and values are not in the cache yet
    drafts: list[int] = []  # verified mode: slot tokens waiting for the model's check
    device = model.device

    while True:
        # no slot past the model's context (the budget keeps committed tokens and drafts within it)
        slots = k if most is None else max(0, min(k, most - len(prompt) - len(generated) - len(drafts)))
        feed = pending + drafts + [pad] * slots
        n_logits = len(drafts) + 1 + slots  # from the last committed token to the last slot
        logits = model(
            input_ids=torch.tensor([feed], device=device), cache=cache, use_cache=True, logits_to_keep=n_logits
        ).logits[0]
        stats.forward_passes += 1
        greedy = logits[: len(drafts) + 1].argmax(-1).tolist()
        n_ok = 0
        while n_ok < len(drafts) and drafts[n_ok] == greedy[n_ok]:
            n_ok += 1
        rejected = len(drafts) - n_ok
        stats.rejected += rejected
        # Slot predictions are conditioned on everything fed before them, so they are void after a rollback.
        proposals = _confident_run(logits[len(drafts) + 1 :], pad, alpha) if slots and not rejected else []
        stats.proposed += len(proposals)
        new = drafts[:n_ok] + [int(greedy[n_ok])]
        if not verify:
            new += proposals
            proposals = []
        cache.crop(-(slots + rejected))
        stats.cache_lengths.append(cache.get_seq_length())

        committed = len(generated)
        ended = stream.push(new)  # cut at EOS, a stop string or the budget
        stats.committed_per_step.append(len(generated) - committed)
        if ended or (should_stop is not None and should_stop()):
            break
        if verify:
            pending = [new[-1]]
            looked_up = _lookup_draft(prompt + generated, lookup) if lookup else []
            from_lookup = len(looked_up) > len(proposals)
            drafts = (looked_up if from_lookup else proposals)[: stream.max_tokens - len(generated) - 1]
            eos_in_drafts = next((i for i, t in enumerate(drafts) if t in eos), None)
            if eos_in_drafts is not None:
                drafts = drafts[: eos_in_drafts + 1]
            if from_lookup:
                stats.looked_up += len(drafts)  # what was sent for checking, after the length and EOS cuts
        else:
            pending = new

    done = stream.finish("cancelled")
    stats.new_tokens = len(generated)
    return LUDResult(token_ids=list(generated), text=done.text, finish_reason=done.finish_reason, stats=stats)
