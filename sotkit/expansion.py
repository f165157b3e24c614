"""Keeping a point's expansion to its own point, while it streams.

Models restate the point's number and title (``header.py``), or run on into another point (``runon.py``: a line
with its number, or with its title as a header; a numbered line inside a code block is code). Chat models also
talk about the task ("Sure! Here's the continuation of point 3:", "Let me know if you'd like ..."): a first and a
last line that only do that are dropped (``talk.py``). ``ExpansionFilter`` cleans the text incrementally: it
releases only text that no later delta can change, so what was streamed is exactly the final text.

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

from .header import HEADER_LINE, UNDECIDED, OwnHeader, header_number, number_value, separator_end
from .quality import Instructions, content_words, restates_question
from .runon import FENCE, Fences, OtherPoints, outside_code, runs_into_sentence
from .talk import talk_closing, talk_opening

# In one paragraph, a first bullet's marker ("* Support from ...") is no part of the point's text.
_FIRST_BULLET = re.compile(r"\s*[-*•]\s+")
# The end of a sentence: settled once whitespace follows it (before that, "2." may still become "2.5"); Chinese and
# Japanese full stops need none.
_CLOSERS = "\"'”’)]"
_QUOTES = "\"'“”‘’"
_LEFT_QUOTES = "“‘«「『"
_QUOTE_MARKS = _QUOTES + "«»「」『』"
_QUOTED_LINE = re.compile(r"^[ \t]*>", re.M)
_LINE_SEEN = 2000  # the most of a sentence's line before it that is read for its quotes
_SENTENCE_END = re.compile(rf"[.!?][{re.escape(_CLOSERS)}]*(?=\s)|[。！？][”’」』）]*")
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
# A thematic break ("---", "***", "_ _ _") on the last line: a separator the model put after its text, before a next
# section it leaves to another point; and the start of a line that may still become one.
_RULE = re.compile(r"\n[ ]{0,3}([-*_])(?:[ \t]*\1){2,}\s*\Z")
_RULE_STARTED = re.compile(r"\n[ ]{0,3}([-*_])(?:[ \t]*\1)?[ \t]*\Z")
_RULE_SEEN = 200  # characters from the end: a rule is a short line


#: a reply that is only a title, the point's or another's, is kept where it is a plain sentence ("Use LED bulbs.",
#: "Python." for a verdict); a bare header ("Use LED bulbs", "**Use LED bulbs**", "### Use LED bulbs") is nothing
_AS_SENTENCE = re.compile(r"[^*_#`\n]*[^*_#`\s:\-–][.!?…。！？]")
#: a list number, and what comes before it on the line ("1. Sleep well", "The answer is 1. Sleep well")
_UP_TO_NUMBER = re.compile(r"^(?:.*\s)?[(（]?\d{1,2}[.)．）]\s*")
#: what a small model adds after quoting a title from the skeleton ('Sleep well" and so on.', "Sleep well; etc…"); not
#: an ellipsis alone, nor "and more" ("Python...", "Python and more." are verdicts). White space only before each
#: repeat, so that no two ways of matching a line exist (a looping "and so on and so ..." once took hours)
_AND_SO_ON = re.compile(r"[\"”']?(?:[\s,;(]*(?:and so (?:on|forth)|etc)[.…)]*)+\s*\Z", re.I)


def _trailing_rule(text: str, final: bool, fences: list[int]) -> int | None:
    """Where a thematic break that ends the text begins, or (while the call may go on) a line that may still become
    one; None: there is none, or it is a line of the point's own code block (``fences``: where they open and
    close, in the text or in one it begins)."""
    tail = len(text) - _RULE_SEEN if len(text) > _RULE_SEEN else 0
    if text.find("\n", tail) < 0:  # most pieces: no line to be a rule (each pattern opens with one)
        return None
    rule = _RULE.search(text, tail) or (None if final else _RULE_STARTED.search(text, tail))
    if rule is None or not outside_code(fences, rule.start()):
        return None
    return rule.start()


@functools.lru_cache(maxsize=64)
def _stems(text: str) -> frozenset[str]:
    """The text's content words by their first five letters: "managing your time" restates "time management"."""
    return frozenset(word[:5] for word in content_words(text))


#: how a template's own header ends (its prefill), where a reply that writes it again is taken off it
_HEADER_ENDS = (":", "：", "-", "–", "—", "|", ">")


def _past(text: str, opening: str) -> int:
    """Where ``text`` goes on past ``opening`` (white space squeezed, case folded, as ``opening`` is)."""
    seen = ""
    for at, char in enumerate(text):
        if char.isspace() and (not seen or seen.endswith(" ")):
            continue
        seen += " " if char.isspace() else char.casefold()
        if seen == opening:
            return at + 1
    return len(text)


class ExpansionFilter:
    """The clean text of point ``index``'s expansion, released as it streams (``feed``, then ``finish``)."""

    def __init__(self, index: int, title: str, *, strip_header: bool, whole_sentences: bool = False,
                 other_titles: Sequence[str] = (), earlier_titles: Sequence[str] = (),
                 instructions: Instructions | None = None, question: str = "", continues: str = "",
                 restates: str = "", most_points: int | None = None, count_known: bool = False) -> None:
        self._index, self._title = index, title.casefold()
        self._header = OwnHeader(index, title, continues) if strip_header else None
        # the template's prefill, where the model was not sent it but asked for it ("Point 2 - Title:"): a reply
        # that opens with it restates it, in a form of the template's own that OwnHeader may not know; only one
        # ending as a header does (a colon, a dash): after a title, the reply's sentence may run on ("Tip 3 — Walk
        # to work"), whose words are its own
        squeezed = " ".join(restates.split()).casefold() if strip_header else ""
        self._restates = squeezed if squeezed.endswith(_HEADER_ENDS) else ""
        self._after_title = bool(self._header and self._header.after_title)
        # the question's content words, to drop a small model's opening clause that only restates it (None: checked);
        # an API model's is kept: it may pick one of the things asked ("To convert Celsius to Fahrenheit, multiply
        # ...; to convert Fahrenheit to Celsius, ...")
        self._asked: frozenset[str] | None = _stems(question) if question and whole_sentences else None
        self._question = question
        self._capitalize = False
        # the words of the title and of a short question, to drop opening sentences that say nothing else (None:
        # checked)
        self._title_stems = _stems(title)
        asked = self._asked if self._asked and len(self._asked) <= _SHORT_QUESTION else frozenset()
        self._known: frozenset[str] | None = self._title_stems | asked | _FILLER if whole_sentences else None
        self._opening_dropped = False  # an opening sentence was dropped as saying nothing new
        self._others_number = False  # one of them was another point's list number
        self._body_start: int | None = None  # where the text after a restated header begins, once known
        self.raw = ""
        self.released = ""
        self.finished = False
        """True once the expansion ran into the next point: the rest of the call is not needed."""
        self._whole_sentences = whole_sentences
        self._instructions = instructions
        self._echo_free: dict[int, bool] = {}  # sentence start -> kept (decided once, so released text stays)
        self._judged, self._kept = "", ""  # the clean text up to the last sentence judged, and what of it is kept
        self._searched, self._unended = "", 0  # the text last searched for sentence ends; where one may yet begin
        self.echoed = False
        """True once a sentence that copies the instructions was dropped."""
        # most_points: the most points the answer can have (the skeleton's count once complete, else the limit)
        self._others = OtherPoints(index, title, other_titles, earlier_titles, bullets=whole_sentences,
                                   most_points=most_points, count_known=count_known)
        self._fences = Fences()
        self._echo_fences = Fences()  # of the text the echo check reads
        self._meta_opening = True  # the first line is still to be checked for talk about the task
        self._outline_next = strip_header  # the reply may open with the skeleton written again (headers and all)
        self._outlined: int | None = None  # where the text after it began, where it did
        self._header_next = False  # a header may follow the talk dropped

    @property
    def said_nothing(self) -> bool:
        """Is every line of the text released only a lead-in that ends in a colon ("I've rewritten the answer for
        you:", whatever it introduced was cut or never came) or a title, numbered or not, the point's own or another's
        (the skeleton again)? Such a text is nothing of the point's own."""
        lines = [line.strip() for line in self.released.splitlines() if line.strip()]
        return bool(lines) and all(self._says_nothing(line) for line in lines)

    def _says_nothing(self, line: str) -> bool:
        if line.rstrip(" *_").endswith((":", "：")):
            return True
        title = _UP_TO_NUMBER.sub("", line, count=1)
        if len(title) <= HEADER_LINE:  # a title and its tail: a short line
            title = _AND_SO_ON.sub("", title, count=1)
        # a title alone as a plain sentence may be the point's ("Python." for "Verdict"); numbered, it is a header
        return bool(self._others.title_only(title, final=True)) and (title != line or not _AS_SENTENCE.fullmatch(line))

    def add_other_title(self, title: str) -> None:
        """Another point's title, such as one parsed after this point's call started: running on into that point
        ends this one from now on (text already released stays)."""
        self._others.add(title)

    def set_most_points(self, count: int) -> None:
        """The skeleton ended with ``count`` points, after this point's call started: a line numbered further up is
        no point's from now on (text already cut stays cut)."""
        self._others.most_points, self._others.count_known = count, True

    def feed(self, delta: str) -> str:
        """Add raw text; return the newly settled clean text."""
        self.raw += delta
        if not delta.strip():  # white space settles nothing: it is read with what follows it (the same clean text
            return ""  # at any piece size; a model stuck on spaces or line breaks was read again at every one)
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
            self._others.first_item_was_header = self._first_item_was_header(text, start)
        if self._meta_opening:
            talk = functools.partial(talk_opening, header_follows=self._header_follows)
            if (meta := self._skip_opening(text, talk, final)) is None:
                return ""
            self._meta_opening, self._opening_dropped = False, self._opening_dropped or bool(meta)
            # the header may follow the talk: "Sure! Here's point 2:\n2. Title: ..."
            self._header_next = self._header_next or bool(meta)
        if self._outline_next:
            if (outline := self._skip_opening(text, self._others.outline_again, final)) is None:
                return ""
            self._outline_next = False
            if outline:  # the skeleton written again; the reply starts after it, maybe with talk, then its header
                self._meta_opening = self._opening_dropped = self._header_next = True
                self._outlined = self._body_start
                return self._clean(final, cut)
        if self._header_next:
            if (start := self._after_header(text, self._body_start, final, cut)) is None:
                return ""
            self._others.first_item_was_header = self._first_item_was_header(text, start, self._body_start)
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
                and not self._opening_dropped and header_number(text) is None \
                and _AS_SENTENCE.fullmatch(text[:self._body_start].strip()):
            self._body_start = 0  # the whole reply was the title as a sentence: keep it (a bare header is nothing)
        text = text[self._body_start:].lstrip()
        if self._capitalize and text[:1].islower() and text.split(None, 1)[0].islower():
            text = text[:1].upper() + text[1:]  # (not "iCloud", "pH": a word with a capital of its own)
        # right after the outline (no talk, no header of its own), another point's section: it answers them all
        if self._outlined == self._body_start and not self.released:
            if (another := self._others.headed_by_another(text, final)) is not False:
                self.finished = bool(another)
                return ""
        if not self.released and (another := self._others.open(text, final, cut)) is not False:
            if another is None:
                return ""  # held back until its first line shows whose it is
            self.finished = True  # the reply is the skeleton again, or another point: nothing of this one's own
            return ""
        if not self.released and (title := self._others.title_only(text, final)) is not False:
            # a title as a header and nothing more is nothing of the point's own; as a plain sentence it may be
            # ("Python." for "Verdict")
            if title is None or self._others_number or not _AS_SENTENCE.fullmatch(text.strip()):
                return ""  # (or held while the text may still be one)
        fences = self._fences.of(text)
        cut_at, held_at = self._others.run_on(text, final, self._body_start, fences)
        if cut_at is not None:
            text = text[:cut_at]
            self.finished = True
            final = True
        elif not final:
            text = text[:held_at]
        while (end := _trailing_rule(text, final, fences)) is not None \
                or (end := talk_closing(text, final, fences)) is not None:
            text = text[:end]  # a last line of talk, or a rule; then the line above it may be one
        if not final:
            return text.rstrip()  # trailing space may yet be stripped at the end
        text = text.strip()
        if len(marks := FENCE.findall(text)) % 2:  # the call ended inside a code block (a stop sequence in it):
            text += "\n" + marks[-1]  # closed, or every later point would read as code
        return text

    def _after_header(self, text: str, at: int, final: bool, cut: bool) -> int | None:
        """Where the text after a restated header at ``at`` begins (``at`` where there is none; after the rest of a
        prefilled header, or in one paragraph a first bullet's marker, "* Support from ..."); None while a header is
        still being written there, or for good where the budget cut one."""
        rest = text[at:]
        # (white space squeezed, as the prefill's is: compared only where there is one, and not yet decided)
        said = " ".join(rest.split()).casefold() if self._restates else ""
        if ((not final or cut) and self._header and self._header.may_grow(rest)) \
                or (not final and self._after_title and not at and not rest.strip(" *")) \
                or ((not final or cut) and len(said) < len(self._restates) and self._restates.startswith(said)):
            return None
        end = ((self._header and self._header.end(rest, final))
               or (self._restates and said.startswith(self._restates) and _past(rest, self._restates))
               or (self._after_title and not at and separator_end(rest))
               or (self._whole_sentences and not at and (m := _FIRST_BULLET.match(rest)) and m.end()) or 0)
        if end == UNDECIDED or end and end == len(rest) and not final:
            return None  # the header's close may be still to come: "**2. Title:" before its "**"
        return at + end

    def _first_item_was_header(self, text: str, start: int, at: int = 0) -> bool:
        """Was the header restated at ``at`` (the body starting at ``start``) point 1's, its title running into a
        sentence: the first item of the point's own list ("1. Research the company website\n2. Read ...")? Its
        header may have taken the title, where its emphasis or its stop closed ("1. **Keep a schedule**, even on
        weekends": the text goes on with ", even ...", which the stitcher joins to the title)."""
        if self._index != 1 or start <= at or header_number(text[at:start]) is None:
            return False
        body = text[start:].lstrip().lstrip("*_").casefold()
        if body.startswith(self._title):
            return runs_into_sentence(body[len(self._title):])
        return text[at:start].rstrip(" \t*_.").casefold().endswith(self._title) and runs_into_sentence(text[start:])

    def _header_follows(self, text: str, final: bool) -> bool | None:
        """Does the text open with the point's own restated header, or the skeleton written again (None: not yet
        known)?"""
        if (outline := self._others.outline_again(text, final)) != 0:
            return None if outline is None else True
        if self._header is None:
            return False
        if not final and self._header.may_grow(text):
            return None
        end = self._header.end(text, final)
        return None if end == UNDECIDED else bool(end)

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
        first = ""  # to its first stop: as a restatement of the question is judged (``quality.first_sentence``)
        for end in _SENTENCE_END.finditer(body + " " if final else body):
            first = first or body[:end.end()]
            following = body[end.end():].lstrip()[:1]
            if not following and not final:
                return None  # the next word shows whether the stop ended a sentence
            if not following.islower():  # (an abbreviation's stop does not: "Watering at 7 a.m. is ideal.")
                sentence = body[:end.end()]
                break
        else:
            if not final:
                return None
            sentence = body
        said = _stems(sentence)
        if not said and (number := header_number(sentence)) is not None and number_value(number) != self._index:
            self._others_number = True  # "2. Sleep well..." copies the skeleton's line: its title is no answer
        if said <= self._known:
            return len(sentence)
        first = first or sentence
        return len(first) if restates_question(self._question, first) and not _stems(first) & self._title_stems else 0

    def _sentences(self, text: str, final: bool, cut: bool) -> str:
        """The settled whole sentences of the clean text, up to one that names another point."""
        ends = [m.end() for m in _SENTENCE_END.finditer(text + " ")] if final else \
               [m.end() for m in _SENTENCE_END.finditer(text)]
        for start, end in zip(ends, ends[1:]):  # the first sentence stays: it is this point's opening
            if self._others.named_in(text[start:end]):
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
        assert self._instructions is not None  # _release calls this only where there are instructions
        if not text.startswith(self._judged):
            self._judged, self._kept = "", ""
        start, kept = len(self._judged), [self._kept]
        # the unended sentence was searched for an end before: only from its last stop on can one come now (a
        # point of one long line was searched whole at every piece, the loop held a second at 16,000 words)
        resume = max(start, self._unended) if text.startswith(self._searched) else start
        fences = self._echo_fences.of(text)
        for end in [m.end() for m in _SENTENCE_END.finditer(text, resume)]:
            if self._echo_free_at(text, start, end, fences):
                kept.append(text[start:end])
            start = end
        self._judged, self._kept = text[:start], "".join(kept)
        self._searched, self._unended = text, _last_stop(text, start)
        tail = text[start:]
        if tail and final:  # the last sentence, ended by the call
            if self._echo_free_at(text, start, len(text), fences):
                kept.append(tail)
        elif tail and (self._echo_free.get(start) or not self._instructions.could_echo(tail)
                       or _a_sample(text, start, len(text), fences, ended=False)):
            self._echo_free[start] = True
            kept.append(tail)
        return "".join(kept).lstrip()

    def _echo_free_at(self, text: str, start: int, end: int, fences: list[int]) -> bool:
        """Is the sentence from ``start`` to ``end`` kept (decided once, so that text released stays)? A sample the
        point shows (``_a_sample``) is."""
        assert self._instructions is not None  # (only _without_echoes asks)
        sentence = text[start:end]
        if start not in self._echo_free and _a_sample(text, start, end, fences, ended=True):
            self._echo_free[start] = True
        if start not in self._echo_free:
            # as if it streamed in: a sentence is released once an opening of it cannot become an echo, so one that
            # came whole is kept where an opening of it (its words whole, as a stream held back after them gives)
            # would have been
            self._echo_free[start] = not self._instructions.echoes(sentence) or any(
                not self._instructions.could_echo(sentence[:m.end()]) for m in re.finditer(r"\s+", sentence))
            self.echoed |= not self._echo_free[start]
        return self._echo_free[start]


def _a_sample(text: str, start: int, end: int, fences: list[int], ended: bool) -> bool:
    """Is the sentence from ``start`` to ``end`` one the point shows, not says: in a code block or holding a fence,
    on a quoted line ("> ..."), inside a quotation its line opened, or, once it has ended, quoted whole, a list's
    mark or emphasis aside ('"You are a helpful assistant." is the usual default', '- "You are a helpful
    assistant." (too vague)')? An echo of the prompt is none of them (and dropping a fence with it would leave the
    rest of the answer in a code block)."""
    sentence = text[start:end]
    before = text[max(0, start - _LINE_SEEN):start]
    line = before[before.rfind("\n") + 1:]  # its line up to it (or its last _LINE_SEEN characters)
    whole_line = "\n" in before or start <= _LINE_SEEN
    said = sentence.strip().lstrip("-*+•_ \t").rstrip("*_ \t")
    return not outside_code(fences, start) or "```" in sentence or "~~~" in sentence \
        or _QUOTED_LINE.search(sentence) is not None or whole_line and _QUOTED_LINE.match(line) is not None \
        or _opened(line) or ended and len(said) > 1 and said[0] in _QUOTES and said[-1] in _QUOTES


def _opened(line: str) -> bool:
    """Does a quotation that the line opened after its first words run on past its end ('Try "Be concise. ')? Its
    last quote mark opens one: a left one, or a straight one at a word's start. (A reply wholly in quotes is no
    sample: an echo of the prompt may come so.)"""
    at = max(map(line.rfind, _QUOTE_MARKS))
    if at <= 0 or not line[:at].strip(" \t*_>-•"):
        return False
    return line[at] in _LEFT_QUOTES or line[at] in "\"'" and line[at - 1] in " \t([{—–*_" \
        and line[at + 1:at + 2].strip() != ""


def _last_stop(text: str, start: int) -> int:
    """Where in ``text`` (from ``start``) a ``_SENTENCE_END`` may begin once more text comes: at a final stop
    that only closing quotes or brackets follow (its space is yet to come), else at the end."""
    end = len(text.rstrip(_CLOSERS))  # the text itself, uncopied, where nothing closes it
    return end - 1 if end > start and text[end - 1] in ".!?" else len(text)
