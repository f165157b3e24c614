"""Judge-free measures of a Skeleton-of-Thought answer: cheap, deterministic, and computed for every answer.

They catch the defects a small model's SoT answers show most (points that repeat each other, points that open
by restating the question) without asking a judge model. They measure shape, not truth: a wrong answer can
score perfectly. ``sotkit eval`` reports them beside the judge's verdicts.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from .question import question_view

#: characters of scripts written without spaces between words (Han, kana, Thai, ...), where a word cannot be told
#: apart: such text is read as characters (n-grams of characters; pairs of them as content words)
NO_SPACES = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PHRASE = re.compile(f"[{NO_SPACES}]+")
# combining marks (Indic vowel signs, accents of decomposed text) are part of a word, though \w leaves them out
_MARKS = "".join(c for c in map(chr, range(0x300, 0x2000))
                 if unicodedata.category(c)[0] == "M" and not _PHRASE.match(c))
# letters and digits of any script, with an apostrophe suffix ("don't"; letters only: "5'10" is two numbers)
_WORD = re.compile(rf"[^\W_]+(?:[{_MARKS}]+[^\W_]*)*(?:'[^\W\d_]+)?")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")  # _WORD on ASCII text, faster (the echo check reads every piece)
_SENTENCE_END = re.compile(r"(?<=[.!?।؟])\s+|(?<=[。！？])\s*")  # CJK's full stops need no space after them

#: words that carry no content of their own; a restatement is judged on the others
STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below between
both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each few for from
further had hadn't has hasn't have haven't having he her here hers herself him himself his how i if in into is
isn't it it's its itself just let's me more most much my myself no nor not now of off on once only or other ought
our ours ourselves out over own same she should shouldn't so some such than that that's the their theirs them
themselves then there there's these they this those through to too under until up very was wasn't we were weren't
what what's when where which while who whom why will with won't would wouldn't you your yours yourself yourselves
also get make many may might must one ones thing things way ways well like use using used really
""".split())


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits of any script, with an apostrophe suffix such as "don't"); each
    character of a script written without spaces (``NO_SPACES``) is a token of its own."""
    text = text.lower()
    if text.isascii():
        return _ASCII_WORD.findall(text)
    return _WORD.findall(_PHRASE.sub(_spaced_apart, text))


def _spaced_apart(phrase: re.Match[str]) -> str:
    return f" {' '.join(phrase[0])} "


def content_words(text: str) -> set[str]:
    """The text's words less the stop words, crudely singularised ("habits" and "habit" count as one); of a script
    written without spaces, the pairs of adjacent characters (a Chinese word is mostly two)."""
    found = {_singular(w) for w in words(text) if w not in STOP_WORDS and len(w) > 1}
    for phrase in _PHRASE.findall(text):
        found.update(map("".join, zip(phrase, phrase[1:])) if len(phrase) > 1 else phrase)
    return found


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def ngrams(text: str, n: int = 3) -> Counter[str]:
    return Counter(gram_list(text, n))


def gram_list(text: str, n: int = 3) -> list[str]:
    """The text's word n-grams in order, repeats included, each as its words joined by spaces (a list, not a
    Counter: the echo check runs on every streamed piece of text, and a Counter costs several times as much to
    build; strings, not tuples: the garbage collector tracks tuples, and the echo check keeps a set of a hundred
    or more for every point being written, which made a busy client collect a quarter more often)."""
    tokens = words(text)
    return list(map(" ".join, zip(*(tokens[i:] for i in range(n)))))


def redundancy(points: Sequence[str], n: int = 3) -> float | None:
    """Cross-point redundancy: the mean, over points with any word n-grams, of the share of a point's n-grams
    that also occur in another point of the same answer. 0 = every point says its own thing; 1 = every
    phrase of every point is repeated elsewhere. Fewer than two such points: None (nothing to compare)."""
    grams = [ngrams(p, n) for p in points]
    grams = [g for g in grams if g]
    if len(grams) < 2:
        return None
    shares = []
    for i, own in enumerate(grams):
        elsewhere = set().union(*(g for j, g in enumerate(grams) if j != i))
        total = sum(own.values())
        shares.append(sum(count for gram, count in own.items() if gram in elsewhere) / total)
    return sum(shares) / len(shares)


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def restates_question(question: str, point: str, share: float = 0.6) -> bool:
    """Whether the point's first sentence repeats the question's content: at least ``share`` of the
    question's content words (and at least two of them) appear in it. "To improve your time management
    skills, it's essential to ..." restates "How can I improve my time management skills?"."""
    asked = content_words(question)
    if len(asked) < 2:
        return False
    found = asked & content_words(first_sentence(point))
    return len(found) >= 2 and len(found) >= share * len(asked)


def restatement(question: str, points: Sequence[str]) -> float | None:
    """The share of the points with words whose first sentence restates the question; None when there is nothing
    to tell it by: no such point, or a question of fewer than two content words (never restated)."""
    texts = [p for p in points if words(p)]
    if not texts or len(content_words(question)) < 2:
        return None
    return sum(restates_question(question, p) for p in texts) / len(texts)


def length_ratio(answer: str, reference: str) -> float | None:
    """Words in ``answer`` over words in ``reference`` (the SoT answer over the sequential one); None when the
    reference is empty."""
    reference_words = len(words(reference))
    return len(words(answer)) / reference_words if reference_words else None


def speedup(sequential_s: float, sot_s: float) -> float | None:
    """How many times faster SoT answered; None when either time is missing or not positive."""
    return sequential_s / sot_s if sequential_s > 0 and sot_s > 0 else None


def speedup_per_token(sequential_s: float, sequential_tokens: int, sot_s: float, sot_tokens: int) -> float | None:
    """The speed-up in output tokens per second: a SoT answer that is faster only because it is shorter gets
    no credit for the missing length."""
    if min(sequential_s, sot_s) <= 0 or min(sequential_tokens, sot_tokens) <= 0:
        return None
    return (sot_tokens / sot_s) / (sequential_tokens / sequential_s)


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def clauses(text: str) -> list[str]:
    """The text's lines cut at their sentences' ends and colons ("End with this sentence: This is no advice.")."""
    return [clause for line in text.splitlines() for sentence in sentences(line) for clause in sentence.split(": ")]


class Instructions:
    """A point's rendered instructions (system and user prompt), for telling a point that copies them.

    ``quoted`` are the texts the prompt quotes from the request (the question, the point's title, the
    context): a point may repeat those (restatement is measured on its own); it echoes when it copies the
    template's own sentences. A sentence echoes when at least two and 60 % of its word 3-grams occur in
    the instructions and one of them is the template's own (not inside a quoted text): 'One part of the answer
    is "Avoid heavy meals".' echoes; 'Avoid heavy meals before bed.' does not."""

    def __init__(self, instructions: str, quoted: Sequence[str] = ()) -> None:
        views = [(q, question_view(q)) for q in quoted if q]
        for text, view in views:  # a 2 MB question would cost a second of n-grams per point: its two ends do
            if view is not text:
                instructions = instructions.replace(text, view)
        self.grams = set(gram_list(instructions))
        self.own = self.grams.difference(*(_grams(view) for _, view in views))

    def echoes(self, sentence: str) -> bool:
        grams = gram_list(sentence)
        copied = sum(gram in self.grams for gram in grams)
        return copied >= 2 and copied >= 0.6 * len(grams) and any(gram in self.own for gram in grams)

    def could_echo(self, opening: str) -> bool:
        """Whether an unfinished sentence may still turn out an echo: it has no more new 3-grams than copied
        ones (a streamed sentence is held back until this is false or it ends; an echo opens with copied
        words, so a sentence that opens with its own is released after three words)."""
        last = opening[-1:]  # a letter, digit or mark of a spaced script: its word may go on
        partial = bool(last) and unicodedata.category(last)[0] in "LNM" and not _PHRASE.match(last)
        grams = gram_list(opening.rsplit(None, 1)[0] if partial else opening)  # whole words
        copied = sum(gram in self.grams for gram in grams)
        return len(grams) - copied <= copied


@functools.lru_cache(maxsize=256)
def _grams(text: str) -> frozenset[str]:
    """The text's word 3-grams, kept for the next point: every point of an answer quotes the same question and
    titles."""
    return frozenset(gram_list(text))


def echo(instructions: Instructions, point: str) -> float:
    """The share of the point's sentences that echo its instructions (0 for an empty point)."""
    found = sentences(point)
    return sum(instructions.echoes(s) for s in found) / len(found) if found else 0.0
