"""The one text-streaming helper every engine decodes through: tokens in, final text out.

A ``TextStream`` follows one generation. Each ``push`` adds the tokens a decoding step committed (one for greedy
and FocusLLM, a span for lexical units); the stream decodes the text so far, ends the generation at its first
stop string, its end-of-sequence token, its token budget, the room the model's context window leaves, or a loop
(its text repeating itself back to back), and hands ``on_text`` the text that is now final.
Text that may be the start of a stop string, ends in a partial UTF-8 character, or repeats text before it (a loop's
start, maybe; mostly a common phrase again) is held back until the next tokens settle it, so a caller never receives
text it would have to take back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: ``length``: the token budget; ``model_context_window_exceeded``: the model's context window was full first
#: (Anthropic's word for it), where a larger budget would not have helped; ``repetition``: a loop was cut
FinishReason = Literal["stop", "eos", "length", "model_context_window_exceeded", "repetition", "cancelled"]

#: A generation ends once its last ``LOOP_TOKENS`` tokens or more repeat, back to back, the run of up to
#: ``LOOP_PERIOD`` tokens just before them, a whole run at least; its text is then the text before the repeat (with
#: the run's first copy whole). Without it a small model runs on to its budget repeating a sentence or a paragraph
#: (SmolLM2 in 6 of 13 answers written without SoT). In a code block (or a run holding one) or on a table's line,
#: rows alike are mostly written on purpose: without a word (a grid of zeros, a board, a blank form) they run on;
#: with words (a blank HTML or LaTeX table, a snippet shown twice) they are cut only once their repeat reaches
#: ``LOOP_PERIOD`` tokens (SmolLM2 writes an import line or a command's option to its budget); a text of that shape
#: elsewhere ("01" 70 times) is cut, and says so. A loop that begins the answer (its first copy within the first
#: ``LOOP_TOKENS`` tokens) whose run the user quoted, or wrote in three words or more, was asked for ("Write 'I will
#: not talk in class.' 20 times"): it runs on.
LOOP_TOKENS, LOOP_PERIOD = 64, 256
#: what ends a phrase: punctuation, closing quotes and brackets, white space
_PHRASE_END = ".,;:!?…。，！？)]}\"'’”» \t\r\n"
#: the end of a sentence (with its closing quotes, brackets or bold; a full stop only before white space, not in
#: "3.5") or of a line
_SENTENCE_END = re.compile(r"[.!?…][)\]}\"'’”»*]*(?=\s)|[。！？][)\]}\"'’”»*]*|\n")
#: a word: two letters in a row (rows alike without one, in a block, run on)
_WORD = re.compile(r"[^\W\d_]{2}")
#: a word, for what the user asked: letters and digits in a row, or one of a script written without spaces
_ASKED_WORD = re.compile(r"(?=\w)[\u0e00-\u0e7f\u2e80-\u9fff]|[^\W_\u0e00-\u0e7f\u2e80-\u9fff]+")
#: a text the user quoted: between quote marks (or backticks) that no word character touches outside
_QUOTED = re.compile(r"(?<!\w)[\"'`“‘«‹「『„‚《＂]([^\"`“”‘’«»‹›「」『』„‚《》＂]+?)[\"'`”’»›」』“‘《》＂](?!\w)")
#: a line that opens or closes a code block, indented or quoted too
_FENCE = re.compile(r"^[ \t>]*(?:```|~~~)", re.M)


@dataclass(frozen=True)
class Completion:
    """One generation's result: its text (without prefill or stop string), token counts and why it ended."""

    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: FinishReason


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends a turn: the generation config's (it may list several; Llama 3 has two) and the
    tokenizer's."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = set(configured if isinstance(configured, (list, tuple)) else [configured])
    return {int(i) for i in ids | {tokenizer.eos_token_id} if i is not None}


class TextStream:
    """One generation's text, settled token by token (see the module docstring).

    ``tokens`` holds the generation's tokens (an end-of-sequence token is counted, never decoded; tokens after
    a stop string are dropped), ``text`` the decoded text so far (after the end: the final text),
    ``finish_reason`` is ``None`` until the generation ends. ``context_room`` is how many tokens the model's
    context window leaves after the prompt (``models.context_room``): where it is less than ``max_tokens``, the
    generation ends there instead, with ``"model_context_window_exceeded"``; ``max_tokens`` is then that room.
    ``asked`` is the prompt's user turn: a loop at the answer's start of text it quotes, or of three of its words
    or more, was asked for, and is no loop.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str] = (), on_text: Callable[[str], None] | None = None, *,
                 eos_ids: Iterable[int] = (), max_tokens: int | None = None, context_room: int | None = None,
                 input_tokens: int = 0, asked: str = "") -> None:
        if isinstance(stop, str):
            raise TypeError("stop must be a sequence of strings (e.g. ('\\n\\n',)), not a single string")
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stop if s)
        self.on_text = on_text
        self.eos_ids = frozenset(eos_ids)
        self.window_cuts = context_room is not None and (max_tokens is None or context_room < max_tokens)
        self.max_tokens = context_room if self.window_cuts else max_tokens
        self.input_tokens = input_tokens
        self.asked = asked
        self.tokens: list[int] = []
        self.text = ""
        self.emitted = 0  # characters already handed to on_text
        self.finish_reason: FinishReason | None = None
        self._shown = ""  # the text handed to on_text
        self._repeats: dict[int, int] = {}  # per period p: how many last tokens equal the token p before them, if any
        self._seen: dict[int | str, list[int]] = {}  # per token (``_word``): where it came in the last LOOP_PERIOD
        self._words: dict[int, int | str] = {}  # ``_word``'s, per token id
        self._limits: dict[int, dict[int, float]] = {}  # per loop, by first copy and shortest period: its limit

    def push(self, tokens: Sequence[int]) -> bool:
        """Add the tokens a step committed; return True once the generation has ended (later tokens are ignored).
        A step whose text is all held back hands ``on_text`` an empty text: the generation is going on."""
        if self.finish_reason is not None:
            return True
        start = len(self.tokens)
        if self.max_tokens is not None:
            tokens = tokens[: self.max_tokens - start]
        eos_at = next((i for i, t in enumerate(tokens) if t in self.eos_ids), None)
        self.tokens.extend(tokens if eos_at is None else tokens[:eos_at])
        self.text = self._decode(self.tokens)
        loop = self._loop(start)
        if loop is not None:
            del self.tokens[loop[1] :]  # (tokens after the one that made it a loop, in the same span)
            eos_at = None
            self.text = self._decode(self.tokens)
        longest = max(map(len, self.stops), default=0)
        hits = [found for s in self.stops if (found := self.text.find(s, max(0, self.emitted - longest))) >= 0]
        if hits:
            if len(self.tokens) - start > 1:  # keep the shortest span prefix whose text already holds the stop
                end = next(n for n in range(start + 1, len(self.tokens) + 1)
                           if any(s in self._decode(self.tokens[:n]) for s in self.stops))
                del self.tokens[end:]
            return self._end(self.text[: min(hits)], "stop")
        if eos_at is not None:
            text = self._settled()
            self.tokens.append(tokens[eos_at])  # it ends the turn and counts as output, but writes no text
            return self._end(text, "eos")
        if loop is not None:  # (decoded once: the whole text may end inside a character)
            kept = self._decode(self.tokens[: loop[0]]).rstrip("\ufffd").rstrip()
            return self._end(kept if kept.startswith(self._shown) else self._shown, "repetition")
        if self.max_tokens is not None and len(self.tokens) >= self.max_tokens:
            return self._end(self._settled(), self.cut_reason)
        repeats, end = self._repeats, len(self.tokens)
        repeating = max((n for period, n in repeats.items()  # tokens a loop would take back (not one that runs on)
                         if not self._limits or self._decided(repeats, period, end) != math.inf), default=0)
        self._emit(self.text[: min(len(self.text) - held_back(self.text, self.stops),
                                   self._chars_before(len(self.tokens) - repeating))], going_on=True)
        return False

    def finish(self, reason: FinishReason | None = None) -> Completion:
        """End a generation that is still open (for ``reason``, or ``cut_reason`` where none is given: its room ran
        out elsewhere); hand over what was held back. Return the completion."""
        if self.finish_reason is None:
            self._end(self._settled(), reason or self.cut_reason)
        return self.completion

    @property
    def cut_reason(self) -> FinishReason:
        """Why the generation ends when it reaches ``max_tokens``: its budget, or the model's context window."""
        return "model_context_window_exceeded" if self.window_cuts else "length"

    @property
    def completion(self) -> Completion:
        assert self.finish_reason is not None, "the generation has not ended"
        return Completion(self.text, self.input_tokens, len(self.tokens), self.finish_reason)

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _loop(self, start: int) -> tuple[int, int] | None:
        """Count the repeats the tokens from ``start`` on extend; where one makes a loop, return how many tokens the
        text keeps (``_kept``) and the index after the token that made it a loop (``_limit``)."""
        tokens, repeats = self.tokens, self._repeats
        for i in range(start, len(tokens)):
            seen = self._seen.setdefault(self._word(tokens[i]), [])
            while seen and seen[0] < i - LOOP_PERIOD:
                del seen[0]
            repeats = {i - at: repeats.get(i - at, 0) + 1 for at in seen}  # periods the token goes on, or begins
            seen.append(i)
            for period, repeated in repeats.items():
                if repeated >= LOOP_TOKENS and repeated >= period and repeated >= self._limit(repeats, period, i + 1):
                    return self._kept(i + 1 - repeated, period), i + 1
        self._repeats = repeats
        return None

    def _limit(self, repeats: dict[int, int], period: int, end: int) -> float:
        """How many tokens the repeat of a loop (by ``period``, up to ``end``) may reach before it is cut: as a rule
        none more than makes it a loop (0); in a code block, or holding one, or on a table's line ``LOOP_PERIOD``
        (an answer may show a snippet twice, a sentence about it between); no end for rows without a word there,
        nor for a loop asked for, whose first copy begins the answer (after a line such as "Sure! Here it is:") and
        whose run is what the user asked for (``_asks``). Decided once a loop."""
        if (limit := self._decided(repeats, period, end)) is not None:
            return limit
        first = end - repeats[period] - period
        shortest = min(p for p, n in repeats.items() if period % p == 0 and end - n - p == first)
        run = self._decode(self.tokens[first : first + shortest] * 3)  # (characters whole in the middle copy)
        before = self._decode(self.tokens[:first])
        block = len(_FENCE.findall(before)) % 2 == 1 or _FENCE.search(run) is not None or \
            (before[before.rfind("\n") + 1 :] + run).lstrip(" \t>").startswith("|")
        runs_on = block and not _WORD.search(run) or first < LOOP_TOKENS and self._asks(run)
        limit = self._limits.setdefault(first, {})[shortest] = math.inf if runs_on else LOOP_PERIOD if block else 0
        return limit

    def _decided(self, repeats: dict[int, int], period: int, end: int) -> float | None:
        """The limit of a loop decided already: one going on from the same first copy by a period this one is a
        multiple of (the same text; not one that has stopped, where a longer period goes on: a row of zeros and
        words after them)."""
        first = end - repeats[period] - period
        return next((limit for p, limit in self._limits.get(first, {}).items()
                     if period % p == 0 and p in repeats and end - repeats[p] - p == first), None)

    def _asks(self, run: str) -> bool:
        """Did the user ask for a run, from one of its words on around to it again (case, spacing and punctuation
        aside): quoted it (copies of it, as "ha ha"), or wrote it, of three words at least? "Machine learning" or
        "the" again at an answer's start is no request."""
        words = _asked_words(run)
        if len(words) > 2:  # the run's words whole, in a row, twice
            words = words[1:-1]
            cycle = _cycle(words)
            units = [words[at : at + cycle] for at in range(cycle)]
        else:  # copies with nothing between them ("hahaha"): one word, from any of its characters on
            word = "".join(words)
            cycle = _cycle(word)
            units = [[word[at : at + cycle]] for at in range(cycle)]
        quoted = ["".join(_asked_words(text)) for text in _QUOTED.findall(self.asked)]  # (copies: "ha ha", "haha")
        letters = ["".join(unit) for unit in units]
        if any(span and span == unit * (len(span) // len(unit)) for span in quoted for unit in letters):
            return True
        asked = f" {' '.join(_asked_words(self.asked))} "
        return any(len(unit) >= 3 and f" {' '.join(unit)} " in asked for unit in units)

    def _word(self, token: int) -> int | str:
        """What a token is compared by: its text without the space before it (" The" in a sentence repeats "The" at
        a paragraph's start), or itself where that text is no whole word (white space, part of a character)."""
        if (word := self._words.get(token)) is None:
            text = self._decode([token])
            word = self._words[token] = text.lstrip() if text.strip() and "\ufffd" not in text else token
        return word

    def _kept(self, repeat: int, period: int) -> int:
        """How many tokens a loop keeps: those before its repeat; where the repeat began inside a phrase (the
        looping run ends as the text before it did: "... before bed. Keep the room cool| before bed. Keep ..."), its
        tokens up to the first end of a sentence or line in it, so that the run's first copy is whole; then those
        that only end a phrase (the ``.\\n\\n`` that ends the run); at most one run more. (Once a generation: the
        decodes here cost nothing that counts.)"""
        kept, end = repeat, repeat + period
        if repeat and self._decode(self.tokens[repeat - 1 : repeat])[-1:] not in _PHRASE_END:
            run = self._decode(self.tokens[repeat:end])
            found = _SENTENCE_END.search(self._decode(self.tokens[repeat : end + 1]))  # (what follows it, too)
            if found and found.end() <= len(run):
                kept = next(n for n in range(repeat + 1, end + 1)
                            if len(self._decode(self.tokens[repeat:n])) >= found.end())
        while kept < end and self._decode(self.tokens[kept : kept + 1]).strip(_PHRASE_END) == "":
            kept += 1
        return kept

    def _chars_before(self, tokens: int) -> int:
        """How many characters of the text come before its tokens from index ``tokens`` on (the repeat a loop would
        take back); where the text does not end with theirs (a character split between them), the text shown."""
        if tokens == len(self.tokens):  # nothing repeats (about half the steps): no decode
            return len(self.text)
        tail = self._decode(self.tokens[tokens:])  # short: a repeat; the whole prefix would cost a decode a token
        return len(self.text) - len(tail) if self.text.endswith(tail) and "\ufffd" not in tail else self.emitted

    def _settled(self) -> str:
        """The text up to its last whole character, without one the generation never finished. Such a character
        decodes as U+FFFD: one, or with a byte-fallback tokenizer (Llama 2's, Mistral's) one per byte, and then the
        whole characters before it in its run of byte tokens too. So the text is the longest without U+FFFD at its end
        of the tokens' and of the tokens' without their last one to three (a character's bytes after its first)."""
        if not self.text.endswith("\ufffd"):
            return self.text
        return max((self._decode(self.tokens[: max(0, len(self.tokens) - drop)]).rstrip("\ufffd") for drop in range(4)),
                   key=len)

    def _end(self, text: str, reason: FinishReason) -> bool:
        self.text = text.rstrip("\ufffd")  # bytes before a stop string that never formed a character
        self._emit(self.text)
        self.finish_reason = reason
        return True

    def _emit(self, text: str, going_on: bool = False) -> None:
        if len(text) > self.emitted:
            if self.on_text is not None:
                self.on_text(text[self.emitted :])
            self._shown, self.emitted = text, len(text)
        elif going_on and self.on_text is not None:
            self.on_text("")


def _asked_words(text: str) -> list[str]:
    return _ASKED_WORD.findall(text.casefold())


def _cycle(items: Sequence[Any]) -> int:
    """The length of the shortest run that ``items`` repeat (all of them, where none)."""
    return next((n for n in range(1, len(items)) if items[n:] == items[:-n]), len(items))


def held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters to hold: a partial UTF-8 character or a possible start of a stop string."""
    if text.endswith("\ufffd"):
        return 1 + held_back(text[:-1], stops)
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest
