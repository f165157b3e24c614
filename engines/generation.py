"""Batched, streamed, greedy chat generation on an in-process transformers model.

All prompts of a call run as one left-padded ``generate()``. A stopping criterion follows every row after each
step: it decodes the row's new text, ends the row at its first stop string, its EOS, its token budget or the
model's context window, and hands the text that is now final to ``on_text(row, delta)``. A row that has ended
stops emitting (transformers feeds it pad tokens); the batch ends when every row has, or when ``should_stop()``
says so. A row with a line limit is a list (a skeleton): it gets a newline forced once its current line has that
many tokens and ends on a whole character, and its lines may not open alike. Rows that are the parts of one answer
are steered away from each other's phrases.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import jinja2
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from .base import Prompt
from .errors import ConfigError
from .fast_decode import greedy as fast_greedy
from .models import context_room
from .streaming import Completion, FinishReason, TextStream, eos_token_ids

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

TextCallback = Callable[[int, str], None]
DoneCallback = Callable[[int, Completion], None]


def chat_token_ids(tokenizer: PreTrainedTokenizerBase, prompt: Prompt) -> list[int]:
    """Token ids of a chat prompt; an assistant prefill is left open so the model continues it. A chat template that
    takes no system message (Gemma's, older Mistral's raise "System role not supported") gets the system prompt at
    the head of the user's message, as those models' cards do it (every call failed with jinja2's own error)."""
    try:
        messages, text = _chat(tokenizer, prompt.system, prompt.user, prompt.prefill)
    except jinja2.TemplateError:
        if not prompt.system:
            raise
        try:
            messages, text = _chat(tokenizer, None, f"{prompt.system}\n\n{prompt.user}", prompt.prefill)
        except jinja2.TemplateError as still:  # it refuses something else too (a prefill, say): that, said once
            raise still from None
    # Only the template's markup is special tokens: a message that quotes it ("what does <|im_end|> mean?") is
    # tokenized apart as plain text, or it would end its turn there and open a turn of the user's making.
    specials = special_tokens(tokenizer)
    if not any(token in m["content"] for m in messages for token in specials):
        pieces = [(text, False)]
    else:
        pieces = (_markup_and_messages(tokenizer, messages, text, prompt, specials)
                  or _found_in(text, messages, specials))
    return [token for piece, plain in pieces if piece
            for token in tokenizer(piece, add_special_tokens=False, split_special_tokens=plain)["input_ids"]]


def _chat(tokenizer: PreTrainedTokenizerBase, system: str | None, user: str, prefill: str | None
          ) -> tuple[list[dict[str, str]], str]:
    """A prompt's messages, and the text the chat template makes of them."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user})
    if prefill:
        messages.append({"role": "assistant", "content": prefill})
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=not prefill, continue_final_message=bool(prefill)
    )
    return messages, text


def _markup_and_messages(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], text: str,
                         prompt: Prompt, specials: list[str]) -> list[tuple[str, bool]] | None:
    """``text`` as each message that quotes markup (plain: True) and what lies between (the template's markup and
    the other messages, tokenized together as before), found by rendering the template with a mark in each quoting
    message's place (as often as the template writes it; trimmed, if the template trims it); None where the
    rendering with marks is not ``text`` with them in place."""
    quoting = [any(token in m["content"] for token in specials) for m in messages]
    marks = {f"\ue000{i}\ue001": m["content"] for i, (m, quotes) in enumerate(zip(messages, quoting)) if quotes}
    rendered = tokenizer.apply_chat_template([{**m, "content": f"\ue000{i}\ue001"} if quotes else m
                                              for i, (m, quotes) in enumerate(zip(messages, quoting))],
                                             tokenize=False, add_generation_prompt=not prompt.prefill,
                                             continue_final_message=bool(prompt.prefill))
    pieces, at = [], 0
    for n, part in enumerate(re.split("(" + "|".join(marks) + ")", rendered)):  # markup, a mark, markup, ...
        written = part if n % 2 == 0 else next((w for w in (marks[part], marks[part].strip())
                                                if text.startswith(w, at)), None)
        if written is None or not text.startswith(written, at):
            return None
        pieces.append((written, n % 2 == 1))
        at += len(written)
    return pieces if at == len(text) else None


def _found_in(text: str, messages: list[dict[str, str]], specials: list[str]) -> list[tuple[str, bool]]:
    """``text`` split at the first place after the one before where each message quoting markup is written (a
    message equal to the markup before it is found there: the best that can be done where the template changes
    what it is given)."""
    pieces, start = [], 0
    for content in (m["content"] for m in messages):
        if any(token in content for token in specials):
            for written in (content, content.strip()):  # a template may trim what it is given
                if (at := text.find(written, start)) >= 0:
                    pieces += [(text[start:at], False), (written, True)]
                    start = at + len(written)
                    break
    pieces.append((text[start:], False))
    return pieces


def special_tokens(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """The strings the tokenizer reads as special tokens (``<|im_end|>``, ``<s>``, ...)."""
    added = (token.content for token in tokenizer.added_tokens_decoder.values() if token.special)
    return sorted({*tokenizer.all_special_tokens, *added} - {""})


def stream_generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    *,
    max_new_tokens: int | Sequence[int],
    stop: Sequence[str] | Sequence[Sequence[str]] = (),
    on_text: TextCallback | None = None,
    on_done: DoneCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    share_prefix: bool = True,
    max_line_tokens: int | None | Sequence[int | None] = None,
    fast_decode: bool = False,
    distinct_rows: bool = False,
) -> list[Completion]:
    """Generate greedily for every prompt in one batch and return one ``Completion`` per prompt, in order.

    ``max_new_tokens`` and ``stop`` apply to every row, or give one value per row (a list of ints; a list of
    string sequences). A row ends at its budget (``"length"``), where the model's context is full after the
    longest prompt (``"model_context_window_exceeded"``), or where it loops (``"repetition"``: ``TextStream``); a
    prompt that fills the context alone is a ``ConfigError``. ``on_text(row, delta)`` receives each row's text as
    it becomes final; text that might be the start of a stop string, a character not yet whole, or a loop's repeat
    is held back until it is known not to be.
    ``on_done(row, completion)`` is called the moment a row ends. ``should_stop`` is polled after every token;
    when it returns true all open rows end with ``finish_reason="cancelled"``. ``max_line_tokens`` (for every row,
    or one value or None per row) ends a line with a forced newline once it has that many tokens (a few more where
    a character is not whole yet or a phrase is open: ``_ListLines``): a skeleton point needs only its title; and it
    bars such a row's lines from opening with the same two tokens as an earlier line.

    ``share_prefix`` encodes the prompts' common token prefix once and reuses its KV cache for every row
    (the rows are laid out as prefix, pads, own suffix; the text is the same either way). It pays: on SmolLM2
    expansions the batch prefill ran 1.9x and a short expansion 1.24x faster (``benchmarks/prefix_cache.py``).

    ``fast_decode`` decodes with a static KV cache and, on a GPU, CUDA graphs (``fast_decode.py``); the prompts'
    shared prefix is then not reused (a GPU prefills a batch about as fast as one row).

    ``distinct_rows`` says the rows are the parts of one answer (SoT's points): each row is then steered away
    from phrases the other rows, itself, or the prompt they share have written (``_DistinctRows``), so a batch no
    longer writes what each prompt writes alone.
    """
    if not prompts:
        return []
    rows = len(prompts)
    budgets = _per_row(max_new_tokens, rows, "max_new_tokens")
    if any(b < 1 for b in budgets):
        raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens!r}")
    stops = _stops_per_row(stop, rows)
    ids = [chat_token_ids(tokenizer, p) for p in prompts]
    # A row that has ended is fed pads until the batch ends, at the positions after its own: every row has the
    # room the longest prompt leaves in the model's context.
    room = context_room(model, max(map(len, ids)))
    shared = share_prefix and rows > 1 and not fast_decode
    inputs = _prefix_shared_batch(model, tokenizer, ids) if shared else _left_padded(tokenizer, ids)
    eos = eos_token_ids(model, tokenizer)
    streams = [TextStream(tokenizer, row_stops, _row_callback(on_text, row), eos_ids=eos, max_tokens=budget,
                          context_room=room, input_tokens=len(row_ids), asked=prompt.user)
               for row, (prompt, row_ids, budget, row_stops) in enumerate(zip(prompts, ids, budgets, stops))]
    tracker = _RowTracker(streams, on_done, should_stop)
    line_limits = _per_row(max_line_tokens, rows, "max_line_tokens")
    newline = _newline_id(tokenizer) if any(line_limits) else None
    prefills = [p.prefill for p in prompts]
    processors = [_ListLines(tokenizer, tracker.rows, line_limits, newline, prefills)] if newline is not None else []
    if distinct_rows:
        processors.append(_DistinctRows(tracker.rows, ids, eos))
    generate = partial(fast_greedy, model) if fast_decode else model.generate
    generate(
        **{k: v.to(model.device) if hasattr(v, "to") else v for k, v in inputs.items()},
        max_new_tokens=max(stream.max_tokens for stream in streams),
        do_sample=False,
        top_p=None,
        top_k=None,
        temperature=None,
        pad_token_id=tokenizer.pad_token_id,
        stopping_criteria=StoppingCriteriaList([tracker]),
        logits_processor=LogitsProcessorList(processors),
    )
    tracker.finish_all(None)  # rows still open when generate ends ran out of room: their budget or the context
    return [row.stream.completion for row in tracker.rows]


def _row_callback(on_text: TextCallback | None, row: int) -> Callable[[str], None] | None:
    return None if on_text is None else lambda text: on_text(row, text)


def _newline_id(tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The token that writes a newline, or None for a tokenizer without one (line limits then do nothing)."""
    ids = tokenizer("\n", add_special_tokens=False)["input_ids"]
    return ids[-1] if ids and "\n" in tokenizer.decode(ids[-1:]) else None


def _per_row(value: Any, rows: int, name: str) -> list[Any]:
    """One value (an int or None) for every row, or a sequence of one per row."""
    values = [value] * rows if value is None or isinstance(value, int) else list(value)
    if len(values) != rows:
        raise ConfigError(f"{name} has {len(values)} values for {rows} prompts; give one value or one per prompt")
    return values


def _stops_per_row(stop: Sequence[str] | Sequence[Sequence[str]], rows: int) -> list[tuple[str, ...]]:
    if isinstance(stop, str) or all(isinstance(s, str) for s in stop):
        return [stop] * rows  # type: ignore[list-item]  (TextStream rejects a single string)
    if len(stop) != rows:
        raise ConfigError(f"stop has {len(stop)} per-row entries for {rows} prompts")
    return list(stop)  # type: ignore[arg-type]


def _left_padded(tokenizer: PreTrainedTokenizerBase, ids: list[list[int]]) -> dict[str, Any]:
    import torch

    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids])
    attention_mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids])
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _common_prefix_length(ids: list[list[int]]) -> int:
    shortest = min(map(len, ids))
    for n in range(shortest):
        if any(row[n] != ids[0][n] for row in ids):
            return n
    return shortest


def _prefix_shared_batch(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, ids: list[list[int]]) -> dict[str, Any]:
    """Rows laid out as ``prefix + pads + suffix`` with the prefix's KV cache computed once and repeated."""
    import torch

    # Keep at least one token of every row uncached: generate needs a new token to run the first step on.
    prefix = min(_common_prefix_length(ids), min(map(len, ids)) - 1)
    if prefix < 1:
        return _left_padded(tokenizer, ids)
    suffixes = [row[prefix:] for row in ids]
    width = max(map(len, suffixes))
    pad = tokenizer.pad_token_id
    head = ids[0][:prefix]
    input_ids = torch.tensor([head + [pad] * (width - len(s)) + s for s in suffixes])
    attention_mask = torch.tensor([[1] * prefix + [0] * (width - len(s)) + [1] * len(s) for s in suffixes])
    with torch.no_grad():
        output = model(torch.tensor([head], device=model.device), use_cache=True)
    # transformers renamed ``past_key_values`` to ``cache`` during 5.x; use whichever this version has.
    key = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    cache = output[key]
    cache.batch_repeat_interleave(len(ids))
    return {"input_ids": input_ids, "attention_mask": attention_mask, key: cache}


@dataclass
class _Row:
    stream: TextStream
    decoded: int = 0  # characters of text decoded so far
    line_tokens: int = 0  # tokens since the last newline

    @property
    def done(self) -> bool:
        return self.stream.finish_reason is not None


class _RowTracker(StoppingCriteria):
    """Every row's ``TextStream`` (stop strings, EOS, budget, streaming) fed after each generated token, plus
    cancellation and each row's line length (for ``_ListLines``)."""

    def __init__(self, streams: list[TextStream], on_done: DoneCallback | None,
                 should_stop: Callable[[], bool] | None) -> None:
        self.rows = [_Row(stream) for stream in streams]
        self.on_done = on_done
        self.should_stop = should_stop

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        import torch

        last = input_ids[:, -1].tolist()
        for index, (row, token) in enumerate(zip(self.rows, last)):
            if not row.done:
                if row.stream.push([token]):
                    self._done(index, row)
                else:
                    text = row.stream.text
                    row.line_tokens = 0 if "\n" in text[row.decoded :] else row.line_tokens + 1
                    row.decoded = len(text)
        if self.should_stop is not None and self.should_stop():
            self.finish_all("cancelled")
        return torch.tensor([row.done for row in self.rows], device=input_ids.device)

    def finish_all(self, reason: FinishReason | None) -> None:
        for index, row in enumerate(self.rows):
            if not row.done:
                row.stream.finish(reason)
                self._done(index, row)

    def _done(self, index: int, row: _Row) -> None:
        if self.on_done is not None:
            self.on_done(index, row.stream.completion)


class _ListLines(LogitsProcessor):
    """Keeps list rows (a skeleton) to short lines that differ. A line is ended once it has reached its limit on a
    whole character (a byte-level tokenizer spends up to four tokens on one, SmolLM2 two or three on a Chinese
    character: a newline between them would leave U+FFFD in the title) and not after a word that leaves its phrase
    open (``_line_full``), or ended a head with a colon (``2. Data types:``: a small model goes on to explain its
    title there, a third of its skeleton's tokens, which the point's expansion says again); the next line is then
    opened with the list's next marker (``3.``; else the model explains the point on lines of its own). No line
    may open with the same two tokens (after its number) as an earlier line: a small model otherwise writes one
    point over and over (``2. Quantum computing: ...``, ``3. Quantum computing: ...``), and made to vary its second
    word it moves on to other points."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, rows: list[_Row], limits: list[int | None],
                 newline: int, prefills: list[str | None]) -> None:
        self.tokenizer, self.rows, self.limits, self.newline = tokenizer, rows, limits, newline
        self.prefills = [p or "" for p in prefills]  # a row's text starts after its prefill (``1.``)
        self.heads: list[set[tuple[int, int]]] = [set() for _ in rows]  # each row's line openings so far
        self.forced: list[list[int]] = [[] for _ in rows]  # each row's tokens to write next, whatever the model says

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for index, (row, limit, heads) in enumerate(zip(self.rows, self.limits, self.heads)):
            if not limit or row.done:
                continue
            tokens = row.stream.tokens
            body = self._body(tokens[len(tokens) - row.line_tokens:])
            if len(body) == 2:  # a line's body grows one token a step, so each opening is added once
                heads.add((body[0], body[1]))
            forced = self.forced[index]
            line = row.stream.text.rpartition("\n")[2]  # the line being written, not the whole text each step
            if not forced and (self._line_full(row, line, limit)
                               or (row.line_tokens and _HEAD_END.search(line))):
                forced += [self.newline, *self._next_marker(self.prefills[index] + row.stream.text)]
            if forced:
                scores[index] = float("-inf")
                scores[index, forced.pop(0)] = 0.0
            elif len(body) == 1:
                scores[index, [second for first, second in heads if first == body[0]]] = float("-inf")
        return scores

    def _line_full(self, row: _Row, line: str, limit: int) -> bool:
        """Has the ``line`` being written reached its ``limit`` on a whole character, and not inside a phrase? A line
        whose last word at the limit left its phrase open (``_OPEN_END``: "... including sleep disorders and") goes on
        to the end of its clause, for up to ``OPEN_GRACE`` tokens more: ended there, its title read as cut off. One
        still unfinished three tokens past that (a character's most bytes after its first) is no character: the
        line ends anyway."""
        tokens = row.line_tokens
        if tokens < limit:
            return False
        at_limit = self.tokenizer.decode(row.stream.tokens[len(row.stream.tokens) - tokens:][:limit])
        grace = OPEN_GRACE if _OPEN_END.search(at_limit) else 0
        if line.endswith("\ufffd"):
            return tokens >= limit + grace + 3
        return tokens >= limit + grace or (tokens > limit and bool(_CLAUSE_END.search(line)))

    def _next_marker(self, text: str) -> list[int]:
        """The tokens of the marker after the last list line's (``3.`` after ``2.``, ``-`` after ``-``)."""
        for line in reversed(text.split("\n")):
            if m := _LINE_MARKER.match(line):
                marker = f"{int(m[1]) + 1}{m[2]}" if m[1] else m[3]
                return self.tokenizer(marker, add_special_tokens=False)["input_ids"]
        return []

    def _body(self, line: list[int]) -> list[int]:
        """The line's tokens after its list number."""
        start = 0
        while start < len(line) and _LIST_NUMBER.fullmatch(self.tokenizer.decode(line[: start + 1])):
            start += 1
        return line[start:]


class _DistinctRows(LogitsProcessor):
    """Keeps rows that are the parts of one answer (SoT's points, expanded side by side) from saying the same
    things. A row's next token loses ``PENALTY`` from its score where it would repeat a run of three tokens that a
    row, itself included, has written or that the prompt the rows share (question and instructions) holds, unless
    the row's own part of its prompt (its point's title) holds that run too. A small model otherwise opens its
    points alike, carries one phrase from point to point and loops within a point. A penalty, not a ban: a run
    the model is sure of stays (barred outright, SmolLM2 spelt a barred word without its space, "useof").
    The rows decode in lockstep, so a row's choice also counts against the rows after it in the same step: two
    rows that open alike would otherwise write one sentence side by side. Greedy only: a choice is the highest
    score. End-of-sequence tokens are never penalized (a row must be free to end)."""

    PENALTY = 3.0

    def __init__(self, rows: list[_Row], prompts: list[list[int]], eos: Iterable[int]) -> None:
        self.rows = rows
        shared = _common_prefix_length(prompts)
        self.seen = _follows(prompts[0][:shared], {})  # two tokens -> the tokens that followed them
        self.own = [_follows(p[shared:], {}) for p in prompts]  # per row: runs its own prompt has
        self.free = frozenset(eos)
        self.added = [0] * len(rows)  # how many of each row's tokens ``seen`` holds

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        open_rows = []
        for index, row in enumerate(self.rows):
            tokens = row.stream.tokens
            _follows(tokens, self.seen, start=self.added[index])
            self.added[index] = len(tokens)
            if not row.done and len(tokens) >= 2:
                open_rows.append((index, (tokens[-2], tokens[-1])))
        exempt = []
        for index, last in open_rows:
            exempt.append(self.own[index].get(last, set()) | self.free)
            if penalized := list(self.seen.get(last, set()) - exempt[-1]):
                scores[index, penalized] -= self.PENALTY
        if len({last for _, last in open_rows}) == len(open_rows):
            return scores  # no two rows end in the same two tokens: none can write another's run in this step
        choices = scores.argmax(-1).tolist()  # one transfer for all rows
        chosen: dict[tuple[int, int], set[int]] = {}  # this step's choices so far
        for (index, last), allowed in zip(open_rows, exempt):
            taken = chosen.get(last, set()) - self.seen.get(last, set()) - allowed  # not penalized yet
            if choices[index] in taken:
                scores[index, list(taken)] -= self.PENALTY
                choices[index] = int(scores[index].argmax())
            chosen.setdefault(last, set()).add(choices[index])
        return scores


def _follows(tokens: list[int], table: dict[tuple[int, int], set[int]], start: int = 0
             ) -> dict[tuple[int, int], set[int]]:
    """``table`` with every two consecutive tokens of ``tokens`` and the tokens that follow them there, for the
    tokens from ``start`` on."""
    for end in range(max(start, 2), len(tokens)):
        table.setdefault((tokens[end - 2], tokens[end - 1]), set()).add(tokens[end])
    return table


_LIST_NUMBER = re.compile(r"\s*(?:\d+[.)]?)?\s*")
#: a list line's marker: a number (``2.``, ``2)``) or a bullet
_LINE_MARKER = re.compile(r"\s*(?:(\d+)([.)])|([-*•])(?=\s))")
#: a line's last word where it leaves its phrase open: a conjunction, an article, a preposition, a possessive or
#: demonstrative, a verb or adverb that needs what follows; lower case ("LA", "Vitamin A" end a phrase)
_OPEN_END = re.compile(r"(?<![\w'’-])(?:and|or|but|nor|the|an?|of|to|for|with|without|in|into|on|at|by|from|as|than|"
                       r"such|including|like|your|their|its|our|my|his|her|this|that|these|those|is|are|can|will|"
                       r"also|very|least|et|ou|le|la|les|des|du|de|y|o|el|los|las|und|oder|der|das|den|dem|mit|für)"
                       r"[\s,;]*$")
#: tokens a list line whose last word leaves its phrase open may take past its limit, to end the phrase
OPEN_GRACE = 8
#: punctuation that ends a clause, where such a line ends; not after a digit ("at least 2." goes on to "2.5 liters")
_CLAUSE_END = re.compile(r"(?<!\d)[.!?;:,](?:\*\*|__)?\s*$")
#: a line's head ended by a colon after a word, maybe bold (``Data types:``, ``**Cost**:``; not ``10:``)
_HEAD_END = re.compile(r"[^\W\d_][\w'’-]*(?:\*\*|__)?:(?:\*\*|__)?$")
