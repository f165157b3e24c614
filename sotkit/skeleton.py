"""Incremental skeleton parsing: a point is emitted the moment its line is complete.

Accepts the shapes real models write: ``1.`` / ``1)`` / ``(1)`` / ``Step 1:`` / bullets, bold or heading
markdown, trailing colons, a preamble before the list and blank lines, and the full-width marks of Chinese and
Japanese lists (``1、``, ``１．``, ``（1）``). The first list marker decides the
list's kind; lines of another kind (sub-bullets, prose) are continuation lines and are ignored, as are
repeated or decreasing numbers and repeated titles.

Small and mid-size models often write the list inline, on one line or in a sentence (``Ways to cope are:
1. Exercise; 2. Sleep; and 3. Talk``, ``(1) A, (2) B``, ``1) A 2) B``): there an item ends where the next
number starts, or at the end of the line. An inline list starts only at a ``1`` that a ``2`` of the same
style follows, and a number only marks an item after punctuation, ``and``/``or``/``then`` or a bold ``**``
(``n)`` and ``(n)`` after any space): ordinary text with numbers in it stays one line ("in 2. quarter",
"version 3.1", "$2.50", "Python 3.12").

Two kinds of lines are no points, because every expansion would restate them: a line that repeats an earlier
point (its title again, most of its words with only stop words added, or that line cut shorter), and a title
of two words or more that is only a phrase of the question (``Social media platforms`` for "How do social
media platforms influence ...", ``Quantum computers`` for "... the basics of quantum computing?"); but a
two-word one that the question joins to another with "and" / "or" is one of the things it asks about
(``Monetary policy`` for "... fiscal and monetary policies ..."). Nor is a title made only of the skeleton
prompt's own words (``The answer is``, ``The final answer``: a small model's reply to the prompt, not a point of
the answer). Words compare by their first five letters, so that ``computing`` and ``computers`` are one word,
except in an API model's titles, whose plans run parallel (``Pros of remote work for employees``, ``... for
employers``). With ``drop_subsumed`` (small models, which loop with small changes), neither is a title whose
content words an earlier title holds (``His legacy`` after ``His artistic legacy``), and any words added to most
of an earlier line's make a repeat; an API model's plan may well open with ``Overview of fiscal and monetary
policy`` and go on with ``Fiscal policy``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .quality import STOP_WORDS

#: characters of scripts written without spaces between words (Han, kana, Thai, ...): one "word" is a whole phrase
NO_SPACES = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NO_SPACES = re.compile(f"[{NO_SPACES}]")
#: ``1.``, ``1)``, ``(1)``, ``Step 1:``, and the full-width forms of Chinese and Japanese lists (``１．``, ``1、``,
#: ``（1）``), where the title may follow without a space
_NUMBERED = re.compile(r"^(?:(?:step|point|part)\s+(\d+)\s*[:.)\-–]|[(（](\d+)[)）]|(\d+)[.)．）、])"
                       rf"(?=\s|$|[{NO_SPACES}])\s*(.*)$", re.I)
#: marks that invisibly open a line (a byte-order mark, zero-width spaces): no part of its text
_INVISIBLE = str.maketrans("", "", "\ufeff\u200b\u200c\u200d\u2060")
_BULLET = re.compile(r"^[-*•+]\s+(.*)$")
#: a list number inside a line: ``1.``, ``1)``, ``(1)``, maybe bold, before a space; never part of a decimal,
#: a price or a version (``3.1.``, ``$2.``, ``v2.``)
_MARKER = re.compile(r"(?<![\w.,$€£(*])(\*\*)?(?:\((\d{1,2})\)|(\d{1,2})([.)]))(?=(?:\*\*)?\s)")
#: what may stand before an inline ``n.``: the end of a clause, a conjunction
_ITEM_BEFORE = re.compile(r"(?:^|[:;,.!?)\-–—]|\b(?:and|or|then))\s*$", re.I)
#: the separator left at the end of an inline item (``A; and``)
_ITEM_TAIL = re.compile(r"(?:[\s;,]*\b(?:and|or|then))?[\s;,]*$", re.I)
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
#: characters in one line past which it cannot be a skeleton point
MAX_LINE = 300
#: tokens a skeleton line may take where the provider can end lines itself (local models). The paper asks for
#: 3-5 words a point; small models go on to explain each one, which costs time and adds nothing to the title.
LINE_TOKENS = 16
#: list lines in a row that repeat an earlier point, after which the model is taken to be looping
MAX_REPEATS = 2
#: a line that stutters its own number (``1. 1. 1.``): a small model stuck in a loop
_STUTTER = re.compile(r"^\s*(\d+)[.)]\s+\1[.)]\s+\1[.)]")
#: share of a line's words found in an earlier point's line that makes it a repeat of that point
REPEAT_WORDS = 0.8
#: words an API model's repeat may add to an earlier line's: no others ("before" / "after", "not" make points)
_FILLERS = frozenset("a an the each every any some all your my our their his her its this that these those".split())
_WORD = re.compile(r"[\w'’-]+")
_LETTER = re.compile(r"[^\W\d_]")
#: words (by stem) of the skeleton prompt that a small model writes as titles ("The answer is", "The skeleton is");
#: not "point": "Point 1" is a placeholder that tests script. A title of these words alone is no point only when it
#: names the answer or the skeleton: "Questions" (for an interview) or "Outline" (for a paper) may well be points.
_PROMPT_WORDS = frozenset(("answe", "quest", "skele", "respo", "final", "last", "title", "outli"))
_ECHOED = frozenset(("answe", "skele"))


@dataclass(frozen=True)
class SkeletonPoint:
    index: int
    title: str


class SkeletonParser:
    """Feed it the skeleton stream; it returns each point as soon as its line ends.

    >>> p = SkeletonParser()
    >>> p.feed("1. Plan ahead\\n2. Sle"), p.feed("ep well\\n"), p.finish()
    ([SkeletonPoint(index=1, title='Plan ahead')], [SkeletonPoint(index=2, title='Sleep well')], [])
    """

    def __init__(self, max_points: int = 10, *, question: str = "", drop_subsumed: bool = False) -> None:
        self.max_points = max_points
        self._drop_subsumed = drop_subsumed
        self.points: list[SkeletonPoint] = []
        self._question = _stems(question)
        self._lines: list[str] = []  # the body of each point's line, for spotting repeats
        # the points' titles, by stems for a small model (a head repeated in other forms of its words is no new
        # point), else by words less a plural's s: "Pros for employers" after "Pros for employees" is a point
        self._title_key = _stems if drop_subsumed else _words
        self._titles: set[tuple[str, ...]] = set()
        self._topics: list[frozenset[str]] = []  # the stems of each point's content words
        self._buffer = ""
        self._kind: str | None = None  # "numbered" or "bullet", fixed by the first point
        self._indent = 0  # the first point's indentation: a line indented deeper is a sub-item of a point
        self._last_number = 0
        self._repeats = 0  # list lines in a row that repeated an earlier point

    @property
    def full(self) -> bool:
        return len(self.points) >= self.max_points

    @property
    def done(self) -> bool:
        """Nothing more can come of the stream: the skeleton is full, or it ended early (``ended_early``)."""
        return self.full or self.ended_early is not None

    @property
    def ended_early(self) -> str | None:
        """Why nothing more can come of the stream before the skeleton is full, if so: the line being written is
        far too long to be a point (a model answering instead) or stutters (``1. 1. 1. ...``), or the last list
        lines only repeated earlier points."""
        if self.full:
            return None
        if len(self._buffer) > MAX_LINE:
            return f"a line ran past {MAX_LINE} characters (an answer, not a list)"
        if self._repeats >= MAX_REPEATS:
            return f"its last {MAX_REPEATS} list lines repeated earlier points"
        if _STUTTER.match(self._buffer):
            return "a line stuttered its number (1. 1. 1.)"
        return None

    def feed(self, text: str) -> list[SkeletonPoint]:
        """Add streamed text; return the points whose lines (or inline items) it completed."""
        *lines, self._buffer = (self._buffer + text).split("\n")
        points = [p for line in lines for item in _items(line) if (p := self._parse_line(item))]
        *items, self._buffer = _items(self._buffer)
        return points + [p for item in items if (p := self._parse_line(item))]

    def finish(self) -> list[SkeletonPoint]:
        """The stream ended: parse the last, unterminated line."""
        line, self._buffer = self._buffer, ""
        point = self._parse_line(line)
        return [point] if point else []

    def _parse_line(self, line: str) -> SkeletonPoint | None:
        if self.full:
            return None
        kind, number, title, body = _classify(line)
        if kind is None or not _LETTER.search(title) or (self._kind is not None and kind != self._kind):
            return None  # no list item, or one without a word in it (``1. 1. 2. 3.``, ``2. 50%``)
        expanded = line.expandtabs(4)
        indent = len(expanded) - len(expanded.lstrip())
        if self.points and indent >= self._indent + 2:  # Markdown nests from two spaces in; one is a slip
            return None  # "   2. Cool room" under "1. Sleep hygiene" details that point; it is none of its own
        head_repeated = self._title_key(title) in self._titles
        if head_repeated:  # small models repeat a head ("Topic: ..."); the whole line may differ
            title = _clean(body)
            # "Head: 3. more text" under a repeated head is the model restarting its list inside a line
            if not title or self._title_key(title) in self._titles or _NUMBERED.match(body.partition(": ")[2]):
                self._repeats += 1
                return None  # a point is written once
        if kind == "numbered":
            if number <= self._last_number:
                return None  # a repeated number, or a nested / restarted list
            self._last_number = number
        # a line that repeats a point, or a longer phrase of the question (which a looping model also repeats)
        stems = _stems(title)
        in_question = len(stems) >= 2 and _contains(self._question, stems)  # one word may well be a point
        if self._repeats_a_point(title, body, loose=head_repeated or self._drop_subsumed) \
                or (in_question and len(stems) >= 3):
            self._repeats += 1
            return None
        if in_question and not _joined_in(self._question, stems):
            return None  # the question's topic named as a point ("Quantum computing"): every expansion would be it
        topic = _content_stems(title)
        if (words := {t for t in topic if not t.isdigit()}) and words <= _PROMPT_WORDS and words & _ECHOED:
            return None  # "The answer is", "The final answer": the prompt's words, nothing to expand
        if self._drop_subsumed and self._rewrites_a_title(topic):
            return None
        self._kind, self._repeats = kind, 0
        if not self.points:
            self._indent = indent
        point = SkeletonPoint(index=len(self.points) + 1, title=title)
        self.points.append(point)
        self._titles.add(self._title_key(title))
        self._topics.append(topic)
        self._lines.append(body.casefold())
        return point

    def _rewrites_a_title(self, topic: frozenset[str]) -> bool:
        """Is a title with these content words a small model's loop over one earlier title? "Quantum bit" after
        "Quantum bits (qubits)" covers nothing new; "Relevance to the topic" after "Relevance" is that title with
        words added. One that joins two earlier titles ("Fiscal and monetary policy together") is a point."""
        extended = [earlier for earlier in self._topics if earlier and earlier <= topic]
        return bool(topic) and (len(extended) == 1 or any(topic <= earlier for earlier in self._topics))

    def _repeats_a_point(self, title: str, body: str, loose: bool) -> bool:
        """Does the line say again what an earlier point's line said? Small models loop with small changes,
        and the line limit cuts a repeated line shorter (``... in 1886``, then ``... in 188``). Titles of one
        or two words are only compared whole: a short title may well be a word of another point's line.
        Most words (``REPEAT_WORDS``) of an earlier line make a repeat where the words added are articles and the
        like (``_FILLERS``: "before every meal", "before each meal"), or, ``loose``, any (a small model's, or
        under a repeated head); otherwise a plan's parallel titles would go ("Pros of remote work", "Cons of
        remote work"; "Life before the war", "Life after the war")."""
        line, words = body.casefold(), set(_WORD.findall(title.casefold()))
        for earlier in self._lines:
            if earlier.startswith(line):
                return True
            shared = words & set(_WORD.findall(earlier))
            if len(words) >= 3 and len(shared) >= REPEAT_WORDS * len(words) and (loose or words - shared <= _FILLERS):
                return True
        return False


def _items(line: str) -> list[str]:
    """A line cut where inline list items start (in an unfinished line, the last piece may still grow)."""
    items = []
    while (start := _next_item(line)) is not None:
        items.append(_ITEM_TAIL.sub("", line[:start]))
        line = line[start:]
    return items + [line]


def _next_item(line: str) -> int | None:
    """Where the next inline item starts in a line: the next number after a numbered line's own, or the ``1``
    of a list that a ``2`` confirms after a preamble (``The ways are: 1. ... 2. ...``)."""
    kind, number, _, _ = _classify(line)
    if kind == "bullet":
        return None
    markers = [(m.start(), style, n) for m in _MARKER.finditer(line, 1) if (s := _item_style(line, m))
               for style, n in [s]]
    if kind == "numbered":
        head = line.strip().lstrip("#").strip()
        own = _item_style(head, _MARKER.match(head))
        style = own[0] if own else "."  # ``Step 1:`` continues with ``2.``
        return next((start for start, s, n in markers if s == style and n == number + 1), None)
    for start, style, n in markers:
        if n == 1 and any(s == style and m == 2 and later > start for later, s, m in markers):
            return start
    return None


def _item_style(line: str, marker: re.Match[str] | None) -> tuple[str, int] | None:
    """``(style, number)`` of a list number that can start an item here, else None."""
    if marker is None:
        return None
    style = "()" if marker.group(2) else marker.group(4)
    if style == "." and not marker.group(1) and not _ITEM_BEFORE.search(line, 0, marker.start()):
        return None  # "in 2. quarter": a number in a sentence
    return style, int(marker.group(2) or marker.group(3))


def _classify(line: str) -> tuple[str | None, int, str, str]:
    """``(kind, number, title, body)`` of a line, or ``(None, 0, "", "")`` when it is not a list item."""
    text = line.translate(_INVISIBLE).strip().lstrip("#").strip()
    plain = text.replace("**", "").replace("__", "").strip()
    if m := _NUMBERED.match(plain):
        kind, number, body = "numbered", next(int(g) for g in m.groups()[:3] if g), m.group(4)
    elif m := _BULLET.match(plain):
        kind, number, body = "bullet", 0, m.group(1)
    else:
        return None, 0, "", ""
    return kind, number, _title(text, body), body


def _title(text: str, body: str) -> str:
    """Prefer a bold span (``1. **Sleep**: 8 hours`` -> ``Sleep``), else the text before a colon."""
    for bold in _BOLD.finditer(text):
        span = (bold.group(1) or bold.group(2)).strip()
        span = (m.group(4) if (m := _NUMBERED.match(span)) else span).strip().rstrip(":.").strip()
        if span:
            return span
    head, sep, tail = body.partition(": ")
    return _clean(head if sep and head.strip() and tail.strip() else body)


def _stems(text: str) -> tuple[str, ...]:
    """The text's words by their first five letters (less a plural's s), so that forms of one word compare
    equal: computing, computers, computation; policy, policies; bit, bits. A "word" of a script written without
    spaces is a whole phrase, and phrases that share their first five characters (保持良好的睡眠, 保持良好的饮食) differ."""
    return tuple(word if _NO_SPACES.search(word) else word.removesuffix("s")[:5]  # a phrase there: kept whole
                 for word in _WORD.findall(text.casefold()))


def _words(text: str) -> tuple[str, ...]:
    """The text's words, less a plural's s."""
    return tuple(word.removesuffix("s") for word in _WORD.findall(text.casefold()))


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(stem for word, stem in zip(_WORD.findall(text.casefold()), _stems(text))
                     if word not in STOP_WORDS)


def _starts(words: tuple[str, ...], phrase: tuple[str, ...]) -> list[int]:
    """Where the phrase stands in the words."""
    return [i for i in range(len(words) - len(phrase) + 1) if words[i:i + len(phrase)] == phrase]


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    return bool(_starts(words, phrase))


def _joined_in(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Do the words name the phrase beside another thing, with "and" or "or" just before or after it?"""
    n = len(phrase)
    return any({"and", "or"} & {*words[i - 1:i], *words[i + n:i + n + 1]} for i in _starts(words, phrase))


def _clean(title: str) -> str:
    return title.strip().strip("*_").strip().rstrip(":.").strip()
