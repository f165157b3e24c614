"""Keeping a point's expansion to its own point, while it streams.

Models restate the point's number and title, or run on into another point (a line with its number, or with its
title as a header; a numbered line inside a code block is code). Chat models also talk about the task ("Sure!
Here's the continuation of point 3:", "Let me know if you'd like ..."): a first and a last line that only do that
are dropped (``talk.py``). ``ExpansionFilter`` cleans the text incrementally: it releases only text that no later
delta can change, so what was streamed is exactly the final text.

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

import bisect
import functools
import re
from collections.abc import Callable, Sequence

from .quality import NO_SPACES, Instructions, content_words, restates_question
from .talk import talk_closing, talk_opening

# A line that starts a new numbered item: the expansion ran on into the next point. Settled once a character
# follows its mark ("\n2." may still become "\n2.5 hours"); _NEW_ITEM, for a reply's first line, takes the text's
# end for that character.
_ITEM_MARK = (r"\n[ \t]*(?:\*\*|#+\s*)?(?:\d+[.)．）、](?:\*\*)?|[(（]\d+[)）]|step\s+\d+\s*:"  # "**3.**" too
              r"|point\s+\d+\s*[:.\-–—])")  # "Point 3: Stir constantly ..."
_NEXT_ITEM = re.compile(rf"{_ITEM_MARK}(?:\s|[{NO_SPACES}])", re.I)
_NEW_ITEM = re.compile(rf"{_ITEM_MARK}(?:\s|$|[{NO_SPACES}])", re.I)
# A bulleted line: another item too where the point is one paragraph (whole-sentence mode; an API model's point
# may hold a list of its own).
_NEW_BULLET = re.compile(r"\n[ \t]*[-*•][ \t]")
_FIRST_BULLET = re.compile(r"\s*[-*•]\s+")
# The tail of the text that could still grow into such a line ("\nStep 3:" included, so that the decision is the
# same whatever the pieces' sizes).
_PARTIAL_ITEM = re.compile(r"\n[ \t]*(?:\*{1,2}|#+\s*)?(?:\d+(?:[.)．）、]\*{0,2})?|[(（]\d*[)）]?|[-•]"
                           r"|s(?:t(?:e(?:p(?:\s+(?:\d+\s*:?)?)?)?)?)?"
                           r"|p(?:o(?:i(?:n(?:t(?:\s+(?:\d+\s*[:.\-–—]?)?)?)?)?)?)?)?$", re.I)
# The end of a sentence: settled once whitespace follows it (before that, "2." may still become "2.5"); Chinese and
# Japanese full stops need none.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)|[。！？][”’」』）]*")
# A restated header, "2. Title:" / "**2. Title**:" / "- Title:" / "Title:" / "Point 2: Title", around the title
# (which is compared in code: a pattern holding it would be compiled for every point, ~0.4 ms of CPU each).
_EMPHASIS = r"(?:\*{1,3}|_{1,3})"  # bold, italics or both: "**", "*", "***", and the underscore forms
_HEADER_NUMBER = re.compile(rf"\s*(?:#+\s*)?(?:[-*•]\s+)?{_EMPHASIS}?"  # "1957:" may start a title
                            rf"(?:(?:(?P<n>\d{{1,4}})[.)．）、]|point\s+(?P<label>\d{{1,4}})[:：.])"
                            rf"\s*{_EMPHASIS}?\s*)?", re.I)
# with the full-width forms of Chinese and Japanese ("、" lists: "饮食、咖啡因和酒精"); "." and "-" only before a space
# ("Express.js", "Sleep-deprived"), a dash (?P<dash>) only where no second one follows in the sentence ("Empathy —
# understanding what people need — builds trust.")
_HEADER_SEPARATOR = re.compile(rf"\s*{_EMPHASIS}?\s*(?:[:：．]|[.\-](?=[*_]*(?:\s|\Z))|(?P<dash>[–—]))")
_SENTENCE_REST = re.compile(r"[^.!?。！？\n]*")
_SECOND_DASH = re.compile(r"—|\s[-–]\s")
# What follows a bare title (no number, no separator) that is a header: its line's end, after its emphasis closing.
_BARE_TITLE_END = re.compile(rf"{_EMPHASIS}?[ \t]*(\n)?")
#: a header's full-width punctuation, as its ASCII forms (digits of any script are compared as int())
_FULL_WIDTH = str.maketrans("．）、：（", ".).:(")
_HEADER_CLOSE = re.compile(rf"{_EMPHASIS}?\s*")
_UNDECIDED = -1
# Where a point may run on into another one under that point's title, without a line-start number: a line's
# marks ("\n**", "\n### ", "\n- ", "\nPoint 3: ", or none), or a number after a sentence ("... LEDs. 4. "); the
# title is compared in code.
_TITLE_LINE = re.compile(rf"\n[ \t]*(?P<heading>#+[ \t]*)?(?P<bullet>[-*•](?:[ \t]+|\Z))?(?P<em>{_EMPHASIS})?"
                         rf"(?P<label>point[ \t]+\d+[ \t]*[:.][ \t]*{_EMPHASIS}?[ \t]*)?", re.I)  # "\n-": one to come
_PARTIAL_LABEL = re.compile(r"p(?:o(?:i(?:n(?:t(?:[ \t]+(?:\d+[ \t]*)?)?)?)?)?)?\Z", re.I)  # of "Point 3:"
_TITLE_INLINE = re.compile(rf"(?<=[.!?])[ \t]+{_EMPHASIS}?\d+[.)][ \t]+{_EMPHASIS}?")
_PARTIAL_INLINE = re.compile(r"(?<=[.!?])[ \t]+[*_]{0,3}(?:\d+(?:[.)](?:[ \t]+[*_]{0,3})?)?)?\Z")
# After such a title: its separator (a dash between spaces: "JavaScript—thanks to its JIT—beats" is no header) or its
# line's end (a header), or what may still grow into one (open).
_AFTER_TITLE = re.compile(rf"[ \t]*{_EMPHASIS}?(?:[ \t]*(?P<sep>[:：]|\n)|[ \t]+(?P<dash>[-–—])[ \t]"
                          rf"|(?P<open>[ \t]*[-–—]?\Z))")
# What every run-on or held-back mark above needs: a line break, a digit, emphasis (for a cheap check per piece).
_MAY_RUN_ON = re.compile(r"[\n\d*_#(（]")
# A line that opens or closes a code block (the fence alone, with its language: "``` on its own line opens it" is
# prose): a numbered line inside one is code, not the next point.
_FENCE = re.compile(r'^[ \t]*(```|~~~)[ \t]*(?:[^\s`]+(?:[ \t]+[\w-]+=(?:"[^"\n]*"|\S+))*)?[ \t]*$', re.M)
# An opening clause that may restate the question ("To improve your time management skills, start by ...", "When it
# comes to managing your time, ..."); a longer head before its shorter one, which it would swallow. Not a condition
# ("If you want to learn Python first, aim for ..." answers a question on Python or JavaScript first).
_OPENING_HEADS = ("to ", "in order to ", "when it comes to ")
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
                 other_titles: Sequence[str] = (), earlier_titles: Sequence[str] = (),
                 instructions: Instructions | None = None, question: str = "", continues: str = "") -> None:
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
        # the forms a restated header takes, squeezed as _squeeze does (compared with the reply's start)
        self._header_forms = tuple(map(_squeeze, (f"{index}. {title}:", f"{title}:", f"point {index}. {title}:"))) \
            if strip_header else ()
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
        self._own_words = _words_of(title.casefold())
        self._other_titles: list[str] = []
        self._others: list[str] = []  # titles whose mention in a later sentence is a drift (whole-sentence mode)
        self._headed: list[str] = []  # titles whose header line ends the point
        self._longest = 0
        # of the other titles, those of the points before this one: as a header here, one is a section of the
        # point's own (a comparison: "### Type 1 diabetes" in "Treatment"); a reply runs on into the points after
        self._earlier = frozenset(t.casefold() for t in earlier_titles)
        for other in other_titles:
            self.add_other_title(other)
        self._meta_opening = True  # the first line is still to be checked for talk about the task
        self._header_next = False  # a header may follow the talk dropped
        self._checked, self._checked_body = 0, None  # where the run-on check reads on from, for which body start

    def add_other_title(self, title: str) -> None:
        """Another point's title, such as one parsed after this point's call started: running on into that point
        ends this one from now on (text already released stays)."""
        if not (title := title.casefold()).strip():
            return
        self._other_titles.append(title)
        # not part of this point's own title, word for word ("Fiscal policy" of "Fiscal policy: tax cuts"; not "Rest"
        # of "Interest rates"); on a header line, any length
        if _words_of(title) not in self._own_words:
            self._headed.append(title)
            self._longest = max(self._longest, len(title) + 1)
            if len(title.split()) >= 2:  # in a sentence, one word is ordinary vocabulary
                self._others.append(title)

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
            if (start := self._after_header(text, 0, final, cut)) is None:
                return ""
            self._body_start = start
        if self._meta_opening:
            if (meta := self._skip_opening(text, talk_opening, final)) is None:
                return ""
            self._meta_opening, self._opening_dropped = False, self._opening_dropped or bool(meta)
            self._header_next = bool(meta)  # the header may follow the talk: "Sure! Here's point 2:\n2. Title: ..."
        if self._header_next:
            if (start := self._after_header(text, self._body_start, final, cut)) is None:
                return ""
            self._body_start, self._header_next = start, False
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
                and not self._opening_dropped and _header_number(text) is None \
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
        cut_at, held_at = self._run_on(text, final)
        if cut_at is not None:
            text = text[:cut_at]
            self.finished = True
            final = True
        elif not final:
            text = text[:held_at]
        if (closing := talk_closing(text, final)) is not None:
            text = text[:closing]
        if not final:
            return text.rstrip()  # trailing space may yet be stripped at the end
        text = text.strip()
        if len(fences := _FENCE.findall(text)) % 2:  # the call ended inside a code block (a stop sequence in it):
            text += "\n" + fences[-1]  # closed, or every later point would read as code
        return text

    def _after_header(self, text: str, at: int, final: bool, cut: bool) -> int | None:
        """Where the text after a restated header at ``at`` begins (``at`` where there is none; after the rest of a
        prefilled header, or in one paragraph a first bullet's marker, "* Support from ..."); None while a header is
        still being written there, or for good where the budget cut one."""
        rest = text[at:]
        if ((not final or cut) and _is_prefix(_squeeze(rest), self._header_forms)) \
                or (not final and self._after_title and not at and not rest.strip(" *")):
            return None
        end = ((self._strip_header and self._header_end(rest, final))
               or (self._after_title and not at and self._separator_end(rest))
               or (self._whole_sentences and not at and (m := _FIRST_BULLET.match(rest)) and m.end()) or 0)
        if end == _UNDECIDED or end and end == len(rest) and not final:
            return None  # the header's close may be still to come: "**2. Title:" before its "**"
        return at + end

    def _run_on(self, text: str, final: bool) -> tuple[int | None, int]:
        """Where the text runs on into another point (None: nowhere yet), and where the text that may still turn
        out to do so begins (held back). A numbered line inside a code block is code. The text before where the
        last call held back is not read again: it only grows, and what it released was decided for good."""
        at = self._checked if self._checked_body == self._body_start else 0
        if not _MAY_RUN_ON.search(text, at):  # no line, number or emphasis since: nothing to cut or hold (fast)
            # read again from trailing blanks, which an inline "... LEDs. 4. Title:" opens
            blanks_at = len(text)
            while blanks_at and text[blanks_at - 1] in " \t":
                blanks_at -= 1
            self._checked, self._checked_body = blanks_at, self._body_start
            return None, len(text)
        fences = [m.start() for m in _FENCE.finditer(text)] if "```" in text or "~~~" in text else None
        cut = _first_outside(_NEXT_ITEM, text + "\n" if final else text, at, fences)  # the end is a line's
        if self._whole_sentences and (bullet := _first_outside(_NEW_BULLET, text, at, fences)) is not None:
            cut = bullet if cut is None else min(cut, bullet)
        held = m.start() if (m := _PARTIAL_ITEM.search(text, at)) else len(text)
        if self._headed:
            if m := _PARTIAL_INLINE.search(text, at):
                held = min(held, m.start())
            for pattern in (_TITLE_LINE, _TITLE_INLINE):
                for m in pattern.finditer(text, at):
                    # a bullet or an inline number opens an item of the point's own list as often: there a title
                    # of one word ("Venue") is ordinary vocabulary, as in a sentence
                    inline = pattern is _TITLE_INLINE
                    listed = inline or m["bullet"]
                    if not _outside(fences, m.start()):
                        continue
                    named = self._names_other(text, m.end(), final, self._others if listed else self._headed)
                    if named is False and (final or inline or not _PARTIAL_LABEL.match(text, m.end())):
                        continue  # (a line's "Poi" is held: it may become "Point 3: Title")
                    if named and named in self._earlier:
                        continue
                    if named and not inline and (named := self._starts_point(text, m, named, final)) is False:
                        continue
                    held = min(held, m.start())
                    if named:
                        cut = m.start() if cut is None else min(cut, m.start())
        self._checked, self._checked_body = min(held, len(text) if cut is None else cut), self._body_start
        return cut, held

    def _names_other(self, text: str, at: int, final: bool, titles: list[str]) -> str | bool | None:
        """Which of the other points' ``titles`` starts at ``at`` as a header (followed by its separator or its
        line's end)? False: none; None while the text there may still grow into one."""
        rest = text[at:at + self._longest].casefold()
        for title in titles:
            if not rest.startswith(title):
                if not final and title.startswith(rest):
                    return None
                continue
            if after := _AFTER_TITLE.match(text, at + len(title)):
                # "Settlement talks – often court-ordered mediation – can start ...": an aside, no header
                if after["dash"] and (aside := _dash_aside(text, after.end(), final)) is not False:
                    if aside:
                        continue
                    return None
                if after["sep"] or after["dash"] or final:
                    return title
                return None
        return False

    def _starts_point(self, text: str, m: re.Match[str], title: str, final: bool) -> bool | None:
        """Does the line at ``m``, opening with another point's ``title`` as a header, start that point (the reply
        ran on)? Not where the point's own text leads to it: after a line that announces it ("They compare:"), as
        an item of its list, in a comparison (the line before or after names another point too); a bullet or a
        plain line only where it opens a paragraph, a plain line with a one-word title only alone on its line. None
        while the next line may still show a comparison."""
        before = text[max(0, m.start() - 300):m.start()].rstrip()  # bounded: read again for every piece held
        if before.endswith((":", "：")) or m["bullet"] and before.rpartition("\n")[2].lstrip()[:1] in ("-", "*", "•"):
            return False
        previous = text[text.rfind("\n", 0, m.start()) + 1:m.start()]  # the line right before, blank or not
        if not (m["heading"] or m["em"] or m["label"]):  # a bullet or a plain line
            after = _AFTER_TITLE.match(text, m.end() + len(title))
            alone = after["sep"] == "\n" or after["open"] is not None
            if previous.strip() or not m["bullet"] and len(title.split()) < 2 and not alone:
                return False
        elif previous.strip():
            mark = _TITLE_LINE.match("\n" + previous)
            if self._names_other("\n" + previous, mark.end(), True, self._headed) not in (False, title):
                return False
        line_end = text.find("\n", m.end())
        if line_end < 0 or line_end == len(text) - 1:
            return True if final else None
        mark = _TITLE_LINE.match(text, line_end)
        following = self._names_other(text, mark.end(), final, self._headed)
        return None if following is None else following in (False, title)

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

    def _header_end(self, text: str, final: bool) -> int | None:
        """Where the text after a restated header begins (``None``: the text does not start with one;
        ``_UNDECIDED`` while its sentence has still to show whether its dash is the header's)."""
        number = _HEADER_NUMBER.match(text)
        if (n := number["n"] or number["label"]) is not None and int(n) != int(self._index):  # "٣.", "３." are 3 too
            return None
        start, end = number.end(), number.end() + len(self._title)
        if text[start:end].lower() != self._title:
            return None
        if separator := _HEADER_SEPARATOR.match(text, end):
            end = separator.end()
            if separator["dash"] or text[end - 1] == "-":  # "Title — text." or "Title — an aside — text."
                if (aside := _dash_aside(text, end, final)) is None:
                    return _UNDECIDED
                if aside:
                    return None
        elif n is None and not _BARE_TITLE_END.match(text, end)[1]:
            # a bare title is a header only on a line of its own ("### Title", "**Title**"): "Use LED bulbs to save
            # money." restates nothing, nor does "**Docker** Compose starts ..."
            return None
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
            # as if it streamed in: a sentence is released once an opening of it cannot become an echo, so one that
            # came whole is kept where an opening of it (its words whole, as a stream held back after them gives)
            # would have been
            self._echo_free[start] = not self._instructions.echoes(sentence) or any(
                not self._instructions.could_echo(sentence[:m.end()]) for m in re.finditer(r"\s+", sentence))
            self.echoed |= not self._echo_free[start]
        return self._echo_free[start]


@functools.lru_cache(maxsize=512)  # every point's filter looks at the same other titles
def _words_of(text: str) -> str:
    """The text's words, one space around each (so that a phrase's are found in it word for word)."""
    return f" {_NOT_WORD.sub(' ', text).strip()} "


_NOT_WORD = re.compile(r"\W+")


def _dash_aside(text: str, at: int, final: bool) -> bool | None:
    """Does the dash before ``at`` open an aside ("Empathy — understanding what people need — builds trust."): does
    a second dash follow in its sentence? None while the sentence may still show one."""
    sentence = _SENTENCE_REST.match(text, at)
    if _SECOND_DASH.search(sentence[0]):
        return True
    return None if sentence.end() == len(text) and not final else False


def _header_number(text: str) -> str | None:
    """The number of the header the text opens with ("2" of "**2. Title**", of "Point 2: Title"), if any."""
    number = _HEADER_NUMBER.match(text)
    return number["n"] or number["label"]


def _outside(fences: list[int] | None, at: int) -> bool:
    """Is ``at`` outside the code blocks opened and closed at ``fences``?"""
    return not fences or bisect.bisect_right(fences, at) % 2 == 0


def _first_outside(pattern: re.Pattern[str], text: str, at: int, fences: list[int] | None) -> int | None:
    """Where the pattern first matches from ``at`` outside code blocks."""
    return next((m.start() for m in pattern.finditer(text, at) if _outside(fences, m.start())), None)


def _squeeze(text: str) -> str:
    """The text less case, spaces, emphasis and a heading's marks, its digits as ASCII and its list number's
    form (``2.``, ``2)``, ``2、``, ``Point 2:``) as one."""
    if not text.isascii():
        text = re.sub(r"\d", lambda m: str(int(m[0])), text.translate(_FULL_WIDTH))
    return _SQUEEZED.sub("", text).replace(")", ".").replace(":", ".").lower()


_SQUEEZED = re.compile(r"[\s*_\-•#]+")


def _is_prefix(seen: str, headers: tuple[str, ...]) -> bool:
    """Could the text so far (squeezed) still grow into one of the headers (squeezed)?"""
    return any(len(seen) < len(full) and full.startswith(seen) for full in headers)
