"""Reasoning that a compatible server leaves in the answer's text: ``<think>...</think>`` before the reply.

Reasoning models (Qwen3, QwQ, DeepSeek-R1 distills) write their reasoning between these tags. vLLM without a
``--reasoning-parser``, llama.cpp with ``--reasoning-format none``, LM Studio and older Ollama pass it on in
``content``, where it would become the answer's text, and its drafts of a list the skeleton's points. It goes
the way of ``reasoning_content``: it is no text, but a sign of life (``THINKING``) for the stall timers.
"""

from __future__ import annotations

from .base import THINKING, Signal

OPEN, CLOSE = "<think>", "</think>"


class ThinkTags:
    """Feed it a stream's text pieces; it returns them less a ``<think>`` block that opens the text (after any
    whitespace), and the whitespace after the block. Decided by the text's first characters, whatever the
    pieces: text that may still grow into ``<think>`` is held back, and so is a ``</think>`` split across pieces.
    A block the call ends inside (the budget spent reasoning) leaves no text."""

    def __init__(self) -> None:
        self._state = "start"  # then "thinking", "after" (the block's close, before the reply), or "text"
        self._held = ""

    def feed(self, text: str) -> str | Signal:
        if self._state == "text":
            return text
        text, self._held = self._held + text, ""
        if self._state == "start":
            opening = text.lstrip()
            if len(opening) < len(OPEN) and OPEN.startswith(opening):
                self._held = text  # "", "  ", "<thi": not known yet
                return ""
            if not opening.startswith(OPEN):
                self._state = "text"
                return text
            self._state, text = "thinking", opening[len(OPEN):]
        if self._state == "thinking":
            end = text.find(CLOSE)
            if end < 0:
                self._held = text[-(len(CLOSE) - 1):]  # the start of a close tag that the next piece ends
                return THINKING
            self._state, text = "after", text[end + len(CLOSE):]
        text = text.lstrip()
        if text:
            self._state = "text"
        return text or THINKING

    def finish(self) -> str:
        """What was held back when the stream ended: text that only looked like the start of a block."""
        held, self._held = (self._held if self._state == "start" else ""), ""
        return held
