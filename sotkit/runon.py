"""Where a point's expansion runs on into another point: a numbered line that does not go on with the point's own
list (numbered from 1, or "1." throughout; a line numbered 1 that opens with no title after a lead-in ending in a
colon begins another; a line indented under an item, first of its sub-list or next in it, is its sub-item) and may
be a point's (not one numbered above the answer's points and the next number, nor one that goes on with a sentence:
"published in\n2019. showed", unless it opens with another point's title), or another point's title as a header (a
line's marks, "\n**Title:**", "\n### Title", "\nPoint 3: Title", or a number after a sentence, "... LEDs. 4.
Title:"). A numbered line inside a code block is code, and a section headed by an earlier
point's title is part of a comparison, not a run-on; an earlier point's title at its number that runs into a
sentence ("1. Research the company values first") opens an item of the point's own list, unless the list's next line
is the next number opening with a title (the skeleton written again).
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

from .header import AFTER_FULL_WIDTH_MARK, CJK_NUMBER, EMPHASIS, TITLE_SEPARATOR, dash_aside, number_value
from .quality import NO_SPACES
from .skeleton import INVISIBLE

# A line that starts a new numbered item, in the number styles the skeleton reads ("二、", "（二）", "②"; after the
# invisible marks a line may open with). Settled once a character follows its mark ("\n2." may still become
# "\n2.5 hours"); _NEW_ITEM, for a reply's first line, takes the text's end for that character. Its number (?P<n>)
# where an item of the point's own list may have it ("1. Buy a drive", "2) Turn on backups"), or (?P<step>) its
# number as a step's ("Step 2: Remove the grout"), (?P<other>) in another style.
# The most white space read before a line's number, title or code fence: a longer run is none's (searched again at
# every piece while it grew, a run of 80,000 spaces held the event loop a second a piece)
_INDENT = 16
# the most text held back while an item that opens with an earlier point's title waits for the list's next line
_HOLD = 300
# the most lines read back from a sub-item for the one before it
_SUB_LINES = 50
_LINE_START = rf"\n[ \t{INVISIBLE}]{{0,{_INDENT}}}"
_ITEM_MARK = (rf"{_LINE_START}(?:\*\*|#+\s*)?(?:(?P<n>\d+(?=[.)．）、])|{CJK_NUMBER}(?=、)|[①-⑳])[.)．）、]?(?:\*\*)?"
              rf"|[(（](?P<other>\d+|{CJK_NUMBER})[)）]|step\s+(?P<step>\d+)\s*:"  # "**3.**"
              r"|point\s+(?P<point>\d+)\s*[:.\-–—])")  # "Point 3: Stir constantly ..."
# After an ASCII mark, a space (taken) or a character of a script written without spaces; after a full-width one
# (almost) any: AFTER_FULL_WIDTH_MARK.
_AFTER_MARK = rf"(?:\s|(?=[{NO_SPACES}])|{AFTER_FULL_WIDTH_MARK})"
_NEXT_ITEM = re.compile(rf"{_ITEM_MARK}{_AFTER_MARK}", re.I)
_NEW_ITEM = re.compile(rf"{_ITEM_MARK}(?:{_AFTER_MARK}|$)", re.I)
_NUMERAL = "[一二三四五六七八九十]"  # a Chinese numeral's character
_NUMERAL_PAIR = re.compile(f"、{_NUMERAL}")  # a mark followed by a second numeral
# A line that opens a list item or a header, not a line of prose (the line before a numbered line).
_LISTED = re.compile(rf"[ \t]*(?:[-*•#>|・①-⑳]|\d+[.)．）、]|{CJK_NUMBER}、|[(（](?:\d|{CJK_NUMBER}))")
# a reply that opens with its own list's first item
# (in any script's digits, and no space after the mark before a word: "1、使用", "１．", "١.", "१." as well; probe 346,
# review 347): ``_numbered_one``
_OWN_FIRST = re.compile(rf"[ \t{INVISIBLE}]*(?:\*\*|#{{1,6}}[ \t]*)?(?:(?P<one>\d)[.)．）、](?:\*\*)?(?:\s|(?=[^\W\d]))"
                        rf"|一、|①|step\s+1\s*:)", re.I)
# a plain or bold item numbered 1, for a list numbered "1." throughout
_LAZY_ITEM = re.compile(rf"\n[ \t{INVISIBLE}]*(?:\*\*)?1[.)](?:\*\*)?\s")
# ... or with a section: a numbered heading or a step ("### 1. Morning", "Step 1:")
_SECTION_FIRST = re.compile(rf"[ \t{INVISIBLE}]*(?:#{{1,6}}[ \t]*1[.)．）、]\s|(?:\*\*|#{{1,6}}[ \t]*)?step\s+1\s*:)",
                            re.I)
_PAREN_FIRST = re.compile(rf"[ \t{INVISIBLE}]*(?:\*\*)?[(（](?:(?P<one>\d)|一)[)）]")
# A bulleted line: another item too where the point is one paragraph (whole-sentence mode; an API model's point
# may hold a list of its own).
_NEW_BULLET = re.compile(rf"\n[ \t]{{0,{_INDENT}}}(?:[-*•][ \t]|・)")
# The tail of the text that could still grow into such a line ("\nStep 3:" included, so that the decision is the
# same whatever the pieces' sizes).
_PARTIAL_ITEM = re.compile(rf"{_LINE_START}(?:\*{{1,2}}|#+\s*)?(?:\d+(?:[.)．）、]\*{{0,2}})?|[(（]\d*[)）]?|[-•]"
                           rf"|{_NUMERAL}{{1,3}}、?|[①-⑳]|[(（]{_NUMERAL}{{1,3}}[)）]?"
                           r"|s(?:t(?:e(?:p(?:\s+(?:\d+\s*:?)?)?)?)?)?"
                           r"|p(?:o(?:i(?:n(?:t(?:\s+(?:\d+\s*[:.\-–—]?)?)?)?)?)?)?)?$", re.I)
# Where a point may run on into another one under that point's title, without a line-start number: a line's
# marks ("\n**", "\n### ", "\n- ", "\nPoint 3: ", or none), or a number after a sentence ("... LEDs. 4. "); the
# title is compared in code ("\n-": a bullet to come).
_TITLE_LINE = re.compile(rf"\n[ \t]{{0,{_INDENT}}}(?P<heading>#+[ \t]*)?(?P<bullet>[-*•](?:[ \t]+|\Z))?"
                         rf"(?P<em>{EMPHASIS})?(?P<label>(?:point[ \t]+\d+[ \t]*[:.]|第[ \t]*(?:\d+|{CJK_NUMBER})[ \t]*"
                         rf"[点點条條][ \t]*[:：])[ \t]*{EMPHASIS}?[ \t]*)?", re.I)  # ("第二点：", probe 324)
_PARTIAL_LABEL = re.compile(r"(?:p(?:o(?:i(?:n(?:t(?:[ \t]+(?:\d+[ \t]*)?)?)?)?)?)?"  # of "Point 3:", "第二点："
                            rf"|第(?:[ \t]*(?:\d+|{_NUMERAL}{{1,3}})(?:[ \t]*[点點条條][ \t]*)?)?)\Z", re.I)
# A sentence's end before such a number: ".!?" and a space, or none after a letter ("bed.2.": then only a title at its
# own point's number follows, ``_inline_titles``), "。！？।" with or without one (Chinese and Japanese write none), a
# space after Thai (which writes no full stop; probe 324)
_ENDED = (rf"(?:(?<=[.!?])[ \t]{{1,{_INDENT}}}|(?<=[^\W\d_][.!?])|(?<=[。！？।])[ \t]{{0,{_INDENT}}}"
          rf"|(?<=[\u0e00-\u0e7f])[ \t]{{1,{_INDENT}}})")
_TITLE_INLINE = re.compile(rf"{_ENDED}{EMPHASIS}?(?P<number>\d+)[.)][ \t]+{EMPHASIS}?")
# a title's full stop, then more on its line ("(2) Title. Text", "(2) **Title.** 2 pm", "(2) 标题。下午"; not "(2)
# Title... if you can", "(2) Title.gov", "(2) Title.": reviews 329-331)
_NEW_SENTENCE = re.compile(r"[*_]*(?:\.[*_]*[ \t]+[*_]*|。[*_]*)\S")
# a list item's number, anywhere in a line ("1. ", "1.早睡", "1、", "**1.** "; review 331)
_INLINE_NUMBER = re.compile(rf"(?<![\d.])(\d+)[.)．、]\**(?:[ \t]|(?=[{NO_SPACES}]))")
_PARTIAL_INLINE = re.compile(rf"{_ENDED}[*_]{{0,3}}(?:\d+(?:[.)](?:[ \t]+[*_]{{0,3}})?)?)?\Z")
# After such a title: its separator (a dash between spaces: "JavaScript—thanks to its JIT—beats" is no header) or its
# line's end (a header), or what may still grow into one (open).
_AFTER_TITLE = re.compile(rf"[ \t]*{EMPHASIS}?(?:[ \t\xa0\u202f]*(?P<sep>[:：]|\n)|[ \t\xa0\u202f]+(?P<dash>[-–—])[ \t]"
                          rf"|(?P<open>[ \t\xa0\u202f]*[-–—]?\Z))")  # (French: a no-break space before ":"; probe 346)
# What every run-on or held-back mark above needs: a line break, a digit, emphasis (for a cheap check per piece).
_MAY_RUN_ON = re.compile(r"[\n\d*_#(（]")
# A line that opens or closes a code block (the fence alone, with its language: "``` on its own line opens it" is
# prose).
FENCE = re.compile(rf'^[ \t]{{0,{_INDENT}}}(```|~~~)[ \t]*(?:[^\s`]+(?:[ \t]+[\w-]+=(?:"[^"\n]*"|\S+))*)?[ \t]*$',
                   re.M)


def _own_inline_next(line: str) -> int:
    """The number that would go on with the point's own inline list in ``line`` (1 where none began): "1. ... 2. ..."
    gives 3."""
    expected = 1
    for m in _INLINE_NUMBER.finditer(line):
        expected += int(m[1]) == expected
    return expected


class Fences:
    """Where the code fences of a point's text are, as the starts of their lines, while the text grows piece by
    piece: each ended line is searched once (searched whole at every piece, a reply of 2,000 lines of code took
    7 s and held the event loop 0.4 s)."""

    def __init__(self) -> None:
        self._settled = ""  # the text up to a line's end, searched
        self._found: list[int] = []  # the fences in it

    def of(self, text: str) -> list[int]:
        if not text.startswith(self._settled):  # not the same text grown (a header found late, say)
            self._settled, self._found = "", []
        searched = len(self._settled)
        line = max(searched, text.rfind("\n", searched) + 1)  # where the last line, still being written, starts
        if line > searched:
            self._found += [m.start() for m in FENCE.finditer(text, searched, line)]
            self._settled = text[:line]
        return [*self._found, line] if FENCE.match(text, line) else self._found  # (it may yet stop being one)


_NOT_WORD = re.compile(r"\W+")
_UNSPACED = re.compile(f"[{NO_SPACES}]")  # a character of a script written without spaces
# A day's month after its number, "2. Mai", as German writes a date (its nouns capitalized, unlike the other
# languages that write "2. maj"): a date, not a point's number. Not the months English spells so too: "3. August
# crowds: ..." may be the next point's line
_MONTHS = ("Januar", "Jänner", "Februar", "März", "Mai", "Juni", "Juli", "Oktober", "Dezember")
_MONTH = re.compile(rf"(?:{'|'.join(_MONTHS)})\b")


class OtherPoints:
    """The other points of the answer, as the expansion of point ``index``, titled ``own_title``, may run on into them.
    ``earlier_titles``: those of the points before it; as a header there, one is a section of the point's own (a
    comparison: "### Type 1 diabetes" in "Treatment"), while a reply runs on into the points after. ``bullets``:
    a bulleted line is another item too (the point is one paragraph). ``most_points``: the most points the answer
    can have, where known (a line numbered above it is no point's); ``count_known``: it is the skeleton's count
    (else its limit, and a line numbered above the points parsed so far waits for the count while the text may go
    on)."""

    def __init__(self, index: int, own_title: str, titles: Sequence[str] = (), earlier_titles: Sequence[str] = (), *,
                 bullets: bool = False, most_points: int | None = None, count_known: bool = False) -> None:
        # titles are kept without an abbreviation's full stop ("7 a.m."), which a line naming one may leave out or
        # write (``_stopped``: those that had one)
        self._stopped: set[str] = set()
        self._index, self._own_title = index, self._unstopped(own_title)
        self.most_points, self.count_known = most_points, count_known
        self._own_words = _words_of(self._own_title)
        self._bullets = bullets
        self._earlier = frozenset(map(self._unstopped, earlier_titles))
        self.titles: list[str] = []
        self._numbers: dict[str, int] = {}  # each title's point number (``titles`` come in the answer's order)
        self._named: list[str] = []  # titles whose mention in a sentence is a drift (two words or more)
        self._headed: list[str] = []  # titles whose header line ends the point
        self._longest = 0
        self._checked = 0  # where run_on reads on from, for text from which origin
        self._checked_origin: int | None = None
        self._own_items: list[int] = []  # where the items of the point's own numbered list start, in that text
        # where the items of its own "(1)", "（1）" list start, and their numbers: counted apart (a sub-list under each
        # "1." item begins again at "(1)"; review 325)
        self._paren_items: list[tuple[int, int]] = []
        self.first_item_was_header = False  # the reply's restated "1." header was its own list's first item
        self._titled: list[int] = []  # those of them that open with a title, this point's or an earlier one's
        for title in titles:
            self.add(title)

    def add(self, title: str) -> None:
        """Another point's title, such as one parsed after this point's call started: running on into that point
        ends this one from now on."""
        if not (title := self._unstopped(title)).strip():
            return
        number = len(self.titles) + 1
        self._numbers.setdefault(title, number + (number >= self._index))  # the point's own number is skipped
        self.titles.append(title)
        # not part of this point's own title, word for word ("Fiscal policy" of "Fiscal policy: tax cuts"; not "Rest"
        # of "Interest rates"); on a header line, any length
        if _words_of(title) not in self._own_words:
            self._headed.append(title)
            self._longest = max(self._longest, len(title) + 1)
            if len(title.split()) >= 2:  # in a sentence, one word is ordinary vocabulary
                self._named.append(title)

    def _unstopped(self, title: str) -> str:
        """The title casefolded, less a final full stop, noted in ``_stopped`` (the skeleton's titles keep only an
        abbreviation's)."""
        title = title.casefold()
        if title.endswith("."):
            self._stopped.add(title := title[:-1])
        return title

    def _past(self, text: str, end: int, title: str) -> int:
        """Where the text after ``title``, which ends at ``end``, goes on: past the title's own full stop, if any."""
        return end + 1 if title in self._stopped and text.startswith(".", end) else end

    def title_only(self, text: str, final: bool) -> bool | None:
        """Is the whole text a title, in any emphasis or punctuation: this point's or another's? None while the text
        may still become one."""
        said = text.strip(" \n*_#:.…!?\"'“”").casefold()
        titles = [self._own_title, *self.titles]
        if final:
            return said in titles
        return None if any(title.startswith(said) for title in titles) else False

    def named_in(self, sentence: str) -> bool:
        """Does the sentence name another point (a title of two words or more)?"""
        sentence = sentence.casefold()
        return any(title in sentence for title in self._named)

    def run_on(self, text: str, final: bool, origin: int, fences: list[int]) -> tuple[int | None, int]:
        """Where the text runs on into another point (None: nowhere yet), and where the text that may still turn
        out to do so begins (held back). ``origin``: where the text starts in the reply; for the same origin, the
        text before where the last call held back is not read again: it only grows, and what it released was
        decided for good. ``fences``: the text's code fences (``Fences``)."""
        same = self._checked_origin == origin
        at = self._checked if same else 0
        if not _MAY_RUN_ON.search(text, at):  # no line, number or emphasis since: nothing to cut or hold (fast;
            # nor any item found past ``at`` before: it would have been on a line)
            if not same:
                self._own_items, self._titled, self._paren_items = [], [], []
            # read again from trailing blanks (the last _INDENT: not all of a long run, at every piece), which an
            # inline "... LEDs. 4. Title:" opens
            tail = text[-_INDENT:]
            blanks_at = len(text) - len(tail) + len(tail.rstrip(" \t"))
            self._checked, self._checked_origin = blanks_at, origin
            return None, len(text)
        if same:  # (both in the text's order)
            del self._own_items[bisect.bisect_left(self._own_items, at):]
            del self._paren_items[bisect.bisect_left(self._paren_items, at, key=lambda item: item[0]):]
            del self._titled[bisect.bisect_left(self._titled, at):]
        else:
            self._own_items, self._titled, self._paren_items = [], [], []
        cut, held = self._numbered(text, at, fences, final)
        if self._bullets and (bullet := _first_outside(_NEW_BULLET, text, at, fences)) is not None:
            cut = bullet if cut is None else min(cut, bullet)
        if m := _PARTIAL_ITEM.search(text, at):
            held = min(held, m.start())
        if self._headed:
            if m := _PARTIAL_INLINE.search(text, at):
                held = min(held, m.start())
            named: str | bool | None  # the title a header names, then whether it starts its point
            for pattern in (_TITLE_LINE, _TITLE_INLINE):
                for m in pattern.finditer(text, at):
                    # a bullet or an inline number opens an item of the point's own list as often: there a title
                    # of one word ("Venue") is ordinary vocabulary, as in a sentence
                    inline = pattern is _TITLE_INLINE
                    listed = inline or m["bullet"]
                    if not outside_code(fences, m.start()):
                        continue
                    titles = self._inline_titles(text, m) if inline else self._named if listed else self._headed
                    named = self._header_at(text, m.end(), final, titles)
                    if named is False and (final or inline or not _PARTIAL_LABEL.match(text, m.end())):
                        continue  # (a line's "Poi" is held: it may become "Point 3: Title")
                    if named and named in self._earlier:
                        continue
                    if named and not inline and (named := self._starts_point(text, m, named, final)) is False:
                        continue
                    held = min(held, m.start())
                    if named:
                        cut = m.start() if cut is None else min(cut, m.start())
        self._checked, self._checked_origin = min(held, len(text) if cut is None else cut), origin
        return cut, held

    def _numbered(self, text: str, at: int, fences: list[int], final: bool) -> tuple[int | None, int]:
        """Where, from ``at``, a numbered line outside code runs on into another point (None: nowhere yet), and
        where one that may still do so begins (held back; the text's end where none). One that goes on with the
        point's own list (numbered from 1, the first perhaps the reply's first line) is the point's, unless it
        opens with another point's title (the skeleton written again; ``_another_point``): in one paragraph
        (``bullets``), none is."""
        if not self._own_items and (_numbered_one(_OWN_FIRST.match(text)) or self.first_item_was_header) \
                and not self._bullets:
            self._own_items.append(-1)  # the reply opened with its list (a first line naming a point ends it whole)
        if not self._paren_items and _numbered_one(_PAREN_FIRST.match(text)):
            self._paren_items.append((-1, 1))  # and so with a "(1)" list
        for m in _NEXT_ITEM.finditer(text + "\n" if final else text, at):  # the end is a line's
            if not outside_code(fences, m.start()):
                continue
            written, ended, _ = text[m.end():].partition("\n")
            written = written.strip(" *:")
            line = written.casefold()
            number = m["n"] or m["step"]
            if self._own_items and _columns(text, m.start() + 1) >= _columns(text, self._own_items[-1] + 1) + 2 \
                    and number is not None and self._sub_item(text, m.start(), number_value(number)):
                # a sub-item of the point's own list's item ("1. Cardio:\n   1. Monday"; probe 333), but for one
                # opening with another point's title, in any marks (review 149; review 337: "_Title_", "`Title`")
                said = _UNMARKED.sub("", line)  # (past marks, an emoji, a link's bracket, "Point 1 -"; review 338)
                if not (ended or final) and any(title.startswith(said) for title in self.titles):
                    return None, m.start()
                if not any(said.startswith(title) for title in self.titles):
                    continue
            if m["other"] is not None and not self._bullets:
                if (paren := self._paren_item(m, line, bool(ended) or final)) is None:
                    return None, m.start()  # whether it opens with a title is still to be seen
                if paren:
                    continue
            if number is not None and number_value(number) == self._index and not self._bullets:
                if line.startswith(self._own_title):  # its own header, restated after an opening, or its list's item
                    if self._index == len(self._own_items) + 1:
                        self._own_items.append(m.start())
                    continue
                if not (ended or final) and self._own_title.startswith(line):
                    return None, m.start()
            if self._bullets:
                return m.start(), m.start()
            titles = (self._own_title, *self.titles)
            # a list of the point's own begins again ("Pros:\n1. ...\n\nCons:\n1. ..."; "Mix the following:\n1. cup
            # of flour" goes on with a sentence), or goes on numbered "1." throughout (Markdown's lazy numbering;
            # probe 333: its second item was cut); one that opens with a title is the skeleton again, below
            first = number is not None and number_value(number) == 1
            restarts = first and not written[:1].islower() \
                and (lead := self._lead_into(text, m.start())) is not None \
                and not self._names_another(_OWN_NUMBER.sub("", lead, count=1) if self._own_lead(text, m.start())
                                            else lead)
            if restarts or first and self._numbered_lazily(text, m.start()) and _lead_in(text, m.start()) is None:
                if not (ended or final) and any(title.startswith(line) for title in titles):
                    return None, m.start()  # whether it opens with a title is still to be seen
                if not any(_opens(line, title) for title in titles):
                    if restarts:
                        self._own_items, self._titled = [m.start()], []
                    else:
                        self._own_items.append(m.start())
                    continue
            if number is None or number_value(number) != len(self._own_items) + 1:
                if (starts := self._starts_numbered_point(text, m, written, bool(ended), final)) is False:
                    continue
                return (m.start() if starts else None), m.start()
            # another point's title: the skeleton written again, or a run-on into a later point; an earlier
            # point's at another number is a step of the point's own ("2. Testing: run the suite" in point 3, point
            # 1 titled "Testing": the rest of the point was lost), but not a second titled item (the outline again)
            if (another := next((title for title in self.titles if line.startswith(title)
                                 and self._another_point(title, number)), None)) is not None:
                if (recap := self._recap(text, m.start(), line, another, number, bool(ended) or final)) is None:
                    return None, m.start()
                if not recap:
                    # an earlier point's title that runs into a sentence at its number, or any point's at another
                    # number, may open an item of the point's own ("Do it in this order:\n1. Research the company
                    # values first\n2. Write ...", "Weekly plan:\n1. Sleep well before long runs"), and so may one
                    # as a header where it opens the list ("Each session:\n1. Warm up: walk 5 min"): the list's next
                    # line tells; elsewhere as a header ("1. Research the company: ...") it is the skeleton again
                    after = line[len(another):]
                    elsewhere = self._numbers[another] != number_value(number) and self._announced(text, m.start())
                    own = (self._numbers[another] < self._index or elsewhere) and not self._titled
                    if own and not after and not (ended or final):
                        return None, m.start()  # whether the title runs into a sentence is still to be seen
                    opens = elsewhere and number_value(number) == 1
                    again = not own or not (opens or runs_into_sentence(after)) \
                        or self._next_item_titled(text, m.start(), number_value(number), fences, final)
                    if again is None:
                        return None, m.start()
                    if again:
                        return m.start(), m.start()
            if not (ended or final) and any(title.startswith(line) for title in titles):
                return None, m.start()  # whether it opens with a title is still to be seen
            if any(line.startswith(title) for title in titles):
                self._titled.append(m.start())
            self._own_items.append(m.start())
        return None, len(text)

    def _sub_item(self, text: str, at: int, number: int) -> bool:
        """Is the numbered line at ``at``, indented under an item, one of a sub-list: its first, right under an item
        of the point's own list (not under a paragraph, which ended the list, review 336; nor under a heading, a
        quote, a table or a bullet, review 337), or the next after the item before it at its indent ("   4. A
        restful bedroom" under "2." is the next point's, paraphrased; review 335)? Deeper lines between are read
        past."""
        indent, end = _columns(text, at + 1), at
        for _ in range(_SUB_LINES):
            if end <= 0:
                return False
            start = text.rfind("\n", 0, end) + 1
            line, end = text[start:end], start - 1
            if not line.strip() or _columns(text, start) > indent:
                continue
            if _columns(text, start) < indent:  # its parent: an own item, or a numbered sub-item under the last one
                return number == 1 and (start - 1 in self._own_items or start - 1 > self._own_items[-1]
                                        and (item := _NEW_ITEM.match(text, start - 1)) is not None and bool(item["n"]))
            item = _NEW_ITEM.match("\n" + line)
            return number > 1 and item is not None and item["n"] is not None and number_value(item["n"]) == number - 1
        return False

    def _numbered_lazily(self, text: str, at: int) -> bool:
        """Does the numbered line at ``at`` go on with the point's own list numbered 1 throughout, right after its
        last item (not after a sentence, where "1." begins the answer again, review 336; nor after a bullet or a
        line under the item, review 337)? Its items count from 1, so that its last is a "1." only where every one
        is."""
        if not self._own_items:
            return False
        last, (_, line) = self._own_items[-1], _line_before(text, at)
        first = _LAZY_ITEM.match("\n" + text) if last < 0 else _LAZY_ITEM.match(text, last)  # (not a heading's "1")
        return first is not None and _LAZY_ITEM.match("\n" + line) is not None \
            and _columns(line, 0) == _columns(text, at + 1)

    def _paren_item(self, m: re.Match[str], line: str, whole: bool) -> bool | None:
        """Is the "(N)" line at ``m`` an item of the point's own list of them (its first, or the next), opening with
        no other point's title as a header (probe 324: cut as point 1's start; one running into a sentence, "(2)
        Exercise daily for ten minutes", is an item, reviews 326, 328)? None while its line may still show which."""
        value, last = number_value(m["other"]), self._paren_items[-1][1] if self._paren_items else 0
        if value not in (1, last + 1):
            return False
        for title in self.titles:
            if not whole and (line.startswith(title) or title.startswith(line)):
                return None  # (its separator may still come: "(2) Title –" waits for its space; review 327)
            # (a full stop and a new sentence after the title end a header too, "(2) Title. Text", review 329; not
            # "(2) Title... if you can", "(2) Title.gov" or "(2) Title.", review 330)
            if _opens(line, title) and (not runs_into_sentence(after := line[len(title):])
                                        or _NEW_SENTENCE.match(after)):
                return False  # ("Exercises like yoga" is no "Exercise" header; review 328)
        self._paren_items.append((m.start(), value))
        return True

    def _inline_titles(self, text: str, m: re.Match[str]) -> list[str]:
        """The titles the number after a sentence at ``m`` may open a run-on with: those of two words or more, and
        one written without spaces at its own point's number ("...起床。2. 减少咖啡因：", where a word count tells
        nothing; probe 324), but where the number goes on with the point's own inline list on its line ("...：1.
        睡眠：... 2. 運動：", reviews 326-328; not "1. 早睡，2. 早起。...2. 运动：", review 329)."""
        number = int(m["number"])
        at_its_number = [title for title in self._headed if self._numbers[title] == number]
        if number == _own_inline_next(text[text.rfind("\n", 0, m.start()) + 1:m.start()]):
            return self._named  # it goes on with the point's own inline list (reviews 327-329, 331: "lights.2.")
        if m[0][:1] not in " \t" and text[m.start() - 1] in ".!?":  # no space after the stop ("bed.2."): a title at
            return at_its_number  # its own number alone ("e.g.2.", "Fig.2." rarely run on into it; review 328)
        # (one written with spaces, of one word, is ordinary vocabulary: "Two tips. **1.** Dim the lights. 2.
        # Exercise: ..." lists the point's own in a form the count above does not read; review 330)
        return [*self._named, *(title for title in at_its_number if " " not in title and _UNSPACED.search(title))]

    def _next_item_titled(self, text: str, at: int, number: int, fences: list[int], final: bool) -> bool | None:
        """Does the list whose item numbered ``number`` is the line at ``at`` go on with the next number opening
        with a point's title (this one's too): the skeleton written again? The first line after it at its indent or
        less tells (blank lines and its sub-items aside); prose, or another number, says not, and so does a line
        starting over ``_HOLD`` characters after it (the text is held back meanwhile). None while that line may
        still come, or grow into one."""
        indent, line_end = _indent(text, at + 1), text.find("\n", at + 1)
        if line_end < 0:  # the item's own line is still being written
            return False if final or len(text) - at > _HOLD else None
        while line_end >= 0:
            start = line_end + 1
            if start - at > _HOLD:
                return False  # (where a line starts decides, not how far the text has come: any pieces agree)
            line_end = text.find("\n", start)
            line = text[start:] if line_end < 0 else text[start:line_end]
            if not line.strip() or _indent(text, start) > indent or not outside_code(fences, start):
                continue  # (a blank line still being written is read again with its first character)
            item = _NEW_ITEM.match("\n" + line)
            if item is None:
                if not final and line_end < 0 and _PARTIAL_ITEM.match("\n" + line):
                    return None  # "2" may yet be "2. Use LED bulbs"
                return False
            if item["n"] is None or number_value(item["n"]) != number + 1:
                return False
            said = (_after_number(line) or "").strip(" *:").casefold()
            return _opens_with_title(said, (self._own_title, *self.titles), whole=final or line_end >= 0)
        return False if final else None

    def _announced(self, text: str, at: int) -> bool:
        """Did a lead-in ending in a colon, naming no other point and not moving on ("Next up:", "Finally:"),
        announce the list that the item at ``at`` is in ("Weekly plan:\n1. ...")?"""
        first = self._own_items[0] if self._own_items else at
        lead = _lead_in(text, first) if first >= 0 else None
        return lead is not None and bool(_COLON_ENDED.fullmatch(lead)) and not _MOVES_ON.match(lead) \
            and not self._names_another(lead)

    def _lead_into(self, text: str, at: int) -> str | None:
        """``_lead_in``, or, in the first section of a reply that opened with one ("### 1. Morning", "Step 1:"), the
        line of its prose before the numbered line at ``at``: a section's list after its prose (review 337)."""
        if (lead := _lead_in(text, at)) is not None or self._own_items != [-1] or not _SECTION_FIRST.match(text):
            return lead
        line = _line_before(text, at)[1]
        return None if not line or _NEW_ITEM.match("\n" + line) else line.casefold()  # (its prose, or bullets)

    def _own_lead(self, text: str, at: int) -> bool:
        """Is the line before the numbered line at ``at`` (blank lines aside) an item of the point's own list (its
        section, "### 1. Morning", whose number names no other point, review 336; "point 3" in it still does,
        review 337)?"""
        return _line_before(text, at)[0] in self._own_items

    def _names_another(self, lead: str) -> bool:
        """Does a lead-in name another point, by its number or its title ("Now for point 3:", "Avoid late caffeine
        (point 3):", "**Next point: Eat healthy**", "Next, to sleep well")? The list after it is that point's."""
        if any(_opens(_UNMARKED.sub("", lead), title) for title in self.titles):
            return True
        # a heading, or a line running into the list, that says "next point" or is another point's title in other
        # words ("**Eating healthy**" for "Eat healthy"; not "**Healthy bedtime snacks**", the point's own section)
        if not _COLON_ENDED.fullmatch(lead) and (
                (_HEADING.match(lead) or _MOVES_ON.match(lead)) and _NEXT_POINT.search(lead)
                or any(_reworded(lead, t) for t in self.titles)):
            return True
        return any(number_value(n) != self._index for found in _NAMES_NUMBER.finditer(lead) for n in found.groups()
                   if n)

    def _recap(self, text: str, at: int, line: str, title: str, number: str, whole: bool) -> bool | None:
        """Is the item at ``at``, whose ``line`` opens with an earlier point's ``title`` at that point's ``number``,
        one of a recap the point's own text announced, saying more than the title ("for example:\n\n1. House
        training: same door, ...")? None while its line may still say more."""
        first = self._own_items[0] if self._own_items else at  # where the list began
        last = max(self._numbers.values(), default=0) < self._index  # (a point before it may answer them all)
        if not last or first < 0 or not self._index > self._numbers[title] == number_value(number) \
                or not text[max(0, first - 300):first].rstrip().endswith((":", "：")):
            return False
        if line[len(title):].strip(" :–—-"):
            return True
        return False if whole else None

    def _another_point(self, title: str, number: str) -> bool:
        """Is an item of the point's own list, numbered ``number``, that opens with ``title`` that point's?"""
        return self._numbers[title] > self._index or self._numbers[title] == number_value(number) or bool(self._titled)

    def _starts_numbered_point(self, text: str, m: re.Match[str], written: str, ended: bool,
                               final: bool) -> bool | None:
        """Does the numbered line at ``m``, which does not go on with the point's own list, start another point?
        ``written``: its text after the number; ``ended`` once its line has, ``final`` once the text has. Not where
        no point has its number (nor the next, which a reply running on past the skeleton's last point writes), nor
        where it goes on with a sentence ("published in\n2019. showed", "see your step\n5. Frost ..."), unless it
        opens with another point's title. None while its text may still show which."""
        number, whole = number_value(m["n"] or m["other"] or m["step"] or m["point"]), ended or final
        if self.most_points and number > self.most_points + 1:
            return False  # a year, a step of the question's own list (the next number goes on with the answer's)
        if self.most_points and not (self.count_known or final) and number > len(self.titles) + 2:
            return None  # above the points parsed so far and the next: the skeleton's count will tell
        if _NUMERAL_PAIR.match(text, m.end() - 1):  # "三、四月份" ("March and April") is prose, "三、一次只做一件事" a title
            line = text[m.end():].partition("\n")[0].strip(" *:").casefold()
            if any(line.startswith(title) for title in self.titles):
                return True
            return None if not whole and any(title.startswith(line) for title in self.titles) else False
        line = written.casefold()
        if any(line.startswith(title) for title in self.titles):
            return True
        if not whole and (not line or any(title.startswith(line) for title in self.titles)
                          or any(month.startswith(written) for month in _MONTHS)):
            return None
        previous = text[text.rfind("\n", 0, m.start()) + 1:m.start()].rstrip()
        # ("... move on to the LED bulbs\n1. Buy warm ones" runs on into "Use LED bulbs")
        wrapped = _breaks_off(previous) and not self._names_another(previous.casefold())
        return not (written[:1].islower() or wrapped or _MONTH.match(written))

    def outline_again(self, text: str, final: bool) -> int | None:
        """How many characters at the text's start are the skeleton written again before the point's own text: two
        numbered lines or more, each only a point's title (this one's too, as its header), blank lines between
        ("1. Relax\n2. Sleep\n\n2. Sleep\n\nSleep is ..."). 0: none; None while the lines so far may still be."""
        titles, listed, at = {self._own_title, *self.titles}, set[str](), 0
        while (end := text.find("\n", at)) >= 0 or final:
            line = (text[at:] if end < 0 else text[at:end]).strip()
            if line:
                if (title := _title_line(line, titles)) is None and not final and self._unparsed(line, len(listed)):
                    return None  # the outline's next line, numbered past the points parsed so far: the skeleton tells
                if title is None or title in listed:
                    return at if len(listed) >= 2 else 0  # (a title again: the sections under the titles begin)
                listed.add(title)
            if end < 0:
                return len(text) if len(listed) >= 2 else 0  # only the outline: nothing of the point's own
            at = end + 1
        if _may_be_title_line(text[at:], titles) or self._unparsed(text[at:], len(listed)):
            return None
        return at if len(listed) >= 2 else 0

    def _unparsed(self, line: str, listed: int) -> bool:
        """Is the line the next item of an outline of ``listed`` titles so far, numbered past the points the
        skeleton, still streaming, has given (its title may be one still to come)?"""
        item = _NEW_ITEM.match("\n" + line)
        number = number_value(item["n"]) if item and item["n"] else None
        return bool(listed) and not self.count_known and number == listed + 1 and number > len(self.titles) + 1

    def headed_by_another(self, text: str, final: bool) -> bool | None:
        """Does the text open with a line that is only another point's title, in any markup ("## Soak it", "**Soak
        it**", "Soak it:")? None while its first line may still become one."""
        line, ended, _ = text.partition("\n")
        said = line.strip(" *_#").removesuffix(":").rstrip(" *_").casefold()  # ("Steam it." is a sentence)
        if said[:-1] in self._stopped and said.endswith("."):
            said = said[:-1]  # ("Screens off by 9:30 p.m." is a title)
        if ended or final:
            return said in self.titles
        return None if any(title.startswith(said) for title in self.titles) else False

    def open(self, text: str, final: bool, cut: bool) -> bool | None:
        """Does the text open with another point's numbered line ("1. Sleep well" in point 2's reply), or with
        the start of one that the budget cut? None while that line may still grow into one."""
        if not self.titles:
            return False
        if (after := _after_number(text)) is None:  # the reply's start read as a line's, as a run-on's would be
            return None if not final and _PARTIAL_ITEM.match("\n" + text) else False
        line, ended, _ = after.partition("\n")
        if (titled := _opens_with_title(line.strip(" *:").casefold(), self.titles, whole=bool(ended))) is not None:
            return titled
        return cut if final else None

    def _header_at(self, text: str, at: int, final: bool, titles: list[str]) -> str | Literal[False] | None:
        """Which of the other points' ``titles`` starts at ``at`` as a header (followed by its separator or its
        line's end)? False: none; None while the text there may still grow into one."""
        rest = text[at:at + self._longest].casefold()
        for title in titles:
            if not rest.startswith(title):
                if not final and title.startswith(rest):
                    return None
                continue
            if after := _AFTER_TITLE.match(text, self._past(text, at + len(title), title)):
                # "Settlement talks – often court-ordered mediation – can start ...": an aside, no header
                if after["dash"] and (aside := dash_aside(text, after.end(), final)) is not False:
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
            after = _AFTER_TITLE.match(text, self._past(text, m.end() + len(title), title))
            assert after is not None  # _header_at matched it here to name the title
            alone = after["sep"] == "\n" or after["open"] is not None
            if previous.strip() or not m["bullet"] and len(title.split()) < 2 and not alone:
                return False
        elif previous.strip():
            mark = _TITLE_LINE.match("\n" + previous)
            assert mark is not None  # a line break, then only optional parts
            if self._header_at("\n" + previous, mark.end(), True, self._headed) not in (False, title):
                return False
        line_end = text.find("\n", m.end())
        if line_end < 0 or line_end == len(text) - 1:
            return True if final else None
        mark = _TITLE_LINE.match(text, line_end)
        assert mark is not None  # at a line break, then only optional parts
        following = self._header_at(text, mark.end(), final, self._headed)
        return None if following is None else following in (False, title)


@functools.lru_cache(maxsize=512)  # every point's filter looks at the same other titles
def _words_of(text: str) -> str:
    """The text's words, one space around each (so that a phrase's are found in it word for word)."""
    return f" {_NOT_WORD.sub(' ', text).strip()} "


def _reworded(line: str, title: str) -> bool:
    """Is the line the title in other words: the title's words all there (all but one of three or more; a word or
    its stem, "eating" for "eat"; "Exercise regularly" is not "If you exercise late"), and at least half of the line's
    own words (common words aside) the title's?"""
    words = _words_of(line).split()
    said = [word for word in words if word not in _COMMON]
    titled = [word for word in _words_of(title).split() if word not in _STOP]

    def alike(a: str, b: str) -> bool:  # a word and its ending: "eat"/"eating", "exercise"/"exercising"
        shared = len(os.path.commonprefix((a, b)))
        shorter = min(len(a), len(b))
        return a == b or shorter >= 3 and shared >= shorter - (shorter >= 5) and max(len(a), len(b)) - shared <= 4

    if not said or not titled:
        return False
    found = sum(any(alike(t, w) for w in words) for t in titled)
    return found >= len(titled) - (len(titled) >= 3) and 2 * sum(any(alike(w, t) for t in titled) for w in said) \
        >= len(said)


def _opens_with_title(line: str, titles: Sequence[str], whole: bool) -> bool | None:
    """Does a line (casefolded, after its number) open with one of ``titles``? None while it is not ``whole`` and
    may still grow into one."""
    if any(line.startswith(title) for title in titles):
        return True
    return None if not whole and any(title.startswith(line) for title in titles) else False


def runs_into_sentence(after: str) -> bool:
    """Does the text after a title on its line go on with the title's sentence (" values first", ", even on weekends",
    "** for a week", "文化后"), not with a header's separator or the line's end ("Title:", "**Title** – ...",
    "Title")?"""
    line = after.partition("\n")[0].lstrip("*_")
    return bool(line.strip()) and not TITLE_SEPARATOR.match(line)


def _indent(text: str, start: int) -> int:
    """The spaces and tabs that the line starting at ``start`` opens with (more than ``_INDENT``: ``_INDENT + 1``)."""
    return len(_opening_blanks(text, start))


def _opening_blanks(text: str, start: int) -> str:
    """The spaces and tabs the line starting at ``start`` opens with, ``_INDENT + 1`` at most."""
    head = text[start:start + _INDENT + 1]
    return head[:len(head) - len(head.lstrip(" \t"))]


def _numbered_one(opening: re.Match[str] | None) -> bool:
    """Does a reply's opening list item (``_OWN_FIRST``'s, ``_PAREN_FIRST``'s match) have the number 1, in any
    script's digits ("1.", "١.", "१.", "（１）"; probe 346, reviews 347-348)?"""
    return opening is not None and (opening["one"] is None or unicodedata.digit(opening["one"]) == 1)


def _columns(text: str, start: int) -> int:
    """``_indent`` with a tab as four columns (a sub-list indented by a tab; review 335)."""
    return len(_opening_blanks(text, start).expandtabs(4))


def _breaks_off(line: str) -> bool:
    """Does the line stop mid-sentence (prose wrapped: "... as a study published in")? Its last word in lower case,
    or a comma; a list item or a header ("- Use fresh eggs") may end so."""
    last = line.rpartition(" ")[2]
    return not _LISTED.match(line) and (line.endswith(",") or last[:1].islower() and last[-1:].isalpha())


def _after_number(text: str) -> str | None:
    """The text after the number a line opens with (``_NEW_ITEM``), past one space; None: it opens with none."""
    if (item := _NEW_ITEM.match("\n" + text)) is None:
        return None
    return text[item.end() - 1:]  # (the pattern matched with a newline before the text)


def _may_be_title_line(line: str, titles: set[str]) -> bool:
    """Can the start of a line still become a ``_title_line``?"""
    if not line.strip() or _PARTIAL_ITEM.match("\n" + line):
        return True
    if (after := _after_number(line)) is None:
        return False
    said = after.lstrip(" *_#").casefold().rstrip(" *_#:")
    return any(title.startswith(said) or said == title + "." for title in titles)


def _title_line(line: str, titles: set[str]) -> str | None:
    """The one of ``titles`` (casefolded) that the line holds alone, numbered, in any emphasis, with a full stop
    or without (as the skeleton's line had it); None: none."""
    said = None if (after := _after_number(line)) is None else after.strip(" *_#:").casefold()
    return said if said in titles else said[:-1] if said and said.endswith(".") and said[:-1] in titles else None


def outside_code(fences: list[int], at: int) -> bool:
    """Is ``at`` outside the code blocks opened and closed at ``fences`` (``Fences.of``)?"""
    return not fences or bisect.bisect_right(fences, at) % 2 == 0


def _opens(line: str, title: str) -> bool:
    """Does ``line`` open with ``title`` as words ("cost is higher", not "costlier", for "cost"; any text after a
    Chinese or Japanese title, written without spaces)?"""
    return line.startswith(title) and (not line[len(title):len(title) + 1].isalnum() or title[-1:] >= "\u2e80")


#: a lead-in that ends in a colon ("Cons:", "**Cons:**")
_COLON_ENDED = re.compile(r".*[:：][ \t*_]*")
#: a line that announces a list: a lead-in ending in a colon, a heading ("#### Advanced", "**Advanced**", "-
#: **Strength**", a sub-list's label)
_ANNOUNCES = re.compile(rf"{_COLON_ENDED.pattern}|[ \t]*(?:#{{1,6}}[ \t]+\S.*|(?:[-*•][ \t]+)?(?:\*\*|__)[^*_\n]+"
                        r"(?:\*\*|__)[ \t]*)")
#: what may come before a title on a lead-in: "Point 1: ", marks, quotes, an emoji
_UNMARKED = re.compile(r"^(?:point\s+\d+\s*[:.\-–—]\s*)?[\W_]*", re.I)
#: words that carry no topic, in a title or a line; and, in a line, words too common to tell its topic
_STOP = frozenset("a an the and or of to in on for with your you my our is are be it its this that these those use get "
                  "take keep make set try".split())
_COMMON = _STOP | frozenset(
    "more less how what why when now then next tips let s lets let's move moving talk about after before at by "
    "from well good daily regular regularly enough small some any all if ll ve re d can will should would often "
    "so".split())
#: a heading line ("#### X", "**X**", "- **X**")
_HEADING = re.compile(r"[ \t]*(?:#{1,6}[ \t]|(?:[-*•][ \t]+)?(?:\*\*|__))")
#: a lead-in that moves on to what comes next
_MOVES_ON = re.compile(r"[\W_]*(?:(?:now|and|ok|okay),?\s+)?(?:next(?: up)?|finally|lastly|moving on|on to|now for|"
                       r"the rest)\b", re.I)
#: a lead-in that names another point by its place ("Next point:", "the last point")
_NEXT_POINT = re.compile(r"\b(?:next|last|final|following|second|third|fourth|fifth|sixth) point\b", re.I)
#: the number an item of the point's own list opens with, as a lead-in ("### 1. morning")
_OWN_NUMBER = re.compile(r"^[\W_]*\d+[.):：]")
#: a lead-in that names a point by its number: "Now for point 3:", "### 3:", "3. Caffeine:", "第三点："
_NAMES_NUMBER = re.compile(rf"\bpoint\s+(\d+)|第({CJK_NUMBER}|\d+)[点點]|^[\W_]*(\d+)[.):：](?!\d)", re.I)


def _line_before(text: str, at: int) -> tuple[int, str]:
    """The last line with text before ``at`` (blank lines aside), less its trailing white space, and where the line
    break before it is (-1: the text's first line). Read back line by line: the text before ``at`` is not copied
    (this runs for every numbered line of a point)."""
    end = at
    while True:
        start = text.rfind("\n", 0, end)
        if (line := text[start + 1:end].rstrip()) or start < 0:
            return start, line
        end = start


def _lead_in(text: str, at: int) -> str | None:
    """The last line before the numbered line at ``at`` (blank lines aside), casefolded, where it announces a list,
    so that a line numbered 1 there may begin another list of the point's own. (The skeleton written again in other
    words after such a lead-in, "Here is the full list:\n1. A regular schedule", is then the point's: it cannot be
    told apart. After a sentence it is told as a run-on, "That covers caffeine.\n\n1. Exercise daily: ...", and so
    is a list of the point's own there: review 335.)"""
    line = _line_before(text, at)[1]
    # (or a line that breaks off into the list: "Once that feels easy, move on to\n1. Intervals")
    return line.casefold() if _ANNOUNCES.fullmatch(line) or _breaks_off(line) else None


def _first_outside(pattern: re.Pattern[str], text: str, at: int, fences: list[int]) -> int | None:
    """Where the pattern first matches from ``at`` outside code blocks."""
    return next((m.start() for m in pattern.finditer(text, at) if outside_code(fences, m.start())), None)
