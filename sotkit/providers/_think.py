"""Reasoning that a compatible server leaves in the answer's text: ``<think>...</think>`` before the reply.

Reasoning models (Qwen3, QwQ, DeepSeek-R1 distills) write their reasoning between these tags. vLLM without a
``--reasoning-parser``, llama.cpp with ``--reasoning-format none``, LM Studio and older Ollama pass it on in
``content``, where it would become the answer's text, and its drafts of a list the skeleton's points. It goes
the way of ``reasoning_content``: it is no text, but a sign of life (``THINKING``) for the stall timers.

Where the chat template writes the ``<think>`` itself (DeepSeek-R1's), the reasoning streams as if it were the
answer, and only its ``</think>`` shows what it was: too late to take it back, so the call fails, loudly and
without a retry (the same request would do the same), saying how to start the server.
"""

from __future__ import annotations

from ..errors import StreamError
from .base import THINKING, Signal

OPEN, CLOSE = "<think>", "</think>"
REASONING_AS_TEXT = ("the server sent a reasoning model's reasoning as the answer's text (it ended at a </think> that "
                     "the chat template opened): start the server with a reasoning parser (vLLM: --reasoning-parser "
                     "deepseek_r1 or qwen3; llama.cpp: --reasoning-format deepseek) so that it sends the reasoning "
                     "apart")


class ThinkTags:
    """Feed it a stream's text pieces; it returns them less a ``<think>`` block that opens the text (after any
    whitespace), and the whitespace after the block. Decided by the text's first characters, whatever the
    pieces: text that may still grow into ``<think>`` is held back, and so is a ``</think>`` split across pieces.
    A block the call ends inside (the budget spent reasoning) leaves no text."""

    def __init__(self) -> None:
        self._state = "start"  # then "thinking", "after" (the block's close, before the reply), or "text"
        self._held = ""
        self._tail: str | None = None  # the text's end, watched for a bare </think> (None: not watched)

    def feed(self, text: str) -> str | Signal:
        if self._state == "text":
            if self._tail is not None:
                window = self._tail + text
                if OPEN in window:  # the text writes the tags themselves ("wrap it in <think>...</think>")
                    self._tail = None
                elif CLOSE in window:
                    raise StreamError(REASONING_AS_TEXT, status_code=400)
                else:
                    self._tail = window[-(len(CLOSE) - 1):]
            return text
        text, self._held = self._held + text, ""
        if self._state == "start":
            opening = text.lstrip()
            if len(opening) < len(OPEN) and OPEN.startswith(opening):
                self._held = text  # "", "  ", "<thi": not known yet
                return ""
            if not opening.startswith(OPEN):
                self._state, self._tail = "text", ""
                return self.feed(text)
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
