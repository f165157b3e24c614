"""Keeping a point's expansion to its own point, while it streams.

Models restate the point's number and title, or run on into the next point. ``ExpansionFilter`` cleans the
text incrementally: it releases only text that no later delta can change, so what was streamed is exactly
the final text.
"""

from __future__ import annotations

import re

# A line that starts a new numbered item: the expansion ran on into the next point.
_NEW_ITEM = re.compile(r"\n[ \t]*(?:\*\*|#+\s*)?(?:\d+[.)]|\(\d+\)|step\s+\d+\s*:)(?:\s|$)", re.I)
# The tail of the text that could still grow into such a line.
_PARTIAL_ITEM = re.compile(r"\n[ \t]*(?:\*{1,2}|#+\s*)?(?:\d+[.)]?|\(\d*|s(?:t(?:e(?:p(?:\s+\d*)?)?)?)?)?$", re.I)


class ExpansionFilter:
    def __init__(self, index: int, title: str, *, strip_header: bool) -> None:
        # "2. Title:" / "**2. Title**:" / "Title:" at the very start restates the point.
        t, sep = re.escape(title), r"(?:\*\*)?\s*[:.\-–]"
        self._header = re.compile(
            rf"^\s*(?:\*\*)?(?:{index}[.)]\s*(?:\*\*)?\s*{t}{sep}?|{t}{sep})(?:\*\*)?\s*", re.I
        ) if strip_header else None
        self._header_forms = (f"{index}. {title}:", f"{title}:") if strip_header else ()
        self._body_start: int | None = None  # where the text after a restated header begins, once known
        self.raw = ""
        self.released = ""
        self.finished = False
        """True once the expansion ran into the next point: the rest of the call is not needed."""

    def feed(self, delta: str) -> str:
        """Add raw text; return the newly settled clean text."""
        self.raw += delta
        return self._release(final=False)

    def finish(self) -> str:
        """The call ended: return the rest of the clean text."""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        clean = self._clean(final)
        new = clean[len(self.released):] if clean.startswith(self.released) else ""
        self.released += new
        return new

    def _clean(self, final: bool) -> str:
        text = self.raw
        if self._body_start is None:
            if not final and any(_is_prefix(text, form) for form in self._header_forms):
                return ""
            self._body_start = m.end() if self._header and (m := self._header.match(text)) else 0
        if final and self._body_start and not self.released and not text[self._body_start:].strip():
            self._body_start = 0  # the whole reply was the title as a sentence: keep it rather than nothing
        text = text[self._body_start:].lstrip()
        if m := _NEW_ITEM.search(text):
            text = text[: m.start()]
            self.finished = True
            final = True
        if not final:
            if m := _PARTIAL_ITEM.search(text):
                text = text[: m.start()]
            return text.rstrip()  # trailing space may yet be stripped at the end
        return text.strip()


def _is_prefix(text: str, header: str) -> bool:
    """Could the text so far still grow into the header (ignoring case, spaces and bold)?"""
    squeeze = lambda s: re.sub(r"[\s*]+", "", s).lower()  # noqa: E731
    seen, full = squeeze(text), squeeze(header)
    return len(seen) < len(full) and full.startswith(seen)
