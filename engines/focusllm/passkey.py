"""Passkey retrieval: a random pass key hidden at a chosen depth of a long filler text, asked for at the end.

The standard synthetic test (Mohtashami & Jaggi, 2023, used by the FocusLLM paper). Prompts are built at
the token level so each trial has exactly the requested length.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from ..errors import ConfigError

INTRO = (
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about the important information there.\n"
)
FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
NEEDLE = "The pass key is {key}. Remember it. {key} is the pass key. "
QUESTION = "\nWhat is the pass key? The pass key is"

Generate = Callable[[list[int], int], list[int]]


@dataclass(frozen=True)
class PasskeyTrial:
    """One prompt: its token ids, where the key sits and what the answer must contain."""

    length: int
    depth: float
    passkey: str
    ids: list[int]


@dataclass(frozen=True)
class PasskeyResult:
    length: int
    depth: float
    passkey: str
    answer: str
    correct: bool


def build_trial(tokenizer, length: int, depth: float, passkey: str) -> PasskeyTrial:
    """A prompt of exactly ``length`` tokens with the needle at ``depth`` (0 = start, 1 = end) of the filler."""
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be within [0, 1], got {depth}")

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False)

    intro, needle, question = encode(INTRO), encode(NEEDLE.format(key=passkey)), encode(QUESTION)
    budget = length - len(intro) - len(needle) - len(question)
    unit = encode(FILLER)
    if budget < len(unit):
        raise ConfigError(f"a passkey prompt of {length} tokens is too short; use at least "
                          f"{length - budget + len(unit)}")
    filler = (unit * (budget // len(unit) + 1))[:budget]
    # Cut the filler at a sentence boundary near the requested depth, so the needle is not glued mid-word.
    cut = round(depth * budget / len(unit)) * len(unit)
    cut = min(cut, budget)
    ids = intro + filler[:cut] + needle + filler[cut:] + question
    return PasskeyTrial(length, depth, passkey, ids)


def run_passkey(
    generate: Generate,
    tokenizer,
    lengths: Sequence[int],
    depths: Sequence[float],
    trials_per_cell: int = 1,
    seed: int = 0,
    max_new_tokens: int = 8,
    on_result: Callable[[PasskeyResult], None] | None = None,
) -> list[PasskeyResult]:
    """Run every (length, depth) cell ``trials_per_cell`` times with random 5-digit keys.

    ``generate(prompt_ids, max_new_tokens)`` returns new token ids (greedy). A trial is correct when the
    key's digits are the first digits of the answer.
    """
    rng = random.Random(seed)
    results = []
    for length in lengths:
        for depth in depths:
            for _ in range(trials_per_cell):
                key = str(rng.randint(10000, 99999))
                trial = build_trial(tokenizer, length, depth, key)
                answer = tokenizer.decode(generate(trial.ids, max_new_tokens), skip_special_tokens=True)
                digits = "".join(ch for ch in answer if ch.isdigit())
                result = PasskeyResult(length, depth, key, answer, digits.startswith(key))
                results.append(result)
                if on_result is not None:
                    on_result(result)
    return results


def accuracy_table(results: Sequence[PasskeyResult]) -> dict[int, float]:
    """Accuracy per prompt length."""
    table: dict[int, list[bool]] = {}
    for r in results:
        table.setdefault(r.length, []).append(r.correct)
    return {length: sum(oks) / len(oks) for length, oks in sorted(table.items())}


def as_dicts(results: Sequence[PasskeyResult]) -> list[dict]:
    return [asdict(r) for r in results]
