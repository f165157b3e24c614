"""Reasoning that a compatible server leaves in the answer's text: ``<think>...</think>`` (or a gateway's
``<thinking>...</thinking>``) before the reply, or gpt-oss's harmony channels.

Reasoning models (Qwen3, QwQ, DeepSeek-R1 distills) write their reasoning between these tags. vLLM without a
``--reasoning-parser``, llama.cpp with ``--reasoning-format none``, LM Studio and older Ollama pass it on in
``content``, where it would become the answer's text, and its drafts of a list the skeleton's points. It goes
the way of ``reasoning_content``: it is no text, but a sign of life (``Thinking``) for the stall timers, where it is
not white space alone.

gpt-oss writes its reasoning in channels instead: ``<|channel|>analysis<|message|>...<|end|>``, then
``<|start|>assistant<|channel|>final<|message|>`` and the answer, ended by ``<|return|>``; a server that passes
the format on raw (llama.cpp with ``--reasoning-format none``) sends it all in ``content``. What comes before the
final channel's header (the analysis channel, commentary ones) is reasoning, and the final message's end markers
are no text. A server that drops special tokens' text sends ``analysisThe user asks...assistantfinalThe answer``:
only its ``assistantfinal`` shows the text was reasoning, so it is held back until then, and a call that ends
before it keeps its text (an opening such as ``analysisResult = 3`` may be code).

Where the chat template writes the ``<think>`` itself (DeepSeek-R1's), the reasoning streams as if it were the
answer, and only its ``</think>`` shows what it was: too late to take it back, so the call fails, loudly and
without a retry (the same request would do the same), saying how to start the server.
"""

from __future__ import annotations

import re

from ..errors import StreamError
from .base import Signal, Thinking

OPEN, CLOSE = "<think>", "</think>"
# harmony: a header on one line (a commentary channel's may name a recipient and a format), then the message
HEADER = re.compile(r"(?:<\|start\|>assistant)?<\|channel\|>(\w+)(?: [\w.=]+)*(?: ?<\|constrain\|>\w+)?<\|message\|>")
HEADER_STARTS, MESSAGE = ("<|channel|>", "<|start|>assistant<|channel|>"), "<|message|>"
FINAL, ENDS = "<|channel|>final<|message|>", ("<|return|>", "<|end|>")
END = re.compile("|".join(map(re.escape, ENDS)))
# harmony without its special tokens' text: "analysis" runs into the reasoning's first word ("analysisThe user")
BARE_OPEN, BARE_OPENING, BARE_CLOSE = re.compile("analysis[A-Z]"), "analysis", "assistantfinal"
# A close that ends reasoning the template opened: at a line's start outside a code block ("...\n</think>\n\n"), or
# right after the reasoning's last word or stop ("Hmm.</think>Keep"); not one an answer names ("the `</think>` tag",
# "**</think>**", "split('</think>')", "the </think> tag", a line of a fenced or indented example). (Reasoning that
# ends in a quote or a colon before it, '... "yes"</think>', is taken for an answer naming it: R1 closes on a line.)
_CLOSE_IN_LINE = re.compile(r"(?<=[\w.!?)\]。！？])</think>")
_HEAD = 32  # the most of a line's start read (for a close or a fence)
_INDENT = 256  # the most of an answer's first line's indent kept after reasoning that came apart
_FENCE = re.compile(r"`{3,}|~{3,}")
# a block's close, and the state after it
BLOCKS = {"think": (CLOSE, "after"), "thinking": ("</thinking>", "after"), "channels": (FINAL, "final"),
          "bare": (BARE_CLOSE, "final")}
#: the tags that open a block of reasoning, and its state: <think>, and the <thinking> of gateways that stream the
#: reasoning as text (gemini-cli-openai's STREAM_THINKING_AS_CONTENT) and of Amazon Nova (probe 342)
TAGS = {OPEN: "think", "<thinking>": "thinking"}
REASONING_AS_TEXT = ("the server sent a reasoning model's reasoning as the answer's text (it ended at a </think> that "
                     "the chat template opened): start the server with a reasoning parser (vLLM: --reasoning-parser "
                     "deepseek_r1 or qwen3; llama.cpp: --reasoning-format deepseek) so that it sends the reasoning "
                     "apart")


class ThinkTags:
    """Feed it a stream's text pieces; it returns them less a ``<think>`` (or ``<thinking>``) block that opens the
    text (after any whitespace) and the whitespace after the block, or less what comes before gpt-oss's final channel
    and that channel's end markers. Decided by the text's first characters, whatever the pieces: text that may still
    grow into an opening is held back, and so is a close or an end marker split across pieces. A block the call ends
    inside (the budget spent reasoning) leaves no text, but for harmony without its special tokens."""

    def __init__(self, continues: bool = False) -> None:
        # ``continues``: the text goes on from a prefill, so no white space of it parts it from reasoning that came
        # apart (review 326: "\n2. Beta" after a resumed "1. Alpha" read "1. Alpha2. Beta")
        self._continues = continues
        # then "think" or "thinking" (in a <think> or <thinking> block), "after" (its close, before the reply),
        # "text"; or "parted" (reasoning came apart, before the reply's first characters), "text"; or "channels"
        # (harmony before the final channel), "bare" (harmony without its tokens, before "assistantfinal"), "final"
        self._state = "start"
        self._held = ""
        self._watched = False  # the text is watched for a bare </think> (until an <think> shows it writes the tags)
        self._head = self._tail = ""  # the line being written: its first characters after its indent, its last
        self._fence: str | None = None  # the fence of the code block the text is in
        self._ticks, self._lead = 0, ""  # the backticks on the line being written, and the white space it opens with
        self._code_may_follow = True  # the last line was blank or indented code (or there was none)
        self._apart = False  # the reasoning comes apart from the text

    def apart(self) -> None:
        """Reasoning came apart from the text (``reasoning_content``, a thinking block) before any text: the text is
        the answer, whatever tags it names (probe 285: one naming "DeepSeek-R1 用</think>标签" failed as reasoning
        sent as text, and one opening with "<think> opens the block" lost its opening). Reasoning after text began
        changes nothing: that text may be reasoning the template opened."""
        if self._state == "start":
            self._apart = True

    def feed(self, text: str) -> str | Signal:
        piece = text  # (its characters are reasoning where it goes into a block)
        if self._state == "text":
            if self._watched:
                self._watch(text)
            return text
        text, self._held = self._held + text, ""
        if self._state == "start":
            opening = text.lstrip()
            if self._apart:  # the answer, less the blank lines that parted it from the reasoning (vLLM's deepseek_r1
                # parser leaves R1's "\n\n"; probe 312), not its first line's indent nor a prefill's continuation
                # (review 322: " Alpha" after a skeleton's "1." read "1.Alpha", no point)
                if self._continues:
                    self._state = "text"  # (not watched)
                    return text
                self._state = "parted"
            elif tag := next((tag for tag in TAGS if opening.startswith(tag)), None):
                self._state, text = TAGS[tag], opening[len(tag):]
            elif header := HEADER.match(opening):
                self._state, text = ("final" if header[1] == "final" else "channels"), opening[header.end():]
            elif BARE_OPEN.match(opening):
                self._state = "bare"
            elif _may_open(opening):
                self._held = text  # "", "  ", "<thi", "<|channel|>analysis", "analy": not known yet
                return ""
            else:
                self._state, self._watched = "text", True
                return self.feed(text)
        if self._state in BLOCKS:
            close, after = BLOCKS[self._state]
            end = text.find(close)
            if end < 0:
                # all of a bare block, which stays text unless it closes; else the start of a close
                self._held = text if self._state == "bare" else text[-(len(close) - 1):]
                return Thinking.of(piece)
            self._state, text = after, text[end + len(close):]
        if self._state == "final":
            text = END.sub("", text)
            cut = _unfinished(text, ENDS)
            text, self._held = text[:cut], text[cut:]
        elif self._state == "parted":
            if not text.strip():
                self._held = text[text.rfind("\n") + 1:][-_INDENT:]  # (the indent of a line text may follow on;
                return Thinking.of(piece)  # bounded: held white space is read again at every piece, review 326)
            self._state = "text"
            return text[text.rfind("\n", 0, len(text) - len(text.lstrip())) + 1:]
        else:
            text = text.lstrip()
            if text:
                self._state = "text"
        # (white space alone after the close is no progress either: a stuck model may send it forever; review 263)
        return text or Thinking.of(piece)

    def _watch(self, text: str) -> None:
        """Raise at a bare ``</think>`` in ``text``, the text's next piece (the first tag decides, whatever the
        pieces: one that writes ``<think>`` itself is no longer watched)."""
        *ended, rest = text.split("\n")
        for at, part in enumerate([*ended, rest]):
            window = self._tail + part
            if not self._head:  # the white space the line opens with so far
                self._lead += part[:len(part) - len(part.lstrip())]
            head = (self._head + part if self._head else part.lstrip())[:_HEAD]  # the line, less its indent
            # its indent: the columns of the spaces and tabs (a tab is four) it opens with, whatever the pieces
            indent = len(self._lead[:len(self._lead) - len(self._lead.lstrip(" \t"))].expandtabs(4))
            # a line of an indented code block, as Markdown reads one: four columns in, after a blank line or another
            code = self._fence is not None or indent >= 4 and self._code_may_follow
            opened, close = window.find(OPEN), _CLOSE_IN_LINE.search(window)
            if not code and (head.startswith(CLOSE) or close and not 0 <= opened < close.start()):
                raise StreamError(REASONING_AS_TEXT, status_code=400, no_answer=True)
            if opened >= 0:  # the text writes the tags themselves ("wrap it in <think>...</think>")
                self._watched = False
                return
            self._ticks += part.count("`")
            if at < len(ended):  # the line ended
                self._fence = _fence_after(self._fence, head, self._ticks)
                self._code_may_follow = not head or code and self._fence is None
                self._head = self._tail = ""
                self._ticks, self._lead = 0, ""
            else:
                self._head, self._tail = head, window[-len(CLOSE):]

    def finish(self) -> str:
        """What was held back when the stream ended: text that only looked like the start of a block or of an end
        marker, or a bare harmony block that never closed."""
        held, self._held = (self._held if self._state in ("start", "bare", "final") else ""), ""
        return held


def _fence_after(fence: str | None, line: str, ticks: int) -> str | None:
    """The fence of the code block the text is in after ``line`` (its start, less its indent; ``ticks``: the
    backticks on all of it), as Markdown reads them: a run of three backticks or tildes or more opens one, and only a
    run of the same, as long at least and alone on its line, closes it."""
    run = _FENCE.match(line)
    if fence is None:  # (a backtick fence's info string holds no backtick: "```ls``` here" is inline code)
        return run[0] if run and not (run[0][0] == "`" and ticks > len(run[0])) else None
    closes = run and run[0][0] == fence[0] and len(run[0]) >= len(fence) and not line[run.end():].strip()
    return None if closes else fence


def _may_open(opening: str) -> bool:
    """Whether the text's first characters may still grow into a block's opening: "<thi", "analys", a harmony
    header's line before its ``<|message|>``."""
    if any(start.startswith(opening) for start in (*TAGS, BARE_OPENING, *HEADER_STARTS)):
        return True
    return opening.startswith(HEADER_STARTS) and "\n" not in opening and MESSAGE not in opening


def _unfinished(text: str, markers: tuple[str, ...]) -> int:
    """Where the text's end that may be the start of one of the markers begins (``len(text)`` where none may)."""
    for start in range(max(0, len(text) - max(map(len, markers)) + 1), len(text)):
        if any(marker.startswith(text[start:]) for marker in markers):
            return start
    return len(text)
