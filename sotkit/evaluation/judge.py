"""Pairwise judging, the SoT paper's way: every pair is judged twice with the answers' order swapped, and SoT
wins (or loses) only where both orders agree; any disagreement is a tie, so a judge that always prefers the
first answer it reads yields ties, not wins."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import anyio

if TYPE_CHECKING:
    from ..client import SoT

Verdict = Literal["A", "B", "C"]
Outcome = Literal["win", "loss", "tie", "unparseable"]

#: LLMZoo's aspects as the SoT paper used them, each with what it asks of an answer (``--aspects``)
ASPECTS = {
    "coherence": "The answer reads as one whole that flows logically from one point to the next, not as "
                 "disconnected pieces.",
    "diversity": "The answer covers a range of distinct, relevant ideas or perspectives instead of repeating one.",
    "immersion": "The answer stays in the role, voice or setting the question asks for, where it asks for one.",
    "integrity": "The answer is complete and consistent: every part is finished and no part contradicts another.",
    "relevance": "The answer addresses the question directly and precisely, without repetition, padding or "
                 "off-topic text.",
}

_VERDICT = re.compile(r"\[\[([ABC])\]\]")
#: a judge explains before its verdict; 512 tokens leave room for both
JUDGE_MAX_TOKENS = 512


def parse_verdict(text: str) -> Verdict | None:
    """``A``, ``B`` or ``C`` (tie) from the judge's ``[[X]]``; None when there is none or several different
    ones (an ambiguous verdict is not guessed)."""
    found = set(_VERDICT.findall(text))
    return found.pop() if len(found) == 1 else None  # type: ignore[return-value]


def outcome(sot_first: Verdict | None, sot_second: Verdict | None) -> Outcome:
    """SoT's outcome from the verdict with SoT shown as A and the one with SoT shown as B."""
    if sot_first is None or sot_second is None:
        return "unparseable"
    as_sot = {"A": "sot", "B": "sequential", "C": "tie"}[sot_first]
    as_sot_swapped = {"A": "sequential", "B": "sot", "C": "tie"}[sot_second]
    if as_sot == as_sot_swapped == "sot":
        return "win"
    if as_sot == as_sot_swapped == "sequential":
        return "loss"
    return "tie"


async def judge_pair(judge: SoT, question: str, sot: str, sequential: str, aspect: str | None = None) -> dict[str, Any]:
    """Ask ``judge`` which answer is better in both orders; the record holds both raw replies, both verdicts
    (``None`` where unparseable) and the outcome. Where an order fails, an ``ExceptionGroup`` of each failure."""
    template, extra = ("judge_pairwise", {}) if aspect is None else \
        ("judge_aspect", {"aspect": aspect, "criterion": ASPECTS[aspect]})
    orders = [(sot, sequential), (sequential, sot)]
    raw: list[str] = ["", ""]
    failures: list[Exception] = []

    async def ask(i: int) -> None:
        a, b = orders[i]
        try:
            result = await judge.complete(template, {"question": question, "answer_a": a, "answer_b": b, **extra},
                                          max_tokens=JUDGE_MAX_TOKENS, temperature=0.0)
        except Exception as exc:  # kept, not raised: the other order runs on, so the error says if both failed
            failures.append(exc)
            return
        raw[i] = result.text

    async with anyio.create_task_group() as tg:
        for i in range(2):
            tg.start_soon(ask, i)
    if failures:
        raise ExceptionGroup(f"the judge failed in {len(failures)} of 2 orders", failures)
    verdicts = [parse_verdict(text) for text in raw]
    return {"verdicts": verdicts, "outcome": outcome(*verdicts), "raw": raw}
