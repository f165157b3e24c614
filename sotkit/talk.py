"""What chat models write about the task rather than the point: a first line that only talks about it ("Sure!
Here's the continuation of point 3:", "I'll continue with point 3.") and a last one that only offers more of the
answer ("Let me know if you'd like me to expand on ..."). ``ExpansionFilter`` drops both; when a line could be the
point's own words, it stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_META_WORDS = ("sure", "certainly", "of course", "okay", "ok", "absolutely")
_META_PHRASES = ("here's", "here is", "i'll", "i will", "let me", "below is", "continuing with", "to continue with")
_META_OPENING = re.compile(rf"(?:(?:{'|'.join(_META_WORDS)})\W*\s)?(?:{'|'.join(_META_PHRASES)})\b"
                           .replace("'", "['’]"), re.I)
_META_WORD = re.compile(rf"(?:{'|'.join(_META_WORDS)})\W*")
# it ends by naming the point or the task itself ("point 3:", "continuing with point 3.", "the expansion of this
# point:"), with at most the point's title in brackets ("Here is point 2 of the manifesto: ..." is the point's own)
_META_TOPIC = re.compile(r"(?:\bpoint\s*#?\d+|\bcontinu\w*\b.{0,20}\bpoint|\bthis point|"
                         r"\b(?:expansion|elaboration|details?) (?:of|on|for) (?:that |the )?point|"
                         r"\b(?:expanded|elaborated) point|\b(?:expansion|elaboration|continuation))"  # "the expanded point:"
                         r"\s*(?:\([^)\n]*\))?\s*[:.!][\s*]*$", re.I)
_META_LINE = 150  # longer, it says something
# a first word that only acknowledges the task, before the point's own text on its line ("Certainly! Travel ...")
_ACKNOWLEDGED = re.compile(r"(?:sure|certainly|of course)!\s+(?=\S)", re.I)
_ACKNOWLEDGED_ALONE = re.compile(r"(?:sure|certainly|of course)!\s*", re.I)  # what follows is still to come
# the talk before a colon on a line that goes on with the point's text: it ends by naming the point
_META_HEAD = re.compile(r"\bpoint\s*#?\d+\s*(?:\([^)\n]*\))?[\s*]*$", re.I)
# It offers more of the answer itself: "Let me know if you run into issues" or "Feel free to reach out to HR" may be
# the point's own advice, and "I hope this helps" only alone ("I hope this helps you plan ..." is a sample line).
_CLOSING_HEADS = ("let me know if you'd like", "let me know if you would like", "let me know if you want more",
                  "let me know if you have any", "is there anything else you'd like",
                  "let me know if you need more", "let me know if you need any", "let me know if there's anything",
                  "let me know if there is anything", "feel free to ask me", "feel free to ask if",
                  "feel free to ask any", "feel free to reach out if you have", "if you'd like me to",
                  "if you would like me to", "would you like me to", "do you want me to")
_HOPES = ("i hope this helps", "i hope that helps", "hope this helps", "hope that helps")
_HOPE = rf"(?:{'|'.join(_HOPES)})\W*"  # alone, or before an offer: "I hope this helps! Let me know if you'd like ..."
_CLOSING = re.compile(rf"(?:{_HOPE})?(?:{'|'.join(_CLOSING_HEADS)})\b|{_HOPE}$".replace("'", "['’]"), re.I)
_LEADING_HOPE = re.compile(_HOPE)
_CLOSING_STARTS = frozenset(head[:i] for head in _CLOSING_HEADS + _HOPES for i in range(len(head)))  # to be seen


def talk_opening(body: str, final: bool, header_follows: Callable[[str, bool], bool | None] | None = None) -> int | None:
    """The length of a first line that only talks about the task ("I'll continue with point 3."; 0: none), or
    None while the line is still being written and may be one. ``header_follows(text, final)`` says whether the
    text after the line opens with the point's own header (None: not yet known): an introduction ending in a colon
    that it follows is talk too ("Here is what I wrote:\n\n**2. Title**\n\n...")."""
    line, ended, rest = body.partition("\n")
    if not _META_OPENING.match(line):
        if not final and not ended and _may_open_meta(line.lower().replace("’", "'")):
            return None
        if acknowledged := _ACKNOWLEDGED.match(body):  # and then, maybe, more talk: "Sure!\n\nHere's point 2:"
            more = talk_opening(body[acknowledged.end():], final, header_follows)
            return None if more is None else acknowledged.end() + more
        return None if not final and _ACKNOWLEDGED_ALONE.fullmatch(body) else 0
    if len(line) > _META_LINE:
        return 0
    head, colon, tail = line.partition(":")
    if colon and tail.strip():  # the talk goes, the point's text after it on the line stays; or it is all the point's
        return len(head) + 1 if _META_OPENING.match(head) and _META_HEAD.search(head) else 0
    if not rest.strip() and not final:
        return None  # nothing after it yet: it may be the whole point
    # with nothing after it, a sentence may be the point itself; an introduction of nothing is dropped (and the
    # point asked again)
    if _META_TOPIC.search(line) and (rest.strip() or line.rstrip(" *").endswith(":")):
        return len(line)
    if header_follows is not None and rest.strip() and line.rstrip(" *").endswith(":"):
        follows = header_follows(rest.lstrip(), final)
        return None if follows is None else len(line) if follows else 0
    return 0


def _may_open_meta(low: str) -> bool:
    """Could the start of a first line (lower case) still grow into talk about the task ("Sure! Here's ...")?"""
    if any(head.startswith(low) for head in _META_WORDS + _META_PHRASES):
        return True
    word = _META_WORD.match(low)
    return bool(word) and any(phrase.startswith(low[word.end():]) for phrase in _META_PHRASES)


def talk_closing(text: str, final: bool) -> int | None:
    """Where a last line that only offers more help begins ("Let me know if ..."), dropped once the call ended;
    held back (its start returned) while the call may still end after it. None: there is none."""
    if "\n" not in text:  # most pieces of most points: no copy of the text
        return None
    text = text.rstrip()
    start = text.rfind("\n")
    if start < 0 or text[:start].rstrip().endswith((":", "：")):
        return None  # the first line is the point's own, and so is a line it announces ("for example:")
    line = text[start:start + 60].lstrip()
    if line[:1] in "-*•" and line[1:2].isspace():
        return None  # an item of the point's own list ("* Let me know if ..." as a sample line)
    line = line.lstrip("*_")  # the offer in emphasis
    if _CLOSING.match(line):
        return start
    if final:
        return None
    seen = line.lower().replace("’", "'")
    if hope := _LEADING_HOPE.match(seen):
        seen = seen[hope.end():]
    return start if seen in _CLOSING_STARTS else None
