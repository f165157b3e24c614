"""Quoted passages in messages (an excerpt of the question, a model's reply, an event's data, as errors quote them):
elided as '…' where no such text may go (spans and log lines without ``trace_content``), and closed where a cut
(``clipped``, sotkit's every cut of a message) left one open, so that the text after it in a longer message is no
part of it.
"""

from __future__ import annotations

import re

_MODES = ("sot", "sequential", "auto")
#: how much of a text ``elide`` reads: a passage that does not close is read to the end, for each that opens (a
#: server's 50,000-character echo of a question held the event loop half a minute)
ELIDED_MOST = 2000


def _char(quote: str) -> str:
    """Any character of a passage in ``quote`` marks but its closing mark (an escaped one, as repr() writes it)."""
    return rf"(?:[^{quote}\\]|\\.)"


# A quoted passage's text: an apostrophe before a letter goes on with it ("What's", a nested "'90s"), but an
# option's value ("on_point_error='skip'") opens a quote of its own; past a plural's apostrophe before a word ('my
# dogs' favourite toys'), only one inside a word goes on, so the passage ends there where no later one can
_TEXT = rf"(?:{_char(chr(39))}|(?<!=)'(?=\w))*(?:(?<=s)'(?= [a-z])(?:{_char(chr(39))}|(?<=\w)'(?=\w))*)*"
_CURLY = rf"(?:{_char('’')}|’(?=\w))*(?:(?<=s)’(?= [a-z])(?:{_char('’')}|(?<=\w)’(?=\w))*)*"
#: the quotes of a passage (as repr() writes one, in backticks or curly quotes): opening mark, text, closing mark
_QUOTES = (("'", _TEXT, r"'(?!\w)"), ('"', f"{_char(chr(34))}*", '"'), ("`", f"{_char('`')}*", "`"),
           ("“", f"{_char('”')}*", "”"), ("‘", _CURLY, r"’(?!\w)"))
_QUOTED = re.compile(rf"(?<!\w)b?(?:{'|'.join(start + text + end for start, text, end in _QUOTES)})")  # (b'': bytes)
#: a quoted passage left open to the end (not at an elided one's closing mark, '…')
OPEN = re.compile(rf"(?<![\w…])b?(?:{'|'.join(start + text for start, text, _ in _QUOTES)})$")
#: a passage read left to right: closed, or open to the end (a mark inside a closed one, 'Hello!', opens none)
_PASSAGE = re.compile(f"(?P<closed>{_QUOTED.pattern})|(?P<open>{OPEN.pattern})")
_CLOSING = {start: end.removesuffix(r"(?!\w)") for start, _, end in _QUOTES}
#: one of sotkit's options before its quoted value, in sotkit's advice ("on_outage='closed'"); not any name= (a
#: gateway's validation error quotes the question so: "input_value='My SSN is ...'")
_OPTION = re.compile(r"\b(?:on_point_error|on_outage|mode|decoding|http|router|device|dtype)=$")


def elide(text: str) -> str:
    """``text`` (``clipped`` to ``ELIDED_MOST`` characters) with its quoted passages as '…'; not a mode, nor an
    option's value as sotkit's advice writes it ("pass on_point_error='skip'")."""
    text = clipped(text, ELIDED_MOST)
    return _QUOTED.sub(lambda m: m[0] if m[0][1:-1] in _MODES or _OPTION.search(text, max(0, m.start() - 20),
                                                                                  m.start()) else "'…'", text)


def clipped(text: str, length: int) -> str:
    """``text``, or where it is longer its first ``length - 1`` characters and "…" (no cut passes for its end), and
    the closing mark of a quoted passage the cut left open ("'How do I hide…'": in a longer message, the text after
    it is no part of it)."""
    if len(text) <= length:
        return text
    text = text[:length - 1] + "…"
    last = None
    for last in _PASSAGE.finditer(text):
        pass
    return text + _CLOSING[last["open"].removeprefix("b")[0]] if last and last["open"] else text
