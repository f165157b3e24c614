"""Keeping a point's expansion to its own point, while it streams.

Models restate the point's number and title, or run on into the next point. ``ExpansionFilter`` cleans the
text incrementally: it releases only text that no later delta can change, so what was streamed is exactly
the final text.

Small local models also write until their token budget cuts them off mid-sentence, and drift into a sibling
point. For them the filter works in whole sentences: it holds back the sentence being written, drops it if
the budget cut it, and ends the expansion before a sentence that names another point.

A small model's opening sentences may also only say the point's title again ("The answer is: Use your bed for
sleep.") or the question ("Managing your time well is key to improving your time management skills."): in
whole-sentence mode such sentences are dropped, so that a point which says nothing more is left empty (and
retried) rather than passed off as written.

Given the point's rendered instructions, it also drops sentences that copy them ('One part of the answer is
"Avoid heavy meals".'): a small model often answers with its prompt. A sentence is held back while it may
still turn out such an echo, so an echo is never streamed; ``echoed`` tells the caller one was dropped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from .quality import Instructions, content_words, restates_question
from .skeleton import NO_SPACES

# A line that starts a new numbered item: the expansion ran on into the next point.
_NEW_ITEM = re.compile(r"\n[ \t]*(?:\*\*|#+\s*)?(?:\d+[.)．）、]|[(（]\d+[)）]|step\s+\d+\s*:)"
                       rf"(?:\s|$|[{NO_SPACES}])", re.I)
# A bulleted line: another item too where the point is one paragraph (whole-sentence mode; an API model's point
# may hold a list of its own).
_NEW_BULLET = re.compile(r"\n[ \t]*[-*•](?:[ \t]|$)")
_FIRST_BULLET = re.compile(r"\s*[-*•]\s+")
# The tail of the text that could still grow into such a line.
_PARTIAL_ITEM = re.compile(r"\n[ \t]*(?:\*{1,2}|#+\s*)?(?:\d+[.)．）、]?|[(（]\d*|s(?:t(?:e(?:p(?:\s+\d*)?)?)?)?)?$",
                           re.I)
# The end of a sentence: settled once whitespace follows it (before that, "2." may still become "2.5").
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)")
# A restated header, "2. Title:" / "**2. Title**:" / "- Title:" / "Title:", around the title (which is compared
# in code: a pattern holding it would be compiled for every point, ~0.4 ms of CPU each).
_EMPHASIS = r"(?:\*\*?|__?)"  # bold or italics, "**" or "*", "__" or "_"
_HEADER_NUMBER = re.compile(rf"\s*(?:#+\s*)?(?:[-*•]\s+)?{_EMPHASIS}?(?:(\d+)[.)．）、]\s*{_EMPHASIS}?\s*)?")
_HEADER_SEPARATOR = re.compile(rf"\s*{_EMPHASIS}?\s*[:.\-–—：．、]")  # with the full-width forms of Chinese and Japanese
#: a header's full-width punctuation and digits, as their ASCII forms
_FULL_WIDTH = str.maketrans("．）、：（０１２３４５６７８９", ".).:(0123456789")
_HEADER_CLOSE = re.compile(rf"{_EMPHASIS}?\s*")
# An opening clause that may restate the question ("To improve your time management skills, start by ...", "When
# designing an accessible transit system, ..."); a longer head before its shorter one, which it would swallow.
_OPENING_HEADS = ("to ", "in order to ", "when it comes to ", "if you want to ", "when ", "while ", "if ")
_OPENING = re.compile(rf"(?:{'|'.join(h.strip() for h in _OPENING_HEADS)})\s+([^,.;:!?\n]{{1,100}}),\s*", re.I)
_OPENING_END = re.compile(r"[,.;:!?\n]")
# Words a sentence that says nothing new may add to the title and the question ("The answer is: ...", "The first tip
# is ...", "Efficiency is a critical factor in designing ...").
_FILLER = frozenset(("answe", "point", "title", "tip", "idea", "step", "first", "secon", "third", "final", "essen",
                     "criti", "cruci", "impor", "key", "vital", "signi", "aspec", "facto", "role", "plays", "eleme"))
# A question with more content words than this is a document: a sentence made of its words may well say something.
_SHORT_QUESTION = 30


@functools.lru_cache(maxsize=64)
def _stems(text: str) -> frozenset[str]:
    """The text's content words by their first five letters: "managing your time" restates "time management"."""
    return frozenset(word[:5] for word in content_words(text))


class ExpansionFilter:
    def __init__(self, index: int, title: str, *, strip_header: bool, whole_sentences: bool = False,
                 other_titles: Sequence[str] = (), instructions: Instructions | None = None,
                 question: str = "", continues: str = "") -> None:
        self._index, self._title, self._strip_header = str(index), title.lower(), strip_header
        # ``continues``: the prefill the reply goes on from. One that ends in the title ("2. Sleep") leaves the
        # header's separator to the reply (": Keep a schedule."): it is dropped, as it would be in a restated header
        self._after_title = strip_header and continues.rstrip(" *").lower().endswith(self._title)
        # the question's content words, to drop an opening clause that only restates it (None: checked)
        self._asked: frozenset[str] | None = _stems(question) if question else None
        self._question = question
        self._capitalize = False
        # the words of the title and of a short question, to drop opening sentences that say nothing else (None:
        # checked)
        self._title_stems = _stems(title)
        asked = self._asked if self._asked and len(self._asked) <= _SHORT_QUESTION else frozenset()
        self._known: frozenset[str] | None = self._title_stems | asked | _FILLER if whole_sentences else None
        self._opening_dropped = False  # an opening sentence was dropped as saying nothing new
        self._header_forms = (f"{index}. {title}:", f"{title}:") if strip_header else ()
        self._body_start: int | None = None  # where the text after a restated header begins, once known
        self.raw = ""
        self.released = ""
        self.finished = False
        """True once the expansion ran into the next point: the rest of the call is not needed."""
        self._whole_sentences = whole_sentences
        self._instructions = instructions
        self._echo_free: dict[int, bool] = {}  # sentence start -> kept (decided once, so released text stays)
        self._judged, self._kept = "", ""  # the clean text up to the last sentence judged, and what of it is kept
        self.echoed = False
        """True once a sentence that copies the instructions was dropped."""
        # Titles that mark a drift into another point: two words or more (one word is ordinary vocabulary),
        # and not part of this point's own title ("Fiscal policy" inside "Fiscal policy: tax cuts").
        own = title.casefold()
        self._other_titles = [t.casefold() for t in other_titles if t.strip()]
        self._others = [t for t in self._other_titles if len(t.split()) >= 2 and t not in own and own not in t]

    def feed(self, delta: str) -> str:
        """Add raw text; return the newly settled clean text."""
        self.raw += delta
        return self._release(final=False)

    def finish(self, *, cut: bool = False) -> str:
        """The call ended (``cut``: by its token budget); return the rest of the clean text."""
        return self._release(final=True, cut=cut)

    def _release(self, final: bool, cut: bool = False) -> str:
        clean = self._clean(final, cut)
        if self._whole_sentences:
            clean = self._sentences(clean, final, cut)
        if self._instructions is not None:
            clean = self._without_echoes(clean, final)
        new = clean[len(self.released):] if clean.startswith(self.released) else ""
        self.released += new
        return new

    def _clean(self, final: bool, cut: bool = False) -> str:
        text = self.raw
        if self._body_start is None:
            # a header still being written, or one the budget cut: no text of the point's own (yet)
            if ((not final or cut) and any(_is_prefix(text, form) for form in self._header_forms)) \
                    or (not final and self._after_title and not text.strip(" *")):
                return ""
            # after a restated header (or the rest of a prefilled one), or in one paragraph the marker of a first
            # bullet ("* Support from ...")
            start = ((self._strip_header and self._header_end(text))
                     or (self._after_title and self._separator_end(text))
                     or (self._whole_sentences and (m := _FIRST_BULLET.match(text)) and m.end()) or 0)
            if start and start == len(text) and not final:
                return ""  # the header's close may be still to come: "**2. Title:" before its "**"
            self._body_start = start
        if self._asked is not None:
            if (restated := self._skip_opening(text, self._restated_opening, final)) is None:
                return ""
            self._asked, self._capitalize = None, bool(restated)
        if self._known is not None:
            while dropped := self._skip_opening(text, self._says_nothing_new, final):
                self._opening_dropped = True
            if dropped is None:
                return ""
            self._known = None
        if final and self._body_start and not self.released and not text[self._body_start:].strip() \
                and not self._opening_dropped and _HEADER_NUMBER.match(text)[1] is None \
                and not text[:self._body_start].rstrip(" *").endswith((":", "-", "–")):
            self._body_start = 0  # the whole reply was the title as a sentence: keep it (a bare header is nothing)
        text = text[self._body_start:].lstrip()
        if self._capitalize:
            text = text[:1].upper() + text[1:]
        if not self.released and (another := self._opens_another_point(text, final, cut)) is not False:
            if another is None:
                return ""  # held back until its first line shows whose it is
            self.finished = True  # the reply is the skeleton again, or another point: nothing of this one's own
            return ""
        if (m := _NEW_ITEM.search(text)) or (self._whole_sentences and (m := _NEW_BULLET.search(text))):
            text = text[: m.start()]
            self.finished = True
            final = True
        if not final:
            if m := _PARTIAL_ITEM.search(text):
                text = text[: m.start()]
            return text.rstrip()  # trailing space may yet be stripped at the end
        return text.strip()

    def _skip_opening(self, text: str, opening: Callable[[str, bool], int | None], final: bool) -> int | None:
        """Move the body's start past what ``opening`` says its first characters only repeat; returns that length
        (0: nothing repeated), or None while ``opening`` cannot tell yet."""
        body = text[self._body_start:].lstrip()
        length = opening(body, final)
        if length:
            self._body_start = len(text) - len(body) + length
        return length

    def _restated_opening(self, body: str, final: bool) -> int | None:
        """How many characters of the body's opening clause only restate the question (0: none; None: not
        known until more text comes). Small models open point after point with the question turned into a
        purpose clause; the clause goes when every content word in it is the question's, two at least."""
        assert self._asked is not None
        if m := _OPENING.match(body):
            said = _stems(m[1])
            return m.end() if len(said) >= 2 and said <= self._asked else 0
        lower = body.lower()
        could_grow = any(head.startswith(lower) for head in _OPENING_HEADS) or (
            lower.startswith(_OPENING_HEADS) and len(body) <= 120 and not _OPENING_END.search(body))
        return None if could_grow and not final else 0

    def _says_nothing_new(self, body: str, final: bool) -> int | None:
        """How many characters of the body's first sentence say nothing new: only words of the title and the
        question, with ``_FILLER`` ("Efficiency is a critical factor in designing ..."), or a restatement of the
        question with no word of the title ("Managing your time well is key to improving your time management
        skills."). 0 when it says more; None until the sentence ends."""
        assert self._known is not None
        if end := _SENTENCE_END.search(body + " " if final else body):
            sentence = body[:end.end()]
        elif final:
            sentence = body
        else:
            return None
        said = _stems(sentence)
        if said <= self._known or (restates_question(self._question, sentence) and not said & self._title_stems):
            return len(sentence)
        return 0

    def _header_end(self, text: str) -> int | None:
        """Where the text after a restated header begins (``None``: the text does not start with one)."""
        number = _HEADER_NUMBER.match(text)
        if number[1] is not None and number[1].translate(_FULL_WIDTH) != self._index:
            return None
        start, end = number.end(), number.end() + len(self._title)
        if text[start:end].lower() != self._title:
            return None
        if separator := _HEADER_SEPARATOR.match(text, end):
            end = separator.end()
        elif number[1] is None:
            return None  # a bare title needs its colon: "Use LED bulbs to save money." restates nothing
        return _HEADER_CLOSE.match(text, end).end()

    def _opens_another_point(self, text: str, final: bool, cut: bool) -> bool | None:
        """Does the text open with another point's numbered line ("1. Sleep well" in point 2's reply), or with
        the start of one that the budget cut? None while that line may still grow into one."""
        if not self._other_titles:
            return False
        lined = "\n" + text  # the reply's start read as a line's: the patterns of a run-on into the next point
        if not (item := _NEW_ITEM.match(lined)):
            return None if not final and _PARTIAL_ITEM.match(lined) else False
        line, ended, _ = lined[item.end():].partition("\n")
        line = line.strip(" *:").casefold()
        if any(line.startswith(title) for title in self._other_titles):
            return True
        if ended or not any(title.startswith(line) for title in self._other_titles):
            return False
        return cut if final else None

    @staticmethod
    def _separator_end(text: str) -> int | None:
        """Where the text after a header's separator begins (``None``: the text does not start with one)."""
        separator = _HEADER_SEPARATOR.match(text)
        return _HEADER_CLOSE.match(text, separator.end()).end() if separator else None

    def _sentences(self, text: str, final: bool, cut: bool) -> str:
        """The settled whole sentences of the clean text, up to one that names another point."""
        ends = [m.end() for m in _SENTENCE_END.finditer(text + " ")] if final else \
               [m.end() for m in _SENTENCE_END.finditer(text)]
        for start, end in zip(ends, ends[1:]):  # the first sentence stays: it is this point's opening
            if any(t in text[start:end].casefold() for t in self._others):
                self.finished = True
                return text[:start]
        if final and self.finished and text.endswith(":"):
            return text[: ends[-1]] if ends else ""  # "These include:" introduced the list that was cut off
        if final and not (cut and not self.finished and ends):
            return text  # the call ended by itself: its last sentence is complete (or all there is)
        return text[: ends[-1]] if ends else ""

    def _without_echoes(self, text: str, final: bool) -> str:
        """The text less its sentences that echo the instructions; an unfinished sentence is released only
        once it cannot become one. Sentences judged on earlier calls are not looked at again (the clean text
        only grows; were it ever to change, it is judged afresh)."""
        if not text.startswith(self._judged):
            self._judged, self._kept = "", ""
        start, kept = len(self._judged), [self._kept]
        for end in [m.end() for m in _SENTENCE_END.finditer(text, start)]:
            if self._echo_free_at(start, text[start:end]):
                kept.append(text[start:end])
            start = end
        self._judged, self._kept = text[:start], "".join(kept)
        tail = text[start:]
        if tail and final:  # the last sentence, ended by the call
            if self._echo_free_at(start, tail):
                kept.append(tail)
        elif tail and (self._echo_free.get(start) or not self._instructions.could_echo(tail)):
            self._echo_free[start] = True
            kept.append(tail)
        return "".join(kept).lstrip()

    def _echo_free_at(self, start: int, sentence: str) -> bool:
        """Is the sentence at ``start`` kept (decided once, so that text released stays)?"""
        if start not in self._echo_free:
            self._echo_free[start] = not self._instructions.echoes(sentence)
            self.echoed |= not self._echo_free[start]
        return self._echo_free[start]


def _is_prefix(text: str, header: str) -> bool:
    """Could the text so far still grow into the header (ignoring case, spaces, emphasis, a heading's marks, and
    the list number's form: ``2.``, ``2)``, ``2、``)?"""
    squeeze = lambda s: re.sub(r"[\s*_\-•#]+", "", s.translate(_FULL_WIDTH)).replace(")", ".").lower()  # noqa: E731
    seen, full = squeeze(text), squeeze(header)
    return len(seen) < len(full) and full.startswith(seen)
