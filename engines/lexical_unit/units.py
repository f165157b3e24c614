"""Marking lexical units under teacher forcing, and turning them into ``[PAD]``-slot training examples.

A lexical unit is a maximal run of consecutive tokens that the base model predicts, each given all the
tokens before it, with probability ``>= alpha``; runs are cut every ``k + 1`` tokens (one token from the
real position plus at most ``k`` from ``[PAD]`` slots) and every other token is a unit of its own, so the
units partition the sequence. Because every token of a unit is confident given its real prefix, the whole
unit is predictable from the prefix before it, which is what a ``[PAD]`` slot has to do.

All units of a sequence train in ONE forward pass: their ``[PAD]`` slots are appended after the real tokens
with the positions they would have at decoding time and an attention mask that lets slot ``j`` of a unit
starting at ``s`` see exactly the real tokens before ``s`` and the unit's own slots ``1..j``, as at decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from transformers import PreTrainedModel

IGNORE = -100


@torch.inference_mode()
def token_probabilities(
    model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """``p[b, t] = P(x_t | x_<t)`` under teacher forcing; ``p[:, 0] = 0`` (nothing predicts the first token)."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
    probs = torch.zeros(input_ids.shape, dtype=torch.float32, device=input_ids.device)
    probs[:, 1:] = logits[:, :-1].log_softmax(-1).gather(-1, input_ids[:, 1:, None])[..., 0].exp()
    return probs


def mark_units(probs: Sequence[float], alpha: float, k: int) -> list[tuple[int, int]]:
    """Split positions ``0..len(probs)-1`` into units ``(start, end)`` (end exclusive), left to right.

    A unit is a run of tokens each with probability ``>= alpha``, at most ``k + 1`` long; a token below
    ``alpha`` is a unit by itself. The units cover every position exactly once, in order.
    """
    if k < 0:
        raise ValueError(f"k must be 0 or more, got {k}")
    units: list[tuple[int, int]] = []
    t, n = 0, len(probs)
    while t < n:
        end = t + 1
        if probs[t] >= alpha:
            while end < n and end - t < k + 1 and probs[end] >= alpha:
                end += 1
        units.append((t, end))
        t = end
    return units


@dataclass
class SlotExample:
    """One packed sequence: real tokens, then the ``[PAD]`` slots of every multi-token unit."""

    input_ids: list[int]
    position_ids: list[int]
    labels: list[int]  # next-token targets at real positions, unit tokens at slots, IGNORE elsewhere
    slot_of: list[int]  # for each slot, the start of the unit it belongs to; -1 for real tokens

    @property
    def n_slots(self) -> int:
        return sum(s >= 0 for s in self.slot_of)


def build_example(ids: Sequence[int], units: Sequence[tuple[int, int]], pad_id: int, k: int | None = None) -> SlotExample:
    """Pack ``ids`` with ``[PAD]`` slots: one per later token of every unit, plus boundary slots if ``k`` is given.

    Slot ``j`` of a unit ``(s, e)`` sits at position ``s - 1 + j`` (where it sits when decoding from the
    prefix ``ids[:s]``) and its target is ``ids[s + j]``; the real position ``s - 1`` keeps its ordinary
    target ``ids[s]``. Units starting at 0 have no prefix and get no slots.

    A boundary slot is one more slot after a unit that ended before the ``k + 1`` cap (so after every
    single-token unit too) whose target is the token that ended the unit: a token the base model was NOT confident
    about. Without it the slots only ever see confident targets and learn to be confident everywhere;
    with it their probabilities fall below alpha where a unit ends, which is what makes unverified
    decoding stop accepting at the right place.
    """
    ids = list(ids)
    labels = ids[1:] + [IGNORE]
    input_ids, position_ids, slot_of = list(ids), list(range(len(ids))), [-1] * len(ids)
    for s, e in units:
        last = e - s - 1  # slots for the unit's own later tokens
        if k is not None and e < len(ids) and e - s < k + 1:
            last += 1
        if s == 0:
            continue
        for j in range(1, last + 1):
            input_ids.append(pad_id)
            position_ids.append(s - 1 + j)
            labels.append(ids[s + j])
            slot_of.append(s)
    return SlotExample(input_ids, position_ids, labels, slot_of)


_PADDING = -2  # slot_of value of the filler after a shorter example in a batch


def attention_masks(slot_of: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
    """Boolean ``[batch, n, n]`` masks (True = may attend) reproducing what each position sees when decoding.

    ``slot_of`` is ``-1`` at real tokens, the unit's start at slots and ``_PADDING`` after an example's end
    (those rows see only themselves, so no softmax is empty). Built in one batched pass, on whatever device
    the inputs are: per-example masks on the CPU were the bottleneck of a GPU training step.
    """
    n = slot_of.shape[-1]
    idx = torch.arange(n, device=slot_of.device)
    real, slot = slot_of == -1, slot_of >= 0
    before = idx[None, :] <= idx[:, None]
    causal_real = real[:, :, None] & real[:, None, :] & before
    # A slot sees the real prefix before its unit's start ...
    slot_to_real = slot[:, :, None] & real[:, None, :] & (idx[None, None, :] < slot_of[:, :, None])
    # ... and the earlier slots of its own unit (including itself), never another unit's.
    same_unit = (
        slot[:, :, None] & (slot_of[:, :, None] == slot_of[:, None, :])
        & (position_ids[:, None, :] <= position_ids[:, :, None])
    )
    padding = (slot_of == _PADDING)[:, :, None] & torch.eye(n, dtype=torch.bool, device=slot_of.device)
    return causal_real | slot_to_real | same_unit | padding


def collate(
    examples: Sequence[SlotExample], filler_id: int, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """Right-pad examples into a batch on ``device``, with an additive 4-D float attention mask."""
    n = max(len(e.input_ids) for e in examples)

    def padded(rows: list[list[int]], fill: int) -> torch.Tensor:
        return torch.tensor([row + [fill] * (n - len(row)) for row in rows], device=device)

    slot_of = padded([e.slot_of for e in examples], _PADDING)
    position_ids = padded([e.position_ids for e in examples], 0)
    allowed = attention_masks(slot_of, position_ids)
    mask = torch.zeros(allowed.shape, dtype=torch.float32, device=device)[:, None]
    mask.masked_fill_(~allowed[:, None], torch.finfo(mask.dtype).min)
    return {
        "input_ids": padded([e.input_ids for e in examples], filler_id),
        "position_ids": position_ids,
        "attention_mask": mask,
        "labels": padded([e.labels for e in examples], IGNORE),
        "is_slot": slot_of >= 0,
    }
