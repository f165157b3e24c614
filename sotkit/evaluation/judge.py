"""Pairwise judging, the SoT paper's way: every pair is judged twice with the answers' order swapped, and SoT
wins (or loses) only where both orders agree; any disagreement is a tie, so a judge that always prefers the
first answer it reads yields ties, not wins."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ..errors import EmptyAnswer, StreamError
from ..providers.base import AT_BUDGET, FILTERED, FINISHED, WINDOW_FULL
from ..templates import ASPECTS

if TYPE_CHECKING:
    from ..client import SoT

Verdict = Literal["A", "B", "C"]
Outcome = Literal["win", "loss", "tie", "unparseable"]

_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_NESTED_VERDICT = re.compile(r"(?<!\[)(\[*)\[\[([ABC])\]\](\]*)(?!\])")  # (a run of brackets read from its start)
#: how the answers are shown to the judge, in its verdicts' fingerprint: a verdict given under another view is asked
#: again (2: their verdict marks unmarked, review 299: a rerun kept those a quoted mark had decided)
JUDGE_VIEW = 2
#: a judge explains before its verdict; 512 tokens leave room for both
JUDGE_MAX_TOKENS = 512


def parse_verdict(text: str) -> Verdict | None:
    """``A``, ``B`` or ``C`` (tie) from the judge's ``[[X]]``; None when there is none or several different
    ones (an ambiguous verdict is not guessed)."""
    found = set(_VERDICT.findall(text))
    return found.pop() if len(found) == 1 else None  # type: ignore[return-value]


def _unmarked(text: str) -> str:
    """``text`` with no verdict mark left in it: "[[A]]" shown as "[A]", with as many of the brackets around it as
    pair up ("[[[A]]]" is "[A]", "[[[A]], [[B]]]" is "[[A], [B]]"), in one pass however deep."""
    def shown(mark: re.Match[str]) -> str:
        pairs = min(len(mark[1]), len(mark[3]))
        return mark[1][pairs:] + f"[{mark[2]}]" + mark[3][pairs:]  # (brackets left on one side only)
    return _NESTED_VERDICT.sub(shown, text)


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


def kept_replies(verdict: dict[str, Any] | None, max_tokens: int) -> list[str | None]:
    """The judge's replies in a stored ``verdict`` that a rerun keeps, per order: each one, unless it failed (no
    reply) or was cut at another budget than ``max_tokens`` (a larger one may let it finish)."""
    if not verdict:
        return [None, None]
    cut = verdict.get("cut") or [False, False]  # records before sotkit marked cut replies: none known
    return [None if raw is None or (was_cut and verdict.get("max_tokens") != max_tokens) else raw
            for raw, was_cut in zip(verdict["raw"], cut)]


#: the ends of a judge's reply that a rerun keeps (no verdict; at temperature 0 it would end so again): the
#: provider's filter, the model's context window
KEPT = FILTERED | WINDOW_FULL


async def judge_pair(judge: SoT, question: str, sot: str, sequential: str, aspect: str | None = None, *,
                     max_tokens: int = JUDGE_MAX_TOKENS, kept: dict[str, Any] | None = None,
                     on_stop: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], list[Exception]]:
    """Ask ``judge`` which answer is better in both orders (only the orders whose reply ``kept``, a stored record
    of this pair, does not keep). Returns the record, which holds both raw replies (``None`` where an order failed),
    which were cut at ``max_tokens`` (read as no verdict: a verdict early in a cut reply may be provisional), both
    verdicts and the outcome (``None`` while an order has no reply), and each failed order's exception. A reply
    ``stopped`` by the provider's filter (``content_filter``, ``refusal``) or the model's context window gives no
    verdict either, and is kept: a larger budget would not let it finish; one a server ended otherwise (vLLM's
    ``abort``, a tool call) is a failure, asked again by a rerun. Stopped (the run cancelled, Ctrl-C) after an
    order replied, it gives ``on_stop`` the record so far, and stops: a rerun asks only the other order."""
    template, extra = ("judge_pairwise", {}) if aspect is None else \
        ("judge_aspect", {"aspect": aspect, "criterion": ASPECTS[aspect]})
    # the verdict marks of an answer ("See [[A]]") or of the question are shown unmarked: a judge quoting one gave it
    # as its verdict (probe 296: SoT won every question of a judge that could not decide)
    question, sot, sequential = map(_unmarked, (question, sot, sequential))
    orders = [(sot, sequential), (sequential, sot)]
    raw = kept_replies(kept, max_tokens)
    cut = [bool(r is not None and c) for r, c in zip(raw, (kept or {}).get("cut") or [False, False])]
    # (a reply kept stopped before any text is "": its reason stays; review 266)
    stopped = [s if r is not None else None for r, s in zip(raw, (kept or {}).get("stopped") or [None, None])]
    failures: list[Exception] = []

    async def ask(i: int) -> None:
        a, b = orders[i]
        try:
            result = await judge.complete(template, {"question": question, "answer_a": a, "answer_b": b, **extra},
                                          max_tokens=max_tokens, temperature=0.0)
        except EmptyAnswer as exc:
            if exc.finish_reason in KEPT:  # stopped by the filter before any text: as one stopped after some
                raw[i], stopped[i] = "", exc.finish_reason  # (probe 261: asked again at every rerun)
            elif exc.finish_reason in FINISHED:  # the judge ended its turn with nothing: no verdict, and at
                raw[i] = ""  # temperature 0 none again (probe 296: failed, asked again at every rerun)
            else:  # a server's abort, a tool call, a budget spent reasoning: a rerun may do better
                failures.append(exc)
            return
        except Exception as exc:  # kept, not raised: the other order runs on, and its reply is kept
            failures.append(exc)
            return
        # cut at the budget (a larger one may let it finish), or stopped by the provider's filter or the model's
        # context window (kept: a rerun at temperature 0 would be stopped again); a local judge's loop, cut, leaves
        # the text before it whole: read as it is
        reason = result.finish_reason
        at_budget, looped, kept_end = reason in AT_BUDGET, reason == "repetition", reason in KEPT
        if result.truncated and not (at_budget or looped or kept_end):  # a server's abort, a tool call: ask again
            failures.append(StreamError(f"the judge's reply was ended by the server ({reason!r}) before its verdict"))
            return
        raw[i], cut[i] = result.text, result.truncated and at_budget
        stopped[i] = reason if result.truncated and kept_end else None

    def record() -> dict[str, Any]:
        verdicts = [None if text is None or was_cut or was_stopped else parse_verdict(text)
                    for text, was_cut, was_stopped in zip(raw, cut, stopped)]
        return {"verdicts": verdicts, "outcome": None if None in raw else outcome(*verdicts), "raw": raw, "cut": cut,
                "stopped": stopped, "max_tokens": max_tokens}

    asked = [i for i in range(2) if raw[i] is None]
    try:
        async with anyio.create_task_group() as tg:
            for i in asked:
                tg.start_soon(ask, i)
    except BaseException:  # (the run's cancellation): the reply that came is paid for, and kept
        if on_stop is not None and any(raw[i] is not None for i in asked):
            on_stop(record())
        raise
    return record(), failures
