"""Ordered stitching: points are joined in skeleton order whatever order they finish in.

The head point streams live; later points are buffered and released as soon as every point before them is
complete. ``text`` is always exactly the concatenation of everything released.
"""

from __future__ import annotations

import re

from .events import TextEvent, WithdrawEvent


#: what opens each later line of a point's text in the stitched answer (a blank line stays empty)
CONTINUATION = "   "
_LINE_WITH_TEXT = re.compile(r"\n(?=[^\n])")  # the start of a later line, once its first character is seen
#: a point's text that opens with a block (a code block, a table, a list, a heading, a quote: not "> 50% of users")
#: starts on a line of its own under its item: after "1. Title: " a fence would not open, and its close would open
#: one to the end
_BLOCK = re.compile(r"```|~~~|\||#{1,6} |[-*+•] |\d{1,3}[.)] |> (?!\d)")
#: the start of a text that may still grow into such a block's opening ("1", "1.", "`"): its header waits for more
_MAY_OPEN_BLOCK = re.compile(r"`{1,2}|~{1,2}|#{1,6}|[-*+•]|> ?|\d{1,3}[.)]?")
#: Chinese and Japanese (kana, ideographs), and their full-width punctuation a title may end in
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WIDE_END, _CJK_CHAR = re.compile(f"[{_CJK}？！：）」』】]$"), re.compile(f"[{_CJK}]")
_SENTENCE_END = ".!?…。！？।"


def point_header(index: int, title: str, opening: str = "") -> str:
    """The point's item line, before its text (``opening``: the text so far)."""
    if _only_the_title(title, opening):  # "Use LED bulbs." under "Use LED bulbs": the line says it once
        return f"{index}. "
    if opening[:1] in (",", ";", ")", "，", "；"):  # the title's sentence goes on ("2. **Use LEDs**, which last": its
        return f"{index}. {title}"  # restated header took the title): no separator between them
    # a title that ends in its own punctuation takes no colon: "1. What is jet lag? It is ..."; one in Chinese or
    # Japanese, the full-width colon, which needs no space after it: "1. 制定计划：每天...", "1. Python入门：..." (a
    # name in Latin letters inside, unspaced), but "1. Visit 東京: ..." (English with a name in kanji)
    wide = bool(_WIDE_END.search(title)) and (" " not in title
                                              or len(_CJK_CHAR.findall(title)) >= len(re.findall("[A-Za-z]", title)))
    header = f"{index}. {title}{'' if title.endswith(('?', '!', ':', '？', '！', '：')) else '：' if wide else ':'}"
    return header + ("\n" + CONTINUATION if _BLOCK.match(opening) else "" if wide else " ")


def _only_the_title(title: str, opening: str) -> bool:
    """Is the text so far its point's title as a sentence? (A small model's whole text for a point, at times: the
    expansion filter keeps it, "Python." being a verdict's.)"""
    said = opening.strip()
    return said[-1:] in tuple(_SENTENCE_END) and \
        said.rstrip(_SENTENCE_END).casefold() == title.rstrip(_SENTENCE_END + ":：").strip().casefold()


class Stitcher:
    def __init__(self) -> None:
        self._titles: dict[int, str] = {}
        self._buffers: dict[int, list[str]] = {}
        self._done: set[int] = set()
        self._skipped: set[int] = set()
        self._line_start: set[int] = set()  # points whose text so far ends a line: the next one's indent is to come
        self._next = 1  # the point being released now
        self._live_at: int | None = None  # where the live point's separator and header start in text (None: not yet)
        self.text = ""

    def add_point(self, index: int, title: str) -> list[TextEvent]:
        self._titles[index] = title
        self._buffers[index] = []
        return self._advance()

    @property
    def settled_text(self) -> str:
        """What a partial result holds: ``text``, then what the later points wrote so far, in order (``settle``
        makes this ``text``)."""
        return self.text + "".join(event.text for event in self._later(self.text))

    def settle(self) -> list[TextEvent]:
        """The request ends early (its deadline, or its client closed): release what the later points wrote, so
        that nothing written is lost: points that finished while an earlier one still streamed, and what the others
        wrote so far, as the live point's is."""
        later = self._later(self.text)
        self.text += "".join(event.text for event in later)
        for buffer in self._buffers.values():
            buffer.clear()
        self._live_at = None
        return later

    def _later(self, text: str) -> list[TextEvent]:
        """The text the points after the live one wrote so far, with their headers, as events following ``text``
        (and the live one's, where its header still waits for more of its opening)."""
        events: list[TextEvent] = []
        first = self._next + (self._live_at is not None)
        for index in sorted(i for i in self._titles if i >= first and i not in self._skipped and self._buffers[i]):
            header = point_header(index, self._titles[index], "".join(self._buffers[index]))
            events.append(TextEvent(("\n" if text or events else "") + header, index))
            events += [TextEvent(piece, index) for piece in self._buffers[index]]
        return events

    def add_text(self, index: int, text: str) -> list[TextEvent]:
        if not text:
            return []
        # a point's later lines are indented under its item, as Markdown continues a list item: the point's own
        # list ("1. Remove the racks.") is then nested in it, not numbered along with the answer's points; a line is
        # indented once its first character comes, so that a blank one has no trailing spaces
        indented = _LINE_WITH_TEXT.sub("\n" + CONTINUATION, text) if "\n" in text else text
        if index in self._line_start and text[0] != "\n":
            indented = CONTINUATION + indented
        if text.endswith("\n"):
            self._line_start.add(index)
        else:
            self._line_start.discard(index)
        self._buffers[index].append(indented)
        return self._advance() if index == self._next else []  # a later point's text only waits its turn

    def withdraw(self, index: int) -> str:
        """Forget a point's text (its call restarts); returns what is taken off the end of ``text``: the point's
        header and the text it released, when it is the one streaming live (the header comes again with the new
        text, whose opening may call for another: "2. Dim the lights" + ", which helps", or + ":\n   ```")."""
        self._buffers[index].clear()
        self._line_start.discard(index)
        if index != self._next or self._live_at is None:
            return ""
        withdrawn, self.text, self._live_at = self.text[self._live_at:], self.text[:self._live_at], None
        return withdrawn

    def finish_point(self, index: int, *, skipped: bool = False) -> list[TextEvent | WithdrawEvent]:
        """The point's call ended. A ``skipped`` point is taken back first: if it was streaming live, what it
        released (its header included), else nothing of the answer, but a UI clears its text and title."""
        self._done.add(index)
        taken: list[TextEvent | WithdrawEvent] = []
        if skipped:
            self._skipped.add(index)
            live = index == self._next and self._live_at is not None
            taken.append(WithdrawEvent(index, self.text[self._live_at:] if live else "", failed=True))
            if live:
                self.text, self._live_at = self.text[:self._live_at], None
        return taken + self._advance()

    def _advance(self) -> list[TextEvent]:
        events: list[TextEvent] = []
        while self._next in self._titles:
            index = self._next
            has_text = bool(self._buffers[index]) or index in self._done
            if index not in self._skipped and has_text:
                if self._live_at is None:  # the header waits for text, so a point that fails early leaves none
                    opening = "".join(self._buffers[index])
                    if index not in self._done and (_MAY_OPEN_BLOCK.fullmatch(opening)
                                                    or _only_the_title(self._titles[index], opening)):
                        break  # (whether the text opens with a list, "1. Pick a bedtime", or is only its title,
                        # "Pack a tent!", shows with its next piece or its end)
                    self._live_at = len(self.text)
                    header = point_header(index, self._titles[index], opening)
                    events.append(TextEvent(("\n" if self.text else "") + header, index))
                    self.text += events[-1].text
                events += [TextEvent(piece, index) for piece in self._buffers[index]]
                self.text += "".join(self._buffers[index])
            self._buffers[index].clear()
            if index not in self._done:
                break
            self._next += 1
            self._live_at = None
        return events
