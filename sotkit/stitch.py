"""Ordered stitching: points are joined in skeleton order whatever order they finish in.

The head point streams live; later points are buffered and released as soon as every point before them is
complete. ``text`` is always exactly the concatenation of everything released.
"""

from __future__ import annotations

from .events import TextEvent


def point_header(index: int, title: str) -> str:
    return f"{index}. {title}: "


class Stitcher:
    def __init__(self) -> None:
        self._titles: dict[int, str] = {}
        self._buffers: dict[int, list[str]] = {}
        self._done: set[int] = set()
        self._skipped: set[int] = set()
        self._next = 1  # the point being released now
        self._started = False  # has the head point's header been released?
        self._head_text = ""  # the head point's text released so far (after its header)
        self.text = ""

    def add_point(self, index: int, title: str) -> list[TextEvent]:
        self._titles[index] = title
        self._buffers[index] = []
        return self._advance()

    def add_text(self, index: int, text: str) -> list[TextEvent]:
        if not text:
            return []
        self._buffers[index].append(text)
        return self._advance() if index == self._next else []  # a later point's text only waits its turn

    def withdraw(self, index: int) -> str:
        """Forget a point's text (its call restarts); returns what is taken off the end of ``text``: the
        text already released, when the point is the one streaming live (its header stays)."""
        self._buffers[index].clear()
        if index != self._next or not self._head_text:
            return ""
        withdrawn, self._head_text = self._head_text, ""
        self.text = self.text[:-len(withdrawn)]
        return withdrawn

    def finish_point(self, index: int, *, skipped: bool = False) -> list[TextEvent]:
        self._done.add(index)
        if skipped:
            self._skipped.add(index)
        return self._advance()

    def _advance(self) -> list[TextEvent]:
        events: list[TextEvent] = []
        while self._next in self._titles:
            index = self._next
            has_text = bool(self._buffers[index]) or index in self._done
            if index not in self._skipped and has_text:
                if not self._started:  # the header waits for text, so a point that fails early leaves none
                    separator = "\n" if self.text else ""
                    events.append(TextEvent(separator + point_header(index, self._titles[index]), index))
                    self._started = True
                events += [TextEvent(piece, index) for piece in self._buffers[index]]
                self._head_text += "".join(self._buffers[index])
            self._buffers[index].clear()
            if index not in self._done:
                break
            self._next += 1
            self._started = False
            self._head_text = ""
        self.text += "".join(e.text for e in events)
        return events
